package store

import (
	"context"
	"fmt"
	"time"
)

// bulkNames are combined into varied token names for bulk data.
var bulkNames = [...]string{"Billing", "Reporting", "CI", "Gateway", "Partner", "Backup", "Metrics", "Helpdesk", "Sync", "Export", "Import", "Audit"}

// SeedTokens adds n tokens to an account in one transaction, with values,
// modules, mixed statuses, last access and a "created" audit record each:
// bulk data for benchmarks and load tests. Every fifth token is Disabled and
// every seventh was never used.
func (s *Store) SeedTokens(ctx context.Context, sealer *Sealer, accountID string, n int) error {
	mods, err := s.AccountModules(ctx, accountID)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	insert, err := tx.PrepareContext(ctx, `INSERT INTO api_tokens
		(id, account_id, name, description, status, secret_hash, secret_sealed,
		 created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name,
		 last_access_at, last_access_ip, last_access_agent)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'SYSTEM', 'Gatehouse', ?, 'SYSTEM', 'Gatehouse', ?, ?, ?)`)
	if err != nil {
		return err
	}
	defer insert.Close()
	now := s.now()
	for i := range n {
		created := now.Add(-time.Duration(n-i) * time.Minute)
		status := StatusActive
		if i%5 == 4 {
			status = StatusDisabled
		}
		var access any
		ip, agent := "", ""
		if i%7 != 6 {
			access = created.Add(time.Duration(i%50) * time.Second)
			ip, agent = fmt.Sprintf("198.51.100.%d", i%250+1), "bulk-client/1.0"
		}
		name := fmt.Sprintf("%s %s %d", bulkNames[i%len(bulkNames)], bulkNames[(i/len(bulkNames))%len(bulkNames)], i+1)
		var value string
		id, err := insertWithID(func() string { return NewID("TKN", 2) }, func(id string) error {
			value = NewTokenValue(id)
			_, err := insert.ExecContext(ctx, id, accountID, name, "Bulk token for load tests.", status,
				HashTokenValue(value), sealer.Seal(id, value), created, created, access, ip, agent)
			return err
		})
		if err != nil {
			return fmt.Errorf("bulk token %d: %w", i, err)
		}
		var granted []string
		for j, m := range mods {
			if (i>>j)&1 == 1 {
				granted = append(granted, m.ID)
			}
		}
		if err := setTokenModules(ctx, tx, id, granted); err != nil {
			return err
		}
		if _, err := s.appendAudit(ctx, tx, AuditRecord{
			AccountID: accountID, OccurredAt: created, Event: EventTokenCreated,
			ObjectType: ObjectTypeToken, ObjectID: id, ObjectName: name, Actor: SystemActor,
			Summary: fmt.Sprintf("API token %s was created.", id),
			Details: detailsJSON(map[string]any{"after": map[string]any{"name": name, "modules": granted, "status": status}}),
		}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// SeedAudit appends n "value-viewed" records about one token, a second
// apart and ending now, in one transaction: bulk history for benchmarks.
func (s *Store) SeedAudit(ctx context.Context, accountID, tokenID string, n int) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var name string
	if err := tx.QueryRowContext(ctx, `SELECT name FROM api_tokens WHERE id = ? AND account_id = ?`, tokenID, accountID).Scan(&name); err != nil {
		return fmt.Errorf("token %s: %w", tokenID, err)
	}
	now := s.now()
	actor := Actor{Type: "user", ID: "USR-0000-0000", Name: "Bulk Viewer", IP: "192.0.2.50", UserAgent: "bulk/1.0"}
	for i := range n {
		if _, err := s.appendAudit(ctx, tx, AuditRecord{
			AccountID: accountID, OccurredAt: now.Add(-time.Duration(n-i) * time.Second), Event: EventTokenValueViewed,
			ObjectType: ObjectTypeToken, ObjectID: tokenID, ObjectName: name, Actor: actor,
			Summary: fmt.Sprintf("The value of API token %s was shown.", tokenID),
			Details: `{"purpose":"show"}`,
		}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

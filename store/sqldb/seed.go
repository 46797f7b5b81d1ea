package sqldb

import (
	"context"
	"fmt"
	"gatehouse/store"
	"time"
)

// SeedTokens adds n tokens to an account, each with its "created" record:
// BulkSeed without further audit records.
func (s *Store) SeedTokens(ctx context.Context, sealer *store.Sealer, accountID string, n int) error {
	return s.BulkSeed(ctx, sealer, accountID, n, 0, nil)
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
	actor := store.Actor{Type: "user", ID: "USR-0000-0000", Name: "Bulk Viewer", IP: "192.0.2.50", UserAgent: "bulk/1.0"}
	for i := range n {
		if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
			AccountID: accountID, OccurredAt: now.Add(-time.Duration(n-i) * time.Second), Event: store.EventTokenValueViewed,
			ObjectType: store.ObjectTypeToken, ObjectID: tokenID, ObjectName: name, Actor: actor,
			Summary: fmt.Sprintf("The value of API token %s was shown.", tokenID),
			Details: `{"purpose":"show"}`,
		}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// seedRowByRow is BulkSeed for an engine without SQLite's bulk machinery:
// the same tokens and records (names, statuses, grants, last access, the
// chain), written with plain statements in one transaction. It is correct
// but not fast; it serves the tests.
func (s *Store) seedRowByRow(ctx context.Context, sealer *store.Sealer, accountID string, tokens, audit int) error {
	if _, err := s.Account(ctx, accountID); err != nil {
		return fmt.Errorf("account %s: %w", accountID, err)
	}
	mods, err := s.AccountModules(ctx, accountID)
	if err != nil {
		return err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	now := s.now()
	var ids, names []string
	for i := range tokens {
		createdAt := now.Add(-time.Duration(tokens-i) * time.Minute)
		status := store.StatusActive
		if i%5 == 4 {
			status = store.StatusDisabled
		}
		var access any
		ip, agent := "", ""
		if i%7 != 6 {
			access = createdAt.Add(time.Duration(i%50) * time.Second)
			ip, agent = fmt.Sprintf("198.51.100.%d", i%250+1), "bulk-client/1.0"
		}
		name := fmt.Sprintf("%s %s %d", bulkNames[i%len(bulkNames)], bulkNames[(i/len(bulkNames))%len(bulkNames)], i+1)
		var granted []string
		for j, m := range mods {
			if (i>>j)&1 == 1 {
				granted = append(granted, m.ID)
			}
		}
		id, err := insertWithID(bulkTokenID, func(id string) (bool, error) {
			value := store.NewTokenValue(id)
			return inserted(tx.ExecContext(ctx, `INSERT INTO api_tokens (id, account_id, name, description, status,
				secret_hash, secret_sealed, created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name,
				last_access_at, last_access_ip, last_access_agent)
				VALUES (?, ?, ?, 'Bulk token for load tests.', ?, ?, ?, ?, 'SYSTEM', 'Gatehouse', ?, 'SYSTEM', 'Gatehouse', ?, NULLIF(?, ''), NULLIF(?, ''))
				ON CONFLICT (id) DO NOTHING`,
				id, accountID, name, status, store.HashTokenValue(value), sealer.Seal(id, value), createdAt, createdAt, access, ip, agent))
		})
		if err != nil {
			return fmt.Errorf("seed token: %w", err)
		}
		if err := setTokenModules(ctx, tx, id, granted); err != nil {
			return err
		}
		if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
			AccountID: accountID, OccurredAt: createdAt, Event: store.EventTokenCreated,
			ObjectType: store.ObjectTypeToken, ObjectID: id, ObjectName: name, Actor: store.SystemActor,
			Summary: "API token " + id + " was created.",
			Details: detailsJSON(map[string]any{"after": map[string]any{"name": name, "modules": granted, "status": status}}),
		}); err != nil {
			return err
		}
		ids, names = append(ids, id), append(names, name)
	}
	viewer := store.Actor{Type: "user", ID: "USR-0000-0000", Name: "Bulk Viewer", IP: "192.0.2.50", UserAgent: "bulk/1.0"}
	for i := len(ids); i < audit && len(ids) > 0; i++ {
		t := i % len(ids)
		r := store.AuditRecord{
			AccountID: accountID, OccurredAt: now.Add(-time.Duration(audit-i) * time.Second),
			ObjectType: store.ObjectTypeToken, ObjectID: ids[t], ObjectName: names[t], Actor: viewer,
			Event: store.EventTokenValueViewed, Summary: "The value of API token " + ids[t] + " was shown.", Details: `{"purpose":"show"}`,
		}
		if _, err := s.appendAudit(ctx, tx, r); err != nil {
			return err
		}
	}
	return tx.Commit()
}

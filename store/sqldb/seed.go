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

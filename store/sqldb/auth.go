package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatehouse/store"
	"strings"
	"time"
)

// TokenForAuth returns the token with the given id in any status, Deleted
// included, for the authentication of API calls.
func (s *Store) TokenForAuth(ctx context.Context, id string) (store.AuthToken, error) {
	var t store.AuthToken
	var bits int64
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.secret_hash, t.name, t.status, t.account_id, a.name, t.module_bits
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?`, id).
		Scan(&t.ID, &t.Hash, &t.Name, &t.Status, &t.AccountID, &t.AccountName, &bits)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuthToken{}, store.ErrNotFound
	}
	if err != nil {
		return store.AuthToken{}, err
	}
	t.Modules = s.modulesOf(bits)
	return t, nil
}

// RecordRejections writes one "rejected" audit record per token and minute,
// all in one transaction.
func (s *Store) RecordRejections(ctx context.Context, rs []store.Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for _, r := range rs {
		var name, account string
		err := tx.QueryRowContext(ctx, `SELECT name, account_id FROM api_tokens WHERE id = ?`, r.TokenID).Scan(&name, &account)
		if errors.Is(err, sql.ErrNoRows) {
			continue
		}
		if err != nil {
			return err
		}
		calls := "call was"
		if r.Count != 1 {
			calls = "calls were"
		}
		if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
			AccountID: account, OccurredAt: r.Minute, Event: store.EventTokenRejected,
			ObjectType: store.ObjectTypeToken, ObjectID: r.TokenID, ObjectName: name,
			Actor:   store.Actor{Type: "token", ID: r.TokenID, Name: name, IP: r.IP, UserAgent: r.UserAgent},
			Summary: fmt.Sprintf("%d API %s refused in the minute from %s UTC: API token %s is %s.", r.Count, calls, r.Minute.UTC().Format("15:04"), r.TokenID, strings.ToLower(r.Status)),
			Details: detailsJSON(map[string]any{"count": r.Count, "minute": r.Minute.UTC().Format(time.RFC3339), "status": r.Status}),
		}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

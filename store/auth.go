package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AuthToken is what authenticating a call needs to know about a token: its
// hash to compare, its status, its account and its modules.
type AuthToken struct {
	ID          string
	Hash        []byte
	Name        string
	Status      string
	AccountID   string
	AccountName string
	Modules     []Module
}

// HasModule reports whether the token is granted the module.
func (t AuthToken) HasModule(id string) bool {
	for _, m := range t.Modules {
		if m.ID == id {
			return true
		}
	}
	return false
}

// TokenForAuth returns the token with the given id in any status, Deleted
// included, for the authentication of API calls.
func (s *Store) TokenForAuth(ctx context.Context, id string) (AuthToken, error) {
	var t AuthToken
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.secret_hash, t.name, t.status, t.account_id, a.name
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id WHERE t.id = ?`, id).
		Scan(&t.ID, &t.Hash, &t.Name, &t.Status, &t.AccountID, &t.AccountName)
	if errors.Is(err, sql.ErrNoRows) {
		return AuthToken{}, ErrNotFound
	}
	if err != nil {
		return AuthToken{}, err
	}
	mods, err := tokenModules(ctx, s.db, []string{id})
	if err != nil {
		return AuthToken{}, err
	}
	t.Modules = mods[id]
	return t, nil
}

// Rejection counts the calls refused for one token in one minute.
type Rejection struct {
	TokenID   string
	Minute    time.Time
	Count     int
	Status    string // the token's status then: Disabled or Deleted
	IP        string // of the last refused call
	UserAgent string
}

// RecordRejections writes one "rejected" audit record per token and minute,
// all in one transaction.
func (s *Store) RecordRejections(ctx context.Context, rs []Rejection) error {
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
		if _, err := s.appendAudit(ctx, tx, AuditRecord{
			AccountID: account, OccurredAt: r.Minute, Event: EventTokenRejected,
			ObjectType: ObjectTypeToken, ObjectID: r.TokenID, ObjectName: name,
			Actor:   Actor{Type: "token", ID: r.TokenID, Name: name, IP: r.IP, UserAgent: r.UserAgent},
			Summary: fmt.Sprintf("%d API %s refused in the minute from %s UTC: API token %s is %s.", r.Count, calls, r.Minute.UTC().Format("15:04"), r.TokenID, strings.ToLower(r.Status)),
			Details: detailsJSON(map[string]any{"count": r.Count, "minute": r.Minute.UTC().Format(time.RFC3339), "status": r.Status}),
		}); err != nil {
			return err
		}
	}
	return tx.Commit()
}

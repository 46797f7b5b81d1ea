package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"
)

// Audit event names of SPEC §2.5.
const (
	EventTokenCreated     = "platform.accounts.api-token.created"
	EventTokenUpdated     = "platform.accounts.api-token.updated"
	EventTokenEnabled     = "platform.accounts.api-token.enabled"
	EventTokenDisabled    = "platform.accounts.api-token.disabled"
	EventTokenDeleted     = "platform.accounts.api-token.deleted"
	EventTokenValueViewed = "platform.accounts.api-token.value-viewed"
	EventTokenRejected    = "platform.accounts.api-token.rejected"
)

// ObjectTypeToken is the object type of audit records about API tokens.
const ObjectTypeToken = "API token"

// Actor is who makes a change: a user of the console, a token calling the
// API, or the system itself, with the client's address and user agent.
type Actor struct {
	Type      string // "user", "token" or "system"
	ID        string
	Name      string
	IP        string
	UserAgent string
}

// UserActor returns the actor for a console user.
func UserActor(u User, ip, userAgent string) Actor {
	return Actor{Type: "user", ID: u.ID, Name: u.Name, IP: ip, UserAgent: userAgent}
}

// SystemActor is the actor of changes made from the command line.
var SystemActor = Actor{Type: "system", ID: "SYSTEM", Name: "Gatehouse"}

// AuditRecord is one entry of the tamper-evident audit trail.
type AuditRecord struct {
	Seq        int64
	ID         string
	AccountID  string
	OccurredAt time.Time
	Event      string
	ObjectType string
	ObjectID   string
	ObjectName string
	Actor      Actor
	Summary    string
	Details    string // JSON: what changed, never a secret
	PrevHash   string
	Hash       string
}

// Change is the before and after of one field in an audit record's details.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// chainHash is the hash of a record chained to its predecessor's hash.
func chainHash(prev string, r AuditRecord) string {
	canonical, _ := json.Marshal([]any{
		r.ID, r.AccountID, r.OccurredAt.UnixMilli(), r.Event,
		r.ObjectType, r.ObjectID, r.ObjectName,
		r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent,
		r.Summary, r.Details,
	})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// appendAudit writes r at the end of the chain inside tx. The transaction is
// IMMEDIATE, so no other writer can append between the read of the last hash
// and the insert.
func (s *Store) appendAudit(ctx context.Context, tx *sql.Tx, r AuditRecord) (AuditRecord, error) {
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return AuditRecord{}, fmt.Errorf("read chain head: %w", err)
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = s.now()
	}
	r.OccurredAt = r.OccurredAt.Truncate(time.Millisecond).UTC()
	if r.Details == "" {
		r.Details = "{}"
	}
	r.PrevHash = prev
	r.ID, err = insertWithID(func() string { return NewID("AUD", 4) }, func(id string) error {
		r.ID = id
		r.Hash = chainHash(prev, r)
		res, err := tx.ExecContext(ctx, `INSERT INTO audit_records
			(id, account_id, occurred_at, event, object_type, object_id, object_name,
			 actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`,
			r.ID, r.AccountID, r.OccurredAt.UnixMilli(), r.Event, r.ObjectType, r.ObjectID, r.ObjectName,
			r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent, r.Summary, r.Details, r.PrevHash, r.Hash)
		if err == nil {
			r.Seq, err = res.LastInsertId()
		}
		return err
	})
	if err != nil {
		return AuditRecord{}, fmt.Errorf("append audit record: %w", err)
	}
	return r, nil
}

// detailsJSON encodes an audit record's details.
func detailsJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}

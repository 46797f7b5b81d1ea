package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
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

// AuditEvents are the event names, in the order filters offer them.
var AuditEvents = []string{
	EventTokenCreated, EventTokenUpdated, EventTokenEnabled, EventTokenDisabled,
	EventTokenDeleted, EventTokenValueViewed, EventTokenRejected,
}

// AuditCountCap bounds how far a trail's records are counted; past it a
// total reads "10,000+" rather than costing a scan of the whole trail.
const AuditCountCap = 10_000

// AuditQuery selects records of an account's trail, newest first.
type AuditQuery struct {
	ObjectID string    // "" for the whole account
	Event    string    // "" for every event
	From     time.Time // inclusive; zero: no lower bound
	To       time.Time // exclusive; zero: no upper bound
	Before   string    // cursor: only records older than it (the next page)
	After    string    // cursor: only records newer than it (the previous page)
	Limit    int
}

// AuditPage is one page of the trail with cursors to its neighbours.
type AuditPage struct {
	Records     []AuditRecord
	Older       string // cursor of the next, older page; "" at the end
	Newer       string // cursor of the previous, newer page; "" at the start
	Total       int    // matching records, counted up to AuditCountCap
	TotalCapped bool   // more than AuditCountCap match
}

// auditCursor marks a record's place in the newest-first order.
func auditCursor(r AuditRecord) string {
	return strconv.FormatInt(r.OccurredAt.UnixMilli(), 10) + "-" + strconv.FormatInt(r.Seq, 10)
}

// parseAuditCursor reads a cursor; ok is false for anything malformed.
func parseAuditCursor(c string) (ms, seq int64, ok bool) {
	a, b, found := strings.Cut(c, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil && ms >= 0 && seq >= 0
}

// ValidAuditCursor reports whether c is a well-formed page cursor.
func ValidAuditCursor(c string) bool {
	_, _, ok := parseAuditCursor(c)
	return ok
}

func (q AuditQuery) where(accountID string) (string, []any) {
	where := []string{"account_id = ?"}
	args := []any{accountID}
	if q.ObjectID != "" {
		where = append(where, "object_id = ?")
		args = append(args, q.ObjectID)
	}
	if q.Event != "" {
		where = append(where, "event = ?")
		args = append(args, q.Event)
	}
	if !q.From.IsZero() {
		where = append(where, "occurred_at >= ?")
		args = append(args, q.From.UnixMilli())
	}
	if !q.To.IsZero() {
		where = append(where, "occurred_at < ?")
		args = append(args, q.To.UnixMilli())
	}
	return strings.Join(where, " AND "), args
}

const auditColumns = `seq, id, account_id, occurred_at, event, object_type, object_id, object_name,
	actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (AuditRecord, error) {
	var r AuditRecord
	var ms int64
	err := row.Scan(&r.Seq, &r.ID, &r.AccountID, &ms, &r.Event, &r.ObjectType, &r.ObjectID, &r.ObjectName,
		&r.Actor.Type, &r.Actor.ID, &r.Actor.Name, &r.Actor.IP, &r.Actor.UserAgent, &r.Summary, &r.Details, &r.PrevHash, &r.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return AuditRecord{}, ErrNotFound
	}
	r.OccurredAt = time.UnixMilli(ms).UTC()
	return r, err
}

// ListAudit returns one page of the account's trail, newest first.
func (s *Store) ListAudit(ctx context.Context, accountID string, q AuditQuery) (AuditPage, error) {
	cond, args := q.where(accountID)
	var page AuditPage
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM audit_records WHERE `+cond+` LIMIT ?)`,
		append(args, AuditCountCap+1)...).Scan(&page.Total); err != nil {
		return AuditPage{}, fmt.Errorf("count audit records: %w", err)
	}
	if page.Total > AuditCountCap {
		page.Total, page.TotalCapped = AuditCountCap, true
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 25
	}
	// One extra row tells whether there is a page beyond this one.
	order := "occurred_at DESC, seq DESC"
	backwards := false
	if ms, seq, ok := parseAuditCursor(q.After); ok {
		cond += " AND (occurred_at > ? OR (occurred_at = ? AND seq > ?))"
		args = append(args, ms, ms, seq)
		order = "occurred_at ASC, seq ASC"
		backwards = true
	} else if ms, seq, ok := parseAuditCursor(q.Before); ok {
		cond += " AND (occurred_at < ? OR (occurred_at = ? AND seq < ?))"
		args = append(args, ms, ms, seq)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+cond+
		` ORDER BY `+order+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return AuditPage{}, fmt.Errorf("list audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return AuditPage{}, err
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return AuditPage{}, err
	}
	more := len(page.Records) > limit
	if more {
		page.Records = page.Records[:limit]
	}
	if backwards {
		slices.Reverse(page.Records)
	}
	if len(page.Records) > 0 {
		first, last := page.Records[0], page.Records[len(page.Records)-1]
		switch {
		case backwards:
			page.Older = auditCursor(last)
			if more {
				page.Newer = auditCursor(first)
			}
		default:
			if more {
				page.Older = auditCursor(last)
			}
			if q.Before != "" {
				page.Newer = auditCursor(first)
			}
		}
	}
	return page, nil
}

// AuditRecordByID returns one record of the account's trail.
func (s *Store) AuditRecordByID(ctx context.Context, accountID, id string) (AuditRecord, error) {
	return scanAudit(s.db.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE id = ? AND account_id = ?`, id, accountID))
}

// EachAudit calls fn for every record matching q (ignoring its cursors and
// limit), newest first, reading row by row so that any number of records
// streams in constant memory.
func (s *Store) EachAudit(ctx context.Context, accountID string, q AuditQuery, fn func(AuditRecord) error) error {
	cond, args := q.where(accountID)
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+cond+
		` ORDER BY occurred_at DESC, seq DESC`, args...)
	if err != nil {
		return fmt.Errorf("export audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return err
		}
		if err := fn(r); err != nil {
			return err
		}
	}
	return rows.Err()
}

// VerifyResult is the outcome of walking the audit chain.
type VerifyResult struct {
	Count   int         // records checked
	Last    AuditAnchor // the last record found good: the head, when intact
	BadID   string      // the first record that does not match; "" when intact
	BadSeq  int64
	Problem string
}

// VerifyAudit walks the whole chain in order and reports the first record
// whose stored hash, or link to its predecessor, does not match its content.
func (s *Store) VerifyAudit(ctx context.Context) (VerifyResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records ORDER BY seq`)
	if err != nil {
		return VerifyResult{}, err
	}
	defer rows.Close()
	var res VerifyResult
	prev := ""
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return VerifyResult{}, err
		}
		switch {
		case r.PrevHash != prev:
			res.Problem = "its link to the previous record is broken (a record before it was removed or inserted)"
		case chainHash(prev, r) != r.Hash:
			res.Problem = "its content does not match its hash (it was altered)"
		}
		if res.Problem != "" {
			res.BadID, res.BadSeq = r.ID, r.Seq
			return res, nil
		}
		res.Count++
		res.Last = AuditAnchor{Seq: r.Seq, ID: r.ID, Hash: r.Hash}
		prev = r.Hash
	}
	return res, rows.Err()
}

// AuditAnchor pins a record of the chain by its position and hash. The chain
// alone cannot show that its newest records were cut off, or that someone
// who holds the database recomputed it from some record on; an anchor kept
// somewhere else can. The server logs the head's anchor at start and hourly,
// and "gatehouse audit verify --anchor" checks one.
type AuditAnchor struct {
	Seq  int64
	ID   string // the record's AUD id (not part of the written form)
	Hash string
}

// String is the anchor's written form, SEQ:HASH.
func (a AuditAnchor) String() string { return strconv.FormatInt(a.Seq, 10) + ":" + a.Hash }

// ParseAuditAnchor reads SEQ:HASH, as String writes it.
func ParseAuditAnchor(s string) (AuditAnchor, bool) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != sha256.Size*2 {
		return AuditAnchor{}, false
	}
	if _, err := hex.DecodeString(hash); err != nil || strings.ToLower(hash) != hash {
		return AuditAnchor{}, false
	}
	return AuditAnchor{Seq: n, Hash: hash}, true
}

// AuditHead returns the anchor of the newest record; ErrNotFound when the
// trail is empty.
func (s *Store) AuditHead(ctx context.Context) (AuditAnchor, error) {
	var a AuditAnchor
	err := s.db.QueryRowContext(ctx, `SELECT seq, id, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&a.Seq, &a.ID, &a.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return AuditAnchor{}, ErrNotFound
	}
	return a, err
}

// CheckAuditAnchor reports how the trail stands against an anchor taken
// earlier: "" when the record at its position still has its hash (with an
// intact chain, everything up to it is then unchanged), or what went wrong.
func (s *Store) CheckAuditAnchor(ctx context.Context, a AuditAnchor) (string, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT hash FROM audit_records WHERE seq = ?`, a.Seq).Scan(&hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		head, err := s.AuditHead(ctx)
		if errors.Is(err, ErrNotFound) {
			return fmt.Sprintf("the anchored record #%d is gone: the trail is empty", a.Seq), nil
		} else if err != nil {
			return "", err
		}
		return fmt.Sprintf("the anchored record #%d is gone: the trail now ends at #%d, so its newest records were removed", a.Seq, head.Seq), nil
	case err != nil:
		return "", err
	case hash != a.Hash:
		return fmt.Sprintf("record #%d no longer has the anchored hash: the trail was rewritten, or cut back and written again, at or before it", a.Seq), nil
	}
	return "", nil
}

// AuditOffsetQuery selects records of the API's view of the trail.
type AuditOffsetQuery struct {
	Filter        *Filter
	Sort          []SortKey // newest first when empty
	Offset, Limit int
}

// ListAuditOffset returns records of the account's trail by offset and limit,
// optionally filtered by an RQL condition and ordered by field paths (newest
// first by default): the API's view of the trail. The total is counted up to
// AuditCountCap.
func (s *Store) ListAuditOffset(ctx context.Context, accountID string, q AuditOffsetQuery) ([]AuditRecord, int, error) {
	cond, args := "account_id = ?", []any{accountID}
	if q.Filter != nil {
		sql, fargs, err := renderFilter(AuditSchema, auditSQL, *q.Filter)
		if err != nil {
			return nil, 0, err
		}
		cond += " AND " + sql
		args = append(args, fargs...)
	}
	keys := q.Sort
	if len(keys) == 0 {
		keys = []SortKey{{Field: "timestamp", Desc: true}}
	}
	orderBy, err := orderSQL(AuditSchema, auditSQL, nil, keys, "seq", false)
	if err != nil {
		return nil, 0, err
	}
	offset, limit := q.Offset, q.Limit
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM audit_records WHERE `+cond+` LIMIT ?)`,
		append(args, AuditCountCap)...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+cond+
		` ORDER BY `+orderBy+` LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

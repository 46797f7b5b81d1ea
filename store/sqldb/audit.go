package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"gatehouse/store"
	"slices"
	"strings"
	"time"
)

// appendAudit writes r at the end of the chain inside tx. The dialect's lock
// keeps any other writer from appending between the read of the last hash
// and the insert, until tx ends.
func (s *Store) appendAudit(ctx context.Context, tx *Tx, r store.AuditRecord) (store.AuditRecord, error) {
	if err := s.d.LockAuditChain(ctx, tx); err != nil {
		return store.AuditRecord{}, fmt.Errorf("lock the audit chain: %w", err)
	}
	var prev string
	err := tx.QueryRowContext(ctx, `SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&prev)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return store.AuditRecord{}, fmt.Errorf("read chain head: %w", err)
	}
	if r.OccurredAt.IsZero() {
		r.OccurredAt = s.now()
	}
	r = r.Normalized() // once: the bytes hashed are the bytes stored
	r.OccurredAt = r.OccurredAt.Truncate(time.Millisecond).UTC()
	if r.Details == "" {
		r.Details = "{}"
	}
	r.PrevHash = prev
	r.ID, err = insertWithID(func() string { return store.NewID("AUD", 4) }, func(id string) (bool, error) {
		r.ID = id
		r.Hash = store.ChainHash(prev, r)
		err := tx.QueryRowContext(ctx, `INSERT INTO audit_records
			(id, account_id, occurred_at, event, object_type, object_id, object_name,
			 actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING RETURNING seq`,
			r.ID, r.AccountID, r.OccurredAt.UnixMilli(), r.Event, r.ObjectType, r.ObjectID, r.ObjectName,
			r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent, r.Summary, r.Details, r.PrevHash, r.Hash).Scan(&r.Seq)
		if errors.Is(err, sql.ErrNoRows) {
			return false, nil // the id is taken
		}
		return err == nil, err
	})
	if err != nil {
		return store.AuditRecord{}, fmt.Errorf("append audit record: %w", err)
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

// auditWhere is the condition of an AuditQuery on the account's trail.
func auditWhere(q store.AuditQuery, accountID string) (string, []any) {
	where := []string{"account_id = ?"}
	args := []any{accountID}
	objects := q.ObjectIDs
	if q.ObjectID != "" {
		objects = append([]string{q.ObjectID}, objects...)
	}
	switch len(objects) {
	case 0:
	case 1:
		where = append(where, "object_id = ?")
		args = append(args, objects[0])
	default:
		where = append(where, "object_id IN ("+placeholders(len(objects))+")")
		for _, id := range objects {
			args = append(args, id)
		}
	}
	if q.ActorID != "" {
		where = append(where, "actor_id = ?")
		args = append(args, q.ActorID)
	}
	if q.ActorType != "" {
		where = append(where, "actor_type = ?")
		args = append(args, q.ActorType)
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

// auditOrder is the ORDER BY of a trail query, newest first or (asc)
// oldest first. For records about several objects it orders by
// +occurred_at, which no index can hand over in order: left the plain
// column, SQLite walked the account's whole trail in time order to find
// those objects' records (200 ms at 1 000 000 records and 78 tokens)
// rather than seek each object's few in audit_records_object and sort them
// (1 ms). PostgreSQL plans it the same way either way.
func auditOrder(q store.AuditQuery, asc bool) string {
	objects := len(q.ObjectIDs)
	if q.ObjectID != "" {
		objects++
	}
	col, dir := "occurred_at", "DESC"
	if objects > 1 {
		col = "+occurred_at"
	}
	if asc {
		dir = "ASC"
	}
	return col + " " + dir + ", seq " + dir
}

const auditColumns = `seq, id, account_id, occurred_at, event, object_type, object_id, object_name,
	actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash`

func scanAudit(row interface{ Scan(...any) error }) (store.AuditRecord, error) {
	var r store.AuditRecord
	var ms int64
	err := row.Scan(&r.Seq, &r.ID, &r.AccountID, &ms, &r.Event, &r.ObjectType, &r.ObjectID, &r.ObjectName,
		&r.Actor.Type, &r.Actor.ID, &r.Actor.Name, &r.Actor.IP, &r.Actor.UserAgent, &r.Summary, &r.Details, &r.PrevHash, &r.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditRecord{}, store.ErrNotFound
	}
	r.OccurredAt = time.UnixMilli(ms).UTC()
	return r, err
}

// ListAudit returns one page of the account's trail, newest first.
func (s *Store) ListAudit(ctx context.Context, accountID string, q store.AuditQuery) (store.AuditPage, error) {
	cond, args := auditWhere(q, accountID)
	var page store.AuditPage
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM audit_records WHERE `+cond+` LIMIT ?) AS capped`,
		append(args, store.AuditCountCap+1)...).Scan(&page.Total); err != nil {
		return store.AuditPage{}, fmt.Errorf("count audit records: %w", err)
	}
	if page.Total > store.AuditCountCap {
		page.Total, page.TotalCapped = store.AuditCountCap, true
	}
	limit := q.Limit
	if limit <= 0 {
		limit = 25
	}
	// One extra row tells whether there is a page beyond this one.
	order := auditOrder(q, false)
	backwards := false
	if ms, seq, ok := store.ParseAuditCursor(q.After); ok {
		cond += " AND (occurred_at > ? OR (occurred_at = ? AND seq > ?))"
		args = append(args, ms, ms, seq)
		order = auditOrder(q, true)
		backwards = true
	} else if ms, seq, ok := store.ParseAuditCursor(q.Before); ok {
		cond += " AND (occurred_at < ? OR (occurred_at = ? AND seq < ?))"
		args = append(args, ms, ms, seq)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+cond+
		` ORDER BY `+order+` LIMIT ?`, append(args, limit+1)...)
	if err != nil {
		return store.AuditPage{}, fmt.Errorf("list audit records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return store.AuditPage{}, err
		}
		page.Records = append(page.Records, r)
	}
	if err := rows.Err(); err != nil {
		return store.AuditPage{}, err
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
			page.Older = store.AuditCursor(last)
			if more {
				page.Newer = store.AuditCursor(first)
			}
		default:
			if more {
				page.Older = store.AuditCursor(last)
			}
			if q.Before != "" {
				page.Newer = store.AuditCursor(first)
			}
		}
	}
	return page, nil
}

// AuditRecordByID returns one record of the account's trail.
func (s *Store) AuditRecordByID(ctx context.Context, accountID, id string) (store.AuditRecord, error) {
	return scanAudit(s.db.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE id = ? AND account_id = ?`, id, accountID))
}

// EachAudit calls fn for every record matching q (ignoring its cursors and
// limit), newest first, reading row by row so that any number of records
// streams in constant memory.
func (s *Store) EachAudit(ctx context.Context, accountID string, q store.AuditQuery, fn func(store.AuditRecord) error) error {
	cond, args := auditWhere(q, accountID)
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+cond+
		` ORDER BY `+auditOrder(q, false), args...)
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

// VerifyAudit walks the whole chain in order and reports the first record
// whose stored hash, or link to its predecessor, does not match its content.
func (s *Store) VerifyAudit(ctx context.Context) (store.VerifyResult, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records ORDER BY seq`)
	if err != nil {
		return store.VerifyResult{}, err
	}
	defer rows.Close()
	var res store.VerifyResult
	prev := ""
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return store.VerifyResult{}, err
		}
		switch {
		case r.PrevHash != prev:
			res.Problem = "its link to the previous record is broken (a record before it was removed or inserted)"
		case store.ChainHash(prev, r) != r.Hash:
			res.Problem = "its content does not match its hash (it was altered)"
		}
		if res.Problem != "" {
			res.BadID, res.BadSeq = r.ID, r.Seq
			return res, nil
		}
		res.Count++
		res.Last = store.AuditAnchor{Seq: r.Seq, ID: r.ID, Hash: r.Hash}
		prev = r.Hash
	}
	return res, rows.Err()
}

// AuditHead returns the anchor of the newest record; ErrNotFound when the
// trail is empty.
func (s *Store) AuditHead(ctx context.Context) (store.AuditAnchor, error) {
	var a store.AuditAnchor
	err := s.db.QueryRowContext(ctx, `SELECT seq, id, hash FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&a.Seq, &a.ID, &a.Hash)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AuditAnchor{}, store.ErrNotFound
	}
	return a, err
}

// CheckAuditAnchor reports how the trail stands against an anchor taken
// earlier: "" when the record at its position still has its hash (with an
// intact chain, everything up to it is then unchanged), or what went wrong.
func (s *Store) CheckAuditAnchor(ctx context.Context, a store.AuditAnchor) (string, error) {
	var hash string
	err := s.db.QueryRowContext(ctx, `SELECT hash FROM audit_records WHERE seq = ?`, a.Seq).Scan(&hash)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		head, err := s.AuditHead(ctx)
		if errors.Is(err, store.ErrNotFound) {
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

// ListAuditOffset returns records of the account's trail by offset and limit,
// optionally filtered by an RQL condition and ordered by field paths (newest
// first by default): the API's view of the trail. The total is counted up to
// AuditCountCap.
func (s *Store) ListAuditOffset(ctx context.Context, accountID string, q store.AuditOffsetQuery) ([]store.AuditRecord, int, error) {
	cond, args := "account_id = ?", []any{accountID}
	if q.Filter != nil {
		sql, fargs, err := renderFilter(s.d, store.AuditSchema, auditSQL, *q.Filter)
		if err != nil {
			return nil, 0, err
		}
		cond += " AND " + sql
		args = append(args, fargs...)
	}
	keys := q.Sort
	if len(keys) == 0 {
		keys = []store.SortKey{{Field: "timestamp", Desc: true}}
	}
	orderBy, err := orderSQL(s.d, store.AuditSchema, auditSQL, nil, keys, "seq", false)
	if err != nil {
		return nil, 0, err
	}
	offset, limit := q.Offset, q.Limit
	var total int
	if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM audit_records WHERE `+cond+` LIMIT ?) AS capped`,
		append(args, store.AuditCountCap)...).Scan(&total); err != nil {
		return nil, 0, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+auditColumns+` FROM audit_records WHERE `+cond+
		` ORDER BY `+orderBy+` LIMIT ? OFFSET ?`, append(args, limit, offset)...)
	if err != nil {
		return nil, 0, err
	}
	defer rows.Close()
	var out []store.AuditRecord
	for rows.Next() {
		r, err := scanAudit(rows)
		if err != nil {
			return nil, 0, err
		}
		out = append(out, r)
	}
	return out, total, rows.Err()
}

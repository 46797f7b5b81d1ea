package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/store"
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

// RecordRejections adds refused calls to the per-token, per-minute counts
// that every process adds to. The audit records are written from the counts
// once the minute is over for all of them (RecordPendingRejections), so that
// a token refused on three replicas in one minute gets one record.
func (s *Store) RecordRejections(ctx context.Context, rs []store.Rejection) error {
	if len(rs) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Rows in one order on every process, so that two flushes cannot
	// deadlock on PostgreSQL.
	rs = slices.SortedFunc(slices.Values(rs), func(a, b store.Rejection) int {
		return cmp.Or(strings.Compare(a.TokenID, b.TokenID), a.Minute.Compare(b.Minute))
	})
	for _, r := range rs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO token_rejections (token_id, minute, status, count, pending, ip, user_agent)
			VALUES (?, ?, ?, ?, ?, ?, ?)
			ON CONFLICT (token_id, minute) DO UPDATE SET count = token_rejections.count + excluded.count,
				pending = token_rejections.pending + excluded.pending,
				status = excluded.status, ip = excluded.ip, user_agent = excluded.user_agent`,
			r.TokenID, r.Minute.UTC(), r.Status, r.Count, r.Count, store.CleanText(r.IP), store.CleanUserAgent(r.UserAgent)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// RecordPendingRejections writes one "rejected" audit record for each token
// and minute with refused calls no record tells of yet, for the minutes
// over (with store.RejectionGrace) at now.
// Every process may call it at any time: a count is recorded by whoever
// first marks it done, so no minute is recorded twice; calls counted after
// their minute was recorded (a process that could not reach the database
// for a while) get a record of their own, saying so. It returns how many
// records it wrote.
func (s *Store) RecordPendingRejections(ctx context.Context, now time.Time) (int, error) {
	closed := now.Add(-time.Minute - store.RejectionGrace).UTC()
	type pending struct {
		store.Rejection
		total, pending int
	}
	rows, err := s.db.QueryContext(ctx, `SELECT r.token_id, r.minute, r.status, r.count, r.pending, r.ip, r.user_agent
		FROM token_rejections r WHERE r.pending > 0 AND r.minute <= ? ORDER BY r.minute, r.token_id LIMIT 1000`, closed)
	if err != nil {
		return 0, err
	}
	var todo []pending
	for rows.Next() {
		var p pending
		if err := rows.Scan(&p.TokenID, &p.Minute, &p.Status, &p.total, &p.pending, &p.IP, &p.UserAgent); err != nil {
			rows.Close()
			return 0, err
		}
		todo = append(todo, p)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return 0, err
	}
	written := 0
	for _, p := range todo {
		ok, err := s.recordRejection(ctx, p.Rejection, p.total, p.pending)
		if err != nil {
			return written, err
		}
		if ok {
			written++
		}
	}
	return written, nil
}

// PruneTokenRejections forgets recorded counts of minutes before before.
func (s *Store) PruneTokenRejections(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM token_rejections WHERE pending = 0 AND minute < ?`, before.UTC())
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// recordRejection writes the record of n refused calls of one token and
// minute (of total counted), if no one else has since: the count is marked
// done only while it still is what was read.
func (s *Store) recordRejection(ctx context.Context, r store.Rejection, total, n int) (bool, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return false, err
	}
	defer tx.Rollback()
	// count only grows, so with it the pair cannot return to what was read
	// after someone recorded it and more calls came.
	res, err := tx.ExecContext(ctx, `UPDATE token_rejections SET pending = 0
		WHERE token_id = ? AND minute = ? AND pending = ? AND count = ?`,
		r.TokenID, r.Minute, n, total)
	if err != nil {
		return false, err
	}
	if done, _ := res.RowsAffected(); done != 1 {
		return false, nil // recorded by another process, or counted further: next time
	}
	var name, account string
	err = tx.QueryRowContext(ctx, `SELECT name, account_id FROM api_tokens WHERE id = ?`, r.TokenID).Scan(&name, &account)
	if errors.Is(err, sql.ErrNoRows) {
		return false, tx.Commit()
	}
	if err != nil {
		return false, err
	}
	calls := "call was"
	if n != 1 {
		calls = "calls were"
	}
	summary := fmt.Sprintf("%d API %s refused in the minute from %s UTC: API token %s is %s.", n, calls, r.Minute.UTC().Format("15:04"), r.TokenID, strings.ToLower(r.Status))
	details := map[string]any{"count": n, "minute": r.Minute.UTC().Format(time.RFC3339), "status": r.Status}
	if n != total {
		summary = fmt.Sprintf("%d more API %s refused in the minute from %s UTC, reported late: API token %s is %s.", n, calls, r.Minute.UTC().Format("15:04"), r.TokenID, strings.ToLower(r.Status))
		details["late"] = true
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: account, OccurredAt: r.Minute, Event: store.EventTokenRejected,
		ObjectType: store.ObjectTypeToken, ObjectID: r.TokenID, ObjectName: name,
		Actor:   store.Actor{Type: "token", ID: r.TokenID, Name: name, IP: r.IP, UserAgent: r.UserAgent},
		Summary: summary, Details: detailsJSON(details),
	}); err != nil {
		return false, err
	}
	return true, tx.Commit()
}

package sqldb

import (
	"context"
	"fmt"
	"time"

	"gatehouse/store"
)

// Notifier is a dialect that can wake other processes when the change log
// grows (PostgreSQL's LISTEN/NOTIFY). Without one, they find the changes by
// polling.
type Notifier interface {
	// NotifyTokenChange sends the wake-up in tx; it is delivered when tx
	// commits, and not at all if it rolls back.
	NotifyTokenChange(ctx context.Context, tx *Tx) error
	// ListenTokenChanges calls wake for every wake-up until ctx ends or the
	// connection it listens on fails, and returns why it stopped. It calls
	// listening once it is listening.
	ListenTokenChanges(ctx context.Context, listening, wake func()) error
}

// logTokenChange adds the token to the change log in tx. The caller has
// appended an audit record in tx, so it holds the audit chain's lock until
// tx ends: change-log rows commit in the order of their seq.
func (s *Store) logTokenChange(ctx context.Context, tx *Tx, id string) error {
	if _, err := tx.ExecContext(ctx, `INSERT INTO token_changes (token_id, changed_at) VALUES (?, ?)`, id, s.now()); err != nil {
		return fmt.Errorf("log the token change: %w", err)
	}
	if n, ok := s.d.(Notifier); ok {
		return n.NotifyTokenChange(ctx, tx)
	}
	return nil
}

// TokenChangeHead is the seq of the change log's newest entry (0 when it is
// empty): where a cache that starts empty begins following it.
func (s *Store) TokenChangeHead(ctx context.Context) (int64, error) {
	var head int64
	err := s.feedDB().QueryRowContext(ctx, `SELECT CAST(COALESCE(MAX(seq), 0) AS BIGINT) FROM token_changes`).Scan(&head)
	return head, err
}

// TokenChangesSince returns up to limit entries of the change log after seq
// after, oldest first.
func (s *Store) TokenChangesSince(ctx context.Context, after int64, limit int) ([]store.TokenChange, error) {
	rows, err := s.feedDB().QueryContext(ctx, `SELECT seq, token_id FROM token_changes WHERE seq > ? ORDER BY seq LIMIT ?`, after, limit)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.TokenChange
	for rows.Next() {
		var c store.TokenChange
		if err := rows.Scan(&c.Seq, &c.TokenID); err != nil {
			return nil, err
		}
		out = append(out, c)
	}
	return out, rows.Err()
}

// WatchTokenChanges calls wake whenever another process adds to the change
// log, until ctx ends or the engine's connection for it fails; it returns
// why it stopped. listening is called once the watch is in place. An engine
// without notifications returns at once with store.ErrNoWatch: its caches poll.
func (s *Store) WatchTokenChanges(ctx context.Context, listening, wake func()) error {
	n, ok := s.d.(Notifier)
	if !ok {
		return store.ErrNoWatch
	}
	return classify(s.d, n.ListenTokenChanges(ctx, listening, wake))
}

// PruneTokenChanges deletes change-log entries older than before. A cache
// that fell further behind than that has been reading the database instead
// (it fails closed) and starts again from the head.
func (s *Store) PruneTokenChanges(ctx context.Context, before time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM token_changes WHERE changed_at < ?`, before)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"gatehouse/store"
	"time"
)

// CreateSession stores a new session under id.
func (s *Store) CreateSession(ctx context.Context, id, userID, data string) error {
	now := s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at)
		VALUES (?, NULLIF(?, ''), ?, ?, ?)`, store.SessionKey(id), userID, data, now, now)
	return err
}

// Session returns the session stored under id, with its user: one query
// for what every console request needs to know about who asks.
func (s *Store) Session(ctx context.Context, id string) (store.Session, error) {
	var ss store.Session
	var userID sql.NullString
	var u userRow
	err := s.db.QueryRowContext(ctx, `SELECT s.user_id, s.data, s.created_at, s.last_seen_at, `+userColumns+`
		FROM sessions s LEFT JOIN users u ON u.id = s.user_id LEFT JOIN accounts a ON a.id = u.account_id
		WHERE s.id_hash = ?`, store.SessionKey(id)).
		Scan(append([]any{&userID, &ss.Data, &ss.CreatedAt, &ss.LastSeenAt}, u.dest()...)...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Session{}, store.ErrNotFound
	}
	if err != nil {
		return store.Session{}, err
	}
	ss.UserID = userID.String
	if u.id.Valid {
		ss.User = s.userOf(u)
	}
	return ss, nil
}

// UpdateSession replaces a session's data and marks it seen now.
func (s *Store) UpdateSession(ctx context.Context, id, userID, data string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET user_id = NULLIF(?, ''), data = ?, last_seen_at = ? WHERE id_hash = ?`,
		userID, data, s.now(), store.SessionKey(id))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	return nil
}

// TouchSession marks a session seen now.
func (s *Store) TouchSession(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, s.now(), store.SessionKey(id))
	return err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, store.SessionKey(id))
	return err
}

// DeleteExpiredSessions removes sessions idle since before idleBefore or
// created before createdBefore, and reports how many went.
func (s *Store) DeleteExpiredSessions(ctx context.Context, idleBefore, createdBefore time.Time) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE last_seen_at < ? OR created_at < ?`, idleBefore, createdBefore)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"time"
)

// Session is a server-side login session. The id itself is never stored:
// the table keys on its SHA-256.
type Session struct {
	UserID     string
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
}

func sessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

// CreateSession stores a new session under id.
func (s *Store) CreateSession(ctx context.Context, id, userID, data string) error {
	now := s.now()
	_, err := s.db.ExecContext(ctx, `INSERT INTO sessions (id_hash, user_id, data, created_at, last_seen_at)
		VALUES (?, NULLIF(?, ''), ?, ?, ?)`, sessionKey(id), userID, data, now, now)
	return err
}

// Session returns the session stored under id.
func (s *Store) Session(ctx context.Context, id string) (Session, error) {
	var ss Session
	var user sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT user_id, data, created_at, last_seen_at FROM sessions WHERE id_hash = ?`,
		sessionKey(id)).Scan(&user, &ss.Data, &ss.CreatedAt, &ss.LastSeenAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Session{}, ErrNotFound
	}
	ss.UserID = user.String
	return ss, err
}

// UpdateSession replaces a session's data and marks it seen now.
func (s *Store) UpdateSession(ctx context.Context, id, userID, data string) error {
	res, err := s.db.ExecContext(ctx, `UPDATE sessions SET user_id = NULLIF(?, ''), data = ?, last_seen_at = ? WHERE id_hash = ?`,
		userID, data, s.now(), sessionKey(id))
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return ErrNotFound
	}
	return nil
}

// TouchSession marks a session seen now.
func (s *Store) TouchSession(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id_hash = ?`, s.now(), sessionKey(id))
	return err
}

// DeleteSession ends a session.
func (s *Store) DeleteSession(ctx context.Context, id string) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM sessions WHERE id_hash = ?`, sessionKey(id))
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

package sqldb

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"gatehouse/store"
	"time"
)

// SaveLogoUpload keeps a logo uploaded in the Add wizard until the token is
// added, re-encoded as store.NormalizeLogo makes it, and returns the id the
// later steps carry instead of the bytes.
func (s *Store) SaveLogoUpload(ctx context.Context, userID string, data []byte) (string, error) {
	data, ct, msg := store.NormalizeLogo(data)
	if msg != "" {
		return "", &store.ValidationError{Fields: map[string]string{"logo": msg}}
	}
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	id := hex.EncodeToString(b)
	_, err := s.db.ExecContext(ctx, `INSERT INTO logo_uploads (id, user_id, content_type, data, created_at) VALUES (?, ?, ?, ?, ?)`,
		id, userID, ct, data, s.now())
	return id, err
}

// LogoUpload returns a logo the same user uploaded.
func (s *Store) LogoUpload(ctx context.Context, userID, id string) (string, []byte, error) {
	var ct string
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT content_type, data FROM logo_uploads WHERE id = ? AND user_id = ?`, id, userID).Scan(&ct, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, store.ErrNotFound
	}
	return ct, data, err
}

// DeleteLogoUploads removes uploads made before the given time, but for
// those a draft of the Add wizard still holds: they go with the draft.
func (s *Store) DeleteLogoUploads(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM logo_uploads WHERE created_at < ?
		AND id NOT IN (SELECT logo_upload FROM token_drafts)`, before)
	return err
}

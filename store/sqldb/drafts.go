package sqldb

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"gatehouse/store"
	"time"
)

// SaveTokenDraft writes a user's draft of the Add wizard under d.ID, which
// the caller chooses (the console makes it up, at random, when the wizard
// starts): a new draft is inserted, one of the same user's is replaced. A
// draft of another user's under that id, or one already added, is
// store.ErrNotFound. Starting a draft forgets the user's least recently
// touched ones beyond store.MaxDraftsPerUser.
func (s *Store) SaveTokenDraft(ctx context.Context, d store.TokenDraft) error {
	store.CleanDraft(&d)
	modules, err := json.Marshal(nonNil(d.ModuleIDs))
	if err != nil {
		return err
	}
	errs, err := json.Marshal(d.Errors)
	if err != nil {
		return err
	}
	if d.Errors == nil {
		errs = []byte("{}")
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, `INSERT INTO token_drafts (id, user_id, name, description, modules, logo_upload, reached, errors, created_at, updated_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET name = excluded.name, description = excluded.description, modules = excluded.modules,
			logo_upload = excluded.logo_upload, reached = excluded.reached, errors = excluded.errors, updated_at = excluded.updated_at
		WHERE token_drafts.user_id = excluded.user_id AND token_drafts.token_id IS NULL`,
		d.ID, d.UserID, d.Name, d.Description, string(modules), d.LogoUpload, d.Reached, string(errs), now, now)
	if err != nil {
		return fmt.Errorf("save draft: %w", err)
	}
	if n, err := res.RowsAffected(); err != nil {
		return err
	} else if n != 1 {
		return store.ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM token_drafts WHERE user_id = ? AND id NOT IN (
		SELECT id FROM token_drafts WHERE user_id = ? ORDER BY updated_at DESC, id LIMIT ?)`,
		d.UserID, d.UserID, store.MaxDraftsPerUser); err != nil {
		return err
	}
	return tx.Commit()
}

func nonNil(ids []string) []string {
	if ids == nil {
		return []string{}
	}
	return ids
}

// TokenDraft returns a draft of the user's.
func (s *Store) TokenDraft(ctx context.Context, userID, id string) (store.TokenDraft, error) {
	d := store.TokenDraft{ID: id, UserID: userID}
	var modules, errs string
	var tokenID sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT name, description, modules, logo_upload, reached, errors, token_id, updated_at
		FROM token_drafts WHERE id = ? AND user_id = ?`, id, userID).
		Scan(&d.Name, &d.Description, &modules, &d.LogoUpload, &d.Reached, &errs, &tokenID, &d.UpdatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.TokenDraft{}, store.ErrNotFound
	}
	if err != nil {
		return store.TokenDraft{}, err
	}
	if err := json.Unmarshal([]byte(modules), &d.ModuleIDs); err != nil {
		return store.TokenDraft{}, fmt.Errorf("draft %s: modules: %w", id, err)
	}
	if err := json.Unmarshal([]byte(errs), &d.Errors); err != nil {
		return store.TokenDraft{}, fmt.Errorf("draft %s: errors: %w", id, err)
	}
	d.TokenID = tokenID.String
	return d, nil
}

// DeleteTokenDrafts removes drafts untouched since before the given time.
func (s *Store) DeleteTokenDrafts(ctx context.Context, before time.Time) error {
	_, err := s.db.ExecContext(ctx, `DELETE FROM token_drafts WHERE updated_at < ?`, before)
	return err
}

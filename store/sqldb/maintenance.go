package sqldb

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"gatehouse/store"
	"os"
)

// Backup writes a consistent copy of the whole database to path with
// SQLite's VACUUM INTO. It runs while the server is serving: the copy is
// one read transaction's snapshot, and writers are not blocked in WAL mode.
// path must not exist; the file is created with mode 0600, since it holds
// password hashes and sealed token values.
func (s *Store) Backup(ctx context.Context, path string) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, os.ErrExist) {
		return fmt.Errorf("backup: %s already exists; choose a new file name", path)
	}
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	f.Close()
	// VACUUM INTO accepts an existing empty file, so creating it first
	// gives both the exclusive create and the file mode.
	if _, err := s.db.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		os.Remove(path)
		return fmt.Errorf("backup: %w", err)
	}
	return nil
}

// RotateKey re-seals the value of every token, whatever its status, from
// the old key to the new one in a single transaction. Each value must open
// with the old key and still hash to the stored secret_hash; when any does
// not, nothing is changed and the error names the token. It returns the
// number of tokens re-sealed. Neither values nor keys appear in errors.
func (s *Store) RotateKey(ctx context.Context, oldKey, newKey *store.Sealer) (int, error) {
	if oldKey == nil || newKey == nil {
		return 0, errors.New("rotate key: both keys are needed")
	}
	// Refuse a "rotation" to the same key: it would look done and change
	// nothing.
	if _, err := oldKey.Open("TKN-0000-0000", newKey.Seal("TKN-0000-0000", "probe")); err == nil {
		return 0, errors.New("rotate key: the new key is the same as the current key")
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()

	type row struct {
		id           string
		hash, sealed []byte
	}
	rows, err := tx.QueryContext(ctx, `SELECT id, secret_hash, secret_sealed FROM api_tokens ORDER BY id`)
	if err != nil {
		return 0, err
	}
	var all []row
	for rows.Next() {
		var r row
		if err := rows.Scan(&r.id, &r.hash, &r.sealed); err != nil {
			rows.Close()
			return 0, err
		}
		all = append(all, r)
	}
	if err := rows.Close(); err != nil {
		return 0, err
	}
	if err := rows.Err(); err != nil {
		return 0, err
	}

	for _, r := range all {
		value, err := oldKey.Open(r.id, r.sealed)
		if err != nil {
			if _, nerr := newKey.Open(r.id, r.sealed); nerr == nil {
				return 0, fmt.Errorf("rotate key: token %s is already sealed with the new key (has this rotation already run?); nothing was changed", r.id)
			}
			return 0, fmt.Errorf("rotate key: token %s: %v; nothing was changed", r.id, err)
		}
		if !bytes.Equal(store.HashTokenValue(value), r.hash) {
			return 0, fmt.Errorf("rotate key: token %s: the decrypted value does not match its stored hash; nothing was changed", r.id)
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET secret_sealed = ? WHERE id = ?`, newKey.Seal(r.id, value), r.id); err != nil {
			return 0, fmt.Errorf("rotate key: token %s: %w", r.id, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return 0, fmt.Errorf("rotate key: %w", err)
	}
	return len(all), nil
}

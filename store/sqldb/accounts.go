package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatehouse/store"
)

// CreateAccount adds an account with the given enabled modules.
func (s *Store) CreateAccount(ctx context.Context, name, typ string, moduleIDs []string) (store.Account, error) {
	switch typ {
	case store.AccountClient, store.AccountVendor, store.AccountOperations:
	default:
		return store.Account{}, &store.ValidationError{Fields: map[string]string{"type": "must be Client, Vendor or Operations"}}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Account{}, err
	}
	defer tx.Rollback()
	a := store.Account{Name: name, Type: typ, CreatedAt: s.now()}
	a.ID, err = insertWithID(func() string { return store.NewID("ACC", 2) }, func(id string) (bool, error) {
		return inserted(tx.ExecContext(ctx, `INSERT INTO accounts (id, name, type, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, id, a.Name, a.Type, a.CreatedAt))
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("insert account: %w", err)
	}
	for _, m := range moduleIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_modules (account_id, module_id) VALUES (?, ?)`, a.ID, m); err != nil {
			return store.Account{}, fmt.Errorf("enable module %s: %w", m, err)
		}
	}
	return a, tx.Commit()
}

// Account returns the account with the given id.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	var a store.Account
	err := s.db.QueryRowContext(ctx, `SELECT id, name, type, created_at FROM accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Account{}, store.ErrNotFound
	}
	return a, err
}

// Accounts returns every account, oldest first.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, type, created_at FROM accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		var a store.Account
		if err := rows.Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Modules returns the whole module catalogue in its display order.
func (s *Store) Modules(ctx context.Context) ([]store.Module, error) {
	return s.queryModules(ctx, `SELECT id, name, description FROM modules ORDER BY position`)
}

// AccountModules returns the modules enabled for an account, in catalogue order.
func (s *Store) AccountModules(ctx context.Context, accountID string) ([]store.Module, error) {
	return s.queryModules(ctx, `SELECT m.id, m.name, m.description
		FROM account_modules am JOIN modules m ON m.id = am.module_id
		WHERE am.account_id = ? ORDER BY m.position`, accountID)
}

func (s *Store) queryModules(ctx context.Context, query string, args ...any) ([]store.Module, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Module
	for rows.Next() {
		var m store.Module
		if err := rows.Scan(&m.ID, &m.Name, &m.Description); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

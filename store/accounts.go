package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"
)

// Account types of SPEC §2.2.
const (
	AccountClient     = "Client"
	AccountVendor     = "Vendor"
	AccountOperations = "Operations"
)

// Account is a tenant of the platform.
type Account struct {
	ID        string
	Name      string
	Type      string
	CreatedAt time.Time
}

// Module is an entry of the module catalogue.
type Module struct {
	ID          string
	Name        string
	Description string
}

// CreateAccount adds an account with the given enabled modules.
func (s *Store) CreateAccount(ctx context.Context, name, typ string, moduleIDs []string) (Account, error) {
	switch typ {
	case AccountClient, AccountVendor, AccountOperations:
	default:
		return Account{}, &ValidationError{Fields: map[string]string{"type": "must be Client, Vendor or Operations"}}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Account{}, err
	}
	defer tx.Rollback()
	a := Account{Name: name, Type: typ, CreatedAt: s.now()}
	a.ID, err = insertWithID(func() string { return NewID("ACC", 2) }, func(id string) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO accounts (id, name, type, created_at) VALUES (?, ?, ?, ?)`,
			id, a.Name, a.Type, a.CreatedAt)
		return err
	})
	if err != nil {
		return Account{}, fmt.Errorf("insert account: %w", err)
	}
	for _, m := range moduleIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_modules (account_id, module_id) VALUES (?, ?)`, a.ID, m); err != nil {
			return Account{}, fmt.Errorf("enable module %s: %w", m, err)
		}
	}
	return a, tx.Commit()
}

// Account returns the account with the given id.
func (s *Store) Account(ctx context.Context, id string) (Account, error) {
	var a Account
	err := s.db.QueryRowContext(ctx, `SELECT id, name, type, created_at FROM accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return Account{}, ErrNotFound
	}
	return a, err
}

// Accounts returns every account, oldest first.
func (s *Store) Accounts(ctx context.Context) ([]Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, type, created_at FROM accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Account
	for rows.Next() {
		var a Account
		if err := rows.Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Modules returns the whole module catalogue in its display order.
func (s *Store) Modules(ctx context.Context) ([]Module, error) {
	return s.queryModules(ctx, `SELECT id, name, description FROM modules ORDER BY position`)
}

// AccountModules returns the modules enabled for an account, in catalogue order.
func (s *Store) AccountModules(ctx context.Context, accountID string) ([]Module, error) {
	return s.queryModules(ctx, `SELECT m.id, m.name, m.description
		FROM account_modules am JOIN modules m ON m.id = am.module_id
		WHERE am.account_id = ? ORDER BY m.position`, accountID)
}

func (s *Store) queryModules(ctx context.Context, query string, args ...any) ([]Module, error) {
	rows, err := s.db.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Module
	for rows.Next() {
		var m Module
		if err := rows.Scan(&m.ID, &m.Name, &m.Description); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

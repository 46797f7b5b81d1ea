package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatehouse/store"
)

// CreateUser adds a user; the password is stored as an argon2id hash.
func (s *Store) CreateUser(ctx context.Context, nu store.NewUser) (store.User, error) {
	if err := store.ValidateNewUser(nu); err != nil {
		return store.User{}, err
	}
	hash, err := store.HashPassword(nu.Password)
	if err != nil {
		return store.User{}, err
	}
	now := s.now()
	id, err := insertWithID(func() string { return store.NewID("USR", 2) }, func(id string) (bool, error) {
		return inserted(s.db.ExecContext(ctx, `INSERT INTO users (id, account_id, email, name, role, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING`, id, nu.AccountID, nu.Email, nu.Name, nu.Role, hash, now, now))
	})
	if s.d.IsUniqueViolation(err) {
		return store.User{}, fmt.Errorf("email %s: %w", nu.Email, store.ErrDuplicate)
	}
	if err != nil {
		return store.User{}, fmt.Errorf("insert user: %w", err)
	}
	return s.User(ctx, id)
}

// userColumns are a user's, their account's and the bits of the account's
// enabled modules, so that one query reads what a console page needs to know
// about who asks.
const userColumns = `u.id, u.account_id, a.name, a.type, u.email, u.name, u.role, u.created_at,
	(SELECT CAST(COALESCE(SUM(m.bit), 0) AS BIGINT) FROM account_modules am JOIN modules m ON m.id = am.module_id WHERE am.account_id = a.id)`

func (s *Store) scanUser(row interface{ Scan(...any) error }) (store.User, error) {
	var u userRow
	err := row.Scan(u.dest()...)
	if errors.Is(err, sql.ErrNoRows) {
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	return s.userOf(u), nil
}

// userRow receives userColumns, which are all NULL when they come from an
// outer join that found no user.
type userRow struct {
	id, accountID, accountName, accountType, email, name, role sql.NullString
	createdAt                                                  sql.NullTime
	moduleBits                                                 int64
}

func (u *userRow) dest() []any {
	return []any{&u.id, &u.accountID, &u.accountName, &u.accountType, &u.email, &u.name, &u.role, &u.createdAt, &u.moduleBits}
}

func (s *Store) userOf(u userRow) store.User {
	return store.User{ID: u.id.String, AccountID: u.accountID.String, AccountName: u.accountName.String,
		AccountType: u.accountType.String, Email: u.email.String, Name: u.name.String, Role: u.role.String,
		CreatedAt: u.createdAt.Time, AccountModules: s.modulesOf(u.moduleBits)}
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (store.User, error) {
	return s.scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.id = ?`, id))
}

// UserByEmail returns the user with the given email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (store.User, error) {
	return s.scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE lower(u.email) = lower(?)`, email))
}

// Users returns all users, ordered by account and email.
func (s *Store) Users(ctx context.Context) ([]store.User, error) {
	return s.queryUsers(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id ORDER BY a.created_at, u.email`)
}

// AccountUsers returns the users of one account, ordered by name.
func (s *Store) AccountUsers(ctx context.Context, accountID string) ([]store.User, error) {
	return s.queryUsers(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.account_id = ? ORDER BY u.name, u.id`, accountID)
}

// queryUsers runs a query of userColumns and scans its users.
func (s *Store) queryUsers(ctx context.Context, q string, args ...any) ([]store.User, error) {
	rows, err := s.db.QueryContext(ctx, q, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.User
	for rows.Next() {
		u, err := s.scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Authenticate returns the user whose email and password match. A wrong email
// and a wrong password both give ErrNotFound after the same amount of work.
func (s *Store) Authenticate(ctx context.Context, email, password string) (store.User, error) {
	var id, hash string
	err := s.db.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE lower(email) = lower(?)`, email).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		store.SpendPasswordCheck(password)
		return store.User{}, store.ErrNotFound
	}
	if err != nil {
		return store.User{}, err
	}
	ok, err := store.CheckPassword(hash, password)
	if err != nil {
		return store.User{}, err
	}
	if !ok {
		return store.User{}, store.ErrNotFound
	}
	return s.User(ctx, id)
}

// SetRole changes a user's role and ends all of the user's sessions.
func (s *Store) SetRole(ctx context.Context, email, role string) error {
	if !store.ValidRole(role) {
		return &store.ValidationError{Fields: map[string]string{"role": "must be Administrator, Operator or Viewer"}}
	}
	return s.updateUserAndEndSessions(ctx, email, `UPDATE users SET role = ?, updated_at = ? WHERE lower(email) = lower(?)`, role, s.now(), email)
}

// SetPassword changes a user's password and ends all of the user's sessions.
func (s *Store) SetPassword(ctx context.Context, email, password string) error {
	if len(password) < store.MinPasswordLength {
		return &store.ValidationError{Fields: map[string]string{"password": fmt.Sprintf("must be at least %d characters", store.MinPasswordLength)}}
	}
	hash, err := store.HashPassword(password)
	if err != nil {
		return err
	}
	return s.updateUserAndEndSessions(ctx, email, `UPDATE users SET password_hash = ?, updated_at = ? WHERE lower(email) = lower(?)`, hash, s.now(), email)
}

func (s *Store) updateUserAndEndSessions(ctx context.Context, email, update string, args ...any) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	res, err := tx.ExecContext(ctx, update, args...)
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE lower(email) = lower(?))`, email); err != nil {
		return err
	}
	return tx.Commit()
}

// HasUsers reports whether anyone can log in yet: a database without a
// user is a new installation waiting for its first administrator.
func (s *Store) HasUsers(ctx context.Context) (bool, error) {
	var n int
	err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM (SELECT 1 FROM users LIMIT 1) AS u`).Scan(&n)
	return n > 0, err
}

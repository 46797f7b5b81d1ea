package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Roles of SPEC §2.3.
const (
	RoleAdministrator = "Administrator"
	RoleOperator      = "Operator"
	RoleViewer        = "Viewer"
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool {
	return r == RoleAdministrator || r == RoleOperator || r == RoleViewer
}

// User is a person who logs in to the console.
type User struct {
	ID          string
	AccountID   string
	AccountName string
	AccountType string
	Email       string
	Name        string
	Role        string
	CreatedAt   time.Time
}

// NewUser holds what is needed to add a user.
type NewUser struct {
	AccountID string
	Email     string
	Name      string
	Role      string
	Password  string
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

func validateNewUser(u NewUser) error {
	errs := map[string]string{}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
		errs["email"] = "must be a plain email address"
	}
	if strings.TrimSpace(u.Name) == "" || len(u.Name) > 200 {
		errs["name"] = "is required and at most 200 characters"
	}
	if !ValidRole(u.Role) {
		errs["role"] = "must be Administrator, Operator or Viewer"
	}
	if len(u.Password) < MinPasswordLength {
		errs["password"] = fmt.Sprintf("must be at least %d characters", MinPasswordLength)
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

// CreateUser adds a user; the password is stored as an argon2id hash.
func (s *Store) CreateUser(ctx context.Context, nu NewUser) (User, error) {
	if err := validateNewUser(nu); err != nil {
		return User{}, err
	}
	hash, err := HashPassword(nu.Password)
	if err != nil {
		return User{}, err
	}
	now := s.now()
	id, err := insertWithID(func() string { return NewID("USR", 2) }, func(id string) error {
		_, err := s.db.ExecContext(ctx, `INSERT INTO users (id, account_id, email, name, role, password_hash, created_at, updated_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, id, nu.AccountID, nu.Email, nu.Name, nu.Role, hash, now, now)
		return err
	})
	if isUniqueViolation(err) {
		return User{}, fmt.Errorf("email %s: %w", nu.Email, ErrDuplicate)
	}
	if err != nil {
		return User{}, fmt.Errorf("insert user: %w", err)
	}
	return s.User(ctx, id)
}

const userColumns = `u.id, u.account_id, a.name, a.type, u.email, u.name, u.role, u.created_at`

func scanUser(row interface{ Scan(...any) error }) (User, error) {
	var u User
	err := row.Scan(&u.ID, &u.AccountID, &u.AccountName, &u.AccountType, &u.Email, &u.Name, &u.Role, &u.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return User{}, ErrNotFound
	}
	return u, err
}

// User returns the user with the given id.
func (s *Store) User(ctx context.Context, id string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.id = ?`, id))
}

// UserByEmail returns the user with the given email (case-insensitive).
func (s *Store) UserByEmail(ctx context.Context, email string) (User, error) {
	return scanUser(s.db.QueryRowContext(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id WHERE u.email = ?`, email))
}

// Users returns all users, ordered by account and email.
func (s *Store) Users(ctx context.Context) ([]User, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT `+userColumns+`
		FROM users u JOIN accounts a ON a.id = u.account_id ORDER BY a.created_at, u.email`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []User
	for rows.Next() {
		u, err := scanUser(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, rows.Err()
}

// Authenticate returns the user whose email and password match. A wrong email
// and a wrong password both give ErrNotFound after the same amount of work.
func (s *Store) Authenticate(ctx context.Context, email, password string) (User, error) {
	var id, hash string
	err := s.db.QueryRowContext(ctx, `SELECT id, password_hash FROM users WHERE email = ?`, email).Scan(&id, &hash)
	if errors.Is(err, sql.ErrNoRows) {
		CheckPassword(dummyHash(), password)
		return User{}, ErrNotFound
	}
	if err != nil {
		return User{}, err
	}
	ok, err := CheckPassword(hash, password)
	if err != nil {
		return User{}, err
	}
	if !ok {
		return User{}, ErrNotFound
	}
	return s.User(ctx, id)
}

// SetRole changes a user's role and ends all of the user's sessions.
func (s *Store) SetRole(ctx context.Context, email, role string) error {
	if !ValidRole(role) {
		return &ValidationError{Fields: map[string]string{"role": "must be Administrator, Operator or Viewer"}}
	}
	return s.updateUserAndEndSessions(ctx, email, `UPDATE users SET role = ?, updated_at = ? WHERE email = ?`, role, s.now(), email)
}

// SetPassword changes a user's password and ends all of the user's sessions.
func (s *Store) SetPassword(ctx context.Context, email, password string) error {
	if len(password) < MinPasswordLength {
		return &ValidationError{Fields: map[string]string{"password": fmt.Sprintf("must be at least %d characters", MinPasswordLength)}}
	}
	hash, err := HashPassword(password)
	if err != nil {
		return err
	}
	return s.updateUserAndEndSessions(ctx, email, `UPDATE users SET password_hash = ?, updated_at = ? WHERE email = ?`, hash, s.now(), email)
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
		return ErrNotFound
	}
	if _, err := tx.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = (SELECT id FROM users WHERE email = ?)`, email); err != nil {
		return err
	}
	return tx.Commit()
}

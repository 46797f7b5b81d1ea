// Package sqlite is Gatehouse's embedded engine: the store's accounts, users,
// sessions, API tokens and audit trail in one SQLite file (modernc.org/sqlite,
// pure Go), with its own migrations.
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"sort"
	"strings"
	"time"

	msqlite "modernc.org/sqlite" // registers the "sqlite" driver
)

// Store is the handle on the database. It is safe for concurrent use.
type Store struct {
	db  *sql.DB
	now func() time.Time
	// tokenChanged is told about every change of a token's status, name or
	// modules, so that caches of it can drop the token at once.
	tokenChanged func(id string)
	// tokenOrder holds order expressions built from the module catalogue.
	tokenOrder map[string]string
}

// foldFunction is the SQL function that folds text for ilike: SQLite's own
// LIKE and lower() fold ASCII letters only.
const foldFunction = "gatehouse_fold"

func foldCase(s string) string { return strings.ToLower(s) }

func init() {
	err := msqlite.RegisterDeterministicScalarFunction(foldFunction, 1, func(_ *msqlite.FunctionContext, args []driver.Value) (driver.Value, error) {
		switch v := args[0].(type) {
		case string:
			return foldCase(v), nil
		case []byte:
			return foldCase(string(v)), nil
		}
		return args[0], nil
	})
	if err != nil {
		panic(err)
	}
}

//go:embed migrations/*.sql
var migrations embed.FS

// Open opens (creating if needed) the SQLite database at path and brings its
// schema up to date.
func Open(ctx context.Context, path string) (*Store, error) {
	q := url.Values{}
	for _, p := range []string{
		"journal_mode(WAL)",
		"busy_timeout(10000)",
		"foreign_keys(ON)",
		"synchronous(NORMAL)",
	} {
		q.Add("_pragma", p)
	}
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// A small bounded pool: SQLite has one writer at a time, and WAL lets the
	// readers run beside it.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(0)
	s := &Store{db: db, now: func() time.Time { return time.Now().UTC() }}
	if err := s.migrate(ctx); err != nil {
		db.Close()
		return nil, err
	}
	if s.tokenOrder, err = moduleOrderSQL(ctx, db); err != nil {
		db.Close()
		return nil, err
	}
	return s, nil
}

// OnTokenChange registers fn to be called with a token's id whenever its
// status, name or modules change: once before the change commits and once
// after, so a cache that drops the token both times never keeps the old
// state past the commit. Set it before serving.
func (s *Store) OnTokenChange(fn func(id string)) { s.tokenChanged = fn }

// commitTokenChange commits tx, telling the token-change hook before and
// after.
func (s *Store) commitTokenChange(tx *sql.Tx, id string) error {
	if s.tokenChanged != nil {
		s.tokenChanged(id)
	}
	err := tx.Commit()
	if s.tokenChanged != nil {
		s.tokenChanged(id)
	}
	return err
}

// Close closes the database.
func (s *Store) Close() error { return s.db.Close() }

// DB exposes the database handle for tests and maintenance commands.
func (s *Store) DB() *sql.DB { return s.db }

// SetClock replaces the store's clock; tests use it to move time.
func (s *Store) SetClock(now func() time.Time) { s.now = func() time.Time { return now().UTC() } }

// Now is the store's current time in UTC.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) migrate(ctx context.Context) error {
	if _, err := s.db.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	for _, name := range names {
		if err := s.applyMigration(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) applyMigration(ctx context.Context, name string) error {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	body, err := migrations.ReadFile(name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`, name, s.now()); err != nil {
		return err
	}
	return tx.Commit()
}

// isUniqueViolation reports whether err is SQLite's UNIQUE or PRIMARY KEY
// constraint failure.
func isUniqueViolation(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// insertWithID runs insert with fresh ids until one does not collide.
func insertWithID(newID func() string, insert func(id string) error) (string, error) {
	for range 10 {
		id := newID()
		err := insert(id)
		if isUniqueViolation(err) && strings.Contains(err.Error(), ".id") {
			continue
		}
		return id, err
	}
	return "", errors.New("could not find a free identifier")
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

// Package sqlite is Gatehouse's embedded engine, the default: the store in one
// SQLite file (modernc.org/sqlite, pure Go), with its own migrations and the
// SQLite side of the dialect the engines share (store/sqldb).
package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"embed"
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"unicode/utf8"

	msqlite "modernc.org/sqlite" // registers the "sqlite" driver
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse/store/sqldb"
)

//go:embed migrations/*.sql
var migrations embed.FS

// Store is the SQLite engine's store.
type Store = sqldb.Store

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
	// BEGIN IMMEDIATE: a transaction that reads and then writes takes the
	// write lock at its start, which also orders the audit chain.
	q.Set("_txlock", "immediate")
	q.Set("_time_format", "sqlite")
	// SQLite creates a database 0644, and its -wal and -shm files with the
	// database's mode: created here first, all three are 0600, since they
	// hold password hashes and sealed token values.
	if path != ":memory:" {
		if f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600); err == nil {
			f.Close()
		} else if !errors.Is(err, os.ErrExist) {
			return nil, fmt.Errorf("open database: %w", err)
		}
	}
	db, err := sql.Open("sqlite", "file:"+path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("open database: %w", err)
	}
	// A small bounded pool: SQLite has one writer at a time, and WAL lets the
	// readers run beside it.
	db.SetMaxOpenConns(4)
	db.SetMaxIdleConns(4)
	db.SetConnMaxIdleTime(0)
	return sqldb.New(ctx, db, Dialect{}, migrations)
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

// Dialect is SQLite's side of the SQL the engines share.
type Dialect struct{}

// Rebind keeps ?, SQLite's own placeholder.
func (Dialect) Rebind(q string) string { return q }

// IsUniqueViolation matches SQLite's UNIQUE and PRIMARY KEY result codes.
func (Dialect) IsUniqueViolation(err error) bool {
	var e *msqlite.Error
	if !errors.As(err, &e) {
		return false
	}
	return e.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE || e.Code() == sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
}

// NoCase compares and orders with SQLite's NOCASE collation.
func (Dialect) NoCase(expr string) string { return expr + " COLLATE NOCASE" }

// Like is GLOB for like (SQLite's case-sensitive match) and LIKE for ilike:
// SQLite's LIKE folds ASCII letters itself, several times faster than a Go
// function called on every row, so the Go fold is kept for other patterns.
func (Dialect) Like(col, pattern string, fold bool) (string, any) {
	switch {
	case !fold:
		return col + " GLOB ?", sqldb.GlobPattern(pattern)
	case sqldb.IsASCII(pattern):
		return col + ` LIKE ? ESCAPE '\'`, sqldb.LikePattern(pattern)
	}
	return foldFunction + "(" + col + `) LIKE ? ESCAPE '\'`, sqldb.LikePattern(foldCase(pattern))
}

// Search finds substrings of three or more characters through the trigram
// index (api_tokens_search) and shorter ones by scanning.
func (Dialect) Search(q string) (string, []any) {
	if utf8.RuneCountInString(q) >= 3 {
		return "t.rid IN (SELECT rowid FROM api_tokens_search WHERE api_tokens_search MATCH ?)",
			[]any{`"` + strings.ReplaceAll(q, `"`, `""`) + `"`}
	}
	p := sqldb.EscapeLike(q)
	return `(t.name LIKE ? ESCAPE '\' OR t.id LIKE ? ESCAPE '\' OR t.description LIKE ? ESCAPE '\')`, []any{p, p, p}
}

// LockAuditChain needs nothing: every write transaction begins IMMEDIATE,
// so one writer at a time holds the database.
func (Dialect) LockAuditChain(context.Context, *sqldb.Tx) error { return nil }

// ForUpdate is empty: a write transaction begins IMMEDIATE and holds the
// database's write lock from its start, so the rows it reads cannot change
// under it.
func (Dialect) ForUpdate() string { return "" }

// LockMigrations needs nothing either, for the same reason: each migration
// is an IMMEDIATE transaction, and the migrations table says what is done.
func (Dialect) LockMigrations(context.Context, *sql.Conn) (func(), error) { return func() {}, nil }

// Unavailable is false: the database is a file in this process, never a
// server that can be down.
func (Dialect) Unavailable(error) bool { return false }

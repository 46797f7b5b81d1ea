// Package sqldb is the SQL the engines share: the store's accounts, users,
// sessions, API tokens and audit trail over database/sql, written once with ?
// placeholders and portable SQL. An engine (store/sqlite, store/postgres)
// opens the database, brings its own migrations, and supplies a Dialect for
// the few places where SQL engines differ.
package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"time"

	"gatehouse/store"
)

// Dialect is what differs between engines. A Dialect may also be a
// BulkWriter, for the bulk seed.
type Dialect interface {
	// Rebind rewrites a query's ? placeholders into the engine's own.
	Rebind(query string) string
	// IsUniqueViolation reports whether err is a unique or primary key
	// violation, by its code.
	IsUniqueViolation(err error) bool
	// NoCase is expr compared and ordered ignoring case.
	NoCase(expr string) string
	// Like is the condition that col matches an RQL pattern (* for any run
	// of characters, \* for a star), case-sensitive or folding case.
	Like(col, pattern string, fold bool) (cond string, arg any)
	// Search is the console's substring search over a token's id, name and
	// description.
	Search(q string) (cond string, args []any)
	// LockAuditChain makes the transaction the only writer of the audit
	// chain until it ends, so that records link in one line.
	LockAuditChain(ctx context.Context, tx *Tx) error
	// ForUpdate is the clause that ends a SELECT to lock the rows it reads
	// until the transaction ends, so that a read, a computation in Go and a
	// write are one step against other writers of the same rows. It is
	// empty where a write transaction already holds the whole database.
	ForUpdate() string
	// Unavailable reports whether err, from the driver or database/sql,
	// means the database cannot be reached for now (it is down, starting,
	// shutting down, or the connection broke) rather than that the
	// statement failed. The store wraps such errors in store.ErrUnavailable.
	Unavailable(err error) bool
	// LockMigrations keeps other processes from migrating at the same time,
	// until unlock is called; conn is the connection the migrations run on.
	LockMigrations(ctx context.Context, conn *sql.Conn) (unlock func(), err error)
}

// Store is the handle on the database. It is safe for concurrent use.
type Store struct {
	db  *DB
	d   Dialect
	now func() time.Time
	// tokenChanged is told about every change of a token's status, name or
	// modules, so that caches of it can drop the token at once.
	tokenChanged func(id string)
	// catalogue is the module catalogue in its order, read once at open: it
	// ships with the product and changes only by migration. A token's
	// modules are the catalogue entries whose bits its module_bits carries.
	catalogue []catalogued
	// tokenOrder holds order expressions built from the module catalogue.
	tokenOrder map[string]string
	// feed, when set, is a pool of its own for reading the change log, so
	// that the verify cache's proof of being current never waits behind
	// requests for a connection.
	feed *DB
}

// SetFeedPool gives the change-log reads a pool of their own; the store
// closes it with its own.
func (s *Store) SetFeedPool(db *sql.DB) { s.feed = &DB{db, s.d} }

func (s *Store) feedDB() *DB {
	if s.feed != nil {
		return s.feed
	}
	return s.db
}

type catalogued struct {
	store.Module
	bit int64
}

// New brings the database's schema up to date with the engine's migrations
// (the files migrations/NNNN_verb_noun.sql of fsys) and returns the store.
// It closes db when it fails.
func New(ctx context.Context, db *sql.DB, d Dialect, fsys fs.FS) (*Store, error) {
	s := &Store{db: &DB{db, d}, d: d, now: func() time.Time { return time.Now().UTC() }}
	if err := s.migrate(ctx, fsys); err != nil {
		db.Close()
		return nil, err
	}
	var err error
	if s.catalogue, err = readCatalogue(ctx, s.db); err != nil {
		db.Close()
		return nil, err
	}
	s.tokenOrder = moduleOrderSQL(s.catalogue)
	return s, nil
}

// DB is a database handle whose queries are written with ? placeholders and
// rebound to the engine's own. Every query of the store goes through it, and
// so does every error the database returns: one that means the database
// cannot be reached comes back wrapped in store.ErrUnavailable (see
// Dialect.Unavailable).
type DB struct {
	*sql.DB
	d Dialect
}

// classify wraps err in store.ErrUnavailable when the dialect says that it
// means the database cannot be reached, and returns it unchanged otherwise.
func classify(d Dialect, err error) error {
	if err == nil || errors.Is(err, store.ErrUnavailable) || !d.Unavailable(err) {
		return err
	}
	return fmt.Errorf("%w: %w", store.ErrUnavailable, err)
}

// QueryContext runs a query that returns rows.
func (db *DB) QueryContext(ctx context.Context, q string, args ...any) (*Rows, error) {
	rows, err := db.DB.QueryContext(ctx, db.d.Rebind(q), args...)
	if err != nil {
		return nil, classify(db.d, err)
	}
	return &Rows{rows, db.d}, nil
}

// QueryRowContext runs a query that returns at most one row.
func (db *DB) QueryRowContext(ctx context.Context, q string, args ...any) *Row {
	return &Row{db.DB.QueryRowContext(ctx, db.d.Rebind(q), args...), db.d}
}

// ExecContext runs a statement.
func (db *DB) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := db.DB.ExecContext(ctx, db.d.Rebind(q), args...)
	return res, classify(db.d, err)
}

// PingContext checks that the database answers.
func (db *DB) PingContext(ctx context.Context) error {
	return classify(db.d, db.DB.PingContext(ctx))
}

// Query runs a query that returns rows, without a context (tests).
func (db *DB) Query(q string, args ...any) (*Rows, error) {
	return db.QueryContext(context.Background(), q, args...)
}

// QueryRow runs a query that returns at most one row, without a context.
func (db *DB) QueryRow(q string, args ...any) *Row {
	return db.QueryRowContext(context.Background(), q, args...)
}

// Exec runs a statement without a context.
func (db *DB) Exec(q string, args ...any) (sql.Result, error) {
	return db.ExecContext(context.Background(), q, args...)
}

// Begin starts a transaction without a context (tests).
func (db *DB) Begin() (*Tx, error) { return db.BeginTx(context.Background(), nil) }

// BeginTx starts a transaction.
func (db *DB) BeginTx(ctx context.Context, opts *sql.TxOptions) (*Tx, error) {
	tx, err := db.DB.BeginTx(ctx, opts)
	if err != nil {
		return nil, classify(db.d, err)
	}
	return &Tx{tx, db.d}, nil
}

// Tx is a transaction whose queries are rebound, and errors classified,
// like DB's.
type Tx struct {
	*sql.Tx
	d Dialect
}

// QueryContext runs a query that returns rows.
func (tx *Tx) QueryContext(ctx context.Context, q string, args ...any) (*Rows, error) {
	rows, err := tx.Tx.QueryContext(ctx, tx.d.Rebind(q), args...)
	if err != nil {
		return nil, classify(tx.d, err)
	}
	return &Rows{rows, tx.d}, nil
}

// QueryRowContext runs a query that returns at most one row.
func (tx *Tx) QueryRowContext(ctx context.Context, q string, args ...any) *Row {
	return &Row{tx.Tx.QueryRowContext(ctx, tx.d.Rebind(q), args...), tx.d}
}

// ExecContext runs a statement.
func (tx *Tx) ExecContext(ctx context.Context, q string, args ...any) (sql.Result, error) {
	res, err := tx.Tx.ExecContext(ctx, tx.d.Rebind(q), args...)
	return res, classify(tx.d, err)
}

// Exec runs a statement without a context (tests).
func (tx *Tx) Exec(q string, args ...any) (sql.Result, error) {
	return tx.ExecContext(context.Background(), q, args...)
}

// QueryRow runs a query that returns at most one row, without a context.
func (tx *Tx) QueryRow(q string, args ...any) *Row {
	return tx.QueryRowContext(context.Background(), q, args...)
}

// PrepareContext prepares a statement.
func (tx *Tx) PrepareContext(ctx context.Context, q string) (*sql.Stmt, error) {
	stmt, err := tx.Tx.PrepareContext(ctx, tx.d.Rebind(q))
	return stmt, classify(tx.d, err)
}

// Commit commits the transaction. A connection lost before the answer
// leaves the outcome unknown; it is reported as store.ErrUnavailable all the
// same, as the caller can do nothing but try again later.
func (tx *Tx) Commit() error { return classify(tx.d, tx.Tx.Commit()) }

// Rows is the result of a query; its errors are classified like DB's.
type Rows struct {
	*sql.Rows
	d Dialect
}

// Scan copies the current row's columns into dest.
func (r *Rows) Scan(dest ...any) error { return classify(r.d, r.Rows.Scan(dest...)) }

// Err is the error, if any, that ended the iteration: a connection lost
// midway shows here.
func (r *Rows) Err() error { return classify(r.d, r.Rows.Err()) }

// Row is the result of a query for one row; its errors are classified like
// DB's. Scan returns sql.ErrNoRows, unwrapped, when there is no row.
type Row struct {
	*sql.Row
	d Dialect
}

// Scan copies the row's columns into dest.
func (r *Row) Scan(dest ...any) error { return classify(r.d, r.Row.Scan(dest...)) }

// Err is the error, if any, of running the query.
func (r *Row) Err() error { return classify(r.d, r.Row.Err()) }

// OnTokenChange registers fn to be called with a token's id whenever its
// status, name or modules change: once before the change commits and once
// after, so a cache that drops the token both times never keeps the old
// state past the commit. Set it before serving.
func (s *Store) OnTokenChange(fn func(id string)) { s.tokenChanged = fn }

// commitTokenChange commits tx, telling the token-change hook before and
// after. When the change can alter the token's verify answer (logged), it
// is first added to the change log, which tells the other processes.
func (s *Store) commitTokenChange(ctx context.Context, tx *Tx, id string, logged bool) error {
	if logged {
		if err := s.logTokenChange(ctx, tx, id); err != nil {
			return err
		}
	}
	if s.tokenChanged != nil {
		s.tokenChanged(id)
	}
	err := tx.Commit()
	if s.tokenChanged != nil {
		s.tokenChanged(id)
	}
	return err
}

// commitTokenChanges is commitTokenChange for a change that alters the
// verify answers of several tokens at once: each goes into the change log.
func (s *Store) commitTokenChanges(ctx context.Context, tx *Tx, ids []string) error {
	for _, id := range ids {
		if err := s.logTokenChange(ctx, tx, id); err != nil {
			return err
		}
	}
	tell := func() {
		if s.tokenChanged != nil {
			for _, id := range ids {
				s.tokenChanged(id)
			}
		}
	}
	tell()
	err := tx.Commit()
	tell()
	return err
}

// Close closes the database.
func (s *Store) Close() error {
	if s.feed != nil {
		s.feed.Close()
	}
	return s.db.Close()
}

// DB exposes the database handle for tests and maintenance commands.
func (s *Store) DB() *DB { return s.db }

// SetClock replaces the store's clock; tests use it to move time.
func (s *Store) SetClock(now func() time.Time) { s.now = func() time.Time { return now().UTC() } }

// Now is the store's current time in UTC.
func (s *Store) Now() time.Time { return s.now() }

func (s *Store) migrate(ctx context.Context, fsys fs.FS) error {
	names, err := fs.Glob(fsys, "migrations/*.sql")
	if err != nil {
		return err
	}
	sort.Strings(names)
	// One connection holds the engine's migration lock throughout, so that
	// processes starting together migrate one after the other.
	conn, err := s.db.DB.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	unlock, err := s.d.LockMigrations(ctx, conn)
	if err != nil {
		return fmt.Errorf("lock migrations: %w", err)
	}
	defer unlock()
	if _, err := conn.ExecContext(ctx, `CREATE TABLE IF NOT EXISTS schema_migrations (
		name TEXT PRIMARY KEY,
		applied_at TEXT NOT NULL
	)`); err != nil {
		return fmt.Errorf("create migrations table: %w", err)
	}
	applied, err := appliedMigrations(ctx, conn)
	if err != nil {
		return err
	}
	var unknown []string
	for name := range applied {
		if !slices.Contains(names, name) {
			unknown = append(unknown, path.Base(name))
		}
	}
	if len(unknown) > 0 {
		slices.Sort(unknown)
		return fmt.Errorf("the database was migrated by a newer Gatehouse: it has %s, and this Gatehouse knows migrations up to %s; run the newer version",
			strings.Join(unknown, ", "), path.Base(names[len(names)-1]))
	}
	for _, name := range names {
		if applied[name] {
			continue
		}
		if err := s.applyMigration(ctx, conn, fsys, name); err != nil {
			return err
		}
	}
	return nil
}

func appliedMigrations(ctx context.Context, conn *sql.Conn) (map[string]bool, error) {
	rows, err := conn.QueryContext(ctx, `SELECT name FROM schema_migrations`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	applied := map[string]bool{}
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			return nil, err
		}
		applied[name] = true
	}
	return applied, rows.Err()
}

// applyMigration runs one migration file and records it, in one
// transaction.
func (s *Store) applyMigration(ctx context.Context, conn *sql.Conn, fsys fs.FS, name string) error {
	raw, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer raw.Rollback()
	tx := &Tx{raw, s.d}
	var done int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM schema_migrations WHERE name = ?`, name).Scan(&done); err != nil || done > 0 {
		return err // another process applied it meanwhile
	}
	body, err := fs.ReadFile(fsys, name)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, string(body)); err != nil {
		return fmt.Errorf("migration %s: %w", name, err)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO schema_migrations (name, applied_at) VALUES (?, ?)`,
		name, s.now().Format(time.RFC3339Nano)); err != nil {
		return err
	}
	return tx.Commit()
}

// inserted reports whether an INSERT … ON CONFLICT DO NOTHING wrote its row.
func inserted(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

// insertWithID runs insert with fresh ids until one is free. insert writes
// the row with ON CONFLICT (id) DO NOTHING and reports whether it did, so
// that a collision never fails the transaction it runs in.
func insertWithID(newID func() string, insert func(id string) (bool, error)) (string, error) {
	for range 10 {
		id := newID()
		done, err := insert(id)
		if err != nil || done {
			return id, err
		}
	}
	return "", errors.New("could not find a free identifier")
}

// Ping checks that the database answers.
func (s *Store) Ping(ctx context.Context) error { return s.db.PingContext(ctx) }

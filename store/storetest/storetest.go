// Package storetest opens the store engine that tests run on: SQLite by
// default, PostgreSQL when GATEHOUSE_TEST_ENGINE=postgres (a throwaway
// server from store/pgtest, or the one GATEHOUSE_TEST_POSTGRES names). The
// store's and the handlers' tests run once per engine (make test does both),
// black-box through the store's methods; the few that test an engine's own
// machinery say so with SQLiteOnly or PostgresOnly.
package storetest

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"gatehouse/store/pgtest"
	"gatehouse/store/postgres"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
)

// EnvEngine names the environment variable that picks the engine.
const EnvEngine = "GATEHOUSE_TEST_ENGINE"

// Engine is the engine the tests run on: "sqlite" or "postgres".
func Engine() string {
	if os.Getenv(EnvEngine) == "postgres" {
		return "postgres"
	}
	return "sqlite"
}

// Open returns a store on a new, empty database of the engine, closed when
// the test ends.
func Open(t testing.TB) *sqldb.Store {
	t.Helper()
	return OpenEngine(t, Engine())
}

// OpenEngine is Open on the named engine, for benchmarks that compare them.
func OpenEngine(t testing.TB, engine string) *sqldb.Store {
	t.Helper()
	s, err := opener(t, engine)()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// Opener returns a function that opens one new, empty database of the
// engine, the same one on every call: for tests of what opening a database
// does (the caller closes what it opens).
func Opener(t testing.TB) func() (*sqldb.Store, error) {
	t.Helper()
	return opener(t, Engine())
}

func opener(t testing.TB, engine string) func() (*sqldb.Store, error) {
	if engine == "postgres" {
		url := pgtest.URL(t)
		return func() (*sqldb.Store, error) { return postgres.Open(context.Background(), url) }
	}
	path := filepath.Join(t.TempDir(), "gatehouse.db")
	return func() (*sqldb.Store, error) { return sqlite.Open(context.Background(), path) }
}

// SQLiteOnly skips a test of SQLite's own machinery on other engines.
func SQLiteOnly(t testing.TB) {
	t.Helper()
	if Engine() != "sqlite" {
		t.Skip("tests the SQLite engine's own machinery")
	}
}

// PostgresOnly skips a test of PostgreSQL's own machinery on other engines.
func PostgresOnly(t testing.TB) {
	t.Helper()
	if Engine() != "postgres" {
		t.Skip("tests the PostgreSQL engine's own machinery")
	}
}

// DropTrigger drops a trigger of table, as the engine writes it: tests that
// must forge what the database itself refuses use it.
func DropTrigger(db *sqldb.DB, name, table string) error {
	q := `DROP TRIGGER ` + name
	if Engine() == "postgres" {
		q += ` ON ` + table
	}
	_, err := db.Exec(q)
	return err
}

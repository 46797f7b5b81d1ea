package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"gatehouse/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

// sqliteMigrations is the SQLite engine's migrations directory: the schema
// this engine's must match.
const sqliteMigrations = "../sqlite/migrations"

// standIns are the PostgreSQL indexes that SQLite has no named index for,
// each with what its definition must hold and a query on the SQLite schema
// that finds the thing it stands for.
var standIns = []struct {
	index, def, sqlite string
}{
	{"api_tokens.api_tokens_search_id", "USING gin (lower(id) gin_trgm_ops)", ftsTable},
	{"api_tokens.api_tokens_search_name", "USING gin (lower(name) gin_trgm_ops)", ftsTable},
	{"api_tokens.api_tokens_search_description", "USING gin (lower(description) gin_trgm_ops)", ftsTable},
	{"users.users_email_key", "UNIQUE INDEX users_email_key ON public.users USING btree (lower(email))",
		`SELECT COUNT(*) FROM pragma_index_list('users') l JOIN pragma_index_xinfo(l.name) x
		 WHERE l."unique" AND x.name = 'email' AND x.coll = 'NOCASE'`},
}

// ftsTable finds SQLite's trigram search table over api_tokens.
const ftsTable = `SELECT COUNT(*) FROM sqlite_schema WHERE name = 'api_tokens_search' AND sql LIKE '%USING fts5%trigram%'`

func TestMigrationsMatchSQLite(t *testing.T) {
	ctx := t.Context()
	pgNames, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range pgNames {
		pgNames[i] = filepath.Base(name)
	}
	sqNames, err := filepath.Glob(filepath.Join(sqliteMigrations, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for i, name := range sqNames {
		sqNames[i] = filepath.Base(name)
	}
	if !slices.Equal(pgNames, sqNames) || len(pgNames) == 0 {
		t.Fatalf("migrations: PostgreSQL %v, SQLite %v: want the same", pgNames, sqNames)
	}

	pg := migratedPostgres(t)
	sq := migratedSQLite(t)

	t.Run("Tables", func(t *testing.T) {
		pgTables := pgStrings(t, pg, `SELECT table_name FROM information_schema.tables
			WHERE table_schema = 'public' AND table_type = 'BASE TABLE' ORDER BY table_name`)
		// Leaves out the FTS5 table (virtual) and its shadow tables.
		sqTables := sqStrings(t, sq, `SELECT name FROM pragma_table_list
			WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`)
		if !slices.Equal(pgTables, sqTables) || len(pgTables) == 0 {
			t.Errorf("tables:\nPostgreSQL %v\nSQLite     %v", pgTables, sqTables)
		}
	})

	t.Run("Columns", func(t *testing.T) {
		// Each column as "name type" plus " not null" where it refuses NULL,
		// in table order, the SQLite type written as its PostgreSQL twin.
		sqType := map[string]string{"TEXT": "text", "INTEGER": "bigint", "DATETIME": "timestamp with time zone", "BLOB": "bytea"}
		for _, table := range sqStrings(t, sq, `SELECT name FROM pragma_table_list
			WHERE schema = 'main' AND type = 'table' AND name NOT LIKE 'sqlite\_%' ESCAPE '\' ORDER BY name`) {
			want := sqStrings(t, sq, `SELECT name || ' ' || type || CASE WHEN "notnull" OR pk > 0 THEN ' not null' ELSE '' END
				FROM pragma_table_info(?) ORDER BY cid`, table)
			for i, col := range want {
				name, rest, _ := strings.Cut(col, " ")
				typ, notNull, _ := strings.Cut(rest, " ")
				if twin, ok := sqType[typ]; ok {
					typ = twin
				}
				want[i] = strings.TrimSpace(name + " " + typ + " " + notNull)
			}
			got := pgStrings(t, pg, `SELECT column_name || ' ' || data_type || CASE WHEN is_nullable = 'NO' THEN ' not null' ELSE '' END
				FROM information_schema.columns WHERE table_schema = 'public' AND table_name = $1 ORDER BY ordinal_position`, table)
			if !slices.Equal(got, want) {
				t.Errorf("columns of %s:\nPostgreSQL %q\nSQLite     %q", table, got, want)
			}
		}
	})

	t.Run("TextComparesBytes", func(t *testing.T) {
		// SQLite compares text by bytes (BINARY), and so must every text
		// column here, whatever the database's default collation.
		if other := pgStrings(t, pg, `SELECT table_name || '.' || column_name FROM information_schema.columns
			WHERE table_schema = 'public' AND data_type = 'text' AND collation_name IS DISTINCT FROM 'C'
			ORDER BY 1`); len(other) > 0 {
			t.Errorf("text columns not collating \"C\": %v", other)
		}
	})

	t.Run("Indexes", func(t *testing.T) {
		// Named indexes only: not SQLite's automatic ones (sql is NULL) nor
		// those PostgreSQL makes for primary keys and UNIQUE constraints.
		sqIndexes := sqStrings(t, sq, `SELECT tbl_name || '.' || name FROM sqlite_schema
			WHERE type = 'index' AND sql IS NOT NULL ORDER BY 1`)
		pgIndexes := pgStrings(t, pg, `SELECT t.relname || '.' || i.relname
			FROM pg_index x
			JOIN pg_class i ON i.oid = x.indexrelid
			JOIN pg_class t ON t.oid = x.indrelid
			JOIN pg_namespace n ON n.oid = t.relnamespace
			WHERE n.nspname = 'public' AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = x.indexrelid)
			ORDER BY 1`)
		want := slices.Clone(sqIndexes)
		for _, s := range standIns {
			want = append(want, s.index)
			var n int
			if err := sq.QueryRowContext(ctx, s.sqlite).Scan(&n); err != nil {
				t.Fatal(err)
			}
			if n == 0 {
				t.Errorf("%s stands for something SQLite no longer has (%s)", s.index, s.sqlite)
			}
			table, index, _ := strings.Cut(s.index, ".")
			var def string
			if err := pg.QueryRow(ctx, `SELECT pg_get_indexdef(to_regclass($1))`, "public."+index).Scan(&def); err != nil {
				t.Errorf("%s: %v", s.index, err)
			} else if !strings.Contains(def, s.def) || !strings.Contains(def, " ON public."+table+" ") {
				t.Errorf("%s is %q, want %q", s.index, def, s.def)
			}
		}
		slices.Sort(want)
		if !slices.Equal(pgIndexes, want) {
			t.Errorf("indexes:\nPostgreSQL               %v\nSQLite, with stand-ins   %v", pgIndexes, want)
		}
	})
}

func TestAuditRecordsAreAppendOnly(t *testing.T) {
	ctx := t.Context()
	pg := migratedPostgres(t)
	_, err := pg.Exec(ctx, `INSERT INTO audit_records (id, account_id, occurred_at, event, object_type, object_id,
		object_name, actor_type, actor_id, actor_name, summary, prev_hash, hash)
		VALUES ('AUD-1', 'ACC-1', 1700000000000, 'token.created', 'token', 'TKN-1', 'CI', 'user', 'USR-1', 'Ada', 'Created', '', 'h1')`)
	if err != nil {
		t.Fatal(err)
	}
	for _, stmt := range []string{
		`UPDATE audit_records SET summary = 'Rewritten'`,
		`DELETE FROM audit_records WHERE id = 'AUD-1'`,
		`TRUNCATE audit_records`,
	} {
		_, err := pg.Exec(ctx, stmt)
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "23001" {
			t.Errorf("%s: error %v, want restrict_violation (23001)", stmt, err)
		}
	}
	var summary string
	if err := pg.QueryRow(ctx, `SELECT summary FROM audit_records WHERE id = 'AUD-1'`).Scan(&summary); err != nil || summary != "Created" {
		t.Errorf("record after the refused changes: summary %q, %v; want it unchanged", summary, err)
	}
}

// engine is a migrated database of either engine; $1, $2, … placeholders
// work on both.
type engine struct {
	name    string
	exec    func(t *testing.T, query string, args ...any) error
	strings func(t *testing.T, query string) []string
}

var placeholder = regexp.MustCompile(`\$(\d+)`)

func bothEngines(t *testing.T) []engine {
	pg, sq := migratedPostgres(t), migratedSQLite(t)
	return []engine{
		{"PostgreSQL",
			func(t *testing.T, query string, args ...any) error {
				_, err := pg.Exec(t.Context(), query, args...)
				return err
			},
			func(t *testing.T, query string) []string { return pgStrings(t, pg, query) }},
		{"SQLite",
			func(t *testing.T, query string, args ...any) error {
				_, err := sq.ExecContext(t.Context(), placeholder.ReplaceAllString(query, "?$1"), args...)
				return err
			},
			func(t *testing.T, query string) []string { return sqStrings(t, sq, query) }},
	}
}

var day = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

const insertAccounts = `INSERT INTO accounts (id, name, type, created_at) VALUES ('ACC-A', 'A', 'Client', $1), ('ACC-B', 'B', 'Vendor', $1)`

// TestTokenCountsFollowTokens runs the same changes on both engines and
// checks api_token_counts after each.
func TestTokenCountsFollowTokens(t *testing.T) {
	insertToken := `INSERT INTO api_tokens (id, account_id, name, status, secret_hash, secret_sealed,
		created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name)
		VALUES ($1, $2, $3, $4, $5, $6, $7, 'USR-1', 'Ada', $7, 'USR-1', 'Ada')`
	token := func(id, account, status string) []any {
		return []any{id, account, "Token " + id, status, []byte("hash " + id), []byte("sealed " + id), day}
	}
	type stmt struct {
		query string
		args  []any
	}
	steps := []struct {
		name  string
		stmts []stmt
		want  []string
	}{
		{"insert", []stmt{
			{insertAccounts, []any{day}},
			{insertToken, token("TKN-1", "ACC-A", "Active")},
			{insertToken, token("TKN-2", "ACC-A", "Active")},
			{insertToken, token("TKN-3", "ACC-A", "Disabled")},
		}, []string{"ACC-A/Active=2", "ACC-A/Disabled=1"}},
		{"status update", []stmt{
			{`UPDATE api_tokens SET status = 'Disabled', version = version + 1 WHERE id = 'TKN-1'`, nil},
		}, []string{"ACC-A/Active=1", "ACC-A/Disabled=2"}},
		{"other update", []stmt{
			{`UPDATE api_tokens SET name = 'Renamed', status = status WHERE id = 'TKN-2'`, nil},
		}, []string{"ACC-A/Active=1", "ACC-A/Disabled=2"}},
		{"account move", []stmt{
			{`UPDATE api_tokens SET account_id = 'ACC-B' WHERE id = 'TKN-3'`, nil},
		}, []string{"ACC-A/Active=1", "ACC-A/Disabled=1", "ACC-B/Disabled=1"}},
		{"delete", []stmt{
			{`DELETE FROM api_tokens WHERE id = 'TKN-2'`, nil},
		}, []string{"ACC-A/Active=0", "ACC-A/Disabled=1", "ACC-B/Disabled=1"}},
	}
	for _, e := range bothEngines(t) {
		for _, step := range steps {
			for _, s := range step.stmts {
				if err := e.exec(t, s.query, s.args...); err != nil {
					t.Fatalf("%s, %s: %v", e.name, step.name, err)
				}
			}
			got := e.strings(t, `SELECT account_id || '/' || status || '=' || n FROM api_token_counts ORDER BY 1`)
			if !slices.Equal(got, step.want) {
				t.Errorf("%s, after %s: counts %v, want %v", e.name, step.name, got, step.want)
			}
		}
	}
}

// TestEmailUniqueIgnoringASCIICase: SQLite's COLLATE NOCASE folds ASCII
// letters only, and so does lower() on a "C" column.
func TestEmailUniqueIgnoringASCIICase(t *testing.T) {
	insertUser := `INSERT INTO users (id, account_id, email, name, role, password_hash, created_at, updated_at)
		VALUES ($1, 'ACC-A', $2, 'Someone', 'Viewer', 'x', $3, $3)`
	for _, e := range bothEngines(t) {
		if err := e.exec(t, insertAccounts, day); err != nil {
			t.Fatal(err)
		}
		for i, tt := range []struct {
			email  string
			unique bool
		}{
			{"ada@example.com", true},
			{"ADA@Example.COM", false},
			{"élise@example.com", true},
			{"Élise@example.com", true}, // É is not ASCII: not folded
			{"ÉLISE@example.com", false},
		} {
			err := e.exec(t, insertUser, fmt.Sprintf("USR-%d", i), tt.email, day)
			if got := err == nil; got != tt.unique || (err != nil && !isUniqueViolation(err)) {
				t.Errorf("%s: add %s: error %v, want accepted %v", e.name, tt.email, err, tt.unique)
			}
		}
	}
}

func isUniqueViolation(err error) bool {
	var pgErr *pgconn.PgError
	var sqErr *sqlite.Error
	return errors.As(err, &pgErr) && pgErr.Code == "23505" ||
		errors.As(err, &sqErr) && sqErr.Code() == sqlite3.SQLITE_CONSTRAINT_UNIQUE
}

// migratedPostgres returns a connection to a new database to which every
// migration has been applied in order, each in one transaction.
func migratedPostgres(t *testing.T) *pgx.Conn {
	t.Helper()
	ctx := t.Context()
	conn, err := pgx.Connect(ctx, pgtest.URL(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	names, err := fs.Glob(migrations, "migrations/*.sql")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		body, err := migrations.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		err = pgx.BeginFunc(ctx, conn, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, string(body))
			return err
		})
		if err != nil {
			t.Fatalf("PostgreSQL migration %s: %v", name, err)
		}
	}
	return conn
}

// migratedSQLite returns a new SQLite database to which the SQLite engine's
// migrations have been applied in order, each in one transaction.
func migratedSQLite(t *testing.T) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1)
	t.Cleanup(func() { db.Close() })
	names, err := filepath.Glob(filepath.Join(sqliteMigrations, "*.sql"))
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		body, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		tx, err := db.BeginTx(t.Context(), nil)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := tx.ExecContext(t.Context(), string(body)); err != nil {
			tx.Rollback()
			t.Fatalf("SQLite migration %s: %v", name, err)
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
	}
	return db
}

func pgStrings(t *testing.T, conn *pgx.Conn, query string, args ...any) []string {
	t.Helper()
	rows, err := conn.Query(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func sqStrings(t *testing.T, db *sql.DB, query string, args ...any) []string {
	t.Helper()
	rows, err := db.QueryContext(t.Context(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var s string
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(fmt.Errorf("%s: %w", query, err))
	}
	return out
}

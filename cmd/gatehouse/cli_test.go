package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"gatehouse/store/pgtest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	_ "modernc.org/sqlite"
)

// runCLI runs the program with args against dir and returns its output.
func runCLI(t *testing.T, dir, stdin string, args ...string) (string, error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err := run(context.Background(), append(args, "--data", dir), func(string) string { return "" },
		strings.NewReader(stdin), &out, &errOut)
	return out.String() + errOut.String(), err
}

func TestCLIUsersTokensAndAuditVerify(t *testing.T) {
	dir := t.TempDir()
	if out, err := runCLI(t, dir, "", "account", "list"); err != nil || !strings.Contains(out, "ID") {
		t.Fatalf("account list on an empty database: %v %s", err, out)
	}
	// An account to work in: made through the store's demo seed is heavy, so
	// create one directly.
	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`INSERT INTO accounts (id, name, type, created_at) VALUES ('ACC-1111-2222', 'CLI Co', 'Client', '2026-01-01 00:00:00+00:00');
		INSERT INTO account_modules VALUES ('ACC-1111-2222', 'MOD-1756')`); err != nil {
		t.Fatal(err)
	}

	out, err := runCLI(t, dir, "a long enough password\n", "user", "add", "--account", "ACC-1111-2222", "--email", "ops@example.com", "--name", "Ops Person", "--role", "Operator")
	if err != nil || !regexp.MustCompile(`Added USR-\d{4}-\d{4} ops@example.com`).MatchString(out) {
		t.Fatalf("user add: %v %s", err, out)
	}
	if out, err := runCLI(t, dir, "", "user", "set-role", "--email", "ops@example.com", "--role", "Viewer"); err != nil || !strings.Contains(out, "now Viewer") {
		t.Errorf("set-role: %v %s", err, out)
	}
	if _, err := runCLI(t, dir, "", "user", "set-role", "--email", "ops@example.com", "--role", "King"); err == nil {
		t.Error("set-role accepted an unknown role")
	}
	if out, err := runCLI(t, dir, "", "user", "list"); err != nil || !strings.Contains(out, "Ops Person") || !strings.Contains(out, "Viewer") {
		t.Errorf("user list: %v %s", err, out)
	}

	out, err = runCLI(t, dir, "", "token", "create", "--account", "ACC-1111-2222", "--name", "Automation", "--module", "MOD-1756")
	value := regexp.MustCompile(`idt:TKN-\d{4}-\d{4}:[0-9A-Za-z]{49}`).FindString(out)
	if err != nil || value == "" {
		t.Fatalf("token create: %v %s", err, out)
	}
	if _, err := runCLI(t, dir, "", "token", "create", "--account", "ACC-1111-2222", "--name", "x", "--module", "MOD-9042"); err == nil {
		t.Error("token create granted a module the account lacks")
	}

	out, err = runCLI(t, dir, "", "audit", "verify")
	if err != nil || !strings.Contains(out, "intact: 1 records") {
		t.Fatalf("audit verify: %v %s", err, out)
	}
	// It prints the head's anchor; checked later, the anchor holds.
	anchor := regexp.MustCompile(`--anchor: (\d+:[0-9a-f]{64})\n`).FindStringSubmatch(out)
	if anchor == nil {
		t.Fatalf("audit verify printed no anchor: %s", out)
	}
	if out, err := runCLI(t, dir, "", "audit", "verify", "--anchor", anchor[1]); err != nil || !strings.Contains(out, "Anchor holds: record #1 ") {
		t.Errorf("audit verify --anchor %s: %v %s", anchor[1], err, out)
	}
	if out, err := runCLI(t, dir, "", "audit", "verify", "--anchor", "1:nothex"); !errors.Is(err, errUsage) || !strings.Contains(out, "--anchor must be SEQ:HASH") {
		t.Errorf("audit verify with a malformed anchor: %v %s", err, out)
	}
	// Tamper behind the app's back, as someone with the sqlite3 shell would.
	var id string
	db.QueryRow(`SELECT id FROM audit_records`).Scan(&id)
	if _, err := db.Exec(`DROP TRIGGER audit_records_no_update; UPDATE audit_records SET actor_name = 'Somebody else'`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	out, err = runCLI(t, dir, "", "audit", "verify")
	if !errors.Is(err, errAuditBroken) || !strings.Contains(out, "BROKEN at record "+id) {
		t.Errorf("tampered audit verify: %v %s", err, out)
	}
	// Removing the record is invisible to the chain, not to the anchor.
	db, err = sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`DROP TRIGGER audit_records_no_delete; DELETE FROM audit_records`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if out, err := runCLI(t, dir, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact: 0 records") {
		t.Errorf("audit verify of an emptied trail: %v %s", err, out)
	}
	out, err = runCLI(t, dir, "", "audit", "verify", "--anchor", anchor[1])
	if !errors.Is(err, errAuditBroken) || !strings.Contains(out, "BROKEN against anchor "+anchor[1]+": the anchored record #1 is gone") {
		t.Errorf("audit verify --anchor of an emptied trail: %v %s", err, out)
	}
	if strings.Contains(out, value) {
		t.Error("a token value was printed by audit verify")
	}

	if _, err := runCLI(t, dir, "", "frobnicate"); !errors.Is(err, errUsage) {
		t.Errorf("unknown command: %v", err)
	}
	if out, err := runCLI(t, dir, "", "version"); err != nil || !strings.HasPrefix(out, "gatehouse ") {
		t.Errorf("version: %v %q", err, out)
	}
}

// --database picks the engine on every command: a malformed or unreachable
// database is a configuration error (exit 2) naming no password, and a
// PostgreSQL URL works like the SQLite default.
func TestDatabaseFlag(t *testing.T) {
	dir := t.TempDir()
	for _, db := range []string{"mysql://root:hunter2@db/gatehouse", "sqlite:", "postgres://u:hunter2@127.0.0.1:1/gatehouse?connect_timeout=2"} {
		out, err := runCLI(t, dir, "", "account", "list", "--database", db)
		if !errors.Is(err, errConfig) || strings.Contains(err.Error(), "hunter2") || strings.Contains(out, "hunter2") || strings.Contains(err.Error(), "\n") {
			t.Errorf("--database %s: err = %v, want a one-line configuration error without the password", db, err)
		}
	}
	if out, err := runCLI(t, dir, "", "backup", "--out", filepath.Join(dir, "b.db"), "--database", "postgres://u@127.0.0.1:1/g"); !errors.Is(err, errUsage) || !strings.Contains(out, "pg_dump") {
		t.Errorf("backup on PostgreSQL = %v %q, want the pg_dump advice", err, out)
	}
	url := pgtest.URL(t)
	out, err := runCLI(t, dir, "", "token", "create", "--database", url, "--account", "ACC-0000-0000", "--name", "x")
	if err == nil || !strings.Contains(out+err.Error(), "ACC-0000-0000") {
		t.Errorf("token create for an unknown account on PostgreSQL = %v %q", err, out)
	}
	if out, err := runCLI(t, dir, "", "audit", "verify", "--database", url); err != nil || !strings.Contains(out, "0 records") {
		t.Errorf("audit verify on an empty PostgreSQL database = %v %q", err, out)
	}
	if _, err := os.Stat(filepath.Join(dir, "gatehouse.db")); err == nil {
		t.Errorf("a PostgreSQL command made a SQLite file in the data directory")
	}
}

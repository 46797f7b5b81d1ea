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

// runCLISplit is runCLI with stdout and stderr apart.
func runCLISplit(t *testing.T, dir, stdin string, args ...string) (stdout, stderr string, err error) {
	t.Helper()
	var out, errOut bytes.Buffer
	err = run(context.Background(), append(args, "--data", dir), func(string) string { return "" },
		strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), err
}

// account add prints the new id alone on stdout; bad input is refused with
// a one-line reason (main exits 2 for it) and changes nothing.
func TestCLIAccountAdd(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, err := runCLISplit(t, dir, "", "account", "add", "--name", "Example Ltd", "--type", "Operations", "--module", "MOD-1756", "--module", "MOD-9042")
	if err != nil || !regexp.MustCompile(`^ACC-\d{4}-\d{4}\n$`).MatchString(stdout) {
		t.Fatalf("account add: %v, stdout %q, stderr %q; want the id alone on stdout", err, stdout, stderr)
	}
	id := strings.TrimSpace(stdout)
	if want := "Added account " + id + ` "Example Ltd" (Operations) with modules MOD-1756 (Access management), MOD-9042 (Account management).`; strings.TrimSpace(stderr) != want {
		t.Errorf("stderr = %q, want %q", stderr, want)
	}
	if out, err := runCLI(t, dir, "", "account", "list"); err != nil || !strings.Contains(out, id+"  Example Ltd  Operations") {
		t.Errorf("account list: %v %q", err, out)
	}
	for _, c := range []struct {
		name string
		args []string
		want string
	}{
		{"bad type", []string{"--name", "Typo Co", "--type", "Customer"}, `type: must be Client, Vendor or Operations, not "Customer"`},
		{"unknown module", []string{"--name", "Modules Co", "--type", "Vendor", "--module", "MOD-9999"}, `modules: "MOD-9999" is not in the module catalogue, which has MOD-1756 (Access management), `},
		{"no name", []string{"--type", "Client"}, "name: is required"},
		{"duplicate", []string{"--name", "example ltd", "--type", "Client"}, `an account named "Example Ltd" (` + id + `) already exists`},
	} {
		stdout, stderr, err := runCLISplit(t, dir, "", append([]string{"account", "add"}, c.args...)...)
		if err == nil || !badInput(err) || !strings.Contains(err.Error(), c.want) || strings.Contains(err.Error(), "\n") || stdout != "" {
			t.Errorf("%s: err %v, stdout %q, stderr %q; want bad input saying %q on one line", c.name, err, stdout, stderr, c.want)
		}
	}
	if out, _ := runCLI(t, dir, "", "account", "list"); strings.Count(out, "ACC-") != 1 {
		t.Errorf("refused adds added accounts:\n%s", out)
	}
	// user add names the unknown account before it asks for a password.
	_, stderr, err = runCLISplit(t, dir, "a long enough password\n", "user", "add", "--account", "ACC-0000-0000", "--email", "a@example.com", "--name", "A", "--role", "Administrator")
	if !badInput(err) || !strings.Contains(err.Error(), `account "ACC-0000-0000": not found`) || strings.Contains(stderr, "Password") {
		t.Errorf("user add to an unknown account: %v, stderr %q", err, stderr)
	}
	// The usage text tells of the commands.
	if out, _ := runCLI(t, dir, "", "help"); !strings.Contains(out, "gatehouse account add --name … --type Client|Vendor|Operations") ||
		!strings.Contains(out, "gatehouse account modules --account ACC-…") {
		t.Errorf("usage:\n%s", out)
	}
}

// As a process of its own, a refused account add exits with status 2 and
// one line.
func TestCLIAccountAddExitStatus(t *testing.T) {
	dir := t.TempDir()
	stderr, status := runMain(t, "account", "add", "--data", dir, "--name", "Modules Co", "--type", "Vendor", "--module", "MOD-9999")
	if status != 2 || strings.Count(stderr, "\n") != 1 || !strings.HasPrefix(stderr, `gatehouse: invalid input: modules: "MOD-9999" is not in the module catalogue`) {
		t.Errorf("exit status %d, stderr %q; want 2 and one line naming the module", status, stderr)
	}
	stderr, status = runMain(t, "account", "modules", "--data", dir, "--account", "ACC-0000-0000", "--enable", "MOD-1756")
	if status != 2 || stderr != "gatehouse: account \"ACC-0000-0000\": not found\n" {
		t.Errorf("account modules of an unknown account: exit status %d, stderr %q", status, stderr)
	}
}

// account modules shows and changes an account's modules; a disabled
// module is taken from the tokens that held it, audited, and put in the
// change log that every serve process follows.
func TestCLIAccountModules(t *testing.T) {
	dir := t.TempDir()
	stdout, _, err := runCLISplit(t, dir, "", "account", "add", "--name", "Modules Co", "--type", "Client", "--module", "MOD-1756", "--module", "MOD-2210")
	if err != nil {
		t.Fatal(err)
	}
	acc := strings.TrimSpace(stdout)
	out, err := runCLI(t, dir, "", "token", "create", "--account", acc, "--name", "Billing robot", "--module", "MOD-2210", "--module", "MOD-1756")
	if err != nil {
		t.Fatal(err, out)
	}
	tok := regexp.MustCompile(`TKN-\d{4}-\d{4}`).FindString(out)

	if stdout, _, err := runCLISplit(t, dir, "", "account", "modules", "--account", acc); err != nil ||
		stdout != "MODULE    NAME\nMOD-1756  Access management\nMOD-2210  Billing\n" {
		t.Errorf("account modules: %v\n%s", err, stdout)
	}
	stdout, stderr, err := runCLISplit(t, dir, "", "account", "modules", "--account", acc, "--enable", "MOD-1756", "--enable", "MOD-0478")
	if err != nil || !strings.Contains(stderr, "MOD-1756 was already enabled for "+acc+" (Modules Co): nothing to do.") ||
		!strings.Contains(stderr, "Enabled MOD-0478 (Marketplace) for "+acc) || !strings.Contains(stdout, "MOD-0478  Marketplace") {
		t.Errorf("enable: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	stdout, stderr, err = runCLISplit(t, dir, "", "account", "modules", "--account", acc, "--disable", "MOD-2210")
	if err != nil || !strings.Contains(stderr, "Disabled MOD-2210 (Billing) for "+acc) || !strings.Contains(stderr, tok+` "Billing robot"`) ||
		stdout != "MODULE    NAME\nMOD-1756  Access management\nMOD-0478  Marketplace\n" {
		t.Errorf("disable: %v\nstdout %s\nstderr %s", err, stdout, stderr)
	}
	if _, err := runCLI(t, dir, "", "account", "modules", "--account", acc, "--enable", "MOD-1"); !badInput(err) {
		t.Errorf("an unknown module: %v", err)
	}
	if _, err := runCLI(t, dir, "", "account", "modules", "--enable", "MOD-1756"); !errors.Is(err, errUsage) {
		t.Errorf("no --account: %v", err)
	}

	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var logged int
	if err := db.QueryRow(`SELECT COUNT(*) FROM token_changes WHERE token_id = ?`, tok).Scan(&logged); err != nil || logged != 2 {
		t.Errorf("the token's entries in the change log: %d, %v; want 2 (its creation and the disable)", logged, err)
	}
	var modules string
	if err := db.QueryRow(`SELECT COALESCE(GROUP_CONCAT(module_id), '') FROM api_token_modules WHERE token_id = ?`, tok).Scan(&modules); err != nil || modules != "MOD-1756" {
		t.Errorf("the token's modules: %q, %v", modules, err)
	}
	rows, err := db.Query(`SELECT event, object_type, object_id, actor_id, summary FROM audit_records ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var trail []string
	for rows.Next() {
		var event, typ, id, actor, summary string
		rows.Scan(&event, &typ, &id, &actor, &summary)
		trail = append(trail, strings.Join([]string{event, typ, id, actor, summary}, " | "))
	}
	want := []string{
		"platform.accounts.account.created | Account | " + acc + " | SYSTEM | Account " + acc + " was created.",
		"platform.accounts.api-token.created | API token | " + tok + " | SYSTEM | API token " + tok + " was created.",
		"platform.accounts.account.updated | Account | " + acc + " | SYSTEM | Modules of account " + acc + " were changed: enabled MOD-0478 (Marketplace).",
		"platform.accounts.account.updated | Account | " + acc + " | SYSTEM | Modules of account " + acc + " were changed: disabled MOD-2210 (Billing). 1 API token lost a disabled module.",
		"platform.accounts.api-token.updated | API token | " + tok + " | SYSTEM | API token " + tok + " was updated (modules): MOD-2210 (Billing) disabled for its account.",
	}
	if strings.Join(trail, "\n") != strings.Join(want, "\n") {
		t.Errorf("audit trail:\n%s\nwant:\n%s", strings.Join(trail, "\n"), strings.Join(want, "\n"))
	}
	if out, err := runCLI(t, dir, "", "audit", "verify"); err != nil || !strings.Contains(out, "intact: 5 records") {
		t.Errorf("audit verify: %v %s", err, out)
	}
}

// A PostgreSQL URL's password is hidden wherever it is shown, in the
// userinfo or as pgx's password and sslpassword parameters.
func TestRedactURL(t *testing.T) {
	for in, want := range map[string]string{
		"postgres://app:s3cret@db:5432/gh?sslmode=require":         "postgres://app:xxxxx@db:5432/gh?sslmode=require",
		"postgres://db/gh?user=app&password=s3cret":                "postgres://db/gh?password=xxxxx&user=app",
		"postgres://app@db/gh?sslpassword=k3y&sslmode=verify-full": "postgres://app@db/gh?sslmode=verify-full&sslpassword=xxxxx",
		"postgres://app@db/gh":                                     "postgres://app@db/gh",
	} {
		if got := redactURL(in); got != want || strings.Contains(got, "s3cret") || strings.Contains(got, "k3y") {
			t.Errorf("redactURL(%q) = %q, want %q", in, got, want)
		}
	}
}

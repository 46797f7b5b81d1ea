package main

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gatehouse/store"
	"gatehouse/store/sqlite"
)

// opsFixture makes a data directory with an account and one token, and
// returns the token's value.
func opsFixture(t *testing.T, dir string) string {
	t.Helper()
	if _, err := runCLI(t, dir, "", "account", "list"); err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite", filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := db.Exec(`INSERT INTO accounts (id, name, type, created_at) VALUES ('ACC-1111-2222', 'Ops Co', 'Client', '2026-01-01 00:00:00+00:00');
		INSERT INTO account_modules VALUES ('ACC-1111-2222', 'MOD-1756')`); err != nil {
		t.Fatal(err)
	}
	out, err := runCLI(t, dir, "", "token", "create", "--account", "ACC-1111-2222", "--name", "Automation", "--module", "MOD-1756")
	value := regexp.MustCompile(`idt:TKN-\d{4}-\d{4}:[0-9A-Za-z]{49}`).FindString(out)
	if err != nil || value == "" {
		t.Fatalf("token create: %v %s", err, out)
	}
	return value
}

func TestOpsBackupCommand(t *testing.T) {
	dir := t.TempDir()
	opsFixture(t, dir)
	out := filepath.Join(t.TempDir(), "copy.db")
	got, err := runCLI(t, dir, "", "backup", "--out", out)
	if err != nil || !regexp.MustCompile(`Wrote a backup of \d+ bytes to `+regexp.QuoteMeta(out)).MatchString(got) {
		t.Fatalf("backup: %v %s", err, got)
	}
	// The copy is a working data directory of its own.
	restored := t.TempDir()
	b, _ := os.ReadFile(out)
	if err := os.WriteFile(filepath.Join(restored, "gatehouse.db"), b, 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := runCLI(t, restored, "", "audit", "verify"); err != nil || !strings.Contains(got, "intact: 1 records") {
		t.Errorf("audit verify on the restored copy: %v %s", err, got)
	}
	if got, err := runCLI(t, dir, "", "backup", "--out", out); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("backup over an existing file: %v %s", err, got)
	}
	if _, err := runCLI(t, dir, "", "backup"); err == nil {
		t.Error("backup without --out succeeded")
	}
	if _, err := runCLI(t, t.TempDir(), "", "backup", "--out", filepath.Join(t.TempDir(), "x.db")); err == nil || !strings.Contains(err.Error(), "no database") {
		t.Errorf("backup of a missing database: %v", err)
	}
}

func TestOpsKeyRotateCommand(t *testing.T) {
	dir := t.TempDir()
	value := opsFixture(t, dir)
	oldKeyFile := filepath.Join(dir, "gatehouse.key")
	oldKeyText, _ := os.ReadFile(oldKeyFile)
	newKeyFile := filepath.Join(t.TempDir(), "new.key")

	if _, err := runCLI(t, dir, "", "key", "rotate", "--new-key-file", oldKeyFile); err == nil {
		t.Error("rotation to the current key file succeeded")
	}
	out, err := runCLI(t, dir, "", "key", "rotate", "--new-key-file", newKeyFile)
	if err != nil || !strings.Contains(out, "Re-sealed 1 token values") || !strings.Contains(out, "move "+newKeyFile+" over "+oldKeyFile) {
		t.Fatalf("key rotate: %v %s", err, out)
	}
	newKeyText, _ := os.ReadFile(newKeyFile)
	for _, secret := range []string{value, strings.TrimSpace(string(oldKeyText)), strings.TrimSpace(string(newKeyText))} {
		if strings.Contains(out, secret) {
			t.Errorf("key rotate printed a secret: %s", out)
		}
	}
	if fi, err := os.Stat(newKeyFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("new key file: %v %v", fi, err)
	}

	// The token's value now opens with the new key only.
	newKey, err := store.LoadOrCreateKey(newKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	oldKey, _ := store.ParseKey(string(oldKeyText))
	st, err := sqlite.Open(t.Context(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	var id string
	var sealed []byte
	if err := st.DB().QueryRow(`SELECT id, secret_sealed FROM api_tokens`).Scan(&id, &sealed); err != nil {
		t.Fatal(err)
	}
	st.Close()
	ns, _ := store.NewSealer(newKey)
	osl, _ := store.NewSealer(oldKey)
	if v, err := ns.Open(id, sealed); err != nil || v != value {
		t.Errorf("value does not open with the new key: %v", err)
	}
	if _, err := osl.Open(id, sealed); err == nil {
		t.Error("value still opens with the old key")
	}

	// A second run with the old key fails and leaves no stray key file.
	another := filepath.Join(t.TempDir(), "another.key")
	if _, err := runCLI(t, dir, "", "key", "rotate", "--new-key-file", another); err == nil {
		t.Error("rotating values the current key no longer opens succeeded")
	}
	if _, err := os.Stat(another); !os.IsNotExist(err) {
		t.Errorf("a failed rotation left its new key file: %v", err)
	}
	// The rotated key, given as GATEHOUSE_MASTER_KEY, is accepted as the
	// current one; on the command line it is refused, saying why.
	master := strings.TrimSpace(string(newKeyText))
	var errOut bytes.Buffer
	if err := run(context.Background(), []string{"key", "rotate", "--data", dir, "--master-key", master, "--new-key-file", another},
		func(string) string { return "" }, strings.NewReader(""), io.Discard, &errOut); !errors.Is(err, errUsage) ||
		!strings.Contains(errOut.String(), "shows in ps") || strings.Contains(errOut.String(), master) {
		t.Errorf("--master-key on the command line: %v %q; want a usage error that says why, without the key", err, errOut.String())
	}
	var stdout bytes.Buffer
	err = run(context.Background(), []string{"key", "rotate", "--data", dir, "--new-key-file", another},
		func(k string) string {
			if k == "GATEHOUSE_MASTER_KEY" {
				return master
			}
			return ""
		}, strings.NewReader(""), &stdout, io.Discard)
	if out := stdout.String(); err != nil || !strings.Contains(out, "Re-sealed 1 token values") || !strings.Contains(out, "GATEHOUSE_MASTER_KEY") {
		t.Errorf("rotate from GATEHOUSE_MASTER_KEY: %v %s", err, out)
	}
	// A missing current key file is not silently created.
	if _, err := runCLI(t, dir, "", "key", "rotate", "--key-file", filepath.Join(dir, "nope.key"), "--new-key-file", filepath.Join(t.TempDir(), "n.key")); err == nil {
		t.Error("rotation with a missing current key file succeeded")
	}
	if _, err := os.Stat(filepath.Join(dir, "nope.key")); !os.IsNotExist(err) {
		t.Error("a missing current key file was created")
	}
}

// serve warns at start when the data directory or the database can be
// opened by other users, and says how to fix it; a data directory Gatehouse
// made itself gets no warning.
func TestServeWarnsOfOpenFiles(t *testing.T) {
	private := filepath.Join(t.TempDir(), "data") // made by serve
	s := startServer(private)
	if _, err := s.waitListening(); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(private); err != nil {
		t.Fatal(err)
	} else if fi.Mode().Perm() != 0o700 {
		t.Errorf("the data directory was made %v, want drwx------", fi.Mode().Perm())
	}
	if strings.Contains(s.stderr.String(), "other users of this machine") {
		t.Errorf("a private data directory was warned about:\n%s", s.stderr.String())
	}
	for _, f := range []string{"gatehouse.db", "gatehouse.db-wal", "gatehouse.key"} {
		if fi, err := os.Stat(filepath.Join(private, f)); err == nil && fi.Mode().Perm() != 0o600 {
			t.Errorf("%s was created %v, want -rw-------", f, fi.Mode().Perm())
		}
	}

	if err := os.Chmod(private, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(private, "gatehouse.db"), 0o644); err != nil {
		t.Fatal(err)
	}
	s = startServer(private)
	if _, err := s.waitListening(); err != nil {
		t.Fatal(err)
	}
	if err := s.stop(); err != nil {
		t.Fatal(err)
	}
	logs := s.stderr.String()
	for _, want := range []string{
		"level=WARN msg=\"other users of this machine can open " + private + ", which holds secrets: chmod 700 " + private + "\"",
		"chmod 600 " + filepath.Join(private, "gatehouse.db"),
	} {
		if !strings.Contains(logs, want) {
			t.Errorf("the log lacks %q:\n%s", want, logs)
		}
	}
}

package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"gatehouse/store/pgtest"
)

// runMain runs the program as a process of its own, with args and an
// environment of nothing but PATH, and returns what it wrote to stderr and
// its exit status. A server that starts listening instead of exiting is
// stopped and reported with status -1.
func runMain(t *testing.T, args ...string) (stderr string, status int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], args...)
	cmd.Env = []string{runMainEnv + "=1", "PATH=" + os.Getenv("PATH")}
	var errOut bytes.Buffer
	cmd.Stderr = &errOut
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	listening := false
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if strings.Contains(sc.Text(), " listening on ") {
			listening = true
			cmd.Process.Kill()
		}
	}
	err = cmd.Wait()
	var exit *exec.ExitError
	switch {
	case listening:
		return errOut.String(), -1
	case err == nil:
		return errOut.String(), 0
	case errors.As(err, &exit):
		return errOut.String(), exit.ExitCode()
	}
	t.Fatalf("gatehouse %v: %v", args, err)
	return "", 0
}

// SQLite is single-process: a second serve on the same database is refused
// with one line naming it (exit status 2), while commands other than serve
// still work; once the first has stopped, a new serve starts.
func TestSecondServeOnSQLiteRefused(t *testing.T) {
	dir := demoDataDir(t)
	first := startServer(dir)
	base, err := first.waitListening()
	if err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "gatehouse.db")
	for _, args := range [][]string{
		{"serve", "--addr", "127.0.0.1:0", "--data", dir},
		{"--addr", "127.0.0.1:0", "--database", "sqlite:" + db, "--data", t.TempDir()},
	} {
		stderr, status := runMain(t, args...)
		want := "gatehouse: another gatehouse serve holds the SQLite database " + db + " "
		if status != 2 || !strings.HasPrefix(stderr, want) || strings.Count(stderr, "\n") != 1 {
			t.Errorf("a second gatehouse %s: exit status %d, stderr %q; want 2 and one line starting %q",
				strings.Join(args, " "), status, stderr, want)
		}
	}
	info, err := os.Stat(db + "-serve.lock")
	if err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("the lock file: %v, %v; want mode 0600", info, err)
	}
	// Other commands do not take the lock.
	if out := cli(t, dir, "account", "list"); !strings.Contains(out, "ACC-") {
		t.Errorf("account list while serve runs: %q", out)
	}
	resp, err := http.Get(base + "/readyz")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Errorf("the first serve after the refusal: readyz = %d", resp.StatusCode)
	}
	if err := first.stop(); err != nil {
		t.Fatal(err)
	}

	next := startServer(dir)
	if _, err := next.waitListening(); err != nil {
		t.Fatalf("serve after the first stopped: %v\n%s", err, next.stderr.String())
	}
	if err := next.stop(); err != nil {
		t.Fatal(err)
	}
}

// On PostgreSQL serve takes no lock: replicas are the point. Two serves
// share one database (and one data directory, holding their key).
func TestTwoServesOnPostgreSQL(t *testing.T) {
	dir, url := t.TempDir(), pgtest.URL(t)
	for i := range 2 {
		s := startServer(dir, "--database", url)
		t.Cleanup(func() {
			if err := s.stop(); err != nil {
				t.Error(err)
			}
		})
		if _, err := s.waitListening(); err != nil {
			t.Fatalf("serve %d on PostgreSQL: %v\n%s", i+1, err, s.stderr.String())
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 1 || entries[0].Name() != "gatehouse.key" {
		t.Errorf("the data directory holds %v, want only the key file", entries)
	}
}

package main

import (
	"context"
	"gatehouse/store/sqlite"
	"net/http"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestShutdownFlushesLastAccess: a call's last access, still in memory, is
// written when the server shuts down gracefully.
func TestShutdownFlushesLastAccess(t *testing.T) {
	dir := demoDataDir(t)
	account := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(cli(t, dir, "account", "list"))
	value := strings.TrimSpace(cli(t, dir, "token", "create", "--account", account, "--name", "Flushed", "--module", "MOD-0478"))
	id := strings.Split(value, ":")[1]

	s := startServer(dir)
	base, err := s.waitListening()
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, base+"/public/v1/auth/verify", nil)
	req.Header.Set("Authorization", "Bearer "+value)
	req.Header.Set("User-Agent", "flush-check/1.0")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("verify = %d", resp.StatusCode)
	}
	if err := s.stop(); err != nil { // well within the 5-second flush interval
		t.Fatal(err)
	}
	st, err := sqlite.Open(context.Background(), filepath.Join(dir, "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	tok, err := st.Token(context.Background(), account, id)
	if err != nil {
		t.Fatal(err)
	}
	if tok.LastAccessAt.IsZero() || tok.LastAccessAgent != "flush-check/1.0" {
		t.Errorf("after shutdown, last access = %+v %q; want the call recorded", tok.LastAccessAt, tok.LastAccessAgent)
	}
	// At start the server logged the audit trail's head (the token's
	// creation), for verify --anchor to check later.
	head, err := st.AuditHead(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if want := `msg="audit head" record=` + head.ID + ` anchor=` + head.String() + "\n"; !strings.Contains(s.stderr.String(), want) {
		t.Errorf("the log lacks %s:\n%s", want, s.stderr.String())
	}
}

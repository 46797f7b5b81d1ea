package handlers

import (
	"bytes"
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/store"
)

// Tests for the findings of the first code review.

func TestUploadLimitBeforeAnythingReadsTheBody(t *testing.T) {
	app := newTestApp(t)
	// No session, no CSRF token: a 9 MB upload is refused for its size
	// before the CSRF check would parse it.
	req, _ := http.NewRequest(http.MethodPost, app.srv.URL+"/settings/api-tokens/new", bytes.NewReader(make([]byte, 9<<20)))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=x")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("anonymous 9 MB upload = %d, want 413", resp.StatusCode)
	}
	// A chunked body (no Content-Length) over the limit is a 413 too.
	c := app.client(t)
	c.mustLogin("admin@example.com")
	csrf := c.csrfFrom("/settings/api-tokens")
	body := strings.NewReader(url.Values{"_csrf": {csrf}, "reason": {strings.Repeat("r", 2<<20)}}.Encode())
	req, _ = http.NewRequest(http.MethodPost, app.srv.URL+"/settings/api-tokens/"+app.demoToken(t, "CI pipeline").ID+"/disable", struct{ *strings.Reader }{body})
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.ContentLength = -1
	if r := c.do(req); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("chunked 2 MB form = %d, want 413", r.StatusCode)
	}
	// A malformed multipart body is a 400, not a 500.
	req, _ = http.NewRequest(http.MethodPost, app.srv.URL+"/settings/api-tokens/new", strings.NewReader("garbage"))
	req.Header.Set("Content-Type", "multipart/form-data; boundary=xyz")
	req.Header.Set("X-CSRF-Token", csrf)
	if r := c.do(req); r.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed multipart = %d, want 400", r.StatusCode)
	}
}

func TestParallelLoginsAreThrottled(t *testing.T) {
	app := newTestApp(t)
	var wg sync.WaitGroup
	var mu sync.Mutex
	codes := map[int]int{}
	for range 15 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := app.client(t)
			r := c.login("operator@example.com", "wrong-password-here")
			mu.Lock()
			codes[r.StatusCode]++
			mu.Unlock()
		}()
	}
	wg.Wait()
	if codes[http.StatusUnauthorized] > store.EmailFreeFailures || codes[http.StatusTooManyRequests] == 0 {
		t.Errorf("15 parallel wrong passwords: %v; want at most %d checked, the rest throttled", codes, store.EmailFreeFailures)
	}
}

func TestSearchWithControlCharacters(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	for _, q := range []string{"ab%00c", "%07bell", "abc%0Ad"} {
		if r := c.get("/settings/api-tokens?q=" + q); r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "control characters") {
			t.Errorf("q=%s = %d", q, r.StatusCode)
		}
	}
}

func TestAPIReviewFindings(t *testing.T) {
	app := newTestApp(t)
	_, billing := app.apiToken(t, app.acc.ID, "Billing only", "MOD-2210")
	_, access := app.apiToken(t, app.acc.ID, "Access", "MOD-1756")
	if r := app.call(t, "GET", "/public/v1/audit/records", billing, ""); r.status != 403 {
		t.Errorf("audit records without Access management = %d, want 403", r.status)
	}
	// Many values across RQL terms: a 400, not SQLite's variable limit.
	values := strings.TrimSuffix(strings.Repeat("x,", 900), ",")
	q := strings.TrimSuffix(strings.Repeat("in(id,("+values+"))&", 3), "&")
	for _, path := range []string{"/public/v1/accounts/api-tokens?", "/public/v1/audit/records?"} {
		if r := app.call(t, "GET", path+q, access, ""); r.status != 400 {
			t.Errorf("%s with 2700 values = %d, want 400", path, r.status)
		}
	}
	// The scheme is case-insensitive (RFC 7235).
	if r := app.call(t, "GET", "/public/v1/auth/verify", "", "", "Authorization", "bearer "+access); r.status != 200 {
		t.Errorf("lower-case bearer = %d", r.status)
	}
	// Duplicate modules are stored and recorded once.
	r := app.call(t, "POST", "/public/v1/accounts/api-tokens", access, `{"name":"Dup","modules":[{"id":"MOD-0478"},{"id":"MOD-0478"}]}`)
	var created apiToken
	r.json(t, &created)
	rec, _ := app.store.LastChange(context.Background(), app.acc.ID, created.ID)
	if len(created.Modules) != 1 || strings.Count(rec.Details, "MOD-0478") != 1 {
		t.Errorf("duplicate modules: %v, %s", created.Modules, rec.Details)
	}
}

func TestFlushFailurePutsBack(t *testing.T) {
	a := newAccessTracker()
	now := time.Now()
	a.access("TKN-1", now, "ip", "ua")
	a.reject("TKN-2", store.StatusDisabled, now.Add(-2*time.Minute), "ip", "ua")
	acc, rej := a.take(now, false)
	if len(acc) != 1 || len(rej) != 1 {
		t.Fatalf("take = %d, %d", len(acc), len(rej))
	}
	a.access("TKN-1", now.Add(time.Second), "newer", "ua")
	a.putBack(acc, rej)
	acc, rej = a.take(now, false)
	if len(acc) != 1 || acc[0].IP != "newer" || len(rej) != 1 || rej[0].Count != 1 {
		t.Errorf("after put back: %+v %+v", acc, rej)
	}
}

func TestActionOnTokenDeletedMeanwhile(t *testing.T) {
	app := newTestApp(t)
	tok := app.demoToken(t, "CI pipeline")
	op := app.client(t)
	op.mustLogin("operator@example.com")
	form, _ := op.confirmForm("/settings/api-tokens/" + tok.ID + "/disable")
	form.Set("reason", "typed by the operator")
	admin := store.UserActor(store.User{ID: "USR-0000-0042", Name: "Ada Admin"}, "", "")
	if err := app.store.DeleteToken(context.Background(), admin, app.acc.ID, tok.ID, 0); err != nil {
		t.Fatal(err)
	}
	r := op.post("/settings/api-tokens/"+tok.ID+"/disable", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens" {
		t.Fatalf("disable of a deleted token = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if got := squash(op.get("/settings/api-tokens").doc(t).Find(".flash-warning").Text()); !strings.Contains(got, "was deleted by Ada Admin") || !strings.Contains(got, "Nothing was applied") {
		t.Errorf("warning = %q", got)
	}
}

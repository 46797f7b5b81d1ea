package handlers

import (
	"context"
	"io"
	"net/http"
	"slices"
	"testing"
	"time"

	"gatehouse/store"
)

// TestVerifyUnknownIDCostsTheSame: verifying an id the database does not
// have takes as long as verifying a known id with a wrong secret, so timing
// does not tell a caller without credentials which ids exist (SPEC §5). The
// two are timed interleaved over HTTP; the test prints both medians and
// fails when one is more than 1.2 times the other.
func TestVerifyUnknownIDCostsTheSame(t *testing.T) {
	if testing.Short() {
		t.Skip("timing")
	}
	app := newTestApp(t)
	tok, _ := app.apiToken(t, app.acc.ID, "Gateway", AccessManagement)
	wrongSecret := "Bearer " + store.NewTokenValue(tok.ID)
	unknown := "Bearer " + store.NewTokenValue("TKN-0000-0007")
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 1}}
	call := func(auth string) time.Duration {
		req, _ := http.NewRequest(http.MethodGet, app.srv.URL+"/public/v1/auth/verify", nil)
		req.Header.Set("Authorization", auth)
		start := time.Now()
		resp, err := client.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		d := time.Since(start)
		if resp.StatusCode != http.StatusUnauthorized {
			t.Fatalf("verify = %d, want 401", resp.StatusCode)
		}
		return d
	}
	// Warm up: the known token is cached by its first read, as a token in
	// use is; the unknown id is read once too.
	for range 50 {
		call(wrongSecret)
		call(unknown)
	}
	const n = 1500
	known, absent := make([]time.Duration, 0, n), make([]time.Duration, 0, n)
	for i := range n {
		if i%2 == 0 {
			known = append(known, call(wrongSecret))
			absent = append(absent, call(unknown))
		} else {
			absent = append(absent, call(unknown))
			known = append(known, call(wrongSecret))
		}
	}
	median := func(d []time.Duration) time.Duration { slices.Sort(d); return d[len(d)/2] }
	mk, ma := median(known), median(absent)
	ratio := float64(max(mk, ma)) / float64(min(mk, ma))
	t.Logf("verify medians over %d calls each: known id, wrong secret %v; unknown id %v; ratio %.2f", n, mk, ma, ratio)
	if ratio > 1.2 {
		t.Errorf("an unknown id costs %v and a known id with a wrong secret %v (ratio %.2f, limit 1.2): timing tells which ids exist", ma, mk, ratio)
	}
}

// TestAbsentIDForgottenWhenTheTokenAppears: an id remembered as absent is
// forgotten when the change log names it (creating a token logs it), so a
// token created on another replica is honoured at once.
func TestAbsentIDForgottenWhenTheTokenAppears(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	const id = "TKN-0000-0011"
	if r := app.call(t, "GET", "/public/v1/auth/verify", store.NewTokenValue(id), ""); r.status != http.StatusUnauthorized {
		t.Fatalf("unknown id = %d", r.status)
	}
	absent := func() bool {
		app.h.cache.mu.RLock()
		defer app.h.cache.mu.RUnlock()
		_, ok := app.h.cache.absent[id]
		return ok
	}
	if !absent() {
		t.Fatal("the unknown id is not remembered as absent")
	}
	// Another process's change, seen only through the log.
	if _, err := app.store.DB().ExecContext(ctx, `INSERT INTO token_changes (token_id, changed_at) VALUES (?, ?)`, id, app.store.Now()); err != nil {
		t.Fatal(err)
	}
	d := until(t, time.Second, "the change log drops the absent id", func() bool { return !absent() })
	t.Logf("absent id dropped %v after its change-log entry", d)

	// And creating a token logs it, with its id.
	head, err := app.store.TokenChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	created, _ := app.apiToken(t, app.acc.ID, "New", AccessManagement)
	changes, err := app.store.TokenChangesSince(ctx, head, 100)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(changes, func(c store.TokenChange) bool { return c.TokenID == created.ID }) {
		t.Errorf("creating %s added no change-log entry: %+v", created.ID, changes)
	}
}

package handlers

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/store"
)

// TestConcurrentToggling: 50 concurrent clients toggle one token through
// the real HTTP stack for 10 seconds, and on until 20 transitions have
// succeeded (a busy machine is slow, not wrong; it gives up after 2
// minutes). No 5xx, no "database is locked", the
// final state is the last successful transition's, exactly one audit record
// per successful transition, and the chain verifies afterwards.
func TestConcurrentToggling(t *testing.T) {
	if testing.Short() {
		t.Skip("a load test of 10 seconds or more")
	}
	app := newTestApp(t)
	tok := app.demoToken(t, "Grafana exporter")
	base := "/settings/api-tokens/" + tok.ID
	var clients []*client
	for _, email := range []string{"admin@example.com", "operator@example.com", "priya@example.com"} {
		c := app.client(t)
		c.mustLogin(email)
		clients = append(clients, c)
	}
	csrf := make([]string, len(clients))
	for i, c := range clients {
		csrf[i] = c.csrfFrom(base)
	}
	type success struct {
		version int64
		to      string
	}
	var (
		mu        sync.Mutex
		successes []success
		requests  atomic.Int64
		conflicts atomic.Int64
		failures  atomic.Int64
	)
	const wantTransitions = 20
	start := time.Now()
	running := func() bool {
		mu.Lock()
		n := len(successes)
		mu.Unlock()
		took := time.Since(start)
		return took < 10*time.Second || (n < wantTransitions && took < 2*time.Minute)
	}
	var wg sync.WaitGroup
	for w := range 50 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c := clients[w%len(clients)]
			for running() {
				cur, err := app.store.Token(context.Background(), app.acc.ID, tok.ID)
				if err != nil {
					failures.Add(1)
					t.Errorf("read token: %v", err)
					return
				}
				action, to := "disable", store.StatusDisabled
				if cur.Status == store.StatusDisabled {
					action, to = "enable", store.StatusActive
				}
				req, _ := http.NewRequest(http.MethodPost, app.srv.URL+base+"/"+action, strings.NewReader(url.Values{
					"_csrf": {csrf[w%len(clients)]}, "version": {strconv.FormatInt(cur.Version, 10)},
				}.Encode()))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				resp, err := c.http.Do(req)
				if err != nil {
					failures.Add(1)
					t.Errorf("request: %v", err)
					return
				}
				resp.Body.Close()
				requests.Add(1)
				switch {
				case resp.StatusCode == http.StatusSeeOther:
					mu.Lock()
					successes = append(successes, success{cur.Version, to})
					mu.Unlock()
				case resp.StatusCode == http.StatusConflict:
					conflicts.Add(1)
				default:
					failures.Add(1)
					t.Errorf("%s = %d", action, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	t.Logf("%d requests: %d transitions, %d stale (409), %d failures", requests.Load(), len(successes), conflicts.Load(), failures.Load())
	if len(successes) < wantTransitions {
		t.Fatalf("only %d successful transitions in %s", len(successes), time.Since(start).Round(time.Second))
	}
	if strings.Contains(app.logs.String(), "database is locked") || strings.Contains(app.logs.String(), "SQLITE_BUSY") {
		t.Error("the log mentions a locked database")
	}
	last := successes[0]
	seen := map[int64]bool{}
	for _, s := range successes {
		if seen[s.version] {
			t.Errorf("two transitions succeeded from version %d", s.version)
		}
		seen[s.version] = true
		if s.version > last.version {
			last = s
		}
	}
	final, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if final.Status != last.to || final.Version != last.version+1 {
		t.Errorf("final %s v%d, last success → %s from v%d", final.Status, final.Version, last.to, last.version)
	}
	records := app.countEvents(t, tok.ID, store.EventTokenEnabled) + app.countEvents(t, tok.ID, store.EventTokenDisabled)
	if records != len(successes) {
		t.Errorf("%d enabled/disabled records for %d successful transitions", records, len(successes))
	}
	res, err := app.store.VerifyAudit(context.Background())
	if err != nil || res.BadID != "" {
		t.Errorf("audit verify: %+v, %v", res, err)
	}
}

package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/handlers"
	"gatehouse/handlers/openapitest"
	"gatehouse/store"
	"gatehouse/store/pgtest"
)

// downPassword is the password in the database URL. The throwaway cluster
// trusts local connections and never asks for it, so it can be any secret;
// it must show nowhere: no page, no problem, no log line.
const downPassword = "pg-secret-7Hq2"

// Phases of TestDatabaseDownAndBack, which the load's answers are judged by.
const (
	phaseUp       int32 = iota // PostgreSQL runs
	phaseStopping              // it is being stopped
	phaseDown                  // it is stopped
	phaseStarting              // it is being started again, or Gatehouse is catching up
	phaseBack                  // everything answered 200 again
	phaseCount
)

var phaseNames = [phaseCount]string{"up", "stopping", "down", "starting", "back"}

// downClient calls the running program: the console with a logged-in
// session, the API and the gateway check with tokens.
type downClient struct {
	t       *testing.T
	base    string
	console *http.Client // with the session's cookies, redirects not followed
	api     *http.Client
	spec    *openapitest.Validator
}

type answer struct {
	status int
	header http.Header
	body   string
}

func (d *downClient) do(c *http.Client, req *http.Request) (answer, error) {
	resp, err := c.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header, string(b)}, err
}

// page GETs a console page with the session.
func (d *downClient) page(path string) (answer, error) {
	req, _ := http.NewRequest(http.MethodGet, d.base+path, nil)
	return d.do(d.console, req)
}

// call GETs an API path with the token value; the answer must agree with
// the OpenAPI document the program serves.
func (d *downClient) call(path, value, userAgent string) (answer, error) {
	req, _ := http.NewRequest(http.MethodGet, d.base+path, nil)
	req.Header.Set("Authorization", "Bearer "+value)
	if userAgent != "" {
		req.Header.Set("User-Agent", userAgent)
	}
	a, err := d.do(d.api, req)
	if err == nil {
		if cerr := d.spec.CheckResponse(req, a.status, a.header, []byte(a.body)); cerr != nil {
			d.t.Errorf("GET %s = %d: the answer departs from the OpenAPI document: %v", req.URL.Path, a.status, cerr)
		}
	}
	return a, err
}

func (d *downClient) mustPage(path string) answer {
	d.t.Helper()
	a, err := d.page(path)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	return a
}

func (d *downClient) mustCall(path, value, userAgent string) answer {
	d.t.Helper()
	a, err := d.call(path, value, userAgent)
	if err != nil {
		d.t.Fatalf("GET %s: %v", path, err)
	}
	return a
}

// login logs the console client in as the demo's administrator, as a
// browser does: GET the form, keep the cookie, POST the CSRF token.
func (d *downClient) login() {
	d.t.Helper()
	form := d.mustPage("/login")
	m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindStringSubmatch(form.body)
	if m == nil {
		d.t.Fatalf("no _csrf field on /login (%d)", form.status)
	}
	v := url.Values{"_csrf": {m[1]}, "email": {"admin@example.com"}, "password": {store.DemoPassword}}
	resp, err := d.console.PostForm(d.base+"/login", v)
	if err != nil {
		d.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/settings/api-tokens" {
		d.t.Fatalf("login = %d %s", resp.StatusCode, resp.Header.Get("Location"))
	}
}

// tally counts the load's answers by phase, request and status.
type tally struct {
	mu     sync.Mutex
	counts map[string]int // "phase request status"
	errs   []string
}

func (l *tally) add(phase int32, request string, status int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.counts[fmt.Sprintf("%s %s %d", phaseNames[phase], request, status)]++
}

func (l *tally) fail(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.errs) < 20 {
		l.errs = append(l.errs, fmt.Sprintf(format, args...))
	}
}

func (l *tally) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	keys := make([]string, 0, len(l.counts))
	for k := range l.counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		fmt.Fprintf(&b, "  %-40s %d\n", k, l.counts[k])
	}
	return b.String()
}

// TestDatabaseDownAndBack stops PostgreSQL under the real program while
// clients keep calling it, and starts it again: meanwhile /readyz answers
// 503, console pages a clear 503 page, the API 503 problems with
// Retry-After, the gateway check answers the tokens it holds in memory for
// at most a second (until it has not read the change log for feedMaxLag:
// fail closed) and 503 (not 401) otherwise; nothing is a 500, the process
// stays up, and no page, problem or log line shows the database's password.
// Once
// PostgreSQL is back everything answers 200 again within seconds, without a
// restart, and last access not yet flushed when it stopped reaches the
// database.
func TestDatabaseDownAndBack(t *testing.T) {
	cluster := pgtest.NewCluster(t)
	u, err := url.Parse(cluster.URL("postgres"))
	if err != nil {
		t.Fatal(err)
	}
	u.User = url.UserPassword("postgres", downPassword)
	dbURL := u.String()

	dir := t.TempDir()
	s := startServer(dir, "--database", dbURL)
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
		logs := s.stdout.String() + s.stderr.String()
		if strings.Contains(logs, downPassword) {
			t.Error("the program's output shows the database password")
		}
		if t.Failed() {
			t.Logf("gatehouse log:\n%s", logs)
		}
	})
	base, err := s.waitListening()
	if err != nil {
		t.Fatal(err)
	}

	account := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(cli(t, dir, "account", "list", "--database", dbURL))
	newToken := func(name, module string) (id, value string) {
		value = strings.TrimSpace(cli(t, dir, "token", "create", "--database", dbURL, "--account", account, "--name", name, "--module", module))
		return strings.Split(value, ":")[1], value
	}
	_, admin := newToken("Automation", handlers.AccessManagement) // lists tokens: its answer needs the database
	_, gateway := newToken("Gateway caller", "MOD-0478")          // verified all along: held in memory
	quietID, quiet := newToken("Quiet caller", "MOD-0478")        // verified just before each outage, and refused a second into it
	var unseen [2]string                                          // each first verified during an outage
	_, unseen[0] = newToken("Never seen", "MOD-0478")
	_, unseen[1] = newToken("Never seen either", "MOD-0478")

	jar, _ := cookiejar.New(nil)
	transport := &http.Transport{MaxIdleConnsPerHost: 16}
	t.Cleanup(transport.CloseIdleConnections)
	d := &downClient{
		t:    t,
		base: base,
		console: &http.Client{Jar: jar, Transport: transport, Timeout: 15 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
		api:  &http.Client{Transport: transport, Timeout: 15 * time.Second},
		spec: servedOpenAPI(t, base),
	}
	d.login()
	for _, v := range []string{gateway, quiet} {
		if a := d.mustCall("/public/v1/auth/verify", v, ""); a.status != 200 {
			t.Fatalf("verify before the outage = %d %s", a.status, a.body)
		}
	}

	// The load: console list pages, API lists and gateway checks, from a
	// few clients at once, until the end of the test.
	var phase atomic.Int32
	load := &tally{counts: map[string]int{}}
	requests := []struct {
		name string
		do   func() (answer, error)
		// ok is what the request may answer in a phase where the database
		// is up, down, or on its way.
		up, down []int
	}{
		{"console", func() (answer, error) { return d.page("/settings/api-tokens?sort=name") }, []int{200}, []int{503}},
		{"api", func() (answer, error) { return d.call("/public/v1/accounts/api-tokens?limit=5", admin, "") }, []int{200}, []int{503}},
		// Held in memory, but trusted only while the change log can be
		// read: 200 for up to a second after the database stops, then 503
		// (fail closed, SPEC §7).
		{"verify", func() (answer, error) { return d.call("/public/v1/auth/verify", gateway, "") }, []int{200}, []int{200, 503}},
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := range 6 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; ; i++ {
				select {
				case <-stop:
					return
				case <-time.After(5 * time.Millisecond):
				}
				r := requests[i%len(requests)]
				before := phase.Load()
				a, err := r.do()
				after := phase.Load()
				if err != nil {
					load.fail("%s (%s): %v", r.name, phaseNames[before], err)
					continue
				}
				if before != after {
					before = phaseStarting // changed under way: either answer
				}
				load.add(before, r.name, a.status)
				allowed := map[int32][]int{phaseUp: r.up, phaseBack: r.up, phaseDown: r.down}[before]
				if allowed == nil {
					allowed = append(append([]int{}, r.up...), r.down...)
				}
				if !slices.Contains(allowed, a.status) {
					load.fail("%s (%s) = %d, want one of %v: %.300s", r.name, phaseNames[before], a.status, allowed, a.body)
				}
				if a.status == 503 && a.header.Get("Retry-After") == "" {
					load.fail("%s (%s) = 503 without Retry-After", r.name, phaseNames[before])
				}
				if strings.Contains(a.body, downPassword) {
					load.fail("%s (%s) shows the database password", r.name, phaseNames[before])
				}
			}
		}()
	}
	stopLoad := func() {
		select {
		case <-stop:
			return
		default:
		}
		close(stop)
		wg.Wait()
	}
	t.Cleanup(stopLoad)
	alive := func(when string) {
		t.Helper()
		select {
		case err := <-s.done:
			s.done <- err
			t.Fatalf("%s: gatehouse serve returned: %v", when, err)
		default:
		}
	}

	// Two outages: a clean stop (every session ended with 57P01, new ones
	// refused with 57P03, then connections refused) and an immediate one
	// (connections dropped at once, and the next start recovers from the
	// WAL).
	for i, mode := range []pgtest.StopMode{pgtest.Fast, pgtest.Immediate} {
		time.Sleep(time.Second) // load with PostgreSQL up

		// Down, just after a call whose last access is still in memory.
		calledAt := time.Now()
		if a := d.mustCall("/public/v1/auth/verify", quiet, "before-the-outage/1.0"); a.status != 200 {
			t.Fatalf("verify before the outage = %d %s", a.status, a.body)
		}
		phase.Store(phaseStopping)
		stoppedAt := time.Now()
		if err := cluster.StopServer(mode); err != nil {
			t.Fatal(err)
		}
		phase.Store(phaseDown)
		if a := d.mustPage("/readyz"); a.status != 503 {
			t.Errorf("%s stop: readyz = %d, want 503", mode, a.status)
		}
		wantDownPage(t, d.mustPage("/settings/api-tokens?sort=name&q=a"), "/settings/api-tokens?sort=name&q=a")
		wantDownProblem(t, "API list", d.mustCall("/public/v1/accounts/api-tokens", admin, ""))
		wantDownProblem(t, "verify of a token not held in memory", d.mustCall("/public/v1/auth/verify", unseen[i], ""))
		// Once the change log has not been read for a second, the cache
		// is not trusted: a token held in memory is refused too.
		time.Sleep(time.Until(stoppedAt.Add(time.Second)))
		wantDownProblem(t, "verify of a token held in memory, a second into the outage", d.mustCall("/public/v1/auth/verify", quiet, ""))
		if i == 0 {
			// Wait for a flush of last access to fail after that call: it
			// must keep what it took for the next.
			flushFailed := func() int { return strings.Count(s.stderr.String(), `msg="flush last access: database unavailable`) }
			failed := flushFailed()
			for deadline := time.Now().Add(handlers.FlushInterval + 3*time.Second); flushFailed() == failed; {
				if time.Now().After(deadline) {
					t.Fatalf("no failed flush logged within %v of the outage", handlers.FlushInterval+3*time.Second)
				}
				time.Sleep(50 * time.Millisecond)
			}
		} else {
			time.Sleep(time.Second) // load with PostgreSQL down
		}
		alive("PostgreSQL stopped")

		// Back.
		phase.Store(phaseStarting)
		if err := cluster.StartServer(); err != nil {
			t.Fatal(err)
		}
		startedAt := time.Now()
		checks := []struct {
			name string
			ok   func() bool
		}{
			{"readyz", func() bool { a, err := d.page("/readyz"); return err == nil && a.status == 200 }},
			{"console", func() bool { a, err := d.page("/settings/api-tokens"); return err == nil && a.status == 200 }},
			{"API", func() bool {
				a, err := d.call("/public/v1/accounts/api-tokens?limit=5", admin, "")
				return err == nil && a.status == 200
			}},
			{"verify of a new token", func() bool {
				a, err := d.call("/public/v1/auth/verify", unseen[i], "")
				return err == nil && a.status == 200
			}},
		}
		const recoveryLimit = 10 * time.Second
		for _, c := range checks {
			for !c.ok() {
				if time.Since(startedAt) > recoveryLimit {
					t.Fatalf("%s stop: %s does not answer 200 %v after PostgreSQL started again", mode, c.name, recoveryLimit)
				}
				time.Sleep(20 * time.Millisecond)
			}
		}
		recovery := time.Since(startedAt)
		phase.Store(phaseBack)
		t.Logf("%s stop: PostgreSQL down for %v; everything answered 200 again %v after it was back",
			mode, startedAt.Sub(stoppedAt).Round(time.Millisecond), recovery.Round(time.Millisecond))

		if i == 0 {
			// The call made just before the outage, whose flush failed,
			// reaches the database with a later flush.
			var tok struct {
				LastAccessAt time.Time `json:"lastAccessAt"`
			}
			for deadline := time.Now().Add(handlers.FlushInterval + 3*time.Second); ; {
				a := d.mustCall("/public/v1/accounts/api-tokens/"+quietID, admin, "")
				if a.status != 200 {
					t.Fatalf("GET the quiet token = %d %s", a.status, a.body)
				}
				if err := json.Unmarshal([]byte(a.body), &tok); err != nil {
					t.Fatal(err)
				}
				if !tok.LastAccessAt.Before(calledAt.Truncate(time.Millisecond)) {
					break
				}
				if time.Now().After(deadline) {
					t.Fatalf("last access = %v, before the last call (%v): the call was lost", tok.LastAccessAt, calledAt)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}

	time.Sleep(500 * time.Millisecond)
	stopLoad()
	alive("PostgreSQL started again")

	t.Logf("answers (phase, request, status):\n%s", load)
	for _, e := range load.errs {
		t.Error(e)
	}
	for _, want := range []string{"up console 200", "down console 503", "down api 503", "down verify 503", "back console 200", "back api 200", "back verify 200"} {
		if load.counts[want] == 0 {
			t.Errorf("the load saw no %q", want)
		}
	}
	logs := s.stderr.String()
	for _, bad := range []string{"level=ERROR", "panic"} {
		if strings.Contains(logs, bad) {
			t.Errorf("the log has %q", bad)
		}
	}
}

// wantDownPage checks a console page answered while PostgreSQL is down.
func wantDownPage(t *testing.T, a answer, path string) {
	t.Helper()
	if a.status != 503 || a.header.Get("Retry-After") == "" {
		t.Fatalf("console page with PostgreSQL stopped = %d (Retry-After %q), want 503:\n%s", a.status, a.header.Get("Retry-After"), a.body)
	}
	for _, want := range []string{
		`<h1 id="error-heading">The database is unavailable</h1>`,
		"please try again in a moment",
		`<a class="btn btn-primary" href="` + strings.ReplaceAll(path, "&", "&amp;") + `">Try again</a>`,
		`href="/settings/api-tokens">Back to API tokens</a>`,
		`<main id="main"`, // the layout of the other error pages
	} {
		if !strings.Contains(a.body, want) {
			t.Errorf("the 503 page lacks %s:\n%s", want, a.body)
		}
	}
	for _, leak := range []string{downPassword, "connect", "postgres", "127.0.0.1"} {
		if strings.Contains(a.body, leak) {
			t.Errorf("the 503 page shows %q", leak)
		}
	}
}

// wantDownProblem checks an API answer given while PostgreSQL is down.
func wantDownProblem(t *testing.T, what string, a answer) {
	t.Helper()
	var p struct {
		Status int    `json:"status"`
		Title  string `json:"title"`
		Detail string `json:"detail"`
	}
	if a.status != 503 || a.header.Get("Content-Type") != "application/problem+json" || a.header.Get("Retry-After") == "" {
		t.Errorf("%s with PostgreSQL stopped = %d %s (Retry-After %q), want a 503 problem", what, a.status, a.header.Get("Content-Type"), a.header.Get("Retry-After"))
	}
	if err := json.Unmarshal([]byte(a.body), &p); err != nil || p.Status != 503 || !strings.Contains(p.Detail, "try again in a moment") {
		t.Errorf("%s with PostgreSQL stopped: problem %s", what, a.body)
	}
	for _, leak := range []string{downPassword, "connect", "postgres", "127.0.0.1"} {
		if strings.Contains(a.body, leak) {
			t.Errorf("%s: the problem shows %q", what, leak)
		}
	}
}

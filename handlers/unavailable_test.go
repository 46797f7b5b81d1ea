package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/store"
)

// errServerDown is what an engine returns while its database server is
// down: the driver's error wrapped in store.ErrUnavailable.
var errServerDown = fmt.Errorf("%w: failed to connect to `user=gatehouse database=gatehouse`: 127.0.0.1:5432 (127.0.0.1): dial error: dial tcp 127.0.0.1:5432: connect: connection refused", store.ErrUnavailable)

// downStore is the real store with three switches: down makes every call
// the tests below reach fail as an engine does while its server is down;
// listDown fails only the token list, as when the database goes away in the
// middle of a request whose session was read; authDown fails only the
// password check, as when it goes away between the login throttle and the
// check.
type downStore struct {
	Store
	down, listDown, authDown atomic.Bool
}

func (s *downStore) fail() error {
	if s.down.Load() {
		return errServerDown
	}
	return nil
}

func (s *downStore) Ping(ctx context.Context) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

func (s *downStore) Session(ctx context.Context, id string) (store.Session, error) {
	if err := s.fail(); err != nil {
		return store.Session{}, err
	}
	return s.Store.Session(ctx, id)
}

func (s *downStore) Authenticate(ctx context.Context, email, password string) (store.User, error) {
	if err := s.fail(); err != nil {
		return store.User{}, err
	}
	if s.authDown.Load() {
		return store.User{}, errServerDown
	}
	return s.Store.Authenticate(ctx, email, password)
}

func (s *downStore) AttemptLogin(ctx context.Context, keys ...string) (time.Duration, error) {
	if err := s.fail(); err != nil {
		return 0, err
	}
	return s.Store.AttemptLogin(ctx, keys...)
}

func (s *downStore) ForgiveLogin(ctx context.Context, forget, forgiveOne []string) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.ForgiveLogin(ctx, forget, forgiveOne)
}

func (s *downStore) ListTokens(ctx context.Context, accountID string, q store.TokenQuery) (store.TokenPage, error) {
	if err := s.fail(); err != nil {
		return store.TokenPage{}, err
	}
	if s.listDown.Load() {
		return store.TokenPage{}, errServerDown
	}
	return s.Store.ListTokens(ctx, accountID, q)
}

func (s *downStore) TokenForAuth(ctx context.Context, id string) (store.AuthToken, error) {
	if err := s.fail(); err != nil {
		return store.AuthToken{}, err
	}
	return s.Store.TokenForAuth(ctx, id)
}

func (s *downStore) RecordAccesses(ctx context.Context, accesses []store.Access) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.RecordAccesses(ctx, accesses)
}

func (s *downStore) RecordRejections(ctx context.Context, rs []store.Rejection) error {
	if err := s.fail(); err != nil {
		return err
	}
	return s.Store.RecordRejections(ctx, rs)
}

// wantUnavailablePage checks the console's answer while the database is
// down: a 503 error page in the layout of the others, saying what happened
// and offering to try again (retry, when not empty) and a way back, and
// nothing of the driver's error.
func wantUnavailablePage(t *testing.T, r response, retry string) {
	t.Helper()
	if r.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503\n%s", r.StatusCode, r.body)
	}
	if got := r.Header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("Cache-Control = %q, want no-store", got)
	}
	doc := r.doc(t)
	if got := strings.TrimSpace(doc.Find("h1#error-heading").Text()); got != "The database is unavailable" {
		t.Errorf("heading = %q", got)
	}
	if got := doc.Find(".error-status").Text(); got != "Error 503" {
		t.Errorf("status badge = %q", got)
	}
	if msg := doc.Find(".error-page p").Eq(1).Text(); !strings.Contains(msg, "try again in a moment") {
		t.Errorf("message = %q, want it to say to try again in a moment", msg)
	}
	if doc.Find("a.skip-link").Length() != 1 || doc.Find("#main").Length() != 1 {
		t.Error("the page lacks the layout's skip link or main landmark")
	}
	tryAgain := doc.Find(`.error-actions a:contains("Try again")`)
	if href, _ := tryAgain.Attr("href"); href != retry || (retry == "") != (tryAgain.Length() == 0) {
		t.Errorf("Try again link = %q (%d), want %q", href, tryAgain.Length(), retry)
	}
	if href, _ := doc.Find(`.error-actions a:contains("Back to API tokens")`).Attr("href"); href != "/settings/api-tokens" {
		t.Errorf("Back link = %q, want /settings/api-tokens", href)
	}
	for _, leak := range []string{"connection refused", "5432", "dial", "user=gatehouse"} {
		if strings.Contains(r.body, leak) {
			t.Errorf("the page shows %q of the driver's error", leak)
		}
	}
}

// wantUnavailableProblem checks the API's answer while the database is down.
func wantUnavailableProblem(t *testing.T, r apiResponse) {
	t.Helper()
	if r.status != http.StatusServiceUnavailable {
		t.Fatalf("status = %d, want 503\n%s", r.status, r.body)
	}
	if got := r.header.Get("Retry-After"); got != "5" {
		t.Errorf("Retry-After = %q, want 5", got)
	}
	p := r.problem(t)
	if p.Title != "Service Unavailable" || !strings.Contains(p.Detail, "try again in a moment") {
		t.Errorf("problem = %+v", p)
	}
	if strings.Contains(r.body, "connection refused") || strings.Contains(r.body, "5432") {
		t.Errorf("the problem shows the driver's error: %s", r.body)
	}
}

// While the database is unavailable the console answers a clear 503 page,
// the API a 503 problem with Retry-After, the gateway check answers tokens
// it holds in memory and 503 (never 401) for others, nothing is a 500, and
// last access gathered meanwhile is written once the database is back.
func TestDatabaseUnavailable(t *testing.T) {
	var ds *downStore
	app := newTestApp(t, func(s Store) Store { ds = &downStore{Store: s}; return ds })
	cached, cachedValue := app.apiToken(t, app.acc.ID, "Cached", "MOD-1756")
	_, uncachedValue := app.apiToken(t, app.acc.ID, "Uncached", "MOD-0478")
	admin := app.client(t)
	admin.mustLogin("admin@example.com")
	// The creations are in the change log; once the feed has read them, a
	// token read into the cache stays there.
	app.feedCaughtUp(t)
	if r := app.call(t, "GET", "/public/v1/auth/verify", cachedValue, ""); r.status != 200 {
		t.Fatalf("verify before the outage = %d", r.status)
	}
	if err := app.h.Flush(context.Background(), true); err != nil {
		t.Fatal(err)
	}
	visitor := app.client(t)
	loginCSRF := visitor.csrfFrom("/login")

	ds.down.Store(true)

	if r := admin.get("/readyz"); r.StatusCode != 503 || r.Header.Get("Retry-After") != "5" {
		t.Errorf("readyz = %d (Retry-After %q), want 503", r.StatusCode, r.Header.Get("Retry-After"))
	}
	t.Run("ConsolePage", func(t *testing.T) {
		wantUnavailablePage(t, admin.get("/settings/api-tokens?sort=name"), "/settings/api-tokens?sort=name")
	})
	t.Run("ConsoleForm", func(t *testing.T) {
		// A login sent during the outage: the throttle, in the database,
		// cannot answer; nothing to retry by a link, and the tries do not
		// count as failures once the database is back.
		for range store.EmailFreeFailures + 3 {
			r := visitor.post("/login", url.Values{"_csrf": {loginCSRF}, "email": {"viewer@example.com"}, "password": {store.DemoPassword}})
			wantUnavailablePage(t, r, "")
		}
	})
	t.Run("API", func(t *testing.T) {
		wantUnavailableProblem(t, app.call(t, "GET", "/public/v1/accounts/api-tokens", cachedValue, ""))
	})
	t.Run("VerifyCached", func(t *testing.T) {
		r := app.call(t, "GET", "/public/v1/auth/verify", cachedValue, "", "User-Agent", "during-the-outage/1.0")
		if r.status != 200 || r.header.Get("X-Gatehouse-Token-Id") != cached.ID {
			t.Errorf("verify of a token held in memory = %d %s, want 200", r.status, r.body)
		}
	})
	t.Run("VerifyUncached", func(t *testing.T) {
		// The database cannot say whether the token is good: not a 401.
		wantUnavailableProblem(t, app.call(t, "GET", "/public/v1/auth/verify", uncachedValue, ""))
		// Nor for a well-formed token it has never seen.
		wantUnavailableProblem(t, app.call(t, "GET", "/public/v1/auth/verify", store.NewTokenValue("TKN-0000-0000"), ""))
	})
	t.Run("Flush", func(t *testing.T) {
		if err := app.h.Flush(context.Background(), false); err == nil {
			t.Error("flush while the database is down succeeded")
		}
	})

	ds.down.Store(false)

	// The database goes away between the throttle and the password check:
	// the tries, counted as failures by the throttle, are taken back.
	for range store.EmailFreeFailures + 3 {
		ds.authDown.Store(true)
		r := visitor.post("/login", url.Values{"_csrf": {loginCSRF}, "email": {"viewer@example.com"}, "password": {store.DemoPassword}})
		wantUnavailablePage(t, r, "")
	}
	ds.authDown.Store(false)

	if r := admin.get("/readyz"); r.StatusCode != 200 {
		t.Errorf("readyz once the database is back = %d", r.StatusCode)
	}
	if r := admin.get("/settings/api-tokens"); r.StatusCode != 200 {
		t.Errorf("console once the database is back = %d", r.StatusCode)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", uncachedValue, ""); r.status != 200 {
		t.Errorf("verify once the database is back = %d", r.status)
	}
	if r := visitor.post("/login", url.Values{"_csrf": {loginCSRF}, "email": {"viewer@example.com"}, "password": {store.DemoPassword}}); r.StatusCode != 303 {
		t.Errorf("login once the database is back = %d, want 303 (the tries during the outage are not failures)", r.StatusCode)
	}
	// The access during the outage was kept, and the next flush writes it.
	if err := app.h.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	tok, err := app.store.Token(context.Background(), app.acc.ID, cached.ID)
	if err != nil {
		t.Fatal(err)
	}
	if tok.LastAccessAgent != "during-the-outage/1.0" {
		t.Errorf("last access agent = %q, want the call made during the outage", tok.LastAccessAgent)
	}

	// The console's page has the console around it when the session was
	// read before the database went away.
	ds.listDown.Store(true)
	r := admin.get("/settings/api-tokens")
	wantUnavailablePage(t, r, "/settings/api-tokens")
	if r.doc(t).Find("nav.sidenav").Length() != 1 {
		t.Error("the 503 page of a logged-in user lacks the console's navigation")
	}
	ds.listDown.Store(false)

	logs := app.logs.String()
	if !strings.Contains(logs, `level=WARN msg="database unavailable"`) {
		t.Errorf("no warning of the outage in the log:\n%s", logs)
	}
	if strings.Contains(logs, "level=ERROR") {
		t.Errorf("the outage was logged as an error:\n%s", logs)
	}
}

package handlers

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"
	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
	"gatehouse/store/storetest"
)

// testApp is the real handler stack on a real database file, served by
// httptest over real HTTP.
type testApp struct {
	store  *sqlite.Store
	sealer *store.Sealer
	srv    *httptest.Server
	echo   *echo.Echo
	h      *Handler
	logs   *syncBuffer
	clock  *testClock
	acc    store.Account // the demo's first account
	other  store.Account // the demo's second account
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// testClock is a settable clock for the store and the handlers.
type testClock struct {
	mu  sync.Mutex
	off time.Duration
	// at, once freeze has set it, is the time: it moves only by advance.
	at time.Time
}

func (c *testClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.at.IsZero() {
		return c.at
	}
	return time.Now().Add(c.off)
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.off += d
	if !c.at.IsZero() {
		c.at = c.at.Add(d)
	}
}

// freeze stops the clock, for tests whose waits must not run out while
// they work (a second's back-off, under the race detector).
func (c *testClock) freeze() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.at = time.Now().Add(c.off)
}

// newTestApp serves the demo; wrap, when given, stands between the handlers
// and the store (to make it fail, say).
func newTestApp(t testing.TB, wrap ...func(Store) Store) *testApp {
	t.Helper()
	return newTestAppOn(t, storetest.Open(t), wrap...)
}

// newTestAppOn is newTestApp on a store of the caller's choosing.
func newTestAppOn(t testing.TB, st *sqldb.Store, wrap ...func(Store) Store) *testApp {
	t.Helper()
	ctx := context.Background()
	clock := &testClock{}
	st.SetClock(clock.now)
	sealer, err := store.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SeedDemo(ctx, sealer); err != nil {
		t.Fatal(err)
	}
	accounts, err := st.Accounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	e := echo.New()
	var hs Store = st
	for _, w := range wrap {
		hs = w(hs)
	}
	h := New(Deps{Store: hs, Sealer: sealer, Logger: slog.New(slog.NewTextHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug})), PublicURL: "http://gatehouse.test"})
	h.Register(e)
	srv := httptest.NewServer(e)
	t.Cleanup(srv.Close)
	feedCtx, stopFeed := context.WithCancel(ctx)
	go h.RunFeed(feedCtx)
	t.Cleanup(stopFeed)
	for deadline := time.Now().Add(10 * time.Second); !h.feed.current(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the change feed never read the change log")
		}
	}
	return &testApp{store: st, sealer: sealer, srv: srv, echo: e, h: h, logs: logs, clock: clock, acc: accounts[0], other: accounts[1]}
}

// client is a browser stand-in: a cookie jar, no automatic redirects.
type client struct {
	t    testing.TB
	app  *testApp
	http *http.Client
}

func (a *testApp) client(t testing.TB) *client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &client{t: t, app: a, http: &http.Client{
		Jar:           jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}}
}

type response struct {
	*http.Response
	body string
}

func (r response) doc(t testing.TB) *goquery.Document {
	t.Helper()
	d, err := goquery.NewDocumentFromReader(strings.NewReader(r.body))
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func (c *client) do(req *http.Request) response {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	return response{Response: resp, body: string(b)}
}

func (c *client) get(path string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodGet, c.app.srv.URL+path, nil)
	return c.do(req)
}

// post sends a form as a same-origin browser would, without adding a CSRF
// token: callers put _csrf in the form themselves.
func (c *client) post(path string, form url.Values, headers ...string) response {
	c.t.Helper()
	req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	return c.do(req)
}

// follow follows r's redirects, as a browser would, and returns the
// answer of the page they end on.
func (c *client) follow(r response) response {
	c.t.Helper()
	for i := 0; i < 10 && r.StatusCode >= 300 && r.StatusCode < 400; i++ {
		r = c.get(r.Header.Get("Location"))
	}
	return r
}

// csrfFrom returns the _csrf field of the first form on the page at path
// (after its redirects).
func (c *client) csrfFrom(path string) string {
	c.t.Helper()
	r := c.follow(c.get(path))
	tok, ok := r.doc(c.t).Find(`input[name="_csrf"]`).First().Attr("value")
	if !ok || tok == "" {
		c.t.Fatalf("no _csrf field on %s (status %d)", path, r.StatusCode)
	}
	return tok
}

// login does the whole round trip: GET the form, keep the cookie, POST the
// token with the credentials.
func (c *client) login(email, password string) response {
	c.t.Helper()
	tok := c.csrfFrom("/login")
	return c.post("/login", url.Values{"_csrf": {tok}, "email": {email}, "password": {password}})
}

func (c *client) mustLogin(email string) {
	c.t.Helper()
	r := c.login(email, store.DemoPassword)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens" {
		c.t.Fatalf("login as %s: %d %s", email, r.StatusCode, r.Header.Get("Location"))
	}
}

func (c *client) cookie(name string) *http.Cookie {
	u, _ := url.Parse(c.app.srv.URL)
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == name {
			return ck
		}
	}
	return nil
}

func (c *client) setCookie(name, value string) {
	u, _ := url.Parse(c.app.srv.URL)
	c.http.Jar.SetCookies(u, []*http.Cookie{{Name: name, Value: value, Path: "/"}})
}

func setCookieHeader(r response, name string) string {
	for _, v := range r.Header.Values("Set-Cookie") {
		if strings.HasPrefix(v, name+"=") {
			return v
		}
	}
	return ""
}

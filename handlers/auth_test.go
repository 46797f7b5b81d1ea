package handlers

import (
	"context"

	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/store"
)

func TestLoginLogoutRoundTrip(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)

	r := c.get("/")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens" {
		t.Fatalf("GET / = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	r = c.get("/settings/api-tokens?q=bill")
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?next=%2Fsettings%2Fapi-tokens%3Fq%3Dbill" {
		t.Fatalf("anonymous list = %d %s", r.StatusCode, r.Header.Get("Location"))
	}

	// A session id planted before login must not survive it.
	c.setCookie(SessionCookie, "planted-session-id")
	tok := c.csrfFrom("/login?next=%2Fsettings%2Fapi-tokens%3Fq%3Dbill")
	r = c.post("/login", url.Values{"_csrf": {tok}, "email": {"admin@example.com"}, "password": {store.DemoPassword}, "next": {"/settings/api-tokens?q=bill"}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens?q=bill" {
		t.Fatalf("login = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	set := setCookieHeader(r, SessionCookie)
	for _, want := range []string{"HttpOnly", "SameSite=Lax", "Path=/"} {
		if !strings.Contains(set, want) {
			t.Errorf("session cookie %q lacks %s", set, want)
		}
	}
	if strings.Contains(set, "Secure") {
		t.Errorf("session cookie %q is Secure over plain HTTP", set)
	}
	sid := c.cookie(SessionCookie).Value
	if sid == "planted-session-id" || len(sid) < 40 {
		t.Fatalf("session id after login = %q", sid)
	}
	// So must the CSRF token: the one from before login is refused after it.
	if got := c.cookie(CSRFCookie).Value; got == tok || len(got) != 43 {
		t.Fatalf("CSRF token after login = %q, before %q", got, tok)
	}
	if r := c.post("/logout", url.Values{"_csrf": {tok}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("logout with the token from before login = %d, want 403", r.StatusCode)
	}

	r = c.get("/settings/api-tokens")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("list after login = %d", r.StatusCode)
	}
	doc := r.doc(t)
	if got := strings.Join(strings.Fields(doc.Find(".topbar-user-name").Text()), " "); got != "Alex Morgan Administrator" {
		t.Errorf("top bar user = %q", got)
	}
	if got := doc.Find(".topbar-account-name").Text(); got != "Northwind Traders" {
		t.Errorf("top bar account = %q", got)
	}
	if got := r.Header.Get("Cache-Control"); got != "no-store" {
		t.Errorf("console page Cache-Control = %q, want no-store", got)
	}

	// Logout needs the CSRF token too.
	if r := c.post("/logout", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("logout without CSRF = %d, want 403", r.StatusCode)
	}
	if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusOK {
		t.Fatalf("session lost after refused logout: %d", r.StatusCode)
	}
	tok, _ = doc.Find(`form[action="/logout"] input[name="_csrf"]`).Attr("value")
	r = c.post("/logout", url.Values{"_csrf": {tok}})
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/login?logged_out=1" {
		t.Fatalf("logout = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	if got := c.cookie(CSRFCookie).Value; got == tok {
		t.Error("CSRF token unchanged by logout")
	}
	if !strings.Contains(c.get("/login?logged_out=1").body, "You have been logged out.") {
		t.Error("no logged-out message")
	}
	// Replaying the old cookie: the session is gone on the server.
	c.setCookie(SessionCookie, sid)
	if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
		t.Errorf("replayed cookie after logout = %d %s, want the login page", r.StatusCode, r.Header.Get("Location"))
	}
}

func TestLoginFailures(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	cases := []struct {
		name, email, password string
		status                int
		message               string
		keepsEmail            bool
		marked                string // the field marked invalid
	}{
		{"wrong password", "admin@example.com", "nope-nope-nope", http.StatusUnauthorized, "The email or password is not correct.", true, "password"},
		{"unknown email", "ghost@example.com", store.DemoPassword, http.StatusUnauthorized, "The email or password is not correct.", true, "password"},
		{"empty password", "admin@example.com", "", http.StatusBadRequest, "Enter your email and password.", true, "password"},
		{"empty email", "", "x", http.StatusBadRequest, "Enter your email and password.", true, "email"},
		{"invalid UTF-8", "adm\xffin@example.com", "x", http.StatusBadRequest, "Enter the email address you log in with.", false, "email"},
		// PostgreSQL's text cannot hold a NUL: refused before the throttle
		// or the password check would send it to the database.
		{"NUL", "adm\x00in@example.com", "x", http.StatusBadRequest, "Enter the email address you log in with.", false, "email"},
		{"control character", "admin@example.com\a", "x", http.StatusBadRequest, "Enter the email address you log in with.", false, "email"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.login(tc.email, tc.password)
			if r.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d", r.StatusCode, tc.status)
			}
			doc := r.doc(t)
			if got := strings.TrimSpace(doc.Find("#login-error").Text()); got != tc.message {
				t.Errorf("message = %q, want %q", got, tc.message)
			}
			var marked []string
			doc.Find(`input[aria-invalid="true"]`).Each(func(_ int, s *goquery.Selection) { marked = append(marked, s.AttrOr("id", "")) })
			if len(marked) != 1 || marked[0] != tc.marked {
				t.Errorf("fields marked invalid = %v, want [%s]", marked, tc.marked)
			}
			if got := doc.Find("#"+tc.marked).AttrOr("aria-describedby", ""); got != "login-error" {
				t.Errorf("the marked field's aria-describedby = %q, want the message", got)
			}
			email, _ := doc.Find("#email").Attr("value")
			if tc.keepsEmail && email != tc.email {
				t.Errorf("email field = %q, want %q kept", email, tc.email)
			}
			if ck := c.cookie(SessionCookie); ck != nil {
				t.Errorf("failed login set a session cookie")
			}
		})
	}
	if strings.Contains(app.logs.String(), "nope-nope-nope") || strings.Contains(app.logs.String(), store.DemoPassword) {
		t.Error("a password reached the log")
	}
}

func TestLoginCSRF(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	form := url.Values{"email": {"admin@example.com"}, "password": {store.DemoPassword}}
	if r := c.post("/login", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("login without token and cookie = %d, want 403", r.StatusCode)
	}
	tok := c.csrfFrom("/login")
	form.Set("_csrf", tok+"x")
	if r := c.post("/login", form); r.StatusCode != http.StatusForbidden || !strings.Contains(r.body, "expired") {
		t.Errorf("login with a wrong token = %d", r.StatusCode)
	}
	form.Set("_csrf", tok)
	// The right token from another site is still refused.
	if r := c.post("/login", form, "Sec-Fetch-Site", "cross-site"); r.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site login = %d, want 403", r.StatusCode)
	}
	// Same-origin without the token is refused: both checks apply.
	delete(form, "_csrf")
	if r := c.post("/login", form, "Sec-Fetch-Site", "same-origin"); r.StatusCode != http.StatusForbidden {
		t.Errorf("same-origin login without token = %d, want 403", r.StatusCode)
	}
	form.Set("_csrf", tok)
	if r := c.post("/login", form, "Sec-Fetch-Site", "same-origin"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("good login = %d, want 303", r.StatusCode)
	}
	set := ""
	r := app.client(t).get("/login")
	set = setCookieHeader(r, CSRFCookie)
	if !strings.Contains(set, "HttpOnly") || !strings.Contains(set, "SameSite=Lax") {
		t.Errorf("CSRF cookie %q: want HttpOnly and SameSite=Lax", set)
	}
}

func TestLoginThrottling(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	for i := range store.EmailFreeFailures {
		if r := c.login("operator@example.com", "wrong"); r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d = %d, want 401", i+1, r.StatusCode)
		}
	}
	// Now even the right password must wait.
	r := c.login("operator@example.com", store.DemoPassword)
	if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
		t.Fatalf("throttled login = %d (Retry-After %q), want 429", r.StatusCode, r.Header.Get("Retry-After"))
	}
	if email, _ := r.doc(t).Find("#email").Attr("value"); email != "operator@example.com" {
		t.Errorf("throttled form lost the email: %q", email)
	}
	// Another account from another address is not held up.
	other := app.client(t)
	if r := other.login("viewer@example.com", store.DemoPassword); r.StatusCode != http.StatusSeeOther {
		t.Errorf("other account = %d, want 303", r.StatusCode)
	}
	// No permanent lock-out: after the back-off the right password works.
	app.clock.advance(2 * time.Second)
	if r := c.login("operator@example.com", store.DemoPassword); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after waiting = %d, want 303", r.StatusCode)
	}
}

func TestSessionTimeouts(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")

	// Active use keeps the session past 30 minutes…
	for range 3 {
		app.clock.advance(20 * time.Minute)
		if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusOK {
			t.Fatalf("active session expired: %d", r.StatusCode)
		}
	}
	// …but 31 idle minutes end it.
	app.clock.advance(31 * time.Minute)
	if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("idle session = %d, want a redirect to login", r.StatusCode)
	}

	// The absolute limit: 12 hours even with constant use.
	c.mustLogin("viewer@example.com")
	for i := 0; i < 12*60/25; i++ {
		app.clock.advance(25 * time.Minute)
		if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusOK {
			t.Fatalf("session ended after %d minutes of use", (i+1)*25)
		}
	}
	app.clock.advance(25 * time.Minute)
	if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("session older than 12 h = %d, want a redirect to login", r.StatusCode)
	}
}

func TestForgedSessionCookies(t *testing.T) {
	app := newTestApp(t)
	for _, v := range []string{"garbage", strings.Repeat("A", 43), strings.Repeat("x", 5000), "' OR 1=1 --"} {
		c := app.client(t)
		c.setCookie(SessionCookie, v)
		r := c.get("/settings/api-tokens")
		if r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), "/login") {
			t.Errorf("cookie %.20q: %d %s, want the login page", v, r.StatusCode, r.Header.Get("Location"))
		}
	}
	// A cookie from another run (another database) is unknown here.
	other := newTestApp(t)
	oc := other.client(t)
	oc.mustLogin("admin@example.com")
	c := app.client(t)
	c.setCookie(SessionCookie, oc.cookie(SessionCookie).Value)
	if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("cookie from another run = %d, want a redirect to login", r.StatusCode)
	}
}

func TestRoleChangeEndsSessions(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("operator@example.com")
	if err := app.store.SetRole(t.Context(), "operator@example.com", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if r := c.get("/settings/api-tokens"); r.StatusCode != http.StatusSeeOther {
		t.Errorf("after role change = %d, want a redirect to login", r.StatusCode)
	}
}

func TestLoginNextIsLocalOnly(t *testing.T) {
	app := newTestApp(t)
	for _, next := range []string{"//evil.example/x", "https://evil.example", "/\\evil.example", "javascript:alert(1)", "/login"} {
		c := app.client(t)
		tok := c.csrfFrom("/login")
		r := c.post("/login", url.Values{"_csrf": {tok}, "email": {"viewer@example.com"}, "password": {store.DemoPassword}, "next": {next}})
		if r.Header.Get("Location") != "/settings/api-tokens" {
			t.Errorf("next=%q redirected to %q", next, r.Header.Get("Location"))
		}
	}
}

func TestSecurityHeadersAndHealth(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	for _, path := range []string{"/login", "/settings/api-tokens", "/no-such-page"} {
		r := c.get(path)
		for h, want := range map[string]string{
			"Content-Security-Policy": "frame-ancestors 'none'",
			"X-Content-Type-Options":  "nosniff",
			"Referrer-Policy":         "same-origin",
		} {
			if !strings.Contains(r.Header.Get(h), want) {
				t.Errorf("%s: %s = %q, want %q", path, h, r.Header.Get(h), want)
			}
		}
		if csp := r.Header.Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") || !strings.Contains(csp, "script-src 'self'") {
			t.Errorf("%s: CSP %q allows inline script", path, csp)
		}
		if r.Header.Get("Strict-Transport-Security") != "" {
			t.Errorf("%s: HSTS over plain HTTP", path)
		}
	}
	if r := c.get("/healthz"); r.StatusCode != 200 {
		t.Errorf("healthz = %d", r.StatusCode)
	}
	if r := c.get("/readyz"); r.StatusCode != 200 {
		t.Errorf("readyz = %d", r.StatusCode)
	}
	r := c.get("/no-such-page")
	if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "Page not found") {
		t.Errorf("unknown page = %d", r.StatusCode)
	}
	// Static files: the hashed URL is cacheable for a year.
	doc := c.get("/login").doc(t)
	css, _ := doc.Find(`link[rel="stylesheet"]`).Attr("href")
	r = c.get(css)
	if r.StatusCode != 200 || !strings.Contains(r.Header.Get("Cache-Control"), "immutable") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/css") {
		t.Errorf("%s = %d, Cache-Control %q, Content-Type %q", css, r.StatusCode, r.Header.Get("Cache-Control"), r.Header.Get("Content-Type"))
	}
	head, _ := http.NewRequest(http.MethodHead, app.srv.URL+css, nil)
	if r := c.do(head); r.StatusCode != http.StatusOK || r.body != "" {
		t.Errorf("HEAD %s = %d with %d bytes", css, r.StatusCode, len(r.body))
	}
	if r := c.get("/static/0000000000/app.css"); strings.Contains(r.Header.Get("Cache-Control"), "immutable") {
		t.Error("a stale hash is cached for a year")
	}
	if r := c.get("/static/x/../../go.mod"); r.StatusCode != http.StatusNotFound {
		t.Errorf("path traversal = %d", r.StatusCode)
	}
}

func TestOversizeBody(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	tok := c.csrfFrom("/login")
	r := c.post("/login", url.Values{"_csrf": {tok}, "email": {strings.Repeat("a", 2<<20)}})
	if r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("2 MB login form = %d, want 413", r.StatusCode)
	}
}

// TestCSRFBoundToSession: a logged-in form's token is the session's own
// secret, not whatever the CSRF cookie holds, so a sender that can plant a
// cookie (and omits Sec-Fetch-Site) cannot choose the token; and a token in
// the query string of a POST is refused even when it is the right one.
func TestCSRFBoundToSession(t *testing.T) {
	app := newTestApp(t)
	admin := app.client(t)
	admin.mustLogin("admin@example.com")
	tok := app.demoToken(t, "CI pipeline")
	path := "/settings/api-tokens/" + tok.ID + "/disable"
	form, r := admin.confirmForm(path)
	if r.StatusCode != http.StatusOK || form.Get("_csrf") == "" {
		t.Fatalf("confirm page = %d, form %v", r.StatusCode, form)
	}
	good := form.Get("_csrf")
	if ck := admin.cookie(CSRFCookie); ck != nil && ck.Value == good {
		t.Fatal("the logged-in form's token is the CSRF cookie's value")
	}

	// A planted cookie with a token of the sender's choosing, no
	// Sec-Fetch-Site (an old browser, a non-browser client).
	planted := strings.Repeat("P", csrfLen)
	admin.setCookie(CSRFCookie, planted)
	forged := url.Values{"_csrf": {planted}, "version": {form.Get("version")}, "reason": {"forged"}}
	req, _ := http.NewRequest(http.MethodPost, app.srv.URL+path, strings.NewReader(forged.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if r := admin.do(req); r.StatusCode != http.StatusForbidden {
		t.Errorf("planted cookie and matching token = %d, want 403", r.StatusCode)
	}

	// Another session's token is not this one's.
	other := app.client(t)
	other.mustLogin("operator@example.com")
	otherForm, _ := other.confirmForm(path)
	if otherForm.Get("_csrf") == good {
		t.Fatal("two sessions share a CSRF token")
	}
	form2 := url.Values{"_csrf": {otherForm.Get("_csrf")}, "version": {form.Get("version")}}
	if r := admin.post(path, form2); r.StatusCode != http.StatusForbidden {
		t.Errorf("another session's token = %d, want 403", r.StatusCode)
	}

	// The right token, but in the query string.
	q := url.Values{"version": {form.Get("version")}}
	if r := admin.post(path+"?_csrf="+url.QueryEscape(good), q); r.StatusCode != http.StatusForbidden ||
		!strings.Contains(r.body, "sent in the address") {
		t.Errorf("token in the query string = %d, want 403 saying why", r.StatusCode)
	}
	if got, err := app.store.Token(context.Background(), app.acc.ID, tok.ID); err != nil || got.Status != tok.Status {
		t.Fatalf("after refused posts the token is %v (%v), want %v", got.Status, err, tok.Status)
	}

	// A POST's values come from its body only: a version given in the
	// address is not read (the form lacks one).
	if r := admin.post(path+"?version="+form.Get("version"), url.Values{"_csrf": {good}}); r.StatusCode != http.StatusBadRequest {
		t.Errorf("a version in the query string of a POST = %d, want 400 (not read)", r.StatusCode)
	}

	// The session's own token, in the body, works.
	if r := admin.post(path, form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("the session's token = %d, want 303: %s", r.StatusCode, r.body)
	}
	if got, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID); got.Status != store.StatusDisabled {
		t.Errorf("status after disable = %v", got.Status)
	}
}

package handlers

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/store"
)

// demoToken returns the id of the demo token with the given name.
func (a *testApp) demoToken(t testing.TB, name string) store.Token {
	t.Helper()
	page, err := a.store.ListTokens(context.Background(), a.acc.ID, store.TokenQuery{Search: name, Limit: 5})
	if err != nil {
		t.Fatal(err)
	}
	for _, tok := range page.Tokens {
		if tok.Name == name {
			return tok
		}
	}
	t.Fatalf("no demo token %q", name)
	return store.Token{}
}

func (a *testApp) countEvents(t testing.TB, objectID, event string) int {
	t.Helper()
	var n int
	if err := a.store.DB().QueryRow(`SELECT COUNT(*) FROM audit_records WHERE object_id = ? AND event = ?`, objectID, event).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func TestTokenTabs(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	tok := app.demoToken(t, "Partner portal EU")
	base := "/settings/api-tokens/" + tok.ID
	cases := []struct {
		path, current string
		check         func(*goquery.Document) string
	}{
		{base, "General", func(d *goquery.Document) string {
			if got := d.Find("#endpoint").Text(); got != "http://gatehouse.test/public/v1" {
				return "endpoint " + got
			}
			if !strings.Contains(d.Find(".prewrap").Text(), "EU partner portal") {
				return "no description"
			}
			return ""
		}},
		{base + "/general", "General", nil},
		{base + "/modules", "Modules", func(d *goquery.Document) string {
			if got := words(d.Find("table.grid tbody")); got != "Account management MOD-9042 Manage the licensees and other account objects" {
				return "modules " + got
			}
			return ""
		}},
		{base + "/details", "Details", func(d *goquery.Document) string {
			text := words(d.Find(".fields"))
			for _, want := range []string{"Created", "by Priya Shah", "Last updated", "Last access", "from 192.0.2.181", "PartnerPortal/2.0"} {
				if !strings.Contains(text, want) {
					return "details lack " + want + ": " + text
				}
			}
			return ""
		}},
		{base + "/audit", "Audit trail", func(d *goquery.Document) string {
			if n := d.Find("table.audit-grid tbody tr").Length(); n != 3 {
				return "audit rows " + squash(d.Find("table.audit-grid tbody").Text())
			}
			return ""
		}},
	}
	for _, tc := range cases {
		r := c.get(tc.path)
		if r.StatusCode != http.StatusOK {
			t.Errorf("%s = %d", tc.path, r.StatusCode)
			continue
		}
		d := r.doc(t)
		nav := d.Find(`nav.tabs[aria-label]`)
		if got := squash(nav.Find(`[aria-current="page"]`).Text()); got != tc.current {
			t.Errorf("%s: current tab %q, want %q", tc.path, got, tc.current)
		}
		if nav.Find("a").Length() != 4 {
			t.Errorf("%s: %d tabs", tc.path, nav.Find("a").Length())
		}
		if got := words(d.Find(".detail-title")); got != "API token "+tok.ID+" Partner portal EU Active" {
			t.Errorf("%s: header %q", tc.path, got)
		}
		if got := words(d.Find(".summary-card")); !strings.Contains(got, "Northwind Traders "+app.acc.ID) {
			t.Errorf("%s: summary %q", tc.path, got)
		}
		if r.Header.Get("Cache-Control") != "no-store" {
			t.Errorf("%s: Cache-Control %q", tc.path, r.Header.Get("Cache-Control"))
		}
		if tc.check != nil {
			if msg := tc.check(d); msg != "" {
				t.Errorf("%s: %s", tc.path, msg)
			}
		}
	}
}

func TestTokenNotFound(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	var deleted, foreign string
	app.store.DB().QueryRow(`SELECT id FROM api_tokens WHERE status = 'Deleted'`).Scan(&deleted)
	app.store.DB().QueryRow(`SELECT id FROM api_tokens WHERE account_id = ?`, app.other.ID).Scan(&foreign)
	live := app.demoToken(t, "CI pipeline").ID
	for _, path := range []string{
		"/settings/api-tokens/TKN-0000-0000",
		"/settings/api-tokens/TKN-0000-0000/audit",
		"/settings/api-tokens/" + deleted + "/edit",
		"/settings/api-tokens/" + deleted + "/disable",
		"/settings/api-tokens/" + foreign,
		"/settings/api-tokens/" + foreign + "/audit",
		"/settings/api-tokens/not-an-id",
		"/settings/api-tokens/" + live + "/secrets",
	} {
		r := c.get(path)
		if r.StatusCode != http.StatusNotFound || !strings.Contains(r.body, "Page not found") {
			t.Errorf("%s = %d, want the 404 page", path, r.StatusCode)
		}
	}
	tok := c.csrfFrom("/settings/api-tokens/" + live)
	for _, id := range []string{deleted, foreign} {
		r := c.post("/settings/api-tokens/"+id+"/reveal", url.Values{"_csrf": {tok}})
		if r.StatusCode != http.StatusNotFound {
			t.Errorf("reveal %s = %d, want 404", id, r.StatusCode)
		}
	}
}

func TestTokenBackLinkKeepsListQuery(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	list := c.get("/settings/api-tokens?q=e&order=name&size=5&page=2").doc(t)
	href, ok := list.Find("table.grid tbody a.cell-title").First().Attr("href")
	if !ok || !strings.Contains(href, "?list=") {
		t.Fatalf("row link %q carries no list query", href)
	}
	d := c.get(href).doc(t)
	if back, _ := d.Find("a.back-link").Attr("href"); back != "/settings/api-tokens?order=name&page=2&q=e&size=5" {
		t.Errorf("back link = %q", back)
	}
	// The tabs carry it along.
	modules, _ := d.Find(`nav.tabs a`).Eq(1).Attr("href")
	d = c.get(modules).doc(t)
	if back, _ := d.Find("a.back-link").Attr("href"); back != "/settings/api-tokens?order=name&page=2&q=e&size=5" {
		t.Errorf("back link from the Modules tab = %q", back)
	}
	// Junk in the list parameter is dropped, not echoed.
	id := app.demoToken(t, "CI pipeline").ID
	d = c.get("/settings/api-tokens/" + id + "?list=" + url.QueryEscape("next=//evil.example&q=ok&order=x")).doc(t)
	if back, _ := d.Find("a.back-link").Attr("href"); back != "/settings/api-tokens?q=ok" {
		t.Errorf("sanitised back link = %q", back)
	}
}

func TestTokenActionsByRole(t *testing.T) {
	app := newTestApp(t)
	id := app.demoToken(t, "CI pipeline").ID
	cases := []struct {
		email                      string
		edit, menu, delete, reveal bool
	}{
		{"admin@example.com", true, true, true, true},
		{"operator@example.com", false, true, false, false},
		{"viewer@example.com", false, false, false, false},
	}
	for _, tc := range cases {
		c := app.client(t)
		c.mustLogin(tc.email)
		d := c.get("/settings/api-tokens/" + id).doc(t)
		has := func(sel string) bool { return d.Find(sel).Length() > 0 }
		if has(`a[href$="/edit"]`) != tc.edit || has("details.menu") != tc.menu ||
			has(`a[href*="/delete?"]`) != tc.delete || has("form[data-reveal]") != tc.reveal || has("[data-copy-secret]") != tc.reveal {
			t.Errorf("%s: edit %v menu %v delete %v reveal %v", tc.email,
				has(`a[href$="/edit"]`), has("details.menu"), has(`a[href*="/delete?"]`), has("form[data-reveal]"))
		}
		if strings.Contains(d.Text(), "idt:"+id+":") && !strings.Contains(d.Find("#token-value").Text(), "••••") {
			t.Errorf("%s: the value is on the page", tc.email)
		}
	}
}

func TestRevealValue(t *testing.T) {
	app := newTestApp(t)
	tok := app.demoToken(t, "CI pipeline")
	path := "/settings/api-tokens/" + tok.ID
	var sealed []byte
	app.store.DB().QueryRow(`SELECT secret_sealed FROM api_tokens WHERE id = ?`, tok.ID).Scan(&sealed)
	want, err := app.sealer.Open(tok.ID, sealed)
	if err != nil {
		t.Fatal(err)
	}

	admin := app.client(t)
	admin.mustLogin("admin@example.com")
	csrf := admin.csrfFrom(path)

	// Without JavaScript: a form post, then the page with the value.
	r := admin.post(path+"/reveal", url.Values{"_csrf": {csrf}, "purpose": {"show"}})
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("reveal = %d, want a 303", r.StatusCode)
	}
	r = admin.get(r.Header.Get("Location"))
	if r.StatusCode != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" {
		t.Fatalf("the page of the reveal = %d, Cache-Control %q", r.StatusCode, r.Header.Get("Cache-Control"))
	}
	d := r.doc(t)
	if got := d.Find("#token-value").Text(); got != want {
		t.Errorf("shown value = %q, want the token's value", got)
	}
	if href, _ := d.Find("a[data-hide]").Attr("href"); href != path+"/general" {
		t.Errorf("Hide link = %q", href)
	}
	// With JavaScript: JSON.
	r = admin.post(path+"/reveal", url.Values{"_csrf": {csrf}, "purpose": {"copy"}}, "Accept", "application/json")
	var body struct{ Value string }
	if err := json.Unmarshal([]byte(r.body), &body); err != nil || body.Value != want {
		t.Errorf("JSON reveal = %d %q", r.StatusCode, r.body)
	}
	if n := app.countEvents(t, tok.ID, store.EventTokenValueViewed); n != 2 {
		t.Errorf("%d value-viewed records, want 2 (show and copy)", n)
	}
	var summaries string
	app.store.DB().QueryRow(`SELECT string_agg(summary || details, ' ') FROM audit_records WHERE object_id = ?`, tok.ID).Scan(&summaries)
	if !strings.Contains(summaries, "was shown") || !strings.Contains(summaries, "was copied") {
		t.Errorf("audit summaries %q do not say shown and copied", summaries)
	}
	secret := want[strings.LastIndex(want, ":")+1:]
	var leaked int
	app.store.DB().QueryRow(`SELECT COUNT(*) FROM audit_records WHERE details LIKE ? OR summary LIKE ?`, "%"+secret+"%", "%"+secret+"%").Scan(&leaked)
	if leaked != 0 || strings.Contains(app.logs.String(), secret) {
		t.Error("the secret reached an audit record or the log")
	}

	// Without the CSRF token: refused, nothing recorded.
	if r := admin.post(path+"/reveal", url.Values{"purpose": {"show"}}); r.StatusCode != http.StatusForbidden || strings.Contains(r.body, secret) {
		t.Errorf("reveal without CSRF = %d", r.StatusCode)
	}
	// Operators and viewers: 403, nothing recorded, no value.
	for _, email := range []string{"operator@example.com", "viewer@example.com"} {
		c := app.client(t)
		c.mustLogin(email)
		csrf := c.csrfFrom(path)
		r := c.post(path+"/reveal", url.Values{"_csrf": {csrf}}, "Accept", "application/json")
		if r.StatusCode != http.StatusForbidden || strings.Contains(r.body, secret) {
			t.Errorf("%s reveal = %d", email, r.StatusCode)
		}
	}
	if n := app.countEvents(t, tok.ID, store.EventTokenValueViewed); n != 2 {
		t.Errorf("%d value-viewed records after refused reveals, want still 2", n)
	}
}

// TestRevealWithoutJavaScriptRedirects: Show without JavaScript posts, and
// the answer is a redirect to a GET of the page that shows the value once:
// the value is in no URL, Reload shows the page masked (not an error), and
// each Show writes one value-viewed record.
func TestRevealWithoutJavaScriptRedirects(t *testing.T) {
	app := newTestApp(t)
	tok := app.demoToken(t, "Helpdesk integration")
	path := "/settings/api-tokens/" + tok.ID
	var sealed []byte
	app.store.DB().QueryRow(`SELECT secret_sealed FROM api_tokens WHERE id = ?`, tok.ID).Scan(&sealed)
	value, err := app.sealer.Open(tok.ID, sealed)
	if err != nil {
		t.Fatal(err)
	}
	secret := value[strings.LastIndex(value, ":")+1:]
	c := app.client(t)
	c.mustLogin("admin@example.com")
	csrf := c.csrfFrom(path)

	for show := 1; show <= 2; show++ {
		r := c.post(path+"/reveal", url.Values{"_csrf": {csrf}, "purpose": {"show"}})
		loc := r.Header.Get("Location")
		u, _ := url.Parse(loc)
		if r.StatusCode != http.StatusSeeOther || u == nil || u.Path != path+"/general" || strings.Contains(loc, secret) {
			t.Fatalf("Show %d = %d %q, want a 303 to the General tab", show, r.StatusCode, loc)
		}
		if strings.Contains(r.body, secret) {
			t.Error("the redirect carries the value")
		}
		r = c.get(loc)
		d := r.doc(t)
		if r.StatusCode != http.StatusOK || r.Header.Get("Cache-Control") != "no-store" || d.Find("#token-value").Text() != value {
			t.Fatalf("Show %d: the page = %d, Cache-Control %q, value shown %v", show, r.StatusCode, r.Header.Get("Cache-Control"), d.Find("#token-value").Text() == value)
		}
		if n := app.countEvents(t, tok.ID, store.EventTokenValueViewed); n != show {
			t.Errorf("after Show %d: %d value-viewed records", show, n)
		}
		// Reload: the page again, the value masked, nothing recorded.
		r = c.get(loc)
		d = r.doc(t)
		if r.StatusCode != http.StatusOK || strings.Contains(r.body, secret) || strings.Contains(r.body, "may have been deleted") {
			t.Errorf("reload after Show %d = %d, value shown %v", show, r.StatusCode, strings.Contains(r.body, secret))
		}
		if !strings.Contains(d.Find("#token-value").Text(), "••••") || d.Find("form[data-reveal]").Length() != 1 {
			t.Errorf("reload after Show %d: the value is not masked, or Show is not offered", show)
		}
		if got := squash(d.Find(".flash-info").Text()); !strings.Contains(got, "Show") {
			t.Errorf("reload after Show %d: notice %q, want one saying to Show again", show, got)
		}
		if n := app.countEvents(t, tok.ID, store.EventTokenValueViewed); n != show {
			t.Errorf("reload after Show %d: %d value-viewed records", show, n)
		}
	}

	// Another session cannot use the redirect.
	r := c.post(path+"/reveal", url.Values{"_csrf": {csrf}, "purpose": {"show"}})
	other := app.client(t)
	other.mustLogin("priya@example.com")
	if r := other.get(r.Header.Get("Location")); r.StatusCode != http.StatusOK || strings.Contains(r.body, secret) {
		t.Errorf("someone else following the redirect = %d, value shown %v", r.StatusCode, strings.Contains(r.body, secret))
	}
	if n := app.countEvents(t, tok.ID, store.EventTokenValueViewed); n != 2 {
		t.Errorf("%d value-viewed records, want 2", n)
	}
}

// A deleted token's history stays reachable: its Audit trail tab is served
// read-only with who deleted it and when, its other tabs lead there, and
// another account's deleted token is still a 404.
func TestDeletedTokenAuditTab(t *testing.T) {
	app := newTestApp(t)
	ctx := t.Context()
	var gone, goneName string
	if err := app.store.DB().QueryRow(`SELECT id, name FROM api_tokens WHERE account_id = ? AND status = 'Deleted'`, app.acc.ID).Scan(&gone, &goneName); err != nil {
		t.Fatal(err)
	}
	theirs, _ := app.apiToken(t, app.other.ID, "Their soon deleted token")
	if err := app.store.DeleteToken(ctx, store.SystemActor, app.other.ID, theirs.ID, theirs.Version); err != nil {
		t.Fatal(err)
	}
	c := app.client(t)
	c.mustLogin("admin@example.com")
	audit := "/settings/api-tokens/" + gone + "/audit"
	r := c.get(audit)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("%s = %d, want 200", audit, r.StatusCode)
	}
	d := r.doc(t)
	if name, badge := squash(d.Find(".detail-title h1 > span").First().Text()), squash(d.Find(".detail-title h1 .badge").Text()); name != goneName || badge != "Deleted" {
		t.Errorf("title = %q with badge %q, want the name and a Deleted badge", name, badge)
	}
	banner := d.Find(".deleted-banner")
	// The demo's operator deleted it.
	if text := words(banner); !strings.Contains(text, "Deleted by Oliver Perez") || banner.Find("time[datetime]").Length() != 1 ||
		!regexp.MustCompile(`\) at \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d UTC — it can`).MatchString(squash(banner.Text())) {
		t.Errorf("banner = %q, want who deleted it and when", text)
	}
	if href, _ := banner.Find("a").Attr("href"); href != "/settings/audit-trail?object="+gone {
		t.Errorf("banner link = %q, want the account trail filtered by the token", href)
	}
	// Read-only: no Edit, no action menu, no Show, and no other tab.
	if n := d.Find(".detail-actions, form[data-reveal], details[data-menu]").Length(); n != 0 {
		t.Errorf("%d action elements on a deleted token's page", n)
	}
	if got := squash(d.Find("nav.tabs").Text()); got != "Audit trail" {
		t.Errorf("tabs = %q, want only the Audit trail", got)
	}
	var events []string
	d.Find("table.audit-grid tbody .event").Each(func(_ int, s *goquery.Selection) { events = append(events, squash(s.Text())) })
	if strings.Join(events, ",") != "deleted,created" {
		t.Errorf("events = %v, want deleted then created", events)
	}
	// Its filters work as on a live token's tab.
	if n := c.get(audit + "?event=created").doc(t).Find("table.audit-grid tbody tr").Length(); n != 1 {
		t.Errorf("%d created records, want 1", n)
	}
	// The other tabs, and the bare page, lead to the audit trail.
	for _, p := range []string{"", "/general", "/modules", "/details"} {
		r := c.get("/settings/api-tokens/" + gone + p)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != audit {
			t.Errorf("%s = %d %q, want 303 to %s", p, r.StatusCode, r.Header.Get("Location"), audit)
		}
	}
	// A record of it links back to its audit trail, not to a 404.
	link, _ := d.Find("table.audit-grid tbody td.cell-action a").First().Attr("href")
	if href, _ := c.get(link).doc(t).Find(".fields a.cell-main").Attr("href"); href != audit {
		t.Errorf("record page object link = %q, want %s", href, audit)
	}
	// Another account's deleted token, and its tabs, stay 404.
	for _, p := range []string{"", "/audit", "/general"} {
		if r := c.get("/settings/api-tokens/" + theirs.ID + p); r.StatusCode != http.StatusNotFound {
			t.Errorf("another account's deleted token%s = %d, want 404", p, r.StatusCode)
		}
	}
}

package main

// Browser tests: the console as a user sees it in Chromium, against the demo
// data of store/demo.go (SPEC §3.1, §3.2, §6).

import (
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// The demo account Northwind Traders has these 13 live tokens, newest first
// (the list's default order). "Old test token" is deleted, and the tokens of
// the second demo account, Globex Software, belong to another account: neither
// may ever show.
var demoTokensNewestFirst = []string{
	"Access review bot",
	"Notifications relay",
	"Data warehouse export",
	"Staging smoke tests",
	"O'Reilly reseller feed",
	`Marketing site "Buy now" widget`,
	"Nightly license report",
	"Helpdesk integration",
	"Partner portal EU",
	"Grafana exporter",
	"CI pipeline",
	"Production billing sync",
	"Legacy ERP connector",
}

const demoPassword = "gatehouse-demo"

// CSS selectors for what the list page shows.
const (
	rowSel       = "table tbody tr"
	rowNameSel   = "table tbody tr .cell-token .cell-title"
	rowStatusSel = "table tbody tr .badge"
	rangeSel     = ".pager-range"
	pageSel      = `nav[aria-label="Pages"] [aria-current="page"]`
)

// XPath selectors for controls, found by the label a user reads.
const (
	nextLink     = `//nav[@aria-label="Pages"]//a[normalize-space(.)="Next"]`
	logOutButton = `//header//form[@action="/logout"]//button[normalize-space(.)="Log out"]`
	nameHeader   = `//table/thead//th/a[starts-with(normalize-space(.), "API token")]`
	clearAllLink = `//main//a[normalize-space(.)="Clear search and filters"]`
)

// sortState returns the aria-sort of the column header whose text starts
// with label ("" when it has none).
func (b *browserTest) sortState(label string) string {
	b.t.Helper()
	s := eval[*string](b, `(() => {
		const th = Array.from(document.querySelectorAll("table thead th")).filter(th => th.textContent.trim().startsWith(`+jsString(label)+`));
		if (th.length !== 1) throw new Error(th.length + " column headers start with the label");
		return th[0].getAttribute("aria-sort");
	})()`)
	if s == nil {
		return ""
	}
	return *s
}

// controls counts the links and buttons labelled exactly label, shown or in
// a closed menu.
func (b *browserTest) controls(label string) int {
	b.t.Helper()
	return eval[int](b, `Array.from(document.querySelectorAll("a, button, summary")).filter(e => e.textContent.trim() === `+jsString(label)+`).length`)
}

// names returns the token names shown in the list, in order.
func (b *browserTest) names() []string {
	b.t.Helper()
	return b.texts(rowNameSel)
}

// wantText fails the test unless the one element the selector matches shows
// exactly want.
func (b *browserTest) wantText(css, want string) {
	b.t.Helper()
	if got := b.text(css); got != want {
		b.t.Errorf("%s shows %q, want %q", css, got, want)
	}
}

// wantNames fails the test unless the list shows exactly these tokens, in
// this order.
func (b *browserTest) wantNames(want []string) {
	b.t.Helper()
	if got := b.names(); !slices.Equal(got, want) {
		b.t.Errorf("the list shows %d tokens %q,\nwant %d tokens %q", len(got), got, len(want), want)
	}
}

// wantQuery fails the test unless the browser's URL is the token list with
// exactly the given query parameters. Empty ones (the filter form sends
// q=&status=&module= with its defaults) are left out of the comparison.
func (b *browserTest) wantQuery(want map[string]string) {
	b.t.Helper()
	u := b.location()
	if u.Path != "/settings/api-tokens" {
		b.t.Errorf("the browser is at %s, want the token list", u)
		return
	}
	got := map[string]string{}
	for k, vs := range u.Query() {
		if len(vs) != 1 || vs[0] != "" {
			got[k] = strings.Join(vs, ",")
		}
	}
	if len(got) != len(want) {
		b.t.Errorf("URL %s has query %v, want %v", u, got, want)
		return
	}
	for k, v := range want {
		if got[k] != v {
			b.t.Errorf("URL %s has query %v, want %v", u, got, want)
			return
		}
	}
}

func TestBrowserLoginShowsTokenList(t *testing.T) {
	b := newBrowserTest(t)

	// A visitor at / is sent to the login page.
	b.open("/")
	if u := b.location(); u.Path != "/login" {
		t.Fatalf("/ led a visitor to %s, want the login page", u)
	}
	b.wantText("h1", "Log in")

	b.submitLogin("admin@example.com", demoPassword)
	if u := b.location(); u.Path != "/settings/api-tokens" {
		t.Fatalf("after logging in the browser is at %s, want /settings/api-tokens; the page says %q", u, b.text("main"))
	}
	if h := b.text("main h1"); !strings.HasPrefix(h, "API tokens") {
		t.Errorf("the heading is %q, want API tokens", h)
	}
	b.wantText("header .topbar-account-name", "Northwind Traders")
	if u := b.text("header .topbar-user-name"); !strings.HasPrefix(u, "Alex Morgan") {
		t.Errorf("the top bar shows the user %q, want Alex Morgan", u)
	}
	if n := b.count(rowSel); n != 10 {
		t.Errorf("the first page has %d rows, want 10", n)
	}
	b.wantNames(demoTokensNewestFirst[:10])
	b.wantText(rangeSel, "1–10 of 13 rows")
	b.wantText(pageSel, "Page 1 of 2")
	if n := b.controls("Add"); n != 1 {
		t.Errorf("an administrator is offered %d Add buttons, want 1", n)
	}

	// Every live token of the account shows, and nothing else: not the
	// deleted one, not another account's.
	b.open("/settings/api-tokens?size=25")
	b.wantNames(demoTokensNewestFirst)
	b.wantText(rangeSel, "1–13 of 13 rows")
	page := b.text("body")
	for _, hidden := range []string{"Old test token", "Globex", "Hank Scorpio"} {
		if strings.Contains(page, hidden) {
			t.Errorf("the token list shows %q, which is deleted or belongs to another account", hidden)
		}
	}
}

func TestBrowserLoginWrongPassword(t *testing.T) {
	b := newBrowserTest(t)
	b.open("/login")
	b.submitLogin("admin@example.com", "not-the-password")

	if u := b.location(); u.Path != "/login" {
		t.Fatalf("a wrong password led to %s, want the login page again", u)
	}
	b.wantText(`[role="alert"]`, "The email or password is not correct.")
	if got := b.value("#email"); got != "admin@example.com" {
		t.Errorf("the email field holds %q after the failed login, want what was typed, admin@example.com", got)
	}
	if got := b.value("#password"); got != "" {
		t.Errorf("the password field holds %q after the failed login, want it empty", got)
	}
	if n := b.count("table"); n != 0 {
		t.Errorf("a wrong password shows a table")
	}
}

func TestBrowserSearch(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)

	b.andWait("search for billing", chromedp.SendKeys(chromedp.CSS("#q"), "billing\n"))
	b.wantNames([]string{"Production billing sync"})
	b.wantQuery(map[string]string{"q": "billing"})
	b.wantText(rangeSel, "1–1 of 1 rows")

	// The view lives in the URL: a reload shows the same.
	b.reload()
	b.wantQuery(map[string]string{"q": "billing"})
	b.wantNames([]string{"Production billing sync"})
	if got := b.value("#q"); got != "billing" {
		t.Errorf("after a reload the search box holds %q, want billing", got)
	}

	b.do(clearField("#q"))
	b.andWait("search for zzz-nothing", chromedp.SendKeys(chromedp.CSS("#q"), "zzz-nothing\n"))
	b.wantQuery(map[string]string{"q": "zzz-nothing"})
	if n := b.count(rowSel); n != 0 {
		t.Errorf("a search that matches nothing shows %d rows", n)
	}
	b.wantText("main .empty-state h2", "No API tokens match")
	b.click(clearAllLink)
	b.wantQuery(map[string]string{})
	b.wantNames(demoTokensNewestFirst[:10])
	b.wantText(rangeSel, "1–10 of 13 rows")
	if got := b.value("#q"); got != "" {
		t.Errorf("after clearing, the search box holds %q, want it empty", got)
	}
}

func TestBrowserFilterByStatus(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)

	// With JavaScript on, choosing a status applies it at once.
	b.andWait("choose status Disabled", chromedp.SetValue(chromedp.CSS("#status"), "Disabled"))
	b.wantQuery(map[string]string{"status": "Disabled"})
	b.wantNames([]string{`Marketing site "Buy now" widget`, "Legacy ERP connector"})
	for _, s := range b.texts(rowStatusSel) {
		if s != "Disabled" {
			t.Errorf("filtered by Disabled, the list shows a %q badge", s)
		}
	}
	if got := b.value("#status"); got != "Disabled" {
		t.Errorf("the status filter shows %q, want Disabled", got)
	}
	b.wantText(rangeSel, "1–2 of 2 rows")
}

func TestBrowserSortByName(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)

	byName := func(a, b string) int { return strings.Compare(strings.ToLower(a), strings.ToLower(b)) }
	sorted := slices.Clone(demoTokensNewestFirst)
	slices.SortFunc(sorted, byName)

	b.click(nameHeader)
	b.wantQuery(map[string]string{"order": "name"})
	got := b.names()
	if !slices.IsSortedFunc(got, byName) {
		t.Errorf("sorted by name, the list shows %q, not in ascending order", got)
	}
	b.wantNames(sorted[:10])
	if s := b.sortState("API token"); s != "ascending" {
		t.Errorf("the API token column has aria-sort=%q, want ascending", s)
	}

	b.click(nameHeader)
	b.wantQuery(map[string]string{"order": "-name"})
	slices.Reverse(sorted)
	b.wantNames(sorted[:10])
	if s := b.sortState("API token"); s != "descending" {
		t.Errorf("the API token column has aria-sort=%q, want descending", s)
	}
	if n := b.count("table thead th[aria-sort]"); n != 1 {
		t.Errorf("%d column headers have aria-sort, want only the sorted one", n)
	}
}

func TestBrowserPaging(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)

	b.click(nextLink)
	b.wantQuery(map[string]string{"page": "2"})
	b.wantText(rangeSel, "11–13 of 13 rows")
	b.wantText(pageSel, "Page 2 of 2")
	b.wantNames(demoTokensNewestFirst[10:])
	if n := b.count(`nav[aria-label="Pages"] a[rel="prev"]`); n != 1 {
		t.Errorf("on the last page Previous is not a link")
	}
	if n := b.count(`nav[aria-label="Pages"] a[rel="next"]`); n != 0 {
		t.Errorf("on the last page Next is still a link")
	}

	b.andWait("choose 5 rows per page", chromedp.SetValue(chromedp.CSS("#size"), "5"))
	b.wantQuery(map[string]string{"size": "5"})
	b.wantText(pageSel, "Page 1 of 3")
	b.wantText(rangeSel, "1–5 of 13 rows")
	b.wantNames(demoTokensNewestFirst[:5])

	// Back returns to the view before: the second page of ten.
	b.back()
	b.wantQuery(map[string]string{"page": "2"})
	b.wantText(pageSel, "Page 2 of 2")
	b.wantText(rangeSel, "11–13 of 13 rows")
	b.wantNames(demoTokensNewestFirst[10:])
}

func TestBrowserBackShowsTheControlsOfThePage(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)

	b.click(nextLink)
	b.andWait("choose 5 rows per page", chromedp.SetValue(chromedp.CSS("#size"), "5"))
	b.back()
	b.wantText(pageSel, "Page 2 of 2")
	if got := b.value("#size"); got != "10" {
		t.Errorf("after Back the page shows 10 rows a page, but the rows-per-page box shows %q", got)
	}

	b.andWait("choose status Disabled", chromedp.SetValue(chromedp.CSS("#status"), "Disabled"))
	b.back()
	b.wantText(rangeSel, "11–13 of 13 rows")
	if got := b.value("#status"); got != "" {
		t.Errorf("after Back the page shows every status, but the status filter shows %q", got)
	}
}

func TestBrowserLogout(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	session, ok := b.cookie("gatehouse_session")
	if !ok || session.Value == "" {
		t.Fatal("no session cookie after logging in")
	}

	b.click(logOutButton)
	if u := b.location(); u.Path != "/login" {
		t.Fatalf("Log out led to %s, want the login page", u)
	}
	b.wantText(`main [role="status"]`, "You have been logged out.")

	b.open("/settings/api-tokens")
	if u := b.location(); u.Path != "/login" {
		t.Fatalf("after logging out, the token list led to %s, want the login page", u)
	}
	b.wantText("h1", "Log in")

	// The session ended on the server: the old cookie, put back, is worthless.
	b.setCookie("gatehouse_session", session.Value)
	b.open("/settings/api-tokens")
	if u := b.location(); u.Path != "/login" {
		t.Fatalf("with the session cookie of before the logout, the token list led to %s, want the login page", u)
	}
	b.wantText("h1", "Log in")
	if n := b.count("table"); n != 0 {
		t.Errorf("with the old session cookie, the page shows a table of tokens")
	}
}

func TestBrowserBackAfterLogoutShowsNoTokens(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	b.click(logOutButton)
	b.wantText(`main [role="status"]`, "You have been logged out.")

	// Someone else at the same computer presses Back.
	b.back()
	if n := b.count(rowSel); n != 0 {
		t.Errorf("after logging out, Back shows the token list (%d rows) at %s", n, b.location())
	}
}

func TestBrowserViewerSeesList(t *testing.T) {
	b := newBrowserTest(t)
	b.login("viewer@example.com", demoPassword)

	if u := b.text("header .topbar-user-name"); !strings.HasPrefix(u, "Vera Quinn") {
		t.Errorf("the top bar shows the user %q, want Vera Quinn", u)
	}
	b.wantText("header .topbar-account-name", "Northwind Traders")
	b.wantNames(demoTokensNewestFirst[:10])
	b.wantText(rangeSel, "1–10 of 13 rows")
	b.wantText(pageSel, "Page 1 of 2")

	// Read only: no Add, no rows to select for bulk actions, and no row
	// action that changes a token (SPEC §3.2: "only where the role allows").
	for _, label := range []string{"Add", "Enable", "Disable", "Edit", "Delete"} {
		if n := b.controls(label); n != 0 {
			t.Errorf("a viewer is offered %d %q controls", n, label)
		}
	}
	if n := b.count(`table input[type="checkbox"]`); n != 0 {
		t.Errorf("a viewer can select %d rows for bulk actions", n)
	}
}

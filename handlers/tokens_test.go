package handlers

import (
	"context"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/store"
)

func rowNames(doc *goquery.Document) []string {
	var out []string
	doc.Find("table.grid tbody tr .cell-title").Each(func(_ int, s *goquery.Selection) {
		out = append(out, s.Text())
	})
	return out
}

func squash(s string) string { return strings.Join(strings.Fields(s), " ") }

// words is the text of a selection with its text nodes kept apart, as a
// reader sees separate elements.
func words(s *goquery.Selection) string {
	var parts []string
	var walk func(*goquery.Selection)
	walk = func(sel *goquery.Selection) {
		sel.Contents().Each(func(_ int, n *goquery.Selection) {
			if goquery.NodeName(n) == "#text" {
				parts = append(parts, n.Text())
			} else {
				walk(n)
			}
		})
	}
	walk(s)
	return squash(strings.Join(parts, " "))
}

func TestListShowsTheAccountsLiveTokens(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	r := c.get("/settings/api-tokens?size=100")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	doc := r.doc(t)
	if got := squash(doc.Find("h1").Text()); got != "API tokens 13 tokens" {
		t.Errorf("heading = %q, want the title with the row count 13", got)
	}
	var headers []string
	doc.Find("table.grid thead th").Each(func(_ int, s *goquery.Selection) {
		headers = append(headers, strings.TrimSpace(s.Contents().Not(".visually-hidden").Text()))
	})
	for i := range headers {
		headers[i] = strings.TrimSpace(strings.Split(headers[i], "(")[0])
	}
	// A viewer may do nothing to a token: the list has no Actions column.
	if want := []string{"API token", "Modules", "Created by", "Date created", "Last access", "Status"}; !slices.Equal(headers, want) {
		t.Errorf("columns = %q, want %q", headers, want)
	}
	names := rowNames(doc)
	if len(names) != 13 {
		t.Fatalf("%d rows, want 13: %v", len(names), names)
	}
	for _, hidden := range []string{"Old test token", "Globex catalogue publisher", "Globex access sync"} {
		if slices.Contains(names, hidden) {
			t.Errorf("%q is listed (deleted or another account's)", hidden)
		}
	}
	// One row, cell by cell.
	row := doc.Find("table.grid tbody tr").FilterFunction(func(_ int, s *goquery.Selection) bool {
		return s.Find(".cell-title").Text() == "Production billing sync"
	})
	cells := row.Find("td")
	if cells.Eq(0).Find(".avatar").Text() != "PB" || !regexp.MustCompile(`^TKN-\d{4}-\d{4}$`).MatchString(cells.Eq(0).Find(".cell-sub").Text()) {
		t.Errorf("token cell = %q, want initials PB, the name and the TKN id", squash(cells.Eq(0).Text()))
	}
	if got := squash(cells.Eq(1).Text()); got != "+2 2 modules : Account management, Billing" {
		t.Errorf("modules cell = %q", got)
	}
	// A screen reader hears the count once, then the names a tooltip shows.
	if cells.Eq(1).Find(".chip").AttrOr("aria-hidden", "") != "true" || squash(cells.Eq(1).Find(".visually-hidden").Text()) != ": Account management, Billing" {
		t.Errorf("modules cell for screen readers: chip aria-hidden %q, hidden text %q",
			cells.Eq(1).Find(".chip").AttrOr("aria-hidden", ""), squash(cells.Eq(1).Find(".visually-hidden").Text()))
	}
	if title, _ := cells.Eq(1).Find("[title]").Attr("title"); title != "Account management, Billing" {
		t.Errorf("modules tooltip = %q", title)
	}
	if !regexp.MustCompile(`^Alex Morgan USR-\d{4}-\d{4}$`).MatchString(squash(cells.Eq(2).Text())) {
		t.Errorf("created-by cell = %q", squash(cells.Eq(2).Text()))
	}
	if dt, _ := cells.Eq(3).Find("time").Attr("datetime"); !regexp.MustCompile(`^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$`).MatchString(dt) {
		t.Errorf("created datetime = %q", dt)
	}
	if !regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d UTC$`).MatchString(squash(cells.Eq(3).Text())) {
		t.Errorf("created cell = %q, want 15 Apr 2023 over 12:34 UTC (app.js shows the viewer's zone)", squash(cells.Eq(3).Text()))
	}
	if got := squash(cells.Eq(5).Text()); got != "Active" || !cells.Eq(5).Find(".badge").HasClass("badge-active") {
		t.Errorf("status cell = %q", got)
	}
	// A single module shows its name and id; none shows a dash; a token never
	// used shows a dash for last access.
	one := doc.Find("tr").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Find(".cell-title").Text() == "CI pipeline" })
	if got := squash(one.Find("td").Eq(1).Text()); got != "Marketplace MOD-0478" {
		t.Errorf("single module cell = %q", got)
	}
	if got := squash(one.Find("td").Eq(2).Text()); !strings.HasPrefix(got, "Oliver Perez") && !strings.HasPrefix(got, "Priya Shah") {
		t.Errorf("CI pipeline created by %q", got)
	}
	none := doc.Find("tr").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Find(".cell-title").Text() == "Staging smoke tests" })
	if got := squash(none.Find("td").Eq(1).Text()); got != "—" {
		t.Errorf("no-module cell = %q", got)
	}
	if got, sr := squash(none.Find("td").Eq(4).Find(`[aria-hidden="true"]`).Text()), squash(none.Find("td").Eq(4).Find(".visually-hidden").Text()); got != "—" || sr != "never" {
		t.Errorf("never-used last access = %q (screen readers: %q), want — and never", got, sr)
	}
	disabled := doc.Find("tr").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Find(".cell-title").Text() == "Legacy ERP connector" })
	if !disabled.Find(".badge").HasClass("badge-disabled") || squash(disabled.Find("td").Eq(2).Text()) != "Gatehouse SYSTEM" {
		t.Errorf("Legacy ERP row = %q", squash(disabled.Text()))
	}
}

func TestListSearchFilterSortPage(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	cases := []struct {
		name, query string
		wantNames   []string // the rows, in order (nil: don't check)
		wantCount   int
		wantRange   string
		wantPage    string
		anyOrder    bool // rows tie on the sort key: compare as a set
	}{
		{"default first page, newest first", "", nil, 10, "1–10 of 13 rows", "Page 1 of 2", false},
		{"second page", "?page=2", nil, 3, "11–13 of 13 rows", "Page 2 of 2", false},
		{"five a page", "?size=5&page=3", nil, 3, "11–13 of 13 rows", "Page 3 of 3", false},
		{"search name (case-insensitive)", "?q=BILLING", []string{"Production billing sync"}, 1, "1–1 of 1 rows", "Page 1 of 1", false},
		{"search description", "?q=year-end", []string{"Legacy ERP connector"}, 1, "1–1 of 1 rows", "Page 1 of 1", false},
		{"short search", "?q=CI", nil, -1, "", "", false},
		{"status filter", "?status=Disabled&order=name", []string{"Legacy ERP connector", `Marketing site "Buy now" widget`}, 2, "1–2 of 2 rows", "Page 1 of 1", false},
		{"module filter", "?module=MOD-4617&order=name", []string{"Grafana exporter", "Helpdesk integration"}, 2, "1–2 of 2 rows", "Page 1 of 1", false},
		{"name ascending", "?order=name&size=5", []string{"Access review bot", "CI pipeline", "Data warehouse export", "Grafana exporter", "Helpdesk integration"}, 5, "1–5 of 13 rows", "Page 1 of 3", false},
		{"name descending", "?order=-name&size=5", []string{"Staging smoke tests", "Production billing sync", "Partner portal EU", "O'Reilly reseller feed", "Notifications relay"}, 5, "1–5 of 13 rows", "Page 1 of 3", false},
		{"oldest first", "?order=created&size=5", []string{"Legacy ERP connector", "Production billing sync", "CI pipeline", "Grafana exporter", "Partner portal EU"}, 5, "1–5 of 13 rows", "Page 1 of 3", false},
		{"never used first when oldest access first", "?order=lastAccess&size=5", []string{"Access review bot", "Grafana exporter", "Staging smoke tests", `Marketing site "Buy now" widget`, "Legacy ERP connector"}, 5, "1–5 of 13 rows", "Page 1 of 3", true},
		{"unknown values fall back", "?order=DROP+TABLE&status=Deleted&module=MOD-XXXX", nil, 10, "1–10 of 13 rows", "Page 1 of 2", false},
		{"SQL in search is just text", "?q=%27+OR+1%3D1+--", nil, 0, "0 rows", "Page 1 of 1", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := c.get("/settings/api-tokens" + tc.query)
			if r.StatusCode != http.StatusOK {
				t.Fatalf("status %d", r.StatusCode)
			}
			doc := r.doc(t)
			names := rowNames(doc)
			if tc.wantCount >= 0 && len(names) != tc.wantCount {
				t.Errorf("%d rows, want %d: %v", len(names), tc.wantCount, names)
			}
			if tc.anyOrder {
				slices.Sort(names)
				slices.Sort(tc.wantNames)
			}
			if tc.wantNames != nil && !slices.Equal(names, tc.wantNames) {
				t.Errorf("rows = %q, want %q", names, tc.wantNames)
			}
			if tc.wantRange != "" {
				if got := squash(doc.Find(".pager-range").Text()); got != tc.wantRange {
					t.Errorf("range = %q, want %q", got, tc.wantRange)
				}
				if got := squash(doc.Find(".pager-pages [aria-current]").Text()); got != tc.wantPage {
					t.Errorf("page = %q, want %q", got, tc.wantPage)
				}
			}
		})
	}
	// The short search finds the CI pipeline through its name.
	if names := rowNames(c.get("/settings/api-tokens?q=ci").doc(t)); !slices.Contains(names, "CI pipeline") {
		t.Errorf("q=ci rows = %v", names)
	}
}

// An out-of-range or malformed page or size redirects to the nearest valid
// page and size, keeping the rest of the query: the URL shows what the page
// shows. A page past the end goes to the last one; a size that is a number
// goes to the nearest allowed size, keeping the first row asked for in view,
// and one that is not goes to the default.
func TestListRedirectsOutOfRangePaging(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	// The demo account has 13 live tokens.
	for _, tc := range []struct{ query, want string }{
		{"page=999&size=7", "page=3&size=5"},
		{"page=99", "page=2"},
		{"page=abc", ""},
		{"page=0", ""},
		{"page=-3", ""},
		{"page=2.5", ""},
		{"page=99999999999999999999", "page=2"},
		{"size=abc", ""},
		{"size=0", "size=5"},
		{"size=1000", "size=100"},
		{"size=30&page=2", "size=25"},
		{"size=7&page=3", "page=3&size=5"},
		{"size=12&page=2", "page=2"},
		{"q=pipeline&status=Active&order=name&page=9&size=7", "order=name&q=pipeline&size=5&status=Active"},
	} {
		r := c.get("/settings/api-tokens?" + tc.query)
		want := "/settings/api-tokens"
		if tc.want != "" {
			want += "?" + tc.want
		}
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != want {
			t.Errorf("?%s = %d %q, want 303 to %q", tc.query, r.StatusCode, r.Header.Get("Location"), want)
		}
	}
	for _, query := range []string{"", "page=1", "page=2", "size=5&page=3", "size=10", "size=100"} {
		if r := c.get("/settings/api-tokens?" + query); r.StatusCode != http.StatusOK {
			t.Errorf("?%s = %d, want 200", query, r.StatusCode)
		}
	}
}

func TestListLinksKeepTheQuery(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	doc := c.get("/settings/api-tokens?q=e&status=Active&size=5&order=name&page=2").doc(t)

	next, _ := doc.Find(`a[rel="next"]`).Attr("href")
	prev, _ := doc.Find(`a[rel="prev"]`).Attr("href")
	if next != "/settings/api-tokens?order=name&page=3&q=e&size=5&status=Active" {
		t.Errorf("next = %q", next)
	}
	if prev != "/settings/api-tokens?order=name&q=e&size=5&status=Active" {
		t.Errorf("prev = %q", prev)
	}
	th := doc.Find(`th[aria-sort]`)
	if th.Length() != 1 || th.AttrOr("aria-sort", "") != "ascending" || !strings.Contains(th.Text(), "API token") {
		t.Errorf("aria-sort header = %q", squash(th.Text()))
	}
	// Clicking the sorted header flips it and goes back to page 1.
	if href, _ := th.Find("a").Attr("href"); href != "/settings/api-tokens?order=-name&q=e&size=5&status=Active" {
		t.Errorf("flip link = %q", href)
	}
	// Date created sorts newest first on its first click (the default order).
	dateLink := doc.Find("th a.sort").FilterFunction(func(_ int, s *goquery.Selection) bool { return strings.Contains(s.Text(), "Date created") })
	if href, _ := dateLink.Attr("href"); href != "/settings/api-tokens?q=e&size=5&status=Active" {
		t.Errorf("date created link = %q", href)
	}
	// The filter form carries order and size; the size form carries the rest.
	form := doc.Find("form.toolbar")
	if v, _ := form.Find(`input[name="order"]`).Attr("value"); v != "name" {
		t.Errorf("filter form order = %q", v)
	}
	if v, _ := form.Find(`input[name="size"]`).Attr("value"); v != "5" {
		t.Errorf("filter form size = %q", v)
	}
	if v, _ := form.Find(`#q`).Attr("value"); v != "e" {
		t.Errorf("search box = %q", v)
	}
	if form.Find(`#status option[selected]`).AttrOr("value", "") != "Active" {
		t.Error("status select lost its value")
	}
	sizeForm := doc.Find("form.pager-size")
	for name, want := range map[string]string{"q": "e", "status": "Active", "order": "name"} {
		if v, _ := sizeForm.Find(`input[name="` + name + `"]`).Attr("value"); v != want {
			t.Errorf("size form %s = %q, want %q", name, v, want)
		}
	}
	if clear, _ := doc.Find(`a`).FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "Clear filters" }).Attr("href"); clear != "/settings/api-tokens?order=name&size=5" {
		t.Errorf("clear filters = %q", clear)
	}
}

func TestListEmptyStates(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()
	acc, err := app.store.CreateAccount(ctx, "Empty Co", store.AccountClient, []string{"MOD-1756"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.store.CreateUser(ctx, store.NewUser{AccountID: acc.ID, Email: "empty@example.com", Name: "Emma Empty", Role: store.RoleAdministrator, Password: store.DemoPassword}); err != nil {
		t.Fatal(err)
	}
	c := app.client(t)
	c.mustLogin("empty@example.com")
	doc := c.get("/settings/api-tokens").doc(t)
	if got := squash(doc.Find(".empty-state h2").Text()); got != "No API tokens yet" {
		t.Errorf("empty account state = %q", got)
	}
	if doc.Find("table.grid").Length() != 0 {
		t.Error("empty account shows a table")
	}

	c2 := app.client(t)
	c2.mustLogin("admin@example.com")
	doc = c2.get("/settings/api-tokens?q=zzz-nothing&status=Active").doc(t)
	if got := squash(doc.Find(".empty-state h2").Text()); got != "No API tokens match" {
		t.Errorf("no-match state = %q", got)
	}
	clear := doc.Find(".empty-state a")
	if href, _ := clear.Attr("href"); href != "/settings/api-tokens" || squash(clear.Text()) != "Clear search and filters" {
		t.Errorf("clear link = %q %q", href, clear.Text())
	}
}

func TestListRendersHostileTextAsText(t *testing.T) {
	app := newTestApp(t)
	// Names are validated on the way in; this one is planted straight into
	// the database, as old data or a future bug might.
	payload := `<script>alert("x")</script><img src=x onerror=alert(1)>`
	if _, err := app.store.DB().Exec(`UPDATE api_tokens SET name = ? WHERE name = 'CI pipeline'`, payload); err != nil {
		t.Fatal(err)
	}
	c := app.client(t)
	c.mustLogin("admin@example.com")
	r := c.get("/settings/api-tokens?size=100&q=" + "%3Cscript%3E")
	if strings.Contains(r.body, "<script>alert") || strings.Contains(r.body, "<img src=x") {
		t.Fatal("the payload was rendered as markup")
	}
	doc := r.doc(t)
	if !slices.Contains(rowNames(doc), payload) {
		t.Errorf("the payload is not shown as text: %v", rowNames(doc))
	}
	if v, _ := doc.Find("#q").Attr("value"); v != "<script>" {
		t.Errorf("search box = %q", v)
	}
	if doc.Find("script:not([src])").Length() != 0 {
		t.Error("the page has an inline script")
	}
}

func TestListRefusesInvalidUTF8Search(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	r := c.get("/settings/api-tokens?q=%FF%FE")
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.body, "not valid UTF-8") {
		t.Errorf("invalid UTF-8 search = %d", r.StatusCode)
	}
}

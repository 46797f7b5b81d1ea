package handlers

import (
	"encoding/csv"
	"encoding/json"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/store"
)

func TestAuditTrailPage(t *testing.T) {
	app := newTestApp(t)
	if err := app.store.SeedTokens(t.Context(), app.sealer, app.acc.ID, 10); err != nil {
		t.Fatal(err)
	}
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	r := c.get("/settings/audit-trail")
	if r.StatusCode != http.StatusOK {
		t.Fatalf("status %d", r.StatusCode)
	}
	d := r.doc(t)
	if squash(d.Find(`.sidenav a[aria-current="page"]`).Text()) != "Audit trail" {
		t.Errorf("nav current = %q", squash(d.Find(`.sidenav a[aria-current="page"]`).Text()))
	}
	var headers []string
	d.Find("table.audit-grid thead th").Each(func(_ int, s *goquery.Selection) { headers = append(headers, squash(s.Text())) })
	if got := strings.Join(headers, "|"); got != "Date|Object|Object type|Actor|Tech details|Summary|Record" {
		t.Errorf("columns = %q", got)
	}
	rows := d.Find("table.audit-grid tbody tr")
	if rows.Length() != auditPageSize {
		t.Errorf("%d rows on the first page, want %d", rows.Length(), auditPageSize)
	}
	// Another account's records never show.
	if strings.Contains(r.body, "Globex") {
		t.Error("another account's records are listed")
	}
	// Newest first, and paging older then newer returns to the same rows.
	recordOf := func(href string) string { return strings.Split(href, "?")[0] }
	first := recordOf(rows.First().Find("td.cell-action a").AttrOr("href", ""))
	older, ok := d.Find(`a[rel="next"]`).Attr("href")
	if !ok {
		t.Fatal("no Older link")
	}
	d2 := c.get(older).doc(t)
	newer, ok := d2.Find(`a[rel="prev"]`).Attr("href")
	if !ok {
		t.Fatal("no Newer link on page 2")
	}
	if got := recordOf(c.get(newer).doc(t).Find("table.audit-grid tbody tr").First().Find("td.cell-action a").AttrOr("href", "")); got != first {
		t.Errorf("Newer from page 2 starts with %q, want %q", got, first)
	}
	if d.Find("#event option").Length() != len(store.AuditEvents)+1 {
		t.Errorf("event filter has %d options", d.Find("#event option").Length())
	}
}

// The account grid links a token's name to its page while the token exists,
// and shows a deleted token's name as plain text.
func TestAuditGridLinksLiveTokens(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	live := app.demoToken(t, "Data warehouse export")
	gone := app.demoToken(t, "Production billing sync")
	if err := app.store.DeleteToken(t.Context(), store.SystemActor, app.acc.ID, gone.ID, gone.Version); err != nil {
		t.Fatal(err)
	}
	objects := func(d *goquery.Document, id string) *goquery.Selection {
		return d.Find("table.audit-grid tbody td.cell-object").FilterFunction(func(_ int, s *goquery.Selection) bool {
			return squash(s.Find(".cell-sub").Text()) == id
		})
	}
	d := c.get("/settings/audit-trail?event=disabled").doc(t)
	cells := objects(d, live.ID)
	if cells.Length() == 0 {
		t.Fatalf("no disable record of %s on the page", live.ID)
	}
	cells.Each(func(_ int, s *goquery.Selection) {
		if href, _ := s.Find("a.cell-main").Attr("href"); href != "/settings/api-tokens/"+live.ID {
			t.Errorf("%s: object link = %q", live.ID, href)
		}
		if squash(s.Find(".cell-main").Text()) != live.Name {
			t.Errorf("%s: object name = %q", live.ID, squash(s.Find(".cell-main").Text()))
		}
	})
	d = c.get("/settings/audit-trail?event=deleted").doc(t)
	cells = objects(d, gone.ID)
	if cells.Length() != 1 {
		t.Fatalf("%d delete records of %s, want 1", cells.Length(), gone.ID)
	}
	if cells.Find("a").Length() != 0 || squash(cells.Find(".cell-main").Text()) != gone.Name {
		t.Errorf("deleted token's object cell = %q, want its name unlinked", squash(cells.Text()))
	}
	// The token's own grid has no object column to link.
	if n := c.get("/settings/api-tokens/" + live.ID + "/audit").doc(t).Find("td.cell-object").Length(); n != 0 {
		t.Errorf("token grid has %d object cells", n)
	}
}

// An account's own records (its modules changed from the command line)
// show in its trail, unlinked, with their object type and a readable
// event, and the event filter finds them; the tokens that lost a module
// have records of their own.
func TestAuditTrailShowsAccountRecords(t *testing.T) {
	app := newTestApp(t)
	tok := app.demoToken(t, "Production billing sync")
	ch, err := app.store.ChangeAccountModules(t.Context(), store.SystemActor, app.acc.ID, nil, []string{"MOD-2210"})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(ch.Tokens, func(r store.TokenRef) bool { return r.ID == tok.ID }) {
		t.Fatalf("%s did not lose MOD-2210: %+v", tok.ID, ch.Tokens)
	}
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	d := c.get("/settings/audit-trail?event=account-updated").doc(t)
	rows := d.Find("table.audit-grid tbody tr")
	if rows.Length() != 1 {
		t.Fatalf("%d account-updated rows, want 1", rows.Length())
	}
	if got := squash(rows.Find(".cell-objtype").Text()); got != store.ObjectTypeAccount {
		t.Errorf("object type = %q", got)
	}
	if got := squash(rows.Find(".cell-object .cell-sub").Text()); got != app.acc.ID || rows.Find(".cell-object a").Length() != 0 {
		t.Errorf("object cell = %q, want the account's id, unlinked", squash(rows.Find(".cell-object").Text()))
	}
	if !strings.Contains(rows.Find(".cell-summary").Text(), "disabled MOD-2210 (Billing)") {
		t.Errorf("summary = %q", squash(rows.Find(".cell-summary").Text()))
	}
	if opt := d.Find(`#event option[value="account-updated"]`); squash(opt.Text()) != "Account updated" || opt.AttrOr("selected", "-") == "-" {
		t.Errorf("event option = %q", squash(opt.Text()))
	}
	d = c.get("/settings/api-tokens/" + tok.ID + "/audit").doc(t)
	if !strings.Contains(d.Find("table.audit-grid tbody tr").First().Text(), "MOD-2210 (Billing) disabled for its account") {
		t.Errorf("the token's newest record = %q", squash(d.Find("table.audit-grid tbody tr").First().Text()))
	}
	// The API lists them too, as its OpenAPI document says (call checks).
	_, value := app.apiToken(t, app.acc.ID, "Auditor", "MOD-1756")
	r := app.call(t, "GET", "/public/v1/audit/records?eq(object.type,Account)", value, "")
	if r.status != http.StatusOK || !strings.Contains(r.body, `"event":"platform.accounts.account.updated"`) {
		t.Errorf("API account records = %d %s", r.status, r.body)
	}
}

func TestAuditFilters(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	d := c.get("/settings/audit-trail?event=disabled").doc(t)
	rows := d.Find("table.audit-grid tbody tr")
	if rows.Length() != 4 {
		t.Errorf("%d disabled records, want 4", rows.Length())
	}
	if got := squash(d.Find(".pager-range").Text()); got != "4 records" {
		t.Errorf("count = %q", got)
	}
	if rows.Find(".event-disabled").Length() != 4 {
		t.Error("a non-disabled record is listed")
	}
	// Dates: a range with nothing in it, then a malformed date.
	if n := c.get("/settings/audit-trail?from=2000-01-01&to=2000-01-31").doc(t).Find("table.audit-grid tbody tr").Length(); n != 0 {
		t.Errorf("%d records in January 2000", n)
	}
	r := c.get("/settings/audit-trail?from=31%2F12%2F2024&event=created")
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed date = %d, want 400", r.StatusCode)
	}
	d = r.doc(t)
	if v, _ := d.Find("#from").Attr("value"); v != "31/12/2024" {
		t.Errorf("from field = %q, want what was typed", v)
	}
	if !strings.Contains(d.Find("#from-error").Text(), "is not a date") || d.Find("#from").AttrOr("aria-invalid", "") != "true" {
		t.Errorf("no field message: %q", d.Find("#from-error").Text())
	}
	if c.get("/settings/audit-trail?from=2026-02-01&to=2026-01-01").StatusCode != http.StatusBadRequest {
		t.Error("a reversed range is accepted")
	}
	// Unknown event and cursor values fall back to defaults.
	if r := c.get("/settings/audit-trail?event=exploded&before=x-y&after=%27"); r.StatusCode != http.StatusOK {
		t.Errorf("junk filters = %d", r.StatusCode)
	}
}

func TestAuditRecordView(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	tok := app.demoToken(t, "Data warehouse export")
	d := c.get("/settings/api-tokens/" + tok.ID + "/audit?event=disabled").doc(t)
	link, ok := d.Find("table.audit-grid tbody td.cell-action a").Attr("href")
	if !ok {
		t.Fatal("no record link")
	}
	r := c.get(link)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("record = %d", r.StatusCode)
	}
	rec := r.doc(t)
	var details map[string]any
	if err := json.Unmarshal([]byte(rec.Find("#record-details").Text()), &details); err != nil {
		t.Fatalf("details are not JSON: %v", err)
	}
	if details["reason"] != "Suspicious traffic from an unknown address" {
		t.Errorf("details = %v", details)
	}
	text := words(rec.Find(".fields"))
	for _, want := range []string{"platform.accounts.api-token.disabled", "Data warehouse export", "Oliver Perez", "192.0.2.1", "chained to"} {
		if !strings.Contains(text, want) {
			t.Errorf("record page lacks %q", want)
		}
	}
	if back, _ := rec.Find("a.back-link").Attr("href"); back != "/settings/api-tokens/"+tok.ID+"/audit?event=disabled" {
		t.Errorf("back = %q", back)
	}
	if rec.Find(`button[data-copy-from="#record-details"]`).Length() != 1 {
		t.Error("no Copy button for the details")
	}
	// Another account's record, a malformed id, an open redirect in back.
	var foreign string
	app.store.DB().QueryRow(`SELECT id FROM audit_records WHERE account_id = ?`, app.other.ID).Scan(&foreign)
	for _, p := range []string{"/settings/audit-trail/" + foreign, "/settings/audit-trail/AUD-1"} {
		if r := c.get(p); r.StatusCode != http.StatusNotFound {
			t.Errorf("%s = %d, want 404", p, r.StatusCode)
		}
	}
	u, _ := url.Parse(link)
	u.RawQuery = "back=" + url.QueryEscape("https://evil.example/")
	if back, _ := c.get(u.String()).doc(t).Find("a.back-link").Attr("href"); back != "/settings/audit-trail" {
		t.Errorf("hostile back = %q", back)
	}
}

func TestAuditExport(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	tok := app.demoToken(t, "Partner portal EU")

	r := c.get("/settings/api-tokens/" + tok.ID + "/audit")
	csvURL, _ := r.doc(t).Find(`a[href*="export.csv"]`).Attr("href")
	if csvURL != "/settings/audit-trail/export.csv?object="+tok.ID {
		t.Fatalf("CSV link = %q", csvURL)
	}
	r = c.get(csvURL)
	if r.StatusCode != 200 || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/csv") || !strings.Contains(r.Header.Get("Content-Disposition"), "attachment") {
		t.Fatalf("CSV = %d %q %q", r.StatusCode, r.Header.Get("Content-Type"), r.Header.Get("Content-Disposition"))
	}
	records, err := csv.NewReader(strings.NewReader(r.body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(records) != 4 || records[0][0] != "id" || records[1][4] != tok.ID {
		t.Errorf("CSV has %d lines: %v", len(records), records)
	}

	r = c.get("/settings/audit-trail/export.json?event=disabled")
	var out []struct {
		ID      string
		Event   string
		Details map[string]any
	}
	if err := json.Unmarshal([]byte(r.body), &out); err != nil {
		t.Fatalf("JSON export does not parse: %v\n%s", err, r.body)
	}
	if len(out) != 4 {
		t.Errorf("JSON export has %d records, want the 4 disabled ones", len(out))
	}
	for _, rec := range out {
		if rec.Event != store.EventTokenDisabled || rec.Details == nil {
			t.Errorf("exported %+v", rec)
		}
	}
	// Empty JSON export is still valid JSON.
	r = c.get("/settings/audit-trail/export.json?from=2000-01-01&to=2000-01-02")
	if strings.TrimSpace(r.body) != "[]" {
		t.Errorf("empty export = %q", r.body)
	}
	// Another account's token id filters to nothing; a malformed one is a 400.
	var foreign string
	app.store.DB().QueryRow(`SELECT id FROM api_tokens WHERE account_id = ?`, app.other.ID).Scan(&foreign)
	if r := c.get("/settings/audit-trail/export.json?object=" + foreign); strings.TrimSpace(r.body) != "[]" {
		t.Errorf("export of another account's token = %q", r.body)
	}
	if r := c.get("/settings/audit-trail/export.csv?object=%27%3B--"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed object = %d", r.StatusCode)
	}
	if r := c.get("/settings/audit-trail/export.csv?from=yesterday"); r.StatusCode != http.StatusBadRequest {
		t.Errorf("malformed date = %d", r.StatusCode)
	}
}

func TestCSVSafe(t *testing.T) {
	for in, want := range map[string]string{"=cmd()": "'=cmd()", "+1": "'+1", "@x": "'@x", "-2": "'-2", "plain": "plain", "": ""} {
		if got := csvSafe(in); got != want {
			t.Errorf("csvSafe(%q) = %q, want %q", in, got, want)
		}
	}
}

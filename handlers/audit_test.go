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
// and a deleted token's name to its (read-only) audit trail.
func TestAuditGridLinksTokens(t *testing.T) {
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
	if href, _ := cells.Find("a.cell-main").Attr("href"); href != "/settings/api-tokens/"+gone.ID+"/audit" || squash(cells.Find(".cell-main").Text()) != gone.Name {
		t.Errorf("deleted token's object cell = %q linking to %q, want its name linking to its audit trail", squash(cells.Text()), href)
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

// gridColumn is the id under one column (cell-object, cell-actor) of each
// row of an audit grid.
func gridColumn(d *goquery.Document, class string) []string {
	var ids []string
	d.Find("table.audit-grid tbody td." + class + " .cell-sub").Each(func(_ int, s *goquery.Selection) { ids = append(ids, squash(s.Text())) })
	return ids
}

// exportedJSON reads a JSON export, failing the test unless it is one.
func exportedJSON(t *testing.T, r response) []exportRecord {
	t.Helper()
	var out []exportRecord
	if r.StatusCode != http.StatusOK || json.Unmarshal([]byte(r.body), &out) != nil {
		t.Fatalf("export = %d %q", r.StatusCode, truncate(r.body, 200))
	}
	return out
}

// The account trail narrows to one object by its id, or to the tokens whose
// name starts with what was typed (ignoring case, deleted tokens included);
// the form keeps the value, the export links carry it, and a value that can
// be no token's name is a 400 that lists nothing.
func TestAuditTrailObjectFilter(t *testing.T) {
	app := newTestApp(t)
	ctx := t.Context()
	twin, _ := app.apiToken(t, app.acc.ID, "Twin feed")
	backup, _ := app.apiToken(t, app.acc.ID, "twin feed backup")
	app.apiToken(t, app.acc.ID, "Twins unrelated")
	if err := app.store.DeleteToken(ctx, store.SystemActor, app.acc.ID, backup.ID, backup.Version); err != nil {
		t.Fatal(err)
	}
	c := app.client(t)
	c.mustLogin("viewer@example.com")

	r := c.get("/settings/audit-trail?object=" + twin.ID)
	if r.StatusCode != http.StatusOK {
		t.Fatalf("object=id = %d", r.StatusCode)
	}
	d := r.doc(t)
	if got := gridColumn(d, "cell-object"); !slices.Equal(got, []string{twin.ID}) {
		t.Errorf("object=%s lists %v, want its one record", twin.ID, got)
	}
	if v, _ := d.Find("#object").Attr("value"); v != twin.ID {
		t.Errorf("object field = %q", v)
	}

	d = c.get("/settings/audit-trail?object=twin+FEED").doc(t)
	got := gridColumn(d, "cell-object")
	if want := []string{backup.ID, backup.ID, twin.ID}; !slices.Equal(got, want) {
		t.Errorf("object=twin FEED lists %v, want %v (the deleted token's too)", got, want)
	}
	if v, _ := d.Find("#object").Attr("value"); v != "twin FEED" {
		t.Errorf("object field = %q, want what was typed", v)
	}

	d = c.get("/settings/audit-trail?object=twin+feed&event=deleted").doc(t)
	if got := gridColumn(d, "cell-object"); !slices.Equal(got, []string{backup.ID}) {
		t.Errorf("object and event list %v", got)
	}
	csvURL, _ := d.Find(`a[href*="export.csv"]`).Attr("href")
	jsonURL, _ := d.Find(`a[href*="export.json"]`).Attr("href")
	if csvURL != "/settings/audit-trail/export.csv?event=deleted&object=twin+feed" || jsonURL != "/settings/audit-trail/export.json?event=deleted&object=twin+feed" {
		t.Errorf("export links = %q, %q", csvURL, jsonURL)
	}
	out := exportedJSON(t, c.get("/settings/audit-trail/export.json?object=twin+feed"))
	if len(out) != 3 || out[0].Object.ID != backup.ID || out[2].Object.ID != twin.ID {
		t.Errorf("export by name = %+v", out)
	}

	// A name too long to be one, and a prefix of too many tokens.
	if err := app.store.SeedTokens(ctx, app.sealer, app.acc.ID, 1300); err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("x", 201)
	for _, tc := range []struct{ value, msg string }{
		{long, "200 characters"},
		{"b", "more than 100 API tokens"},
	} {
		r := c.get("/settings/audit-trail?event=created&object=" + url.QueryEscape(tc.value))
		d := r.doc(t)
		if r.StatusCode != http.StatusBadRequest || !strings.Contains(d.Find("#object-error").Text(), tc.msg) {
			t.Errorf("object=%.20s… = %d %q, want 400 saying %q", tc.value, r.StatusCode, squash(d.Find("#object-error").Text()), tc.msg)
		}
		if v, _ := d.Find("#object").Attr("value"); v != tc.value || d.Find("table.audit-grid tbody tr").Length() != 0 {
			t.Errorf("object=%.20s…: field %.20q and %d rows, want the value kept and no rows", tc.value, v, d.Find("table.audit-grid tbody tr").Length())
		}
		if opt := d.Find(`#event option[value="created"]`); opt.AttrOr("selected", "-") == "-" {
			t.Error("the event filter is lost")
		}
		if r := c.get("/settings/audit-trail/export.csv?object=" + url.QueryEscape(tc.value)); r.StatusCode != http.StatusBadRequest {
			t.Errorf("export object=%.20s… = %d, want 400", tc.value, r.StatusCode)
		}
	}
}

// The account trail narrows to one actor: a user of the account, any API
// token or one, or the system.
func TestAuditTrailActorFilter(t *testing.T) {
	app := newTestApp(t)
	ctx := t.Context()
	op, err := app.store.UserByEmail(ctx, "operator@example.com")
	if err != nil {
		t.Fatal(err)
	}
	caller, _ := app.apiToken(t, app.acc.ID, "Automation", "MOD-1756")
	target := app.demoToken(t, "CI pipeline")
	if _, err := app.store.DisableToken(ctx, store.Actor{Type: "token", ID: caller.ID, Name: caller.Name}, app.acc.ID, target.ID, target.Version, ""); err != nil {
		t.Fatal(err)
	}
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	only := func(query, want string, prefix bool) *goquery.Document {
		t.Helper()
		r := c.get("/settings/audit-trail?" + query)
		d := r.doc(t)
		got := gridColumn(d, "cell-actor")
		if r.StatusCode != http.StatusOK || len(got) == 0 {
			t.Fatalf("%s = %d with %d rows", query, r.StatusCode, len(got))
		}
		for _, id := range got {
			if id != want && !(prefix && strings.HasPrefix(id, want)) {
				t.Errorf("%s lists a record by %s", query, id)
			}
		}
		return d
	}
	d := only("actor="+op.ID, op.ID, false)
	if opt := d.Find(`#actor option[value="` + op.ID + `"]`); squash(opt.Text()) != "Oliver Perez" || opt.AttrOr("selected", "-") == "-" {
		t.Errorf("actor option = %q, want Oliver Perez selected", squash(opt.Text()))
	}
	if href, _ := d.Find(`a[href*="export.json"]`).Attr("href"); href != "/settings/audit-trail/export.json?actor="+op.ID {
		t.Errorf("export link = %q", href)
	}
	for _, rec := range exportedJSON(t, c.get("/settings/audit-trail/export.json?actor="+op.ID)) {
		if rec.Actor.ID != op.ID {
			t.Errorf("export by actor has a record by %s", rec.Actor.ID)
		}
	}
	only("actor=system", store.SystemActor.ID, false)
	only("actor=token", "TKN-", true)
	only("actor="+caller.ID, caller.ID, false)
	for _, bad := range []string{"USR-9999-9999", "nobody"} {
		r := c.get("/settings/audit-trail?actor=" + bad)
		d := r.doc(t)
		if r.StatusCode != http.StatusBadRequest || d.Find("#actor-error").Text() == "" || d.Find("table.audit-grid tbody tr").Length() != 0 {
			t.Errorf("actor=%s = %d %q with %d rows, want 400 with a message and no rows", bad, r.StatusCode, d.Find("#actor-error").Text(), d.Find("table.audit-grid tbody tr").Length())
		}
		if r := c.get("/settings/audit-trail/export.csv?actor=" + bad); r.StatusCode != http.StatusBadRequest {
			t.Errorf("export actor=%s = %d, want 400", bad, r.StatusCode)
		}
	}
}

// A reversed date range, like any filter that cannot be read, shows its
// message and no records, on both grids; the exports refuse it.
func TestAuditReversedRangeShowsNoRows(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	tok := app.demoToken(t, "Partner portal EU")
	for _, p := range []string{"/settings/audit-trail", "/settings/api-tokens/" + tok.ID + "/audit"} {
		for _, query := range []string{"from=2000-01-02&to=2000-01-01", "from=yesterday"} {
			r := c.get(p + "?" + query)
			d := r.doc(t)
			if r.StatusCode != http.StatusBadRequest || d.Find(".field-error").Length() != 1 {
				t.Errorf("%s?%s = %d with %d messages, want 400 and one", p, query, r.StatusCode, d.Find(".field-error").Length())
			}
			if n := d.Find("table.audit-grid tbody tr").Length(); n != 0 {
				t.Errorf("%s?%s lists %d records, want none", p, query, n)
			}
			if v, _ := d.Find("#from").Attr("value"); !strings.Contains(query, "from="+v) {
				t.Errorf("%s?%s: from field = %q, want it kept", p, query, v)
			}
		}
	}
	for _, p := range []string{"/settings/audit-trail/export.csv", "/settings/audit-trail/export.json"} {
		if r := c.get(p + "?from=2000-01-02&to=2000-01-01"); r.StatusCode != http.StatusBadRequest {
			t.Errorf("%s with a reversed range = %d, want 400", p, r.StatusCode)
		}
	}
}

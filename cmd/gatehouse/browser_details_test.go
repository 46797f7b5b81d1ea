package main

// Browser tests of a token's details page and its audit trail (SPEC §3.6,
// §2.3, §2.5), against the demo data of store/demo.go.

import (
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
)

// rowJS is a JavaScript expression for the list row of the token named
// name (undefined when the list shows none).
func rowJS(name string) string {
	return `Array.from(document.querySelectorAll("table tbody tr")).find(tr => {
		const a = tr.querySelector(".cell-token .cell-title");
		return a && a.textContent.trim() === ` + jsString(name) + `;
	})`
}

// inRow selects the elements the CSS selector matches in the list row of
// the token named name.
func inRow(name, css string) chromedp.JSPath {
	return chromedp.JSPath(`Array.from(` + rowJS(name) + `?.querySelectorAll(` + jsString(css) + `) ?? [])`)
}

// tokenID returns the TKN-… id the list shows under the token's name.
func (b *browserTest) tokenID(name string) string {
	b.t.Helper()
	id := eval[string](b, `(`+rowJS(name)+`)?.querySelector(".cell-token .cell-sub")?.textContent.trim() ?? ""`)
	if !regexp.MustCompile(`^TKN-\d{4}-\d{4}$`).MatchString(id) {
		b.t.Fatalf("the list at %s shows no token %q with an id (found %q)", b.location(), name, id)
	}
	return id
}

// rowStatus returns the status badge of the token's row in the list, or ""
// when the list shows no such token.
func (b *browserTest) rowStatus(name string) string {
	b.t.Helper()
	return eval[string](b, `(`+rowJS(name)+`)?.querySelector(".badge")?.textContent.trim() ?? ""`)
}

// openToken clicks the token's name in the list and returns its id, once
// its details page has loaded.
func (b *browserTest) openToken(name string) string {
	b.t.Helper()
	id := b.tokenID(name)
	b.andWait("click the name "+name, chromedp.Click(inRow(name, "a.cell-title")))
	b.wantPath("/settings/api-tokens/" + id)
	if got := b.text("main h1 > span:first-child"); got != name {
		b.t.Fatalf("the details page of %s is headed %q, want %q", id, got, name)
	}
	return id
}

// wantPath fails the test unless the browser shows the path.
func (b *browserTest) wantPath(path string) {
	b.t.Helper()
	if u := b.location(); u.Path != path {
		b.t.Fatalf("the browser is at %s, want %s; the page says %q", u, path, b.text("main"))
	}
}

// wantFlash fails the test unless the page shows exactly this success
// message.
func (b *browserTest) wantFlash(want string) {
	b.t.Helper()
	got := b.texts("main .flash-success")
	if len(got) != 1 || got[0] != want {
		b.t.Errorf("the page %s shows the success messages %q, want %q", b.location(), got, want)
	}
}

// wantNoFlash fails the test if the page shows a success message.
func (b *browserTest) wantNoFlash() {
	b.t.Helper()
	if got := b.texts("main .flash-success"); len(got) > 0 {
		b.t.Errorf("the page %s shows the success messages %q, want none", b.location(), got)
	}
}

const tabsSel = `nav.tabs`

// clickTab clicks a tab of the details page and checks that the page shows
// it: its own URL, and it alone marked as the current page.
func (b *browserTest) clickTab(label, id, slug string) {
	b.t.Helper()
	b.andWait("click the tab "+label, chromedp.Click(withText(tabsSel+" a", label)))
	b.wantPath("/settings/api-tokens/" + id + "/" + slug)
	b.wantCurrentTab(label)
}

// wantCurrentTab fails the test unless label is the one tab marked
// aria-current="page".
func (b *browserTest) wantCurrentTab(label string) {
	b.t.Helper()
	if got := b.texts(tabsSel + ` a[aria-current="page"]`); !slices.Equal(got, []string{label}) {
		b.t.Errorf("the tabs marked as the current page are %q, want only %q", got, label)
	}
	if got := b.texts(tabsSel + " a"); !slices.Equal(got, []string{"General", "Modules", "Details", "Audit trail"}) {
		b.t.Errorf("the tabs are %q, want General, Modules, Details, Audit trail", got)
	}
}

// fieldText returns the text of the field labelled dt in the definition
// lists the CSS selector in matches (such as the details page's summary
// card, or the definition lists of its tab panel).
func (b *browserTest) fieldText(in, dt string) string {
	b.t.Helper()
	got := eval[[]string](b, `Array.from(document.querySelectorAll(`+jsString(in+" dt")+`)).filter(e => e.textContent.trim() === `+jsString(dt)+`).map(e => e.nextElementSibling.innerText.trim().replace(/\s+/g, " "))`)
	if len(got) != 1 {
		b.t.Fatalf("%d fields are labelled %q in %s on %s, want 1", len(got), dt, in, b.location())
	}
	return got[0]
}

// auditRow is a row of an audit grid as a user reads it.
type auditRow struct {
	Event, Actor, Summary string
}

// auditRows returns the rows of the audit grid on the page, in order.
func (b *browserTest) auditRows() []auditRow {
	b.t.Helper()
	cells := eval[[][]string](b, `Array.from(document.querySelectorAll("table.audit-grid tbody tr"), tr => [
		tr.querySelector(".event").textContent.trim(),
		tr.cells[tr.cells.length - 4].querySelector(".cell-main").textContent.trim(),
		tr.querySelector(".event + .cell-sub").textContent.trim(),
	])`)
	rows := make([]auditRow, len(cells))
	for i, c := range cells {
		rows[i] = auditRow{c[0], c[1], c[2]}
	}
	return rows
}

var (
	maskedValuePattern = regexp.MustCompile(`^idt:(TKN-\d{4}-\d{4}):•{4,}$`)
	tokenValuePattern  = regexp.MustCompile(`^idt:(TKN-\d{4}-\d{4}):[0-9A-Za-z]{49}$`)
)

const valueSel = "#token-value"

// wantMasked fails the test unless the page shows the token's value masked.
func (b *browserTest) wantMasked(id string) {
	b.t.Helper()
	got := b.text(valueSel)
	if m := maskedValuePattern.FindStringSubmatch(got); m == nil || m[1] != id {
		b.t.Errorf("the token value shows %q, want it masked as idt:%s:••••", got, id)
	}
}

// wantValue returns the token value the page shows, failing the test unless
// it is the full value of the token.
func (b *browserTest) wantValue(id string) string {
	b.t.Helper()
	got := b.text(valueSel)
	if m := tokenValuePattern.FindStringSubmatch(got); m == nil || m[1] != id {
		b.t.Errorf("the token value shows %q, want idt:%s: and 49 base62 characters", got, id)
	}
	return got
}

func TestBrowserDetailsTabsAndBackToList(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)

	// A list view of its own: searched, sorted by name, 5 rows a page,
	// the second page.
	b.open("/settings/api-tokens?q=e&order=name&size=5&page=2")
	listURL := b.location()
	listNames := []string{"Legacy ERP connector", `Marketing site "Buy now" widget`,
		"Nightly license report", "Notifications relay", "O'Reilly reseller feed"}
	b.wantNames(listNames)
	b.wantText(rangeSel, "6–10 of 13 rows")

	const name = "Legacy ERP connector"
	id := b.openToken(name)
	b.wantCurrentTab("General")
	b.wantText(".detail-kicker", "API token "+id)
	b.wantText("main h1 .badge", "Disabled")
	if got := b.fieldText("dl.summary-card", "Account"); !regexp.MustCompile(`^Northwind Traders ACC-\d{4}-\d{4}$`).MatchString(got) {
		t.Errorf("the summary card shows the account %q, want Northwind Traders and its ACC- id", got)
	}
	if n := b.count(`.summary-card time[datetime]`); n != 1 {
		t.Errorf("the summary card shows %d dates, want the last access", n)
	}
	if got := b.fieldText(".tab-panel dl", "Description"); got != "Old ERP bridge, kept for the year-end close." {
		t.Errorf("the General tab shows the description %q", got)
	}
	if got := b.text("#endpoint"); got != b.base+"/public/v1" {
		t.Errorf("the General tab shows the API endpoint %q, want %s/public/v1", got, b.base)
	}
	b.wantMasked(id)

	b.clickTab("Modules", id, "modules")
	modules := b.texts(".tab-panel table tbody tr")
	slices.Sort(modules)
	if want := []string{
		"Billing MOD-2210 View invoices, statements and journals",
		"Procurement MOD-3385 Place and track orders and requests",
	}; !slices.Equal(modules, want) {
		t.Errorf("the Modules tab shows %q, want %q", modules, want)
	}
	if n := b.count(valueSel); n != 0 {
		t.Errorf("the Modules tab shows the token value too")
	}

	b.clickTab("Details", id, "details")
	if got := b.fieldText(".tab-panel dl", "Created"); !regexp.MustCompile(`^\d{1,2} \w{3} \d{4} \d{2}:\d{2} [A-Z][A-Za-z0-9+:-]* by Gatehouse \(SYSTEM\)$`).MatchString(got) {
		t.Errorf("the Details tab shows Created %q, want a date, a time and by Gatehouse (SYSTEM)", got)
	}
	if got := b.fieldText(".tab-panel dl", "Last access"); !regexp.MustCompile(`^\d{1,2} \w{3} \d{4} \d{2}:\d{2} [A-Z][A-Za-z0-9+:-]* from 198\.51\.100\.33 Java/1\.8\.0_402$`).MatchString(got) {
		t.Errorf("the Details tab shows Last access %q, want a date, a time, the IP and the user agent", got)
	}
	if got := b.fieldText(".tab-panel dl", "Disabled"); !regexp.MustCompile(`^\d{1,2} \w{3} \d{4} \d{2}:\d{2} [A-Z][A-Za-z0-9+:-]* by Oliver Perez \(USR-\d{4}-\d{4}\) Reason: Replaced by the ERP v2 connector$`).MatchString(got) {
		t.Errorf("the Details tab shows Disabled %q, want when, by Oliver Perez, and the reason", got)
	}

	b.clickTab("Audit trail", id, "audit")
	if got, want := b.auditRows(), []auditRow{
		{"disabled", "Oliver Perez", "API token " + id + " was disabled."},
		{"created", "Gatehouse", "API token " + id + " was created."},
	}; !slices.Equal(got, want) {
		t.Errorf("the Audit trail tab shows %+v, want %+v", got, want)
	}

	b.clickTab("General", id, "general")
	b.wantMasked(id)

	// The back arrow returns to the list as it was.
	b.andWait("click the back arrow", chromedp.Click(chromedp.CSS("a.back-link")))
	b.wantQuery(map[string]string{"q": "e", "order": "name", "size": "5", "page": "2"})
	b.wantNames(listNames)
	b.wantText(rangeSel, "6–10 of 13 rows")
	b.wantText(pageSel, "Page 2 of 3")
	if got := b.value("#q"); got != "e" {
		t.Errorf("back on the list the search box holds %q, want e (the list was at %s)", got, listURL)
	}
}

// revealed counts the value-viewed records of the token: the Audit trail
// tab filtered by that event.
func (b *browserTest) valueViewedRecords(id string) []auditRow {
	b.t.Helper()
	b.open("/settings/api-tokens/" + id + "/audit?event=value-viewed")
	return b.auditRows()
}

func TestBrowserDetailsShowAndHideValue(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	const name = "Helpdesk integration"
	id := b.openToken(name)
	b.wantMasked(id)
	if n := b.count(`[data-secret] [data-copy-secret]`); n != 1 {
		t.Errorf("an administrator is offered %d Copy buttons for the value, want 1", n)
	}

	// Show fetches the value in place: the same document, the same URL.
	page := b.location().String()
	b.do(chromedp.Evaluate[chromedp.Void](`window.gatehouseSamePage = true`))
	var value string
	for i := range 2 {
		b.do(chromedp.Click(withText("[data-secret] form[data-reveal] button", "Show")))
		b.waitUntil("the value shows", `/^idt:TKN-\d{4}-\d{4}:[0-9A-Za-z]+$/.test(document.querySelector("#token-value").textContent.trim())`)
		v := b.wantValue(id)
		if i == 0 {
			value = v
		} else if v != value {
			t.Errorf("the second Show showed %q, the first %q", v, value)
		}
		if !eval[bool](b, `window.gatehouseSamePage === true`) || b.location().String() != page {
			t.Fatalf("Show loaded another page (%s); it should show the value in place", b.location())
		}
		if n := b.count(`[data-secret] form[data-reveal]:not([hidden])`); n != 0 {
			t.Errorf("with the value shown, Show is still offered")
		}
		b.do(chromedp.Click(withText("[data-secret] button", "Hide")))
		b.waitUntil("the value is masked again", `document.querySelector("#token-value").textContent.includes("•")`)
		b.wantMasked(id)
		if n := b.count(`[data-secret] form[data-reveal]:not([hidden])`); n != 1 {
			t.Errorf("with the value hidden, Show is not offered again")
		}
	}

	// Each Show is in the audit trail; the value is not.
	got := b.valueViewedRecords(id)
	want := slices.Repeat([]auditRow{{"value-viewed", "Alex Morgan", "The value of API token " + id + " was shown."}}, 2)
	if !slices.Equal(got, want) {
		t.Errorf("after Show twice the Audit trail tab filtered by value-viewed shows %+v, want %+v", got, want)
	}
	if strings.Contains(b.text("body"), value) {
		t.Errorf("the audit trail shows the token value")
	}
}

func TestBrowserDetailsShowAndHideValueWithoutJavaScript(t *testing.T) {
	b := newBrowserTestWithoutJavaScript(t)
	b.login("admin@example.com", demoPassword)
	if eval[bool](b, `document.documentElement.classList.contains("js")`) {
		t.Fatal("the page ran its script in a tab with JavaScript off")
	}
	const name = "Helpdesk integration"
	id := b.openToken(name)
	b.wantMasked(id)

	// Show posts the form; the answer is a redirect to the page with the
	// value, shown once: Reload shows it masked, and records nothing.
	b.andWait("click Show", chromedp.Click(withText("[data-secret] form[data-reveal] button", "Show")))
	b.wantPath("/settings/api-tokens/" + id + "/general")
	b.wantCurrentTab("General")
	value := b.wantValue(id)
	if n := b.count(`[data-secret] form[data-reveal]`); n != 0 {
		t.Errorf("with the value shown, Show is still offered")
	}
	if strings.Contains(b.location().String(), value[strings.LastIndex(value, ":")+1:]) {
		t.Errorf("the value is in the URL")
	}
	b.reload()
	b.wantPath("/settings/api-tokens/" + id + "/general")
	b.wantCurrentTab("General")
	b.wantMasked(id)
	if got := b.text("main .flash-info"); !strings.Contains(got, "Show") {
		t.Errorf("after Reload the page says %q, want a notice to Show again", got)
	}
	// Back: the page Show was pressed on, masked.
	b.back()
	b.wantPath("/settings/api-tokens/" + id)
	b.wantMasked(id)
	b.andWait("click Show", chromedp.Click(withText("[data-secret] form[data-reveal] button", "Show")))
	b.wantValue(id)

	b.andWait("click Hide", chromedp.Click(withText("[data-secret] a", "Hide")))
	b.wantPath("/settings/api-tokens/" + id + "/general")
	b.wantMasked(id)
	if strings.Contains(b.text("body"), value) {
		t.Errorf("after Hide the page still shows the value")
	}
	if n := b.count(`[data-secret] form[data-reveal]`); n != 1 {
		t.Errorf("after Hide, Show is not offered again")
	}

	got := b.valueViewedRecords(id)
	if want := slices.Repeat([]auditRow{{"value-viewed", "Alex Morgan", "The value of API token " + id + " was shown."}}, 2); !slices.Equal(got, want) {
		t.Errorf("after two Shows the Audit trail tab filtered by value-viewed shows %+v, want %+v", got, want)
	}
}

func TestBrowserDetailsValueOnlyForAdministrators(t *testing.T) {
	for _, who := range []string{"operator@example.com", "viewer@example.com"} {
		t.Run(strings.TrimSuffix(who, "@example.com"), func(t *testing.T) {
			b := newBrowserTest(t)
			b.login(who, demoPassword)
			id := b.openToken("Helpdesk integration")
			b.wantMasked(id)
			if n := b.count(`[data-secret] button, [data-secret] form, [data-secret] a`); n != 0 {
				t.Errorf("%s is offered %d controls for the token value (%q), want none", who, n, b.text("[data-secret]"))
			}
			if n := b.controls("Show"); n != 0 {
				t.Errorf("%s is offered Show", who)
			}
			b.wantText("[data-secret] + .hint", "Only administrators can show or copy the value.")

			// Nor can a hand-made request get it.
			status := eval[int](b, `(async () => {
				const csrf = document.querySelector('form[action="/logout"] input[name="_csrf"]').value;
				const body = new URLSearchParams({_csrf: csrf, purpose: "show"});
				const res = await fetch("/settings/api-tokens/`+id+`/reveal", {method: "POST", body, headers: {"Accept": "application/json", "X-CSRF-Token": csrf}});
				return res.status;
			})()`, chromedp.EvalAwaitPromise)
			if status != 403 {
				t.Errorf("%s asking for the value got HTTP %d, want 403", who, status)
			}
			b.open("/settings/api-tokens/" + id + "/audit?event=value-viewed")
			if rows := b.auditRows(); len(rows) != 0 {
				t.Errorf("the refused request left value-viewed records: %+v", rows)
			}
		})
	}
}

func TestBrowserDetailsAuditRecord(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	const name = "Partner portal EU"
	id := b.openToken(name)
	b.clickTab("Audit trail", id, "audit")
	all := []auditRow{
		{"enabled", "Alex Morgan", "API token " + id + " was enabled."},
		{"disabled", "Oliver Perez", "API token " + id + " was disabled."},
		{"created", "Priya Shah", "API token " + id + " was created."},
	}
	if got := b.auditRows(); !slices.Equal(got, all) {
		t.Fatalf("the Audit trail tab shows %+v, want %+v", got, all)
	}
	auditURL := b.location().String()

	// View details of the disabled record.
	b.andWait("click View details of the disabled record",
		chromedp.Click(chromedp.JSPath(`Array.from(document.querySelectorAll("table.audit-grid tbody tr")).filter(tr => tr.querySelector(".event").textContent.trim() === "disabled").map(tr => tr.querySelector("td.cell-action a"))`)))
	if u := b.location(); !regexp.MustCompile(`^/settings/audit-trail/AUD-\d{4}-\d{4}-\d{4}-\d{4}$`).MatchString(u.Path) {
		t.Fatalf("View details led to %s, want the record's page", u)
	}
	recordID := strings.TrimPrefix(b.location().Path, "/settings/audit-trail/")
	b.wantText(".detail-kicker", "Audit record "+recordID)
	b.wantText("main h1", "API token "+id+" was disabled.")
	if got := b.fieldText("main dl", "Event"); got != "platform.accounts.api-token.disabled" {
		t.Errorf("the record shows the event %q", got)
	}
	if got := b.fieldText("main dl", "Object"); !strings.HasPrefix(got, name) || !strings.HasSuffix(got, id) {
		t.Errorf("the record shows the object %q, want %s and %s", got, name, id)
	}
	if got := b.fieldText("main dl", "Actor"); !regexp.MustCompile(`^Oliver Perez user · USR-\d{4}-\d{4}$`).MatchString(got) {
		t.Errorf("the record shows the actor %q, want Oliver Perez, a user, and the USR- id", got)
	}
	var details struct {
		Changes struct {
			Status struct{ Before, After string }
		}
		Reason string
	}
	raw := b.text("#record-details")
	if err := json.Unmarshal([]byte(raw), &details); err != nil {
		t.Errorf("the record's details are not JSON: %v\n%s", err, raw)
	}
	if details.Changes.Status.Before != "Active" || details.Changes.Status.After != "Disabled" || details.Reason != "Partner contract under review" {
		t.Errorf("the record's details are %s, want the status from Active to Disabled and the reason", raw)
	}

	// Its back arrow returns to the token's audit trail.
	b.andWait("click the record's back arrow", chromedp.Click(chromedp.CSS("a.back-link")))
	if got := b.location().String(); got != auditURL {
		t.Errorf("the record's back arrow led to %s, want %s", got, auditURL)
	}
	b.wantCurrentTab("Audit trail")
	if got := b.auditRows(); !slices.Equal(got, all) {
		t.Errorf("back on the Audit trail tab it shows %+v, want %+v", got, all)
	}

	// Choosing an event filters at once.
	b.andWait("choose the event Disabled", chromedp.SetValue(chromedp.CSS("#event"), "disabled"))
	b.wantPath("/settings/api-tokens/" + id + "/audit")
	if got := b.location().Query().Get("event"); got != "disabled" {
		t.Errorf("after choosing an event the URL is %s, want event=disabled", b.location())
	}
	if got := b.auditRows(); !slices.Equal(got, all[1:2]) {
		t.Errorf("filtered by Disabled the Audit trail tab shows %+v, want %+v", got, all[1:2])
	}
	if got := b.value("#event"); got != "disabled" {
		t.Errorf("the event filter shows %q, want disabled", got)
	}
	b.wantCurrentTab("Audit trail")
}

// Times are shown in the viewer's time zone, with the zone named (18:29
// CET); without JavaScript they are UTC, labelled so. The UTC stays in the
// tooltip either way.
func TestBrowserTimesInViewersZone(t *testing.T) {
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		t.Skipf("no time zone data: %v", err)
	}
	b := newBrowserTest(t)
	if _, err := chromedp.Call(b.ctx, emulation.SetTimezoneOverride, emulation.SetTimezoneOverrideParams{TimezoneID: "Europe/Berlin"}); err != nil {
		t.Fatal(err)
	}
	b.login("admin@example.com", demoPassword)
	type shown struct{ ISO, Date, Time, Title string }
	collect := func() []shown {
		return eval[[]shown](b, `Array.from(document.querySelectorAll("main time[datetime]"), e => ({
			ISO: e.getAttribute("datetime"), Date: e.querySelector(".date").textContent.trim(),
			Time: e.querySelector(".time").textContent.trim().replace(/\s+/g, " "), Title: e.title}))`)
	}
	check := func(where string, loc *time.Location) {
		t.Helper()
		times := collect()
		if len(times) < 3 {
			t.Fatalf("%s shows %d times, want the list's", where, len(times))
		}
		for _, s := range times {
			at, err := time.Parse(time.RFC3339, s.ISO)
			if err != nil {
				t.Fatalf("%s: datetime %q: %v", where, s.ISO, err)
			}
			local := at.In(loc)
			if want := local.Format("15:04 MST"); s.Time != want {
				t.Errorf("%s shows %s as %q, want %q", where, s.ISO, s.Time, want)
			}
			if want := local.Format("2 Jan 2006"); s.Date != want {
				t.Errorf("%s shows the date of %s as %q, want %q", where, s.ISO, s.Date, want)
			}
			if want := at.UTC().Format("2 Jan 2006 15:04") + " UTC"; s.Title != want {
				t.Errorf("%s: the tooltip of %s is %q, want %q", where, s.ISO, s.Title, want)
			}
		}
	}
	check("the list in Berlin", berlin)
	b.open("/settings/audit-trail")
	check("the audit trail in Berlin", berlin)

	b.disableJavaScript()
	b.reload()
	check("the audit trail without JavaScript", time.UTC)
}

package handlers

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/store"
)

// confirmForm GETs a confirmation page and returns its form values.
func (c *client) confirmForm(path string) (url.Values, response) {
	c.t.Helper()
	r := c.get(path)
	d := r.doc(c.t)
	v := url.Values{}
	d.Find("section[data-confirm] form input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		v.Set(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	return v, r
}

func TestDisableEnableDeleteFlow(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("operator@example.com")
	tok := app.demoToken(t, "CI pipeline")
	base := "/settings/api-tokens/" + tok.ID

	// The confirmation page shows what is at stake.
	form, r := c.confirmForm(base + "/disable?return=" + url.QueryEscape("/settings/api-tokens?q=ci"))
	if r.StatusCode != http.StatusOK {
		t.Fatalf("confirm page = %d", r.StatusCode)
	}
	d := r.doc(t)
	if got := squash(d.Find("#confirm-title").Text()); got != "Disable API token" {
		t.Errorf("title = %q", got)
	}
	what := words(d.Find("section[data-confirm]"))
	for _, want := range []string{"CI pipeline", tok.ID, "will fail until it is enabled again", "Active", "Marketplace", "Reason"} {
		if !strings.Contains(what, want) {
			t.Errorf("confirmation lacks %q: %s", want, what)
		}
	}
	if form.Get("version") != strconv.FormatInt(tok.Version, 10) || form.Get("return") != "/settings/api-tokens?q=ci" {
		t.Errorf("form = %v", form)
	}
	if href, _ := d.Find("a[data-cancel]").Attr("href"); href != "/settings/api-tokens?q=ci" {
		t.Errorf("Cancel = %q", href)
	}

	form.Set("reason", "Leaked in a CI log")
	r = c.post(base+"/disable", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens?q=ci" {
		t.Fatalf("disable = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	d = c.get("/settings/api-tokens?q=ci").doc(t)
	if got := squash(d.Find(".flash-success").Text()); got != "API token "+tok.ID+" was disabled." {
		t.Errorf("flash = %q", got)
	}
	if got := squash(c.get("/settings/api-tokens?q=ci").doc(t).Find(".flash-success").Text()); got != "" {
		t.Errorf("flash shown twice: %q", got)
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Status != store.StatusDisabled || cur.DisabledReason != "Leaked in a CI log" || cur.DisabledBy.Name != "Oliver Perez" {
		t.Errorf("after disable: %+v", cur)
	}

	// Disabling again: a clear refusal, nothing recorded.
	before := app.countEvents(t, tok.ID, store.EventTokenDisabled)
	r = c.post(base+"/disable", form) // the old version: stale, and not applicable
	if r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "Oliver Perez disabled it") || !strings.Contains(r.body, "already Disabled") {
		t.Errorf("disable a Disabled token with the old version = %d", r.StatusCode)
	}
	form.Set("version", strconv.FormatInt(cur.Version, 10)) // the current version
	r = c.post(base+"/disable", form)
	if r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "already Disabled, so there is nothing to disable") {
		t.Errorf("disable a Disabled token = %d", r.StatusCode)
	}
	if r := c.get(base + "/disable"); r.StatusCode != http.StatusConflict || r.doc(t).Find("section[data-confirm] button[type=submit]").Length() != 0 {
		t.Errorf("confirm page of a Disabled token = %d, or it offers a button", r.StatusCode)
	}
	if app.countEvents(t, tok.ID, store.EventTokenDisabled) != before {
		t.Error("a refused disable was recorded")
	}

	// Enabling an Active token is refused too (checked before the enable).
	active := app.demoToken(t, "Notifications relay")
	enable, _ := c.confirmForm("/settings/api-tokens/" + active.ID + "/enable")
	if r := c.post("/settings/api-tokens/"+active.ID+"/enable", enable); r.StatusCode != http.StatusConflict || !strings.Contains(r.body, "already Active, so there is nothing to enable") {
		t.Errorf("enable an Active token = %d", r.StatusCode)
	}
	if app.countEvents(t, active.ID, store.EventTokenEnabled) != 0 {
		t.Error("enabling an Active token was recorded")
	}

	// The operator may enable, but may not delete.
	form, _ = c.confirmForm(base + "/enable")
	if r := c.post(base+"/enable", form); r.StatusCode != http.StatusSeeOther {
		t.Errorf("enable = %d", r.StatusCode)
	}
	if r := c.get(base + "/delete"); r.StatusCode != http.StatusForbidden {
		t.Errorf("operator GET delete = %d", r.StatusCode)
	}
	form.Set("version", "3")
	if r := c.post(base+"/delete", form); r.StatusCode != http.StatusForbidden {
		t.Errorf("operator POST delete = %d", r.StatusCode)
	}

	// The administrator deletes; the token leaves the list, its trail stays.
	admin := app.client(t)
	admin.mustLogin("admin@example.com")
	form, r = admin.confirmForm(base + "/delete")
	if !strings.Contains(r.body, "cannot be undone") || r.doc(t).Find("button.btn-danger").Length() != 1 {
		t.Error("delete confirmation lacks the warning or the red button")
	}
	if r := admin.post(base+"/delete", form); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens" {
		t.Errorf("delete = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	// Its page leads to its read-only audit trail (issue 14).
	if r := admin.get(base); r.StatusCode != http.StatusSeeOther || !strings.HasPrefix(r.Header.Get("Location"), base+"/audit") {
		t.Errorf("deleted token page = %d %q, want a 303 to its audit trail", r.StatusCode, r.Header.Get("Location"))
	}
	if n := app.countEvents(t, tok.ID, store.EventTokenDeleted); n != 1 {
		t.Errorf("%d deleted records", n)
	}
	if d := admin.get("/settings/audit-trail?event=deleted").doc(t); !strings.Contains(d.Text(), tok.ID) {
		t.Error("the deleted token's trail is gone from the audit trail")
	}
}

func TestViewerCannotAct(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("viewer@example.com")
	tok := app.demoToken(t, "CI pipeline")
	d := c.get("/settings/api-tokens").doc(t)
	if d.Find("details[data-menu]").Length() != 0 || d.Find("#bulk").Length() != 0 || d.Find(`a[href="/settings/api-tokens/new"]`).Length() != 0 {
		t.Error("the viewer is offered actions")
	}
	csrf := c.csrfFrom("/settings/api-tokens")
	for _, p := range []string{"/disable", "/enable", "/delete", "/edit"} {
		if r := c.get("/settings/api-tokens/" + tok.ID + p); r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer GET %s = %d", p, r.StatusCode)
		}
		if r := c.post("/settings/api-tokens/"+tok.ID+p, url.Values{"_csrf": {csrf}, "version": {"1"}, "name": {"x"}}); r.StatusCode != http.StatusForbidden {
			t.Errorf("viewer POST %s = %d", p, r.StatusCode)
		}
	}
	if r := c.get("/settings/api-tokens/new"); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer GET new = %d", r.StatusCode)
	}
	if r := c.get("/settings/api-tokens/bulk?action=disable&ids=" + tok.ID); r.StatusCode != http.StatusForbidden {
		t.Errorf("viewer bulk = %d", r.StatusCode)
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Version != tok.Version {
		t.Error("the viewer changed the token")
	}
}

func TestRowMenusByRole(t *testing.T) {
	app := newTestApp(t)
	cases := []struct {
		email  string
		active string // the menu of an Active token
		bulk   string
	}{
		{"admin@example.com", "Disable|Edit|Delete", "Disable|Enable|Delete"},
		{"operator@example.com", "Disable", "Disable|Enable"},
	}
	for _, tc := range cases {
		c := app.client(t)
		c.mustLogin(tc.email)
		d := c.get("/settings/api-tokens?q=CI+pipeline").doc(t)
		var items, bulk []string
		d.Find("table.grid tbody tr").First().Find(".menu-list a").Each(func(_ int, s *goquery.Selection) { items = append(items, s.Text()) })
		d.Find("#bulk button").Each(func(_ int, s *goquery.Selection) { bulk = append(bulk, s.Text()) })
		if got := strings.Join(items, "|"); got != tc.active {
			t.Errorf("%s: menu %q, want %q", tc.email, got, tc.active)
		}
		if got := strings.Join(bulk, "|"); got != tc.bulk {
			t.Errorf("%s: bulk %q, want %q", tc.email, got, tc.bulk)
		}
		if d.Find("table.grid tbody tr").First().Find(`input[name="ids"][form="bulk"]`).Length() != 1 {
			t.Errorf("%s: no selection checkbox", tc.email)
		}
		disabled := c.get("/settings/api-tokens?q=Legacy+ERP").doc(t).Find("table.grid tbody tr .menu-list a").First().Text()
		if disabled != "Enable" {
			t.Errorf("%s: a Disabled token's menu starts with %q", tc.email, disabled)
		}
	}
}

func TestStaleConfirmationAppliesNothing(t *testing.T) {
	app := newTestApp(t)
	tok := app.demoToken(t, "Helpdesk integration")
	base := "/settings/api-tokens/" + tok.ID
	a := app.client(t)
	a.mustLogin("admin@example.com")
	b := app.client(t)
	b.mustLogin("operator@example.com")

	formB, _ := b.confirmForm(base + "/disable") // B opens the dialog…
	formA, _ := a.confirmForm(base + "/disable") // …A too, and confirms first.
	formA.Set("reason", "A was faster")
	if r := a.post(base+"/disable", formA); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("A = %d", r.StatusCode)
	}
	r := b.post(base+"/disable", formB)
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("stale B = %d, want 409", r.StatusCode)
	}
	warning := r.doc(t).Find(".flash-warning")
	msg := squash(warning.Text())
	for _, want := range []string{"Alex Morgan disabled it", "Nothing was applied"} {
		if !strings.Contains(msg, want) {
			t.Errorf("stale message %q lacks %q", msg, want)
		}
	}
	// Its time is a time app.js shows in the viewer's zone, not UTC text
	// (issue 14); without JavaScript it reads "… 17:29 UTC".
	if when := warning.Find("time[datetime][data-local]"); when.Length() != 1 || !regexp.MustCompile(`^\d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d UTC$`).MatchString(squash(when.Text())) {
		t.Errorf("stale message %q: its time is not a local time element", msg)
	}
	if n := app.countEvents(t, tok.ID, store.EventTokenDisabled); n != 1 {
		t.Errorf("%d disabled records, want exactly A's", n)
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.DisabledReason != "A was faster" {
		t.Errorf("reason = %q", cur.DisabledReason)
	}

	// An edit meanwhile also makes a confirmation stale, but the action still
	// applies: the page offers it again with the new version.
	formB, _ = b.confirmForm(base + "/enable")
	editForm := url.Values{"_csrf": {formA.Get("_csrf")}, "version": {strconv.FormatInt(cur.Version, 10)}, "name": {"Helpdesk bridge"}, "description": {cur.Description}, "modules": {"MOD-4617"}}
	if r := a.post(base+"/edit", editForm); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("edit = %d %s", r.StatusCode, r.body)
	}
	r = b.post(base+"/enable", formB)
	d := r.doc(t)
	if r.StatusCode != http.StatusConflict || !strings.Contains(d.Find(".flash-warning").Text(), "edited its name and modules") {
		t.Errorf("stale after edit = %d %q", r.StatusCode, d.Find(".flash-warning").Text())
	}
	if v := d.Find(`input[name="version"]`).AttrOr("value", ""); v != strconv.FormatInt(cur.Version+1, 10) || d.Find("section[data-confirm] button[type=submit]").Length() != 1 {
		t.Errorf("fresh confirmation: version %q", v)
	}
}

func TestBulkActions(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("operator@example.com")
	active1 := app.demoToken(t, "CI pipeline")
	active2 := app.demoToken(t, "Grafana exporter")
	disabled := app.demoToken(t, "Legacy ERP connector")
	ret := "/settings/api-tokens?order=name"
	q := url.Values{"action": {"disable"}, "ids": {active1.ID, active2.ID, disabled.ID, "TKN-0000-0000"}, "return": {ret}}
	r := c.get("/settings/api-tokens/bulk?" + q.Encode())
	if r.StatusCode != http.StatusOK {
		t.Fatalf("bulk confirm = %d", r.StatusCode)
	}
	d := r.doc(t)
	if got := squash(d.Find("#confirm-title").Text()); got != "Disable 2 of 4 selected API tokens" {
		t.Errorf("title = %q", got)
	}
	text := words(d.Find("table"))
	for _, want := range []string{"CI pipeline", "Grafana exporter", "Skipped: already Disabled", "Skipped: not in this account"} {
		if !strings.Contains(text, want) {
			t.Errorf("bulk confirmation lacks %q: %s", want, text)
		}
	}
	if got := squash(d.Find("section[data-confirm] button[type=submit]").Text()); got != "Disable 2 tokens" {
		t.Errorf("button = %q", got)
	}
	form := url.Values{}
	d.Find("section[data-confirm] form input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		form.Add(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})
	// Meanwhile someone else disables one of them.
	admin := store.UserActor(store.User{ID: "USR-0000-0009", Name: "Other"}, "", "")
	if _, err := app.store.DisableToken(context.Background(), admin, app.acc.ID, active2.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	r = c.post("/settings/api-tokens/bulk", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != ret {
		t.Fatalf("bulk apply = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	d = c.get(ret).doc(t)
	if got := squash(d.Find(".flash-success").Text()); got != "1 API token was disabled: "+active1.ID+"." {
		t.Errorf("flash = %q", got)
	}
	if got := squash(d.Find(".flash-warning").Text()); got != "Left as it was: "+active2.ID+" (changed by someone else meanwhile)." {
		t.Errorf("warning = %q", got)
	}
	// Nothing selected: a message, no change.
	r = c.get("/settings/api-tokens/bulk?action=disable&return=" + url.QueryEscape(ret))
	if r.StatusCode != http.StatusSeeOther || !strings.Contains(c.get(ret).body, "Select one or more API tokens first.") {
		t.Errorf("empty bulk = %d", r.StatusCode)
	}
	if r := c.get("/settings/api-tokens/bulk?action=explode&ids=" + active1.ID); r.StatusCode != http.StatusBadRequest {
		t.Errorf("unknown bulk action = %d", r.StatusCode)
	}
	// Operators cannot bulk delete.
	if r := c.get("/settings/api-tokens/bulk?action=delete&ids=" + active1.ID); r.StatusCode != http.StatusForbidden {
		t.Errorf("operator bulk delete = %d", r.StatusCode)
	}
	csrf := c.csrfFrom(ret)
	if r := c.post("/settings/api-tokens/bulk", url.Values{"_csrf": {csrf}, "action": {"delete"}, "ids": {active1.ID}, "versions": {"9"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("operator bulk delete POST = %d", r.StatusCode)
	}
	if r := c.post("/settings/api-tokens/bulk", url.Values{"action": {"disable"}, "ids": {active1.ID}, "versions": {"1"}}); r.StatusCode != http.StatusForbidden {
		t.Errorf("bulk without CSRF = %d", r.StatusCode)
	}
}

func TestActionsOnOtherAccountsTokens(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	var foreign string
	var version int64
	app.store.DB().QueryRow(`SELECT id, version FROM api_tokens WHERE account_id = ? AND status = 'Active'`, app.other.ID).Scan(&foreign, &version)
	csrf := c.csrfFrom("/settings/api-tokens")
	v := strconv.FormatInt(version, 10)
	for _, p := range []string{"/disable", "/delete", "/edit"} {
		if r := c.get("/settings/api-tokens/" + foreign + p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s of another account's token = %d", p, r.StatusCode)
		}
		if r := c.post("/settings/api-tokens/"+foreign+p, url.Values{"_csrf": {csrf}, "version": {v}, "name": {"hijacked"}}); r.StatusCode != http.StatusNotFound {
			t.Errorf("POST %s of another account's token = %d", p, r.StatusCode)
		}
	}
	r := c.get("/settings/api-tokens/bulk?action=disable&ids=" + foreign)
	if !strings.Contains(r.body, "Skipped: not in this account") {
		t.Error("bulk confirmation does not refuse another account's token")
	}
	c.post("/settings/api-tokens/bulk", url.Values{"_csrf": {csrf}, "action": {"disable"}, "ids": {foreign}, "versions": {v}})
	var status string
	app.store.DB().QueryRow(`SELECT status FROM api_tokens WHERE id = ?`, foreign).Scan(&status)
	if status != "Active" {
		t.Errorf("another account's token is now %s", status)
	}
}

func TestDisableReasonValidation(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	tok := app.demoToken(t, "CI pipeline")
	form, _ := c.confirmForm("/settings/api-tokens/" + tok.ID + "/disable")
	long := strings.Repeat("r", 501)
	form.Set("reason", long)
	r := c.post("/settings/api-tokens/"+tok.ID+"/disable", form)
	d := r.doc(t)
	if r.StatusCode != http.StatusBadRequest || d.Find("#reason").Text() != long || !strings.Contains(d.Find("#reason-error").Text(), "at most 500") {
		t.Errorf("long reason = %d", r.StatusCode)
	}
	form.Set("version", "abc")
	form.Set("reason", "")
	if r := c.post("/settings/api-tokens/"+tok.ID+"/disable", form); r.StatusCode != http.StatusBadRequest {
		t.Errorf("bad version = %d", r.StatusCode)
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Status != store.StatusActive {
		t.Error("a refused disable changed the token")
	}
}

// TestBulkDisableReason: the bulk Disable takes a reason like the single
// one, checked the same way, kept on an error, and recorded for each token.
func TestBulkDisableReason(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("operator@example.com")
	a, b := app.demoToken(t, "CI pipeline"), app.demoToken(t, "Grafana exporter")
	ret := "/settings/api-tokens?order=name"
	q := url.Values{"action": {"disable"}, "ids": {a.ID, b.ID}, "return": {ret}}
	d := c.get("/settings/api-tokens/bulk?" + q.Encode()).doc(t)
	if d.Find(`section[data-confirm] form textarea#reason[name="reason"]`).Length() != 1 || !strings.Contains(d.Find(`label[for="reason"]`).Text(), "Reason") {
		t.Fatal("the bulk Disable has no reason field")
	}
	form := url.Values{}
	d.Find("section[data-confirm] form input[type=hidden]").Each(func(_ int, s *goquery.Selection) {
		form.Add(s.AttrOr("name", ""), s.AttrOr("value", ""))
	})

	// Too long: nothing disabled, the reason and the selection kept.
	long := strings.Repeat("r", 501)
	form.Set("reason", long)
	r := c.post("/settings/api-tokens/bulk", form)
	d = r.doc(t)
	if r.StatusCode != http.StatusBadRequest || d.Find("#reason").Text() != long || !strings.Contains(d.Find("#reason-error").Text(), "at most 500") {
		t.Errorf("long reason = %d %q", r.StatusCode, d.Find("#reason-error").Text())
	}
	if got := d.Find(`section[data-confirm] form input[name="ids"]`).Length(); got != 2 {
		t.Errorf("the page after the error carries %d tokens, want 2", got)
	}
	if d.Find(`textarea#reason[aria-invalid="true"]`).Length() != 1 {
		t.Error("the reason is not marked invalid")
	}
	for _, tok := range []store.Token{a, b} {
		if cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID); cur.Status != store.StatusActive {
			t.Errorf("%s was disabled despite the bad reason", tok.ID)
		}
	}

	form.Set("reason", "  Rotated after the audit  ")
	r = c.post("/settings/api-tokens/bulk", form)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != ret {
		t.Fatalf("bulk disable = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	for _, tok := range []store.Token{a, b} {
		cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
		if cur.Status != store.StatusDisabled || cur.DisabledReason != "Rotated after the audit" {
			t.Errorf("%s: %s, reason %q", tok.ID, cur.Status, cur.DisabledReason)
		}
		rec, _ := app.store.LastChange(context.Background(), app.acc.ID, tok.ID)
		if rec.Event != store.EventTokenDisabled || !strings.Contains(rec.Details, "Rotated after the audit") {
			t.Errorf("%s: audit %s %s", tok.ID, rec.Event, rec.Details)
		}
	}
	// Enable takes no reason.
	q.Set("action", "enable")
	if d := c.get("/settings/api-tokens/bulk?" + q.Encode()).doc(t); d.Find("textarea").Length() != 0 {
		t.Error("the bulk Enable asks for a reason")
	}
}

// TestDeleteReturnsToTheList: Delete, from the list's ••• menu or from a
// token's page opened from the list, ends on the list as the user left it.
func TestDeleteReturnsToTheList(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	list := c.get("/settings/api-tokens?q=e&status=Active&order=name&size=5&page=2").doc(t)
	ret := list.Find(`#bulk input[name="return"]`).AttrOr("value", "")
	rows := list.Find("table.grid tbody tr")
	if rows.Length() < 2 || ret == "" {
		t.Fatalf("%d rows, return %q", rows.Length(), ret)
	}
	menuLink := func(s *goquery.Selection, label string) string {
		return s.Find(".menu-list a").FilterFunction(func(_ int, a *goquery.Selection) bool { return a.Text() == label }).AttrOr("href", "")
	}

	// From the ••• menu (the dialog is this page's section).
	del := menuLink(rows.Eq(0), "Delete")
	form, r := c.confirmForm(del)
	if href := r.doc(t).Find("a[data-cancel]").AttrOr("href", ""); href != ret {
		t.Errorf("Cancel of Delete from the list = %q, want %q", href, ret)
	}
	if r := c.post(strings.SplitN(del, "?", 2)[0], form); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != ret {
		t.Errorf("Delete from the list = %d %q, want %q", r.StatusCode, r.Header.Get("Location"), ret)
	}

	// From the token's page: its ▾ menu.
	details := rows.Eq(1).Find("a.cell-title").AttrOr("href", "")
	page := c.get(details).doc(t)
	del = menuLink(page.Find(".detail-actions"), "Delete")
	form, r = c.confirmForm(del)
	if href := r.doc(t).Find("a[data-cancel]").AttrOr("href", ""); href != details {
		t.Errorf("Cancel of Delete from the token's page = %q, want %q", href, details)
	}
	if r := c.post(strings.SplitN(del, "?", 2)[0], form); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != ret {
		t.Errorf("Delete from the token's page = %d %q, want the list %q", r.StatusCode, r.Header.Get("Location"), ret)
	}
}

// menuOrder returns the items of an action menu in order, "—" standing for
// a divider.
func menuOrder(menu *goquery.Selection) string {
	var items []string
	menu.Find(".menu-list > li").Each(func(_ int, li *goquery.Selection) {
		if li.HasClass("menu-divider") {
			items = append(items, "—")
		} else {
			items = append(items, squash(li.Text()))
		}
	})
	return strings.Join(items, "|")
}

// TestActionMenuOrder checks the order of the ••• menu of a list row and
// the ▾ menu of the details page: Disable or Enable, a divider, then Edit
// and Delete (SPEC §3.2; the details page has Edit as a button of its own).
func TestActionMenuOrder(t *testing.T) {
	app := newTestApp(t)
	cases := []struct {
		email, name string
		row, detail string
	}{
		{"admin@example.com", "CI pipeline", "Disable|—|Edit|Delete", "Disable|—|Delete"},
		{"admin@example.com", "Legacy ERP connector", "Enable|—|Edit|Delete", "Enable|—|Delete"},
		{"operator@example.com", "CI pipeline", "Disable", "Disable"},
		{"operator@example.com", "Legacy ERP connector", "Enable", "Enable"},
	}
	for _, tc := range cases {
		c := app.client(t)
		c.mustLogin(tc.email)
		d := c.get("/settings/api-tokens?q=" + url.QueryEscape(tc.name)).doc(t)
		row := d.Find("table.grid tbody tr").FilterFunction(func(_ int, s *goquery.Selection) bool {
			return squash(s.Find(".cell-title").Text()) == tc.name
		})
		if row.Length() != 1 {
			t.Fatalf("%s: the list shows %d rows named %q, want 1", tc.email, row.Length(), tc.name)
		}
		if got := menuOrder(row.Find("details[data-menu]")); got != tc.row {
			t.Errorf("%s: the ••• menu of %s is %q, want %q", tc.email, tc.name, got, tc.row)
		}
		id := app.demoToken(t, tc.name).ID
		d = c.get("/settings/api-tokens/" + id).doc(t)
		if got := menuOrder(d.Find(".detail-actions details[data-menu]")); got != tc.detail {
			t.Errorf("%s: the ▾ menu of %s is %q, want %q", tc.email, tc.name, got, tc.detail)
		}
	}
}

package main

// Browser tests of a token's life: the ••• and ▾ menus, the Enable, Disable
// and Delete confirmations with and without JavaScript, two users at once,
// bulk actions, the Add wizard and Edit (SPEC §3.2–§3.6, §2.3), against the
// demo data of store/demo.go.

import (
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

const (
	dialogSel = "dialog[open]"
	// detailMenu is a JavaScript expression for the ▾ menu of the details
	// page.
	detailMenu = `document.querySelector(".detail-actions details[data-menu]")`
)

// rowMenuJS is a JavaScript expression for the ••• menu (details element)
// of the token's row.
func rowMenuJS(name string) string {
	return `(` + rowJS(name) + `)?.querySelector("details[data-menu]")`
}

// openMenu clicks the summary of a menu, given as a JavaScript expression
// for its details element, and waits until it is open.
func (b *browserTest) openMenu(menuJS string) {
	b.t.Helper()
	b.do(chromedp.Click(chromedp.JSPath(menuJS + `.querySelector("summary")`)))
	b.waitUntil("the menu opens", menuJS+`.open`)
	b.waitStill()
}

// menuItems returns the labels of the items of a menu.
func (b *browserTest) menuItems(menuJS string) []string {
	b.t.Helper()
	return eval[[]string](b, `Array.from(`+menuJS+`.querySelectorAll(".menu-list a, .menu-list button"), e => e.textContent.trim())`)
}

// menuItem selects the item of a menu labelled label.
func menuItem(menuJS, label string) chromedp.JSPath {
	return chromedp.JSPath(`Array.from(` + menuJS + `.querySelectorAll(".menu-list a, .menu-list button")).filter(e => e.textContent.trim() === ` + jsString(label) + `)`)
}

// waitDialog waits until a modal dialog titled title is open and has come
// to rest, and returns its text.
func (b *browserTest) waitDialog(title string) string {
	b.t.Helper()
	b.waitUntil("the dialog "+title+" opens", `document.querySelector("`+dialogSel+` #confirm-title")?.textContent.trim() === `+jsString(title))
	b.waitStill()
	if !eval[bool](b, `document.querySelector("`+dialogSel+`").matches(":modal")`) {
		b.t.Errorf("the dialog %q is not modal", title)
	}
	if !eval[bool](b, `document.querySelector("`+dialogSel+`").contains(document.activeElement)`) {
		b.t.Errorf("with the dialog %q open the focus is outside it, on %s", title, b.focused())
	}
	return b.text(dialogSel)
}

// waitDialogClosed waits until no dialog is open, and the page has handled
// its closing (the close event comes after the dialog has closed).
func (b *browserTest) waitDialogClosed() {
	b.t.Helper()
	b.waitUntil("the dialog closes", `!document.querySelector("`+dialogSel+`") && Array.from(document.querySelectorAll("dialog")).every(d => !d.hasChildNodes())`)
}

// wantConfirmation fails the test unless the text of a confirmation (a
// dialog or a page) names the token and shows what is at stake: its status,
// its last access (a date, or — for never), and its modules (None for
// none).
func wantConfirmation(t *testing.T, text, name, id, status string, used bool, modules []string) {
	t.Helper()
	want := []string{name + " (" + id + ")", "Status " + status}
	if len(modules) == 0 {
		want = append(want, "Modules None")
	}
	want = append(want, modules...)
	for _, w := range want {
		if !strings.Contains(text, w) {
			t.Errorf("the confirmation does not show %q; it says %q", w, text)
		}
	}
	lastAccess := `Last access —`
	if used {
		lastAccess = `Last access \d{1,2} \w{3} \d{4} \d{2}:\d{2}`
	}
	if !regexp.MustCompile(lastAccess).MatchString(text) {
		t.Errorf("the confirmation does not show %q; it says %q", lastAccess, text)
	}
}

// The demo token that the lifecycle tests disable and enable: Active, on
// the first page of the list, used 9 hours ago, with two modules.
const lifecycleToken = "Nightly license report"

var lifecycleModules = []string{"Marketplace MOD-0478", "Account management MOD-9042"}

func TestBrowserDisableAndEnableInDialogs(t *testing.T) {
	for _, who := range []string{"admin@example.com", "operator@example.com"} {
		t.Run(strings.TrimSuffix(who, "@example.com"), func(t *testing.T) {
			b := newBrowserTest(t)
			b.login(who, demoPassword)
			name := lifecycleToken
			id := b.tokenID(name)
			menu := rowMenuJS(name)
			summary := `summary "Actions for ` + name + `"`

			// Cancel and Esc change nothing and give the focus back to the menu.
			for _, how := range []string{"Cancel", "Esc"} {
				b.openMenu(menu)
				b.do(chromedp.Click(menuItem(menu, "Disable")))
				text := b.waitDialog("Disable API token")
				wantConfirmation(t, text, name, id, "Active", true, lifecycleModules)
				if !strings.Contains(text, "API calls with it will fail until it is enabled again.") {
					t.Errorf("the Disable dialog does not say what disabling does: %q", text)
				}
				if how == "Cancel" {
					b.do(chromedp.Click(withText(dialogSel+" a", "Cancel")))
				} else {
					b.press(kb.Escape)
				}
				b.waitDialogClosed()
				if got := b.focused(); got != summary {
					t.Errorf("after %s the focus is on %s, want the menu's button %s", how, got, summary)
				}
				if got := b.rowStatus(name); got != "Active" {
					t.Errorf("after %s the token is %s", how, got)
				}
				b.wantPath("/settings/api-tokens")
				b.wantNoFlash()
			}

			// Disable, with a reason.
			b.openMenu(menu)
			b.do(chromedp.Click(menuItem(menu, "Disable")))
			b.waitDialog("Disable API token")
			b.do(chromedp.SendKeys(chromedp.CSS(dialogSel+" textarea#reason"), "Key rotation"))
			b.andWait("confirm Disable", chromedp.Click(withText(dialogSel+` button[type="submit"]`, "Disable")))
			b.wantPath("/settings/api-tokens")
			b.wantFlash("API token " + id + " was disabled.")
			if got := b.rowStatus(name); got != "Disabled" {
				t.Errorf("after Disable the list shows the token %q, want Disabled", got)
			}
			if got := b.menuItems(menu); slices.Contains(got, "Disable") || !slices.Contains(got, "Enable") {
				t.Errorf("the menu of a disabled token offers %q, want Enable and no Disable", got)
			}

			// The details page tells who disabled it and why; Enable it from
			// its ▾ menu.
			b.openToken(name)
			b.clickTab("Details", id, "details")
			if got := b.fieldText(".tab-panel dl", "Disabled"); !strings.Contains(got, "Reason: Key rotation") {
				t.Errorf("the Details tab shows Disabled %q, want the reason", got)
			}
			b.wantText("main h1 .badge", "Disabled")
			if got := b.menuItems(detailMenu); len(got) == 0 || got[0] != "Enable" {
				t.Errorf("the ▾ menu of a disabled token offers %q, want Enable first", got)
			}
			b.openMenu(detailMenu)
			b.do(chromedp.Click(menuItem(detailMenu, "Enable")))
			text := b.waitDialog("Enable API token")
			wantConfirmation(t, text, name, id, "Disabled", true, lifecycleModules)
			b.andWait("confirm Enable", chromedp.Click(withText(dialogSel+` button[type="submit"]`, "Enable")))
			b.wantPath("/settings/api-tokens/" + id)
			b.wantFlash("API token " + id + " was enabled.")
			b.wantText("main h1 .badge", "Active")
		})
	}
}

func TestBrowserDisableAndEnableWithoutJavaScript(t *testing.T) {
	for _, who := range []string{"admin@example.com", "operator@example.com"} {
		t.Run(strings.TrimSuffix(who, "@example.com"), func(t *testing.T) {
			b := newBrowserTestWithoutJavaScript(t)
			b.login(who, demoPassword)
			if eval[bool](b, `document.documentElement.classList.contains("js")`) {
				t.Fatal("the page ran its script in a tab with JavaScript off")
			}
			name := lifecycleToken
			id := b.tokenID(name)
			menu := rowMenuJS(name)

			// The menu is a plain disclosure; its item leads to a
			// confirmation page, whose Cancel changes nothing.
			b.openMenu(menu)
			b.andWait("choose Disable", chromedp.Click(menuItem(menu, "Disable")))
			b.wantPath("/settings/api-tokens/" + id + "/disable")
			b.wantText("main h1", "Disable API token")
			wantConfirmation(t, b.text("main section[data-confirm]"), name, id, "Active", true, lifecycleModules)
			if n := b.count("dialog"); n != 0 {
				t.Errorf("without JavaScript the page has %d dialogs", n)
			}
			b.andWait("click Cancel", chromedp.Click(withText("main section[data-confirm] a", "Cancel")))
			b.wantPath("/settings/api-tokens")
			b.wantNoFlash()
			if got := b.rowStatus(name); got != "Active" {
				t.Errorf("after Cancel the token is %s", got)
			}

			b.openMenu(menu)
			b.andWait("choose Disable", chromedp.Click(menuItem(menu, "Disable")))
			b.do(chromedp.SendKeys(chromedp.CSS("textarea#reason"), "Key rotation"))
			b.andWait("confirm Disable", chromedp.Click(withText(`main section[data-confirm] button[type="submit"]`, "Disable")))
			b.wantPath("/settings/api-tokens")
			b.wantFlash("API token " + id + " was disabled.")
			if got := b.rowStatus(name); got != "Disabled" {
				t.Errorf("after Disable the list shows the token %q, want Disabled", got)
			}

			// Enable from the details page's ▾ menu.
			b.openToken(name)
			b.openMenu(detailMenu)
			b.andWait("choose Enable", chromedp.Click(menuItem(detailMenu, "Enable")))
			b.wantPath("/settings/api-tokens/" + id + "/enable")
			b.wantText("main h1", "Enable API token")
			wantConfirmation(t, b.text("main section[data-confirm]"), name, id, "Disabled", true, lifecycleModules)
			b.andWait("confirm Enable", chromedp.Click(withText(`main section[data-confirm] button[type="submit"]`, "Enable")))
			b.wantPath("/settings/api-tokens/" + id)
			b.wantFlash("API token " + id + " was enabled.")
			b.wantText("main h1 .badge", "Active")
		})
	}
}

// isRed reports whether a CSS colour such as rgb(217, 45, 32) is a red.
func isRed(color string) bool {
	m := regexp.MustCompile(`^rgba?\((\d+), (\d+), (\d+)`).FindStringSubmatch(color)
	if m == nil {
		return false
	}
	r, _ := strconv.Atoi(m[1])
	g, _ := strconv.Atoi(m[2])
	bl, _ := strconv.Atoi(m[3])
	return r >= 150 && r > 2*g && r > 2*bl
}

func TestBrowserDeleteFromDetailsPage(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	const name = "Staging smoke tests"
	id := b.openToken(name)

	b.openMenu(detailMenu)
	if got := b.menuItems(detailMenu); !slices.Equal(got, []string{"Disable", "Delete"}) {
		t.Errorf("the ▾ menu offers %q, want Disable and Delete", got)
	}
	b.do(chromedp.Click(menuItem(detailMenu, "Delete")))
	text := b.waitDialog("Delete API token")
	wantConfirmation(t, text, name, id, "Active", false, nil)
	if !strings.Contains(text, "This cannot be undone.") {
		t.Errorf("the Delete dialog does not say that it cannot be undone: %q", text)
	}
	const deleteButton = dialogSel + ` button[type="submit"]`
	b.wantText(deleteButton, "Delete")
	if bg := eval[string](b, `getComputedStyle(document.querySelector(`+jsString(deleteButton)+`)).backgroundColor`); !isRed(bg) {
		t.Errorf("the Delete button's background is %s, want red", bg)
	}
	if n := b.count(dialogSel + " textarea"); n != 0 {
		t.Errorf("the Delete dialog asks for a reason")
	}

	b.andWait("confirm Delete", chromedp.Click(chromedp.CSS(deleteButton)))
	b.wantPath("/settings/api-tokens")
	b.wantFlash("API token " + id + " was deleted.")
	if got := b.rowStatus(name); got != "" {
		t.Errorf("after Delete the list still shows the token, %s", got)
	}
	b.open("/settings/api-tokens?size=25")
	if slices.Contains(b.names(), name) {
		t.Errorf("after Delete the list still shows the token")
	}
	b.wantText(rangeSel, "1–12 of 12 rows")
	// Its page now leads to its read-only audit trail, which says who
	// deleted it (issue 14).
	b.open("/settings/api-tokens/" + id)
	b.wantPath("/settings/api-tokens/" + id + "/audit")
	if got := b.text(".deleted-banner"); !strings.Contains(got, "Deleted by Alex Morgan") {
		t.Errorf("the deleted token's page says %q, want who deleted it", got)
	}

	// Its audit trail remains.
	b.open("/settings/audit-trail?event=deleted")
	objects := b.texts("table.audit-grid tbody tr td:nth-child(2)")
	if !slices.Contains(objects, name+" "+id) {
		t.Errorf("the audit trail's deleted records are of %q, want %s among them", objects, id)
	}
}

func TestBrowserViewerHasNoActions(t *testing.T) {
	b := newBrowserTest(t)
	b.login("viewer@example.com", demoPassword)

	if n := b.count("details[data-menu]"); n != 0 {
		t.Errorf("a viewer's list has %d ••• menus", n)
	}
	if n := b.count(`input[type="checkbox"]`); n != 0 {
		t.Errorf("a viewer's list has %d check boxes", n)
	}
	if n := b.count("#bulk"); n != 0 {
		t.Errorf("a viewer's list has a bulk action bar")
	}
	if n := b.controls("Add"); n != 0 {
		t.Errorf("a viewer is offered Add")
	}

	id := b.openToken("Helpdesk integration")
	if n := b.count("details[data-menu]"); n != 0 {
		t.Errorf("a viewer's details page has %d ▾ menus", n)
	}
	for _, label := range []string{"Edit", "Enable", "Disable", "Delete"} {
		if n := b.controls(label); n != 0 {
			t.Errorf("a viewer's details page offers %q", label)
		}
	}
	// The pages behind the controls refuse a viewer too.
	for _, path := range []string{"/settings/api-tokens/" + id + "/disable", "/settings/api-tokens/" + id + "/edit", "/settings/api-tokens/new"} {
		b.open(path)
		b.wantText(".error-status", "Error 403")
	}
}

func TestBrowserMenuByKeyboard(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	const name = lifecycleToken
	summary := `summary "Actions for ` + name + `"`
	menu := rowMenuJS(name)

	// Tab from the token's name reaches its ••• button.
	b.do(chromedp.Focus(inRow(name, "a.cell-title")))
	b.press(kb.Tab)
	if got := b.focused(); got != summary {
		t.Fatalf("Tab from the token's name moved the focus to %s, want %s", got, summary)
	}

	// Enter opens the menu with the focus on its first item.
	b.press(kb.Enter)
	b.waitUntil("the menu opens", menu+`.open`)
	b.waitUntil("the focus moves to the first item", `document.activeElement === `+menu+`.querySelector(".menu-list a")`)
	if got := b.focused(); got != `a "Disable"` {
		t.Errorf("the menu opened with the focus on %s, want Disable", got)
	}
	if got := b.describe(`[aria-expanded="true"]`); got != summary {
		t.Errorf("the expanded control is %s, want %s", got, summary)
	}
	b.press(kb.ArrowDown)
	if got := b.focused(); got != `a "Edit"` {
		t.Errorf("ArrowDown moved the focus to %s, want Edit", got)
	}
	b.press(kb.ArrowDown)
	if got := b.focused(); got != `a "Delete"` {
		t.Errorf("ArrowDown moved the focus to %s, want Delete", got)
	}
	b.press(kb.ArrowUp)
	if got := b.focused(); got != `a "Edit"` {
		t.Errorf("ArrowUp moved the focus to %s, want Edit", got)
	}

	// Escape closes it and gives the focus back to its button.
	b.press(kb.Escape)
	b.waitUntil("the menu closes", `!`+menu+`.open`)
	b.waitUntil("the menu's button is marked collapsed", menu+`.querySelector("summary").getAttribute("aria-expanded") === "false"`)
	if got := b.focused(); got != summary {
		t.Errorf("after Escape the focus is on %s, want %s", got, summary)
	}
	if n := b.count(`[aria-expanded="true"]`); n != 0 {
		t.Errorf("after Escape %d controls are still marked expanded", n)
	}

	// Space opens it again; Enter on an item opens its dialog, Escape
	// closes that and the focus returns to the menu's button.
	b.press(" ")
	b.waitUntil("the menu opens again", menu+`.open`)
	b.waitUntil("the focus moves to the first item", `document.activeElement === `+menu+`.querySelector(".menu-list a")`)
	b.press(kb.Enter)
	b.waitDialog("Disable API token")
	if !eval[bool](b, `document.activeElement?.id === "reason"`) {
		t.Errorf("the Disable dialog opened with the focus on %s, want its reason field", b.focused())
	}
	b.press(kb.Escape)
	b.waitDialogClosed()
	if got := b.focused(); got != summary {
		t.Errorf("after closing the dialog with Escape the focus is on %s, want %s", got, summary)
	}
	if got := b.rowStatus(name); got != "Active" {
		t.Errorf("after Escape the token is %s", got)
	}
}

func TestBrowserTwoUsersDisableTheSameToken(t *testing.T) {
	a := newBrowserTest(t)
	a.login("admin@example.com", demoPassword)
	o := a.otherBrowser()
	o.login("operator@example.com", demoPassword)

	name := lifecycleToken
	id := a.tokenID(name)
	menu := rowMenuJS(name)
	for _, b := range []*browserTest{a, o} {
		b.openMenu(menu)
		b.do(chromedp.Click(menuItem(menu, "Disable")))
		b.waitDialog("Disable API token")
	}

	// The administrator confirms first.
	a.andWait("confirm Disable (administrator)", chromedp.Click(withText(dialogSel+` button[type="submit"]`, "Disable")))
	a.wantFlash("API token " + id + " was disabled.")
	if got := a.rowStatus(name); got != "Disabled" {
		t.Errorf("after the administrator's Disable the list shows the token %q", got)
	}

	// Then the operator, who saw it Active.
	o.andWait("confirm Disable (operator)", chromedp.Click(withText(dialogSel+` button[type="submit"]`, "Disable")))
	o.wantPath("/settings/api-tokens/" + id + "/disable")
	o.wantNoFlash()
	problem := o.text(`main section[data-confirm] [role="alert"]`)
	for _, want := range []string{"Alex Morgan disabled it", "Nothing was applied."} {
		if !strings.Contains(problem, want) {
			t.Errorf("the operator is told %q, want it to say %q", problem, want)
		}
	}
	o.wantText("main section[data-confirm] .badge", "Disabled")
	if n := o.count(`main section[data-confirm] button[type="submit"]`); n != 0 {
		t.Errorf("the operator is still offered to confirm")
	}

	// One disable, one record.
	a.open("/settings/api-tokens/" + id + "/audit?event=disabled")
	if got, want := a.auditRows(), []auditRow{{"disabled", "Alex Morgan", "API token " + id + " was disabled."}}; !slices.Equal(got, want) {
		t.Errorf("the token's disabled records are %+v, want %+v", got, want)
	}
}

// checkModule checks the box of a module in the Add or Edit form.
func (b *browserTest) checkModule(id string, checked bool) {
	b.t.Helper()
	box := `#module-list input[value="` + id + `"]`
	if eval[bool](b, `document.querySelector(`+jsString(box)+`).checked`) != checked {
		b.do(chromedp.Click(chromedp.CSS(box)))
	}
	if eval[bool](b, `document.querySelector(`+jsString(box)+`).checked`) != checked {
		b.t.Fatalf("a click did not set the box of %s to %v", id, checked)
	}
}

// checkedModules returns the ids of the modules checked in the form.
func (b *browserTest) checkedModules() []string {
	b.t.Helper()
	return eval[[]string](b, `Array.from(document.querySelectorAll('#module-list input[name="modules"]:checked'), e => e.value)`)
}

// wantStep fails the test unless the Add wizard shows the step as current.
func (b *browserTest) wantStep(n int, label string) {
	b.t.Helper()
	want := strconv.Itoa(n) + " " + label
	if got := b.texts(`ol.steps [aria-current="step"]`); !slices.Equal(got, []string{want}) {
		b.t.Errorf("the wizard's current step is %q, want %q", got, want)
	}
}

func TestBrowserAddWizard(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	b.andWait("click Add", chromedp.Click(withText("main .page-header a", "Add")))
	b.wantPath("/settings/api-tokens/new")
	b.wantStep(1, "General")

	// A name with a character names may not have: the message is beside
	// the field, and what was typed stays.
	const description = "Made by the browser test.\nSecond line."
	b.do(
		chromedp.SendKeys(chromedp.CSS("#name"), "Bad <name>"),
		chromedp.SendKeys(chromedp.CSS("#description"), description),
	)
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(1, "General")
	if got := b.text(".field:has(#name) .field-error"); !strings.Contains(got, "not '<'") {
		t.Errorf("beside the name field the message is %q, want it to name the character '<'", got)
	}
	if got := b.describe(`[aria-invalid="true"]`); got != `input "Bad <name>"` {
		t.Errorf("the field marked invalid is %s, want the name field", got)
	}
	if got := b.value("#name"); got != "Bad <name>" {
		t.Errorf("after the error the name field holds %q, want what was typed", got)
	}
	if got := b.value("#description"); got != description {
		t.Errorf("after the error the description holds %q, want what was typed, %q", got, description)
	}

	const name = "Browser test token"
	b.do(clearField("#name"), chromedp.SendKeys(chromedp.CSS("#name"), name))
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(2, "Modules")

	// Two modules: one checked straight away, one found with the filter.
	b.checkModule("MOD-2210", true) // Billing
	b.do(chromedp.SendKeys(chromedp.CSS("#module-filter"), "help"))
	b.waitUntil("the filter leaves one module", `Array.from(document.querySelectorAll("#module-list li")).filter(li => !li.hidden).length === 1`)
	if got := b.texts("#module-list li:not([hidden]) .cell-main"); !slices.Equal(got, []string{"Helpdesk MOD-4617"}) {
		t.Errorf("filtered by help the modules shown are %q, want Helpdesk", got)
	}
	b.checkModule("MOD-4617", true) // Helpdesk
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(3, "Overview")
	wantOverview := func() {
		t.Helper()
		if got := b.fieldText("form dl", "Name"); got != name {
			t.Errorf("the overview shows the name %q, want %q", got, name)
		}
		if got := b.fieldText("form dl", "Description"); got != strings.ReplaceAll(description, "\n", " ") {
			t.Errorf("the overview shows the description %q", got)
		}
		if got := b.texts("form dl .plain-list li"); !slices.Equal(got, []string{"Billing MOD-2210", "Helpdesk MOD-4617"}) {
			t.Errorf("the overview shows the modules %q, want Billing and Helpdesk", got)
		}
	}
	wantOverview()

	// Back keeps the choice.
	b.andWait("click Back", chromedp.Click(withText("form .form-actions button", "Back")))
	b.wantStep(2, "Modules")
	if got := b.checkedModules(); !slices.Equal(got, []string{"MOD-2210", "MOD-4617"}) {
		t.Errorf("after Back the modules checked are %q, want MOD-2210 and MOD-4617", got)
	}
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(3, "Overview")
	wantOverview()

	b.andWait("click Add", chromedp.Click(withText("form .form-actions button", "Add")))
	if u := b.location(); !regexp.MustCompile(`^/settings/api-tokens/TKN-\d{4}-\d{4}/created$`).MatchString(u.Path) {
		t.Fatalf("Add led to %s, want the summary step; the page says %q", u, b.text("main"))
	}
	id := strings.Split(b.location().Path, "/")[3]
	b.wantStep(4, "Summary")
	b.wantText("#created-title", "This API token has been created successfully.")
	b.wantMasked(id)
	b.do(chromedp.Click(withText("[data-secret] form[data-reveal] button", "Show")))
	b.waitUntil("the value shows", `!document.querySelector("#token-value").textContent.includes("•")`)
	b.wantValue(id)

	b.andWait("click View details", chromedp.Click(withText("main a", "View details")))
	b.wantPath("/settings/api-tokens/" + id)
	if got := b.text("main h1"); got != name+" Active" {
		t.Errorf("the new token's page is headed %q, want %q", got, name+" Active")
	}
	b.clickTab("Modules", id, "modules")
	if got := b.texts(".tab-panel table tbody tr td:first-child"); !slices.Equal(got, []string{"Billing MOD-2210", "Helpdesk MOD-4617"}) {
		t.Errorf("the new token's Modules tab shows %q, want Billing and Helpdesk", got)
	}
}

// wantWizardURL fails the test unless the browser shows step n of the Add
// wizard at a URL of its own, one a GET shows again (the draft and the step
// in the query), not the answer to a POST; it returns the draft.
func (b *browserTest) wantWizardURL(n int) string {
	b.t.Helper()
	u := b.location()
	if u.Path != "/settings/api-tokens/new" || u.Query().Get("step") != strconv.Itoa(n) || u.Query().Get("draft") == "" {
		b.t.Fatalf("the wizard's step %d is at %s, want /settings/api-tokens/new?draft=…&step=%d; the page says %q", n, u, n, b.text("main"))
	}
	b.wantStep(n, []string{"General", "Modules", "Overview"}[n-1])
	return u.Query().Get("draft")
}

func TestBrowserAddWizardBackAndReload(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	wizardBackAndReload(b)
}

func TestBrowserAddWizardBackAndReloadWithoutJavaScript(t *testing.T) {
	b := newBrowserTestWithoutJavaScript(t)
	b.login("admin@example.com", demoPassword)
	wizardBackAndReload(b)
}

// wizardBackAndReload goes through the Add wizard with Next, reloading each
// step and going back with the browser's Back button: every step is a page
// of its own that shows what was entered, and nothing is sent twice.
func wizardBackAndReload(b *browserTest) {
	t := b.t
	t.Helper()
	b.allow(2 * browserTestTimeout)
	next := func() {
		t.Helper()
		b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	}
	// reload reloads the page and fails the test unless the answer is a
	// page a GET shows (200), not a form sent again (a step with errors
	// answers its POST with 400).
	reload := func() {
		t.Helper()
		resp, err := chromedp.RunResponse(b.ctx, chromedp.Reload())
		if err != nil {
			t.Fatalf("reload: %v", err)
		}
		if resp == nil || resp.Status != 200 {
			t.Fatalf("Reload of %s was answered %v, want 200 (a GET of the page)", b.location(), resp)
		}
	}
	b.andWait("click Add", chromedp.Click(withText("main .page-header a", "Add")))
	draft := b.wantWizardURL(1)
	const name, description = "Back and reload", "Typed before Back."
	b.do(chromedp.SendKeys(chromedp.CSS("#description"), description))
	if !b.noScript {
		// A name with an error first. The error is answered at once (the
		// answer to a POST); the page puts its step's URL in the address
		// bar, so Reload and Back load the step, and send nothing again.
		// (Without JavaScript the address bar keeps the POST's.)
		b.do(chromedp.SendKeys(chromedp.CSS("#name"), name+" <"))
		next()
		if got := b.wantWizardURL(1); got != draft {
			t.Errorf("after the error the draft is %s, want %s", got, draft)
		}
		reload()
		b.wantWizardURL(1)
		if got := b.value("#name"); got != name+" <" {
			t.Errorf("after the error and Reload the name field holds %q", got)
		}
		if got := b.text(".field:has(#name) .field-error"); !strings.Contains(got, "'<'") {
			t.Errorf("after the error and Reload the name's message is %q", got)
		}
		b.do(clearField("#name"))
	}
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), name))
	next()
	if got := b.wantWizardURL(2); got != draft {
		t.Errorf("step 2 is of the draft %s, want %s", got, draft)
	}
	reload()
	b.wantWizardURL(2)
	b.checkModule("MOD-2210", true) // Billing
	next()
	b.wantWizardURL(3)
	wantOverview := func(when string) {
		t.Helper()
		if got := b.fieldText("form dl", "Name"); got != name {
			t.Errorf("%s the overview shows the name %q, want %q", when, got, name)
		}
		if got := b.fieldText("form dl", "Description"); got != description {
			t.Errorf("%s the overview shows the description %q", when, got)
		}
		if got := b.texts("form dl .plain-list li"); !slices.Equal(got, []string{"Billing MOD-2210"}) {
			t.Errorf("%s the overview shows the modules %q, want Billing", when, got)
		}
	}
	wantOverview("at step 3")
	reload()
	b.wantWizardURL(3)
	wantOverview("after Reload")

	// The browser's Back: the steps as they were left, no form sent again.
	b.back()
	b.wantWizardURL(2)
	if got := b.checkedModules(); !slices.Equal(got, []string{"MOD-2210"}) {
		t.Errorf("after Back the modules checked are %q, want MOD-2210", got)
	}
	b.back()
	b.wantWizardURL(1)
	if got, got2 := b.value("#name"), b.value("#description"); got != name || got2 != description {
		t.Errorf("after Back to step 1 the fields hold %q and %q", got, got2)
	}
	next()
	b.wantWizardURL(2)
	next()
	b.wantWizardURL(3)
	wantOverview("after Back and Next")

	b.andWait("click Add", chromedp.Click(withText("form .form-actions button", "Add")))
	u := b.location()
	if !regexp.MustCompile(`^/settings/api-tokens/TKN-\d{4}-\d{4}/created$`).MatchString(u.Path) {
		t.Fatalf("Add led to %s, want the summary step; the page says %q", u, b.text("main"))
	}
	id := strings.Split(u.Path, "/")[3]
	reload()
	b.wantPath(u.Path)
	b.wantStep(4, "Summary")
	// Back from the summary: the token's page, not a second token.
	b.back()
	b.wantPath("/settings/api-tokens/" + id)
	if got := b.texts("main .flash-info"); len(got) != 1 || !strings.Contains(got[0], "already added as API token "+id) {
		t.Errorf("Back from the summary shows the notices %q", got)
	}
	b.open("/settings/api-tokens?q=" + url.QueryEscape(name))
	if n := b.count("table.grid tbody tr"); n != 1 {
		t.Errorf("the list holds %d tokens named %s, want 1", n, name)
	}
}

func TestBrowserEdit(t *testing.T) {
	b := newBrowserTest(t)
	b.login("admin@example.com", demoPassword)
	const name, newName = "Notifications relay", "Notifications relay v2"
	id := b.openToken(name)

	b.andWait("click Edit", chromedp.Click(withText(".detail-actions a", "Edit")))
	b.wantPath("/settings/api-tokens/" + id + "/edit")
	if got := b.value("#name"); got != name {
		t.Errorf("the Edit form holds the name %q, want %q", got, name)
	}
	if got := b.checkedModules(); !slices.Equal(got, []string{"MOD-5823"}) {
		t.Errorf("the Edit form has the modules %q checked, want Notifications (MOD-5823)", got)
	}
	b.do(clearField("#name"), chromedp.SendKeys(chromedp.CSS("#name"), newName))
	b.checkModule("MOD-5823", false) // Notifications
	b.checkModule("MOD-4617", true)  // Helpdesk
	b.andWait("click Save", chromedp.Click(withText("form .form-actions button", "Save")))

	b.wantPath("/settings/api-tokens/" + id)
	b.wantFlash("API token " + id + " was updated.")
	if got := b.text("main h1"); got != newName+" Active" {
		t.Errorf("after Save the page is headed %q, want %q", got, newName+" Active")
	}
	b.clickTab("Modules", id, "modules")
	if got := b.texts(".tab-panel table tbody tr td:first-child"); !slices.Equal(got, []string{"Helpdesk MOD-4617"}) {
		t.Errorf("after Save the Modules tab shows %q, want Helpdesk only", got)
	}
	b.clickTab("Audit trail", id, "audit")
	if rows := b.auditRows(); len(rows) == 0 || rows[0].Event != "updated" || rows[0].Actor != "Alex Morgan" {
		t.Errorf("the newest audit record is %+v, want Alex Morgan's update", rows)
	}
}

func TestBrowserBulkDisable(t *testing.T) {
	b := newBrowserTest(t)
	b.login("operator@example.com", demoPassword)
	bulkDisable(b)
}

func TestBrowserBulkDisableWithoutJavaScript(t *testing.T) {
	b := newBrowserTestWithoutJavaScript(t)
	b.login("operator@example.com", demoPassword)
	bulkDisable(b)
}

// bulkDisable selects two Active tokens in the list, disables them with the
// bulk bar's Disable, and checks the confirmation (a dialog with
// JavaScript, a page without) and the outcome.
func bulkDisable(b *browserTest) {
	t := b.t
	t.Helper()
	names := []string{"Access review bot", "Notifications relay"}
	var ids []string
	for _, name := range names {
		if got := b.rowStatus(name); got != "Active" {
			t.Fatalf("the demo token %s is %q, want Active", name, got)
		}
		ids = append(ids, b.tokenID(name))
		b.do(chromedp.Click(inRow(name, `input[type="checkbox"][name="ids"]`)))
	}

	confirm := "main section[data-confirm]"
	if b.noScript {
		b.andWait("click Disable in the bulk bar", chromedp.Click(withText("#bulk button", "Disable")))
		b.wantPath("/settings/api-tokens/bulk")
		b.wantText("main h1", "Disable 2 API tokens")
	} else {
		b.wantText("#bulk [data-bulk-count]", "2 selected:")
		b.do(chromedp.Click(withText("#bulk button", "Disable")))
		b.waitDialog("Disable 2 API tokens")
		confirm = dialogSel
	}
	text := b.text(confirm)
	for i, name := range names {
		if !strings.Contains(text, name+" "+ids[i]+" Active Disable") {
			t.Errorf("the bulk confirmation does not list %s (%s) to disable; it says %q", name, ids[i], text)
		}
	}
	if n := b.count(confirm + " tbody tr"); n != 2 {
		t.Errorf("the bulk confirmation lists %d tokens, want 2", n)
	}
	b.andWait("confirm", chromedp.Click(withText(confirm+` button[type="submit"]`, "Disable 2 tokens")))
	b.wantPath("/settings/api-tokens")
	b.wantFlash("2 API tokens were disabled: " + strings.Join(ids, ", ") + ".")
	for _, name := range names {
		if got := b.rowStatus(name); got != "Disabled" {
			t.Errorf("after the bulk Disable the list shows %s %q, want Disabled", name, got)
		}
	}
	if got := b.rowStatus("Data warehouse export"); got != "Active" {
		t.Errorf("a token that was not selected is now %q", got)
	}
}

// A stale view refreshes: when a dialog says there is nothing to do because
// someone acted first, closing it shows the list as it is now — the row's
// new status and a menu offering Enable, not Disable — with the focus back
// on that row's menu.
func TestBrowserStaleDialogRefreshes(t *testing.T) {
	a := newBrowserTest(t)
	a.login("admin@example.com", demoPassword)
	o := a.otherBrowser()
	o.login("operator@example.com", demoPassword)

	name := lifecycleToken
	id := a.tokenID(name)
	menu := rowMenuJS(name)
	// The operator disables the token while the administrator's list still
	// shows it Active.
	o.openMenu(menu)
	o.do(chromedp.Click(menuItem(menu, "Disable")))
	o.waitDialog("Disable API token")
	o.andWait("confirm Disable (operator)", chromedp.Click(withText(dialogSel+` button[type="submit"]`, "Disable")))
	o.wantFlash("API token " + id + " was disabled.")

	if got := a.rowStatus(name); got != "Active" {
		t.Fatalf("the administrator's list shows %q before its reload, want the stale Active", got)
	}
	a.openMenu(menu)
	a.do(chromedp.Click(menuItem(menu, "Disable")))
	text := a.waitDialog("Disable API token")
	if !strings.Contains(text, "already Disabled, so there is nothing to disable") {
		t.Errorf("the dialog says %q, want it to say the token is already Disabled", text)
	}
	a.newDocument("close the dialog", chromedp.Click(withText(dialogSel+` [data-cancel]`, "Close")))
	a.waitUntil("the list is loaded again", `document.readyState === "complete"`)
	if got := a.rowStatus(name); got != "Disabled" {
		t.Errorf("after closing the dialog the list shows the token %q, want Disabled", got)
	}
	if got := a.menuItems(menu); slices.Contains(got, "Disable") || !slices.Contains(got, "Enable") {
		t.Errorf("after closing the dialog the row's menu offers %q, want Enable and no Disable", got)
	}
	a.waitUntil("the focus is back on the row's menu", menu+`.querySelector("summary") === document.activeElement`)
}

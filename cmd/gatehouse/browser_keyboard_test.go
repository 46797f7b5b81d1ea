package main

// Keyboard-only use of the console, and a visible focus everywhere (issue 6):
// an operator with no mouse logs in, finds a token, disables it through the
// dialog and enables it again, and every stop of the Tab key on every page
// shows where the focus is.

import (
	"slices"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// focusProblemJS is a JavaScript function of an element that returns what
// keeps a sighted keyboard user from seeing that the element has the focus,
// or "" when nothing does. The element must be on the page with a size, and
// with the focus it must look different from the same element without it:
// an outline of at least 2px in a colour that is not transparent, or a box
// shadow that it does not have at rest. (The element at rest is a shallow
// copy placed beside it, so that its resting shadow, which buttons and fields
// have, does not pass for a focus ring; and a ring that fades in is judged
// once its transition ends.)
const focusProblemJS = `(e => {
	if (!e || e === document.body || e === document.documentElement) return "nothing has the focus";
	const r = e.getBoundingClientRect();
	if (r.width < 1 || r.height < 1) return "the focused element has no size (" + r.width + "×" + r.height + ")";
	// A ring that fades in is judged as it ends.
	e.getAnimations().forEach(a => a.finish());
	const s = getComputedStyle(e);
	if (s.visibility !== "visible") return "the focused element is invisible";
	const rest = e.cloneNode(false);
	rest.removeAttribute("id");
	rest.removeAttribute("autofocus");
	e.after(rest);
	const r2 = getComputedStyle(rest);
	const restOutline = r2.outlineStyle !== "none" && parseFloat(r2.outlineWidth) > 0;
	const restShadow = r2.boxShadow;
	rest.remove();
	const opaque = c => !/rgba\([^)]*,\s*0\)$/.test(c) && c !== "transparent";
	const ring = s.outlineStyle !== "none" && parseFloat(s.outlineWidth) >= 2 && opaque(s.outlineColor) && !restOutline;
	const shadow = s.boxShadow !== "none" && s.boxShadow !== restShadow && /rgb\(/.test(s.boxShadow);
	return ring || shadow ? "" : "no focus ring (outline " + s.outlineStyle + " " + s.outlineWidth + " " + s.outlineColor +
		", box-shadow " + s.boxShadow + "; at rest: box-shadow " + restShadow + ")";
})`

// wantFocusVisible fails the test when the element with the focus does not
// show it.
func (b *browserTest) wantFocusVisible(where string) {
	b.t.Helper()
	if p := eval[string](b, focusProblemJS+`(document.activeElement)`); p != "" {
		b.t.Errorf("%s: the focus on %s is not visible: %s", where, b.focused(), p)
	}
}

// tabTo presses Tab until the element with the focus matches the
// JavaScript predicate of the element e, checking at every stop that the
// focus is visible, and fails the test after max presses.
func (b *browserTest) tabTo(what, predicate string, max int) {
	b.t.Helper()
	for range max {
		b.press(kb.Tab)
		b.wantFocusVisible("tabbing to " + what)
		if eval[bool](b, `(e => `+predicate+`)(document.activeElement)`) {
			return
		}
	}
	b.t.Fatalf("%d presses of Tab did not reach %s; the focus is on %s", max, what, b.focused())
}

// wantChanged fails the test unless the page says the token was changed
// (done: "disabled", "enabled") and its row shows the status.
func (b *browserTest) wantChanged(id, name, done, status string) {
	b.t.Helper()
	b.wantFlash("API token " + id + " was " + done + ".")
	if got := b.rowStatus(name); got != status {
		b.t.Fatalf("after the token was %s by keyboard the list shows it %q, want %s", done, got, status)
	}
}

func TestBrowserKeyboardOnly(t *testing.T) {
	b := newBrowserTest(t)
	name := lifecycleToken

	// Log in: the email field has the focus when the page opens.
	b.open("/login")
	b.waitUntil("the email field has the focus", `document.activeElement?.id === "email"`)
	b.press("admin@example.com")
	b.tabTo("the password field", `e.id === "password"`, 1)
	b.press(demoPassword)
	b.newDocument("press Enter in the password field", chromedp.KeyEvent(kb.Enter))
	b.wantPath("/settings/api-tokens")

	// Find the token: the search field, its name, Enter.
	b.tabTo("the search field", `e.id === "q"`, 15)
	b.press(name)
	b.newDocument("press Enter in the search field", chromedp.KeyEvent(kb.Enter))
	if got := b.names(); len(got) != 1 || got[0] != name {
		t.Fatalf("searching for %q by keyboard lists %q", name, got)
	}
	id := b.tokenID(name)

	// Disable it: its ••• button, Enter, Disable, Enter, a reason, the
	// dialog's Disable button.
	toMenu := func() {
		t.Helper()
		b.tabTo("the ••• button of "+name, `e.matches("summary") && e.getAttribute("aria-label") === `+jsString("Actions for "+name), 30)
		b.press(kb.Enter)
		b.waitUntil("the menu opens with the focus on its first item", `document.activeElement?.matches("details[data-menu][open] .menu-list a")`)
		b.wantFocusVisible("the menu's first item")
	}
	toMenu()
	if got := b.focused(); got != `a "Disable"` {
		t.Fatalf("the menu of an active token opened with the focus on %s, want Disable", got)
	}
	b.press(kb.Enter)
	text := b.waitDialog("Disable API token")
	wantConfirmation(t, text, name, id, "Active", true, lifecycleModules)
	// The focus is in the reason, where Enter makes a new line: two
	// presses of Enter cannot disable a token unseen.
	if !eval[bool](b, `document.activeElement?.id === "reason"`) {
		t.Errorf("the dialog opened with the focus on %s, want the reason field", b.focused())
	}
	b.wantFocusVisible("the dialog's reason field")
	b.press("Incident 4711")
	b.tabTo("the dialog's Disable button", `e.matches("dialog[open] button[type=submit]")`, 5)
	if got := b.focused(); got != `button "Disable"` {
		t.Errorf("Tab from the reason went to %s, want the Disable button", got)
	}
	b.newDocument("press Enter on Disable", chromedp.KeyEvent(kb.Enter))
	b.wantChanged(id, name, "disabled", "Disabled")
	if q := b.location().Query().Get("q"); q != name {
		t.Errorf("after the Disable the list lost its search: q=%q", q)
	}

	// Enable it again the same way; the dialog's Enable button has the focus.
	toMenu()
	if got := b.focused(); got != `a "Enable"` {
		t.Fatalf("the menu of a disabled token opened with the focus on %s, want Enable", got)
	}
	b.press(kb.Enter)
	b.waitDialog("Enable API token")
	if got := b.focused(); got != `button "Enable"` {
		t.Errorf("the Enable dialog opened with the focus on %s, want its Enable button", got)
	}
	b.newDocument("press Enter on Enable", chromedp.KeyEvent(kb.Enter))
	b.wantChanged(id, name, "enabled", "Active")

	// Ctrl+Enter in the reason confirms at once.
	toMenu()
	b.press(kb.Enter)
	b.waitDialog("Disable API token")
	b.press("Second incident")
	b.newDocument("press Ctrl+Enter in the reason", chromedp.KeyEvent(kb.Enter, chromedp.KeyModifiers(chromedp.ModifierCtrl)))
	b.wantChanged(id, name, "disabled", "Disabled")

	// The changes are on its audit trail, the reasons with the Disables.
	b.open("/settings/api-tokens/" + id + "/audit")
	rows := b.auditRows()
	if len(rows) < 3 || rows[0].Event != "disabled" || rows[1].Event != "enabled" || rows[2].Event != "disabled" {
		t.Errorf("the audit trail after the keyboard walk begins %+v, want disabled, enabled, disabled", rows[:min(len(rows), 3)])
	}
	if got := b.texts("table.audit-grid tbody .audit-reason"); !slices.Equal(got, []string{"Reason: Second incident", "Reason: Incident 4711"}) {
		t.Errorf("the audit trail shows the reasons %q, want the two Disables'", got)
	}
}

// TestBrowserFocusVisibleEverywhere tabs through every page of the console,
// the open ••• menu and the dialog, and checks at each stop that the focus
// can be seen.
func TestBrowserFocusVisibleEverywhere(t *testing.T) {
	b := newBrowserTest(t)
	b.allow(3 * time.Minute) // 16 pages, every Tab stop measured
	// tabThrough presses Tab from the top of the page until the focus has
	// left the page or comes back to where it was, and returns how many
	// stops it made.
	tabThrough := func(what string) int {
		t.Helper()
		// Focusing the body moves the start of sequential navigation to
		// the top of the page, before the skip link.
		eval[bool](b, `document.activeElement?.blur(); document.body.tabIndex = -1; document.body.focus();
			document.body.removeAttribute("tabindex"); window.gatehouseSeen = new Set(); window.gatehouseLast = null; true`)
		for n := 0; n < 250; n++ {
			b.press(kb.Tab)
			// A date field takes a stop for each of its parts: the same
			// element again is a stop within it, not a return.
			left := eval[bool](b, `(e => {
				if (!e || e === document.body || (e !== window.gatehouseLast && window.gatehouseSeen.has(e))) return true;
				window.gatehouseSeen.add(e); window.gatehouseLast = e; return false })(document.activeElement)`)
			if left {
				if n == 0 {
					t.Errorf("%s: Tab reaches nothing", what)
				}
				return n
			}
			b.wantFocusVisible(what)
		}
		t.Errorf("%s: more than 250 Tab stops", what)
		return 250
	}

	b.open("/login")
	stops := map[string]int{"login": tabThrough("login")}
	b.login("admin@example.com", demoPassword)
	id := b.tokenID(lifecycleToken)
	pages := []string{
		"/settings/api-tokens",
		"/settings/api-tokens?q=zzz-nothing",
		"/settings/api-tokens/" + id + "/general",
		"/settings/api-tokens/" + id + "/modules",
		"/settings/api-tokens/" + id + "/details",
		"/settings/api-tokens/" + id + "/audit",
		"/settings/audit-trail",
		"/settings/audit-trail?from=garbage",
		"/settings/api-tokens/" + id + "/disable",
		"/settings/api-tokens/" + id + "/delete",
		"/settings/api-tokens/new",
		"/settings/api-tokens/" + id + "/edit",
		"/settings/nope",
	}
	for _, p := range pages {
		b.open(p)
		stops[p] = tabThrough(p)
	}
	b.open("/settings/api-tokens/" + id + "/audit")
	rec := eval[string](b, `document.querySelector("table.audit-grid tbody td.cell-action a").getAttribute("href")`)
	b.open(rec)
	stops["audit record"] = tabThrough("audit record")

	// The open menu and the modal dialog. Tab after the dialog's last
	// control leaves the page for the browser's own controls (the body has
	// the focus then), as with every native modal dialog, and comes back to
	// the dialog's first: the page behind is inert and never has the focus.
	b.open("/settings/api-tokens")
	b.do(chromedp.Focus(chromedp.JSPath(rowMenuJS(lifecycleToken) + `.querySelector("summary")`)))
	b.press(kb.Enter)
	b.waitUntil("the menu opens", `document.activeElement?.matches("details[data-menu][open] .menu-list a")`)
	for _, k := range []string{kb.ArrowDown, kb.ArrowDown, kb.End, kb.Home} {
		b.press(k)
		b.wantFocusVisible("the open menu")
	}
	b.press(kb.Enter)
	b.waitDialog("Disable API token")
	var inDialog, outside int
	for range 10 {
		b.press(kb.Tab)
		switch {
		case eval[bool](b, `document.activeElement === document.body`):
			outside++
		case eval[bool](b, `document.querySelector("dialog[open]").contains(document.activeElement)`):
			inDialog++
			b.wantFocusVisible("the Disable dialog")
		default:
			t.Fatalf("Tab with the modal dialog open moved the focus to %s, behind it", b.focused())
		}
	}
	if inDialog < 6 || outside == 0 {
		t.Errorf("10 presses of Tab in the dialog made %d stops in it and %d outside the page, want the dialog's controls in turn", inDialog, outside)
	}
	t.Logf("Tab stops per page: %v", stops)
}

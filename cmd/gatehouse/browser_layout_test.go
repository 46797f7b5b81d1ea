package main

// Browser tests of the console's layout (issue 14): long token names wrap
// in every grid, card, dialog, header and message instead of widening the
// page or spilling out of their box, at a desktop's 1280 px and a phone's
// 390 px; the audit trail's toolbar stays on one line at 1280 px with its
// filters set.

import (
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"gatehouse/store"
)

// The long names: valid (SPEC §2.4: at most 200 letters, digits, spaces and
// - . ' ") and without a space, so nothing but the layout can break them.
var (
	// longName58 is a CamelCase name of 58 characters, as a real one
	// might be.
	longName58 = "NorthwindTradersProductionInventorySynchronisationGateway2"
	// longName200 is as long as a name may be: 5 × 40 characters.
	longName200 = strings.Repeat("ContosoPharmaLogisticsColdChainTelemetry", 5)
)

// viewport is a window size the layout must hold at.
type viewport struct {
	width, height int64
	mobile        bool
}

var layoutViewports = []viewport{{1280, 900, false}, {390, 844, true}}

func (v viewport) String() string { return strconv.FormatInt(v.width, 10) + " px" }

// boxSelectors are the boxes whose content must stay inside them: the
// cells of grids (and, on a phone, the cards their rows become), cards,
// dialogs, headers, messages, the top bar and the page itself.
const boxSelectors = `main, .topbar, td, th, .table-wrap tr, .card, dialog, .confirm, .page-header,
	.detail-header, .detail-title, h1, .summary-card > div, .tabs, .field-row, .field-row dd,
	.flash, .steps, .check-item, .toolbar, .pager`

// spillJS returns, for the page in a window width px wide, what scrolls
// sideways or spills out of its box: the page wider than the window, a
// grid's frame scrolling sideways, and any text, image or form control
// reaching past the left or right edge of one of the boxes of boxSelectors
// (content, not decoration: a link's hover background or a dialog's footer
// may reach into the margin on purpose). Content a box clips on purpose (an
// ellipsis, a scrolling code block) is the clipping element's own business;
// text for screen readers only is left out, and so are menus, which drop
// down over what is beside them.
const spillJS = `((width, boxSel) => {
	const problems = [];
	const describe = e => {
		let s = e.tagName.toLowerCase();
		if (e.id) s += "#" + e.id;
		for (const c of e.classList) s += "." + c;
		const text = (e.innerText || "").trim().replace(/\s+/g, " ");
		return s + (text ? " " + JSON.stringify(text.length > 60 ? text.slice(0, 60) + "…" : text) : "");
	};
	const root = document.documentElement;
	if (root.scrollWidth > root.clientWidth || root.scrollWidth > width) {
		problems.push("the page scrolls sideways: it is " + root.scrollWidth + " px wide in a window of " + width + " px");
	}
	for (const w of document.querySelectorAll(".table-wrap")) {
		if (w.scrollWidth > w.clientWidth + 1) {
			problems.push("the grid frame " + describe(w).slice(0, 80) + " scrolls sideways: " + w.scrollWidth + " px of content in " + w.clientWidth + " px");
		}
	}
	const unseen = e => !!e.closest(".visually-hidden, [hidden], template, option, script, style, .menu-list") || e.getClientRects().length === 0;
	// clipped reports whether el, or an element between it and box, clips
	// what overflows it (or hides it, clipped to nothing).
	const clipped = (el, box) => {
		for (let a = el; a && a !== box; a = a.parentElement) {
			const cs = getComputedStyle(a);
			if (cs.overflowX !== "visible" || cs.clipPath !== "none") return true;
		}
		return false;
	};
	const replaced = "img, svg, input, select, textarea, button";
	const range = document.createRange();
	for (const box of document.querySelectorAll(boxSel)) {
		if (unseen(box)) continue;
		const b = box.getBoundingClientRect();
		if (b.width <= 1 || b.height <= 1) continue; // hidden but for screen readers
		const walker = document.createTreeWalker(box, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
		for (let n = walker.nextNode(); n; n = walker.nextNode()) {
			let r, el;
			if (n.nodeType === Node.TEXT_NODE) {
				if (!n.textContent.trim()) continue;
				el = n.parentElement;
				if (unseen(el) || clipped(el, box)) continue;
				range.selectNodeContents(n);
				r = range.getBoundingClientRect();
			} else {
				el = n;
				if (!el.matches(replaced) || unseen(el) || clipped(el.parentElement, box)) continue;
				r = el.getBoundingClientRect();
			}
			if (r.width === 0 && r.height === 0) continue;
			if (r.right > b.right + 1 || r.left < b.left - 1) {
				const what = n.nodeType === Node.TEXT_NODE ? "the text " + JSON.stringify(n.textContent.trim().slice(0, 40)) + " of " + describe(el).split(" ")[0] : describe(el);
				problems.push(what + " spills out of " + describe(box).slice(0, 90) +
					": it spans " + Math.round(r.left) + "–" + Math.round(r.right) + " px, the box " + Math.round(b.left) + "–" + Math.round(b.right) + " px");
				break; // one is enough for a box
			}
		}
	}
	return problems;
})`

// wantNothingSpills fails the test if the page, in a window v wide, scrolls
// sideways or has content spilling out of a cell, card, dialog, header or
// message.
func (b *browserTest) wantNothingSpills(v viewport, what string) {
	b.t.Helper()
	problems := eval[[]string](b, spillJS+`(`+strconv.FormatInt(v.width, 10)+`, `+jsString(boxSelectors)+`)`)
	const most = 6
	for i, p := range problems {
		if i == most {
			b.t.Errorf("%s at %s: and %d more", what, v, len(problems)-most)
			break
		}
		b.t.Errorf("%s at %s (%s): %s", what, v, b.location().RequestURI(), p)
	}
}

// wantLogOutVisible fails the test unless the Log out button is in the
// window and nothing covers it.
func (b *browserTest) wantLogOutVisible(v viewport, what string) {
	b.t.Helper()
	got := eval[string](b, `(() => {
		const btn = Array.from(document.querySelectorAll(".topbar button")).find(e => e.textContent.trim() === "Log out");
		if (!btn) return "there is none";
		const r = btn.getBoundingClientRect();
		if (r.width === 0) return "it is hidden";
		if (r.left < 0 || r.right > `+strconv.FormatInt(v.width, 10)+` || r.right > document.documentElement.clientWidth) {
			return "it spans " + Math.round(r.left) + "–" + Math.round(r.right) + " px, outside the window";
		}
		const hit = document.elementFromPoint(r.left + r.width / 2, r.top + r.height / 2);
		return btn.contains(hit) ? "" : "something covers it: " + (hit ? hit.tagName : "nothing");
	})()`)
	if got != "" {
		b.t.Errorf("%s at %s: Log out is not visible: %s", what, v, got)
	}
}

// checkLayout checks the page at each viewport, leaving the window at the
// first.
func (b *browserTest) checkLayout(what string) {
	b.t.Helper()
	for _, v := range layoutViewports {
		b.setViewport(v.width, v.height, v.mobile)
		b.wantNothingSpills(v, what)
	}
	v := layoutViewports[0]
	b.setViewport(v.width, v.height, v.mobile)
}

// addThroughWizard adds a token named name with the Add wizard, checking
// the layout of its Overview and Summary steps, and returns its id.
func (b *browserTest) addThroughWizard(name string) string {
	b.t.Helper()
	b.open("/settings/api-tokens/new")
	b.do(chromedp.Evaluate[chromedp.Void](`document.querySelector("#name").value = ` + jsString(name)))
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(2, "Modules")
	b.checkModule("MOD-2210", true)
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(3, "Overview")
	b.checkLayout("the Add wizard's overview")
	if dir := os.Getenv("GATEHOUSE_SCREENSHOTS"); dir != "" && name == longName200 {
		b.shoot(dir, "long-names-add-overview-1280", true)
	}
	b.andWait("click Add", chromedp.Click(withText("form .form-actions button", "Add")))
	b.wantStep(4, "Summary")
	b.checkLayout("the Add wizard's summary")
	id := strings.Split(b.location().Path, "/")[3]
	if !strings.HasPrefix(id, "TKN-") {
		b.t.Fatalf("Add led to %s, want the token's summary", b.location())
	}
	return id
}

// TestBrowserLongNames adds tokens with a long (58) and the longest (200
// characters) name without a space, and checks at 1280 and 390 px that no
// page showing them scrolls sideways and nothing spills out of its box:
// the list, the details page and its tabs, Edit, the Add wizard, the
// confirmations as dialogs and as pages (the 409 of one that does not
// apply too), the bulk confirmation, the account audit trail, an audit
// record, and the messages after an action.
func TestBrowserLongNames(t *testing.T) {
	for _, name := range []string{longName58, longName200} {
		if msg := store.ValidateName(name); msg != "" {
			t.Fatalf("the name %q is not valid: %s", name, msg)
		}
	}
	if got := []int{len(longName58), len(longName200)}; got[0] != 58 || got[1] != store.MaxNameLength {
		t.Fatalf("the long names have %v characters, want 58 and %d", got, store.MaxNameLength)
	}
	shots := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if shots != "" {
		if err := os.MkdirAll(shots, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	b := newBrowserTest(t)
	b.allow(6 * time.Minute)
	desktop := layoutViewports[0]
	b.setViewport(desktop.width, desktop.height, desktop.mobile)
	b.login("admin@example.com", demoPassword)
	names := []string{longName58, longName200}
	ids := map[string]string{}
	for _, name := range names {
		ids[name] = b.addThroughWizard(name)
	}
	long := longName200
	id := ids[long]

	for _, v := range layoutViewports {
		b.setViewport(v.width, v.height, v.mobile)
		check := func(what, path string) {
			t.Helper()
			if path != "" {
				b.open(path)
			}
			b.wantNothingSpills(v, what)
		}
		// With GATEHOUSE_SCREENSHOTS set, the pages are kept as pictures
		// too, for a look: whole at 1280 px, the first screen at 390 px.
		shoot := func(name string) {
			t.Helper()
			if shots != "" {
				b.shoot(shots, "long-names-"+name+"-"+strconv.FormatInt(v.width, 10), !v.mobile)
			}
		}
		check("the token list", "/settings/api-tokens")
		shoot("list")
		for _, name := range names {
			n := strconv.Itoa(len(name))
			base := "/settings/api-tokens/" + ids[name]
			for _, tab := range []string{"general", "modules", "details", "audit"} {
				check("the "+tab+" tab of the "+n+"-character name", base+"/"+tab)
				shoot(n + "-" + tab)
			}
			check("the Edit page of the "+n+"-character name", base+"/edit")
			check("the Disable page of the "+n+"-character name", base+"/disable")
			shoot(n + "-disable-page")
			check("the Delete page of the "+n+"-character name", base+"/delete")
			check("the Enable page (409: it is Active) of the "+n+"-character name", base+"/enable")
		}
		check("the bulk Disable page", "/settings/api-tokens/bulk?action=disable&ids="+ids[longName58]+"&ids="+id)
		shoot("bulk-page")
		check("the account audit trail", "/settings/audit-trail")
		shoot("audit-trail")
		b.wantLogOutVisible(v, "the account audit trail")
		b.open("/settings/api-tokens/" + id + "/audit")
		rec := eval[string](b, `document.querySelector("table.audit-grid tbody td.cell-action a").getAttribute("href")`)
		check("the audit record of the 200-character name", rec)
		shoot("audit-record")

		// The dialogs, with JavaScript: Disable (with a reason), and
		// Enable again, each followed by its message; the bulk dialog.
		b.open("/settings/api-tokens")
		menu := rowMenuJS(long)
		b.openMenu(menu)
		b.wantNothingSpills(v, "the list with the ••• menu open")
		b.do(chromedp.Click(menuItem(menu, "Disable")))
		b.waitDialog("Disable API token")
		b.wantNothingSpills(v, "the Disable dialog")
		shoot("disable-dialog")
		b.do(chromedp.SendKeys(chromedp.CSS(dialogSel+" #reason"), "Replaced by "+longName58))
		b.andWait("confirm Disable", chromedp.Click(withText(dialogSel+" button", "Disable")))
		b.wantFlash("API token " + id + " was disabled.")
		b.wantNothingSpills(v, "the list after Disable")
		shoot("list-after-disable")
		check("the Details tab of the disabled 200-character name", "/settings/api-tokens/"+id+"/details")
		b.open("/settings/api-tokens")
		b.openMenu(menu)
		b.do(chromedp.Click(menuItem(menu, "Enable")))
		b.waitDialog("Enable API token")
		b.wantNothingSpills(v, "the Enable dialog")
		b.andWait("confirm Enable", chromedp.Click(withText(dialogSel+" button", "Enable")))
		b.wantFlash("API token " + id + " was enabled.")
		for _, name := range names {
			b.do(chromedp.Click(inRow(name, `input[type="checkbox"][name="ids"]`)))
		}
		b.do(chromedp.Click(withText("#bulk button", "Delete")))
		b.waitDialog("Delete 2 API tokens")
		b.wantNothingSpills(v, "the bulk Delete dialog")
		shoot("bulk-dialog")
	}
}

// TestBrowserAuditToolbarOneLine checks that the audit trail's toolbar
// (event, date range, Apply, Clear filters, the exports) stays on one line
// at 1280 px with every filter set, on the account's trail and a token's.
func TestBrowserAuditToolbarOneLine(t *testing.T) {
	b := newBrowserTest(t)
	b.setViewport(1280, 900, false)
	b.login("admin@example.com", demoPassword)
	b.open("/settings/api-tokens?q=" + url.QueryEscape(lifecycleToken))
	id := b.tokenID(lifecycleToken)
	const filters = "?event=disabled&from=2020-01-01&to=2030-12-31"
	for i, path := range []string{"/settings/audit-trail" + filters, "/settings/api-tokens/" + id + "/audit" + filters} {
		b.open(path)
		if eval[int](b, `Array.from(document.querySelectorAll("form.toolbar a")).filter(a => a.textContent.trim() === "Clear filters").length`) != 1 {
			t.Errorf("%s shows no Clear filters: the filters did not take", path)
		}
		// On one line every control overlaps every other vertically.
		rows := eval[[]string](b, `Array.from(document.querySelector("form.toolbar").children)
			.map(e => [e, e.getBoundingClientRect()])
			.filter(([e, r]) => r.width > 0 && r.height > 0)
			.filter(([e, r], _, all) => all.some(([, o]) => o.bottom <= r.top || o.top >= r.bottom))
			.map(([e, r]) => e.tagName.toLowerCase() + " " + JSON.stringify(e.innerText.trim().replace(/\s+/g, " ")) + " at " + Math.round(r.top) + "–" + Math.round(r.bottom))`)
		if len(rows) > 0 {
			t.Errorf("at 1280 px the toolbar of %s wraps: %s are not on one line", path, strings.Join(rows, ", "))
		}
		if dir := os.Getenv("GATEHOUSE_SCREENSHOTS"); dir != "" {
			b.shoot(dir, "audit-toolbar-filtered-"+strconv.Itoa(i)+"-1280", false)
		}
	}
}

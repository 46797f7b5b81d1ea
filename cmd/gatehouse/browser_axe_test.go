package main

import (
	"encoding/json"
	"net/url"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/emulation"
	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// axeViolation is one finding of axe-core.
type axeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	Nodes  []struct {
		Target []any  `json:"target"`
		HTML   string `json:"html"`
	} `json:"nodes"`
}

var axeSource = func() string {
	b, err := os.ReadFile("../../testdata/axe/axe.min.js")
	if err != nil {
		return ""
	}
	return string(b)
}()

// axeCheck runs axe-core (WCAG 2.1 A and AA rules) on the page as it is and
// fails the test on any serious or critical violation.
func axeCheck(b *browserTest, what string) {
	b.t.Helper()
	if axeSource == "" {
		b.t.Fatal("testdata/axe/axe.min.js is missing")
	}
	if !eval[bool](b, `typeof window.axe === "object"`) {
		eval[bool](b, axeSource+";true")
	}
	raw := eval[string](b, `axe.run(document, {runOnly: {type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]}})
		.then(r => JSON.stringify(r.violations))`, chromedp.EvalAwaitPromise)
	b.axeRuns++
	// And no page scrolls sideways, at any width.
	if w := eval[[]int](b, `[document.documentElement.scrollWidth, document.documentElement.clientWidth]`); w[0] > w[1] {
		b.t.Errorf("%s: the page is %d px wide in a window of %d px: it scrolls sideways", what, w[0], w[1])
	}
	var vs []axeViolation
	if err := json.Unmarshal([]byte(raw), &vs); err != nil {
		b.t.Fatalf("%s: axe result: %v", what, err)
	}
	for _, v := range vs {
		if v.Impact != "serious" && v.Impact != "critical" {
			continue
		}
		var where []string
		for i, n := range v.Nodes {
			if i == 3 {
				break
			}
			where = append(where, n.HTML)
		}
		b.t.Errorf("%s: %s (%s): %s\n    %s", what, v.ID, v.Impact, v.Help, strings.Join(where, "\n    "))
	}
}

// setViewport makes the tab's window width × height CSS pixels, as a
// phone's (mobile) or a desktop browser's.
func (b *browserTest) setViewport(width, height int64, mobile bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, emulation.SetDeviceMetricsOverride, emulation.SetDeviceMetricsOverrideParams{
		Width: width, Height: height, DeviceScaleFactor: 1, Mobile: mobile,
	}); err != nil {
		b.t.Fatalf("set the viewport to %d×%d: %v", width, height, err)
	}
}

// TestBrowserAccessibility runs axe-core on every page and dialog of the
// console, at a desktop's 1280 px and a phone's 390 px: zero serious or
// critical violations.
func TestBrowserAccessibility(t *testing.T) {
	for _, width := range []int64{1280, 390} {
		t.Run(strconv.FormatInt(width, 10), func(t *testing.T) {
			b := newBrowserTest(t)
			b.allow(4 * time.Minute)
			b.setViewport(width, 844, width < 600)
			axeEverywhere(b, width)
		})
	}
}

func axeEverywhere(b *browserTest, width int64) {
	t := b.t
	b.open("/login")
	// First make sure axe does find things: an image without alt text is a
	// critical violation.
	eval[bool](b, `document.body.insertAdjacentHTML("beforeend", '<img id="axe-probe" src="data:,">'); true`)
	if axeSource != "" {
		eval[bool](b, axeSource+";true")
	}
	probe := eval[string](b, `axe.run(document, {runOnly: {type: "rule", values: ["image-alt"]}}).then(r => JSON.stringify(r.violations.map(v => v.impact)))`, chromedp.EvalAwaitPromise)
	if !strings.Contains(probe, "critical") {
		t.Fatalf("axe did not report an image without alt text: %s", probe)
	}
	eval[bool](b, `document.getElementById("axe-probe").remove(); true`)
	axeCheck(b, "login")
	b.submitLogin("admin@example.com", "wrong password")
	axeCheck(b, "login, wrong password")
	b.login("admin@example.com", demoPassword)
	axeCheck(b, "token list")

	b.open("/settings/api-tokens?q=zzz-nothing")
	axeCheck(b, "token list, nothing matches")
	b.open("/settings/api-tokens?status=Disabled&order=-name&size=5")
	axeCheck(b, "token list, filtered and sorted")

	b.open("/settings/api-tokens?q=Partner+portal")
	id := eval[string](b, `document.querySelector("table.grid tbody .cell-sub").textContent`)
	for _, tab := range []string{"general", "modules", "details", "audit"} {
		b.open("/settings/api-tokens/" + id + "/" + tab)
		axeCheck(b, "details "+tab)
	}
	b.open("/settings/api-tokens/" + id)
	b.do(chromedp.Click(withText("[data-secret] form[data-reveal] button", "Show")))
	b.waitUntil("the value shows", `!document.querySelector("#token-value").textContent.includes("•")`)
	axeCheck(b, "details with the value shown")
	b.open("/settings/api-tokens/" + id + "/audit")
	rec := eval[string](b, `document.querySelector("table.audit-grid tbody td.cell-action a").getAttribute("href")`)
	b.open(rec)
	axeCheck(b, "audit record")
	b.open("/settings/audit-trail")
	axeCheck(b, "audit trail")
	b.open("/settings/audit-trail?from=garbage")
	axeCheck(b, "audit trail with a field error")

	for _, action := range []string{"disable", "delete"} {
		b.open("/settings/api-tokens/" + id + "/" + action)
		axeCheck(b, "confirmation page "+action)
	}
	b.open("/settings/api-tokens/" + id + "/edit")
	axeCheck(b, "edit")
	b.do(clearField("#name"))
	b.andWait("click Save", chromedp.Click(withText("form .form-actions button", "Save")))
	axeCheck(b, "edit, empty name")
	b.open("/settings/nope")
	axeCheck(b, "not found")

	// The Add wizard, each step, and the name's error.
	b.open("/settings/api-tokens/new")
	axeCheck(b, "add, step 1")
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	axeCheck(b, "add, step 1, empty name")
	b.do(chromedp.SendKeys(chromedp.CSS("#name"), "Axe token"))
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(2, "Modules")
	axeCheck(b, "add, step 2")
	b.checkModule("MOD-2210", true)
	b.andWait("click Next", chromedp.Click(withText("form .form-actions button", "Next")))
	b.wantStep(3, "Overview")
	axeCheck(b, "add, step 3")
	b.andWait("click Add", chromedp.Click(withText("form .form-actions button", "Add")))
	b.wantStep(4, "Summary")
	axeCheck(b, "add, step 4")

	// The dialogs, opened from the rows' menus: Disable, Enable, Delete, and
	// a bulk action's.
	b.open("/settings/api-tokens?q=" + url.QueryEscape(lifecycleToken))
	dialog := func(name, item, title string) {
		t.Helper()
		menu := rowMenuJS(name)
		eval[bool](b, `(`+menu+`).open = true; true`)
		b.do(chromedp.Click(menuItem(menu, item)))
		b.waitDialog(title)
		axeCheck(b, title+" dialog")
		b.press(kb.Escape)
		b.waitDialogClosed()
	}
	dialog(lifecycleToken, "Disable", "Disable API token")
	dialog(lifecycleToken, "Delete", "Delete API token")
	b.open("/settings/api-tokens?status=Disabled")
	disabled := eval[string](b, `document.querySelector("table.grid tbody .cell-title").textContent.trim()`)
	dialog(disabled, "Enable", "Enable API token")
	b.open("/settings/api-tokens?size=100")
	for _, name := range []string{"Access review bot", "Notifications relay"} {
		b.do(chromedp.Click(inRow(name, `input[type="checkbox"][name="ids"]`)))
	}
	axeCheck(b, "token list with rows selected")
	b.do(chromedp.Click(withText("#bulk button", "Delete")))
	b.waitDialog("Delete 2 API tokens")
	axeCheck(b, "bulk Delete dialog")

	// The pages behind the dialogs, as without JavaScript: Enable, and a
	// bulk action's.
	b.open("/settings/api-tokens?status=Disabled")
	disabledID := eval[string](b, `document.querySelector("table.grid tbody .cell-sub").textContent.trim()`)
	b.open("/settings/api-tokens/" + disabledID + "/enable")
	axeCheck(b, "confirmation page enable")
	b.open("/settings/api-tokens/bulk?action=disable&ids=" + id + "&ids=" + disabledID)
	axeCheck(b, "bulk confirmation page")

	// What a viewer sees: the list without actions, and a refusal.
	v := b.otherBrowser()
	v.setViewport(width, 844, width < 600)
	v.login("viewer@example.com", demoPassword)
	axeCheck(v, "token list, viewer")
	v.open("/settings/api-tokens/" + id + "/disable")
	axeCheck(v, "forbidden")
	b.axeRuns += v.axeRuns
	if !t.Failed() {
		t.Logf("axe-core %s at %d px: %d pages and dialogs, no serious or critical violation", axeVersion(b), width, b.axeRuns)
	}
}

// axeVersion is the version of the axe-core that ran.
func axeVersion(b *browserTest) string {
	return eval[string](b, `window.axe?.version ?? "?"`)
}

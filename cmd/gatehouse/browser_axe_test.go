package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
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

// TestBrowserAccessibility runs axe-core on every page and dialog of the
// console: zero serious or critical violations.
func TestBrowserAccessibility(t *testing.T) {
	b := newBrowserTest(t)
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
	b.login("admin@example.com", demoPassword)
	axeCheck(b, "token list")

	b.open("/settings/api-tokens?q=zzz-nothing")
	axeCheck(b, "token list, nothing matches")

	b.open("/settings/api-tokens?q=Partner+portal")
	id := eval[string](b, `document.querySelector("table.grid tbody .cell-sub").textContent`)
	for _, tab := range []string{"general", "modules", "details", "audit"} {
		b.open("/settings/api-tokens/" + id + "/" + tab)
		axeCheck(b, "details "+tab)
	}
	b.open("/settings/api-tokens/" + id + "/audit")
	rec := eval[string](b, `document.querySelector("table.audit-grid tbody a").getAttribute("href")`)
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
	b.open("/settings/api-tokens/new")
	axeCheck(b, "add, step 1")
	b.open("/settings/api-tokens/" + id + "/edit")
	axeCheck(b, "edit")
	b.open("/settings/nope")
	axeCheck(b, "not found")

	// The dialog, opened from a row's menu.
	b.open("/settings/api-tokens")
	eval[bool](b, `document.querySelector("table.grid tbody details[data-menu]").open = true; true`)
	eval[bool](b, `document.querySelector("table.grid tbody details[data-menu] a[data-dialog]").click(); true`)
	b.waitUntil("the dialog opens", `!!document.querySelector("dialog[open] #confirm-title")`)
	axeCheck(b, "disable dialog")
}

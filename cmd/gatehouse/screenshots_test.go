package main

// The screenshots of the README, and of every page for a look at the
// design: make screenshots (GATEHOUSE_SCREENSHOTS=docs/screenshots) takes
// the README's; GATEHOUSE_SCREENSHOTS_ALL=1 adds every page at 1280 and
// 390 px. Without GATEHOUSE_SCREENSHOTS the test is skipped.

import (
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// shoot saves a screenshot of the viewport (or of the whole page) as
// dir/name.png.
func (b *browserTest) shoot(dir, name string, full bool) {
	b.t.Helper()
	b.waitStill()
	eval[bool](b, `document.fonts.ready.then(() => true)`, chromedp.EvalAwaitPromise)
	var png []byte
	var err error
	if full {
		png, err = chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	} else {
		png, err = chromedp.Run(b.ctx, chromedp.CaptureScreenshot())
	}
	if err != nil {
		b.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		b.t.Fatal(err)
	}
}

func TestScreenshots(t *testing.T) {
	dir := os.Getenv("GATEHOUSE_SCREENSHOTS")
	if dir == "" {
		t.Skip("GATEHOUSE_SCREENSHOTS is not set")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	all := os.Getenv("GATEHOUSE_SCREENSHOTS_ALL") != ""

	// The README's: the list, a token's details, the Disable dialog, and
	// the list on a phone.
	b := newBrowserTest(t)
	b.allow(3 * time.Minute)
	b.setViewport(1280, 800, false)
	b.login("admin@example.com", demoPassword)
	b.shoot(dir, "api-tokens", false)
	b.open("/settings/api-tokens?q=" + url.QueryEscape(lifecycleToken))
	id := b.tokenID(lifecycleToken)
	b.open("/settings/api-tokens/" + id)
	b.shoot(dir, "token-details", false)
	b.open("/settings/api-tokens")
	menu := rowMenuJS(lifecycleToken)
	b.openMenu(menu)
	b.do(chromedp.Click(menuItem(menu, "Disable")))
	b.waitDialog("Disable API token")
	b.shoot(dir, "confirm-disable", false)
	b.setViewport(390, 844, true)
	b.open("/settings/api-tokens")
	b.shoot(dir, "api-tokens-390", false)
	if !all {
		return
	}

	for _, width := range []int64{1280, 390} {
		w := strconv.FormatInt(width, 10)
		b.setViewport(width, 844, width < 600)
		shot := func(name, path string) {
			t.Helper()
			if path != "" {
				b.open(path)
			}
			b.shoot(dir, name+"-"+w, true)
		}
		shot("list", "/settings/api-tokens")
		shot("list-search", "/settings/api-tokens?q=report")
		shot("list-empty", "/settings/api-tokens?q=zzz-nothing")
		shot("list-disabled", "/settings/api-tokens?status=Disabled")
		for _, tab := range []string{"general", "modules", "details", "audit"} {
			shot("token-"+tab, "/settings/api-tokens/"+id+"/"+tab)
		}
		b.open("/settings/api-tokens/" + id + "/audit")
		rec := eval[string](b, `document.querySelector("table.audit-grid tbody td.cell-action a").getAttribute("href")`)
		shot("audit-record", rec)
		shot("audit-trail", "/settings/audit-trail")
		shot("audit-trail-error", "/settings/audit-trail?from=garbage&event=disabled")
		shot("confirm-disable-page", "/settings/api-tokens/"+id+"/disable")
		shot("confirm-delete-page", "/settings/api-tokens/"+id+"/delete")
		shot("add-1", "/settings/api-tokens/new")
		b.andWait("Next", chromedp.Click(withText("form .form-actions button", "Next")))
		shot("add-1-error", "")
		b.do(chromedp.SendKeys(chromedp.CSS("#name"), "Screenshot token "+w))
		b.andWait("Next", chromedp.Click(withText("form .form-actions button", "Next")))
		b.checkModule("MOD-2210", true)
		shot("add-2", "")
		b.andWait("Next", chromedp.Click(withText("form .form-actions button", "Next")))
		shot("add-3", "")
		b.andWait("Add", chromedp.Click(withText("form .form-actions button", "Add")))
		shot("add-4", "")
		shot("edit", "/settings/api-tokens/"+id+"/edit")
		shot("not-found", "/settings/nope")
		b.open("/settings/api-tokens?q=" + url.QueryEscape(lifecycleToken))
		b.openMenu(menu)
		shot("menu", "")
		b.do(chromedp.Click(menuItem(menu, "Delete")))
		b.waitDialog("Delete API token")
		shot("dialog-delete", "")
		b.open("/settings/api-tokens?size=100")
		for _, name := range []string{"Access review bot", "Notifications relay"} {
			b.do(chromedp.Click(inRow(name, `input[type="checkbox"][name="ids"]`)))
		}
		b.do(chromedp.Click(withText("#bulk button", "Enable")))
		b.waitUntil("the bulk dialog opens", `!!document.querySelector("dialog[open] #confirm-title")`)
		shot("dialog-bulk-enable", "")
	}
	b = newBrowserTest(t)
	b.setViewport(1280, 800, false)
	b.open("/login")
	b.submitLogin("admin@example.com", "wrong")
	b.shoot(dir, "login-error-1280", false)
	b.login("viewer@example.com", demoPassword)
	b.shoot(dir, "viewer-list-1280", false)
	b.open("/settings/api-tokens/" + id + "/disable")
	b.shoot(dir, "forbidden-1280", false)
}

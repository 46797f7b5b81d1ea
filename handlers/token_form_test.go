package handlers

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/PuerkitoBio/goquery"

	"gatehouse/store"
	"gatehouse/store/storetest"
)

// postMultipart posts a multipart form, with an optional logo file.
func (c *client) postMultipart(path string, fields url.Values, logoName string, logo []byte) response {
	c.t.Helper()
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	for k, vs := range fields {
		for _, v := range vs {
			w.WriteField(k, v)
		}
	}
	if logo != nil {
		fw, _ := w.CreateFormFile("logo", logoName)
		fw.Write(logo)
	}
	w.Close()
	req, _ := http.NewRequest(http.MethodPost, c.app.srv.URL+path, &body)
	req.Header.Set("Content-Type", w.FormDataContentType())
	return c.do(req)
}

// pngBytes is a small logo as Go's encoder writes it, which the store's
// re-encoding leaves byte for byte as it is.
var pngBytes = storetest.PNG(8, 8)

func TestAddWizard(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	d := c.follow(c.get("/settings/api-tokens/new")).doc(t)
	if got := currentStep(d); got != "1 General" {
		t.Errorf("current step = %q", got)
	}
	csrf := d.Find(`input[name="_csrf"]`).AttrOr("value", "")
	draft := d.Find(`input[name="draft"]`).AttrOr("value", "")

	// Step 1 with a logo: on to Modules, the logo kept server-side.
	r := c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"1"}, "go": {"next"},
		"name": {`Zoë's "Nightly" export`}, "description": {"Line one\r\nLine two"}}, "logo.png", pngBytes)
	step2, _ := wantStepURL(t, r, 2)
	d = c.get(step2).doc(t)
	if got := currentStep(d); got != "2 Modules" {
		t.Fatalf("step 1 → %q", got)
	}
	if n := d.Find(`#module-list input[type=checkbox]`).Length(); n != 8 {
		t.Errorf("%d modules offered, want the account's 8", n)
	}
	src := c.get("/settings/api-tokens/new?draft="+draft+"&step=1").doc(t).Find(".logo-field img.avatar").AttrOr("src", "")
	upload, ok := strings.CutPrefix(src, "/settings/api-tokens/uploads/")
	if !ok || upload == "" {
		t.Fatalf("step 1 again shows the logo %q, want the upload", src)
	}
	if r := c.get(src); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Errorf("upload preview = %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}

	// Step 2 → Back keeps everything; → Next shows the overview.
	step2Form := url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"2"}, "modules": {"MOD-2210", "MOD-0478"}}
	step2Form.Set("go", "back")
	r = c.postMultipart("/settings/api-tokens/new", step2Form, "", nil)
	wantStepURL(t, r, 1)
	d = c.follow(r).doc(t)
	if d.Find("#name").AttrOr("value", "") != `Zoë's "Nightly" export` || d.Find("#description").Text() != "Line one\nLine two" {
		t.Errorf("Back lost the general fields")
	}
	if n := c.get(step2).doc(t).Find(`#module-list input:checked`).Length(); n != 2 {
		t.Errorf("Back kept %d modules, want 2", n)
	}
	step2Form.Set("go", "next")
	r = c.postMultipart("/settings/api-tokens/new", step2Form, "", nil)
	wantStepURL(t, r, 3)
	d = c.follow(r).doc(t)
	overview := words(d.Find(".fields"))
	for _, want := range []string{`Zoë's "Nightly" export`, "Line one", "Marketplace MOD-0478", "Billing MOD-2210"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q: %s", want, overview)
		}
	}

	// Step 3 → Add: a 303 to the summary, which shows the value masked.
	r = c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"3"}, "go": {"add"}}, "", nil)
	loc := r.Header.Get("Location")
	m := regexp.MustCompile(`^/settings/api-tokens/(TKN-\d{4}-\d{4})/created$`).FindStringSubmatch(loc)
	if r.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("Add = %d %q", r.StatusCode, loc)
	}
	id := m[1]
	d = c.get(loc).doc(t)
	if got := squash(d.Find("#created-title").Text()); got != "This API token has been created successfully." {
		t.Errorf("summary title = %q", got)
	}
	if got := d.Find("#token-value").Text(); !strings.HasPrefix(strings.TrimSpace(got), "idt:"+id+":••••") {
		t.Errorf("summary value = %q, want it masked", got)
	}
	if d.Find(`a[href="/settings/api-tokens/`+id+`"]`).Length() != 1 || d.Find(`a[href="/settings/api-tokens"]`).Length() == 0 {
		t.Error("summary lacks View details or Close")
	}
	// Show on the summary: the summary again, with the value, recorded.
	r = c.post("/settings/api-tokens/"+id+"/reveal", url.Values{"_csrf": {csrf}, "from": {"created"}})
	if u, _ := url.Parse(r.Header.Get("Location")); r.StatusCode != http.StatusSeeOther || u == nil || u.Path != loc {
		t.Errorf("Show on the summary = %d %q, want a 303 to the summary", r.StatusCode, r.Header.Get("Location"))
	}
	if !regexp.MustCompile(`idt:` + id + `:[0-9A-Za-z]{49}`).MatchString(c.follow(r).doc(t).Find("#token-value").Text()) {
		t.Error("Show on the summary did not show the value")
	}
	// Someone else's visit to the summary goes to the token's page instead.
	other := app.client(t)
	other.mustLogin("priya@example.com")
	if r := other.get(loc); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens/"+id {
		t.Errorf("someone else's summary = %d %s", r.StatusCode, r.Header.Get("Location"))
	}

	tok, err := app.store.Token(context.Background(), app.acc.ID, id)
	if err != nil || tok.Name != `Zoë's "Nightly" export` || tok.Description != "Line one\nLine two" || len(tok.Modules) != 2 || tok.LogoType != "image/png" || tok.Status != store.StatusActive {
		t.Fatalf("created token = %+v, %v", tok, err)
	}
	if r := c.get("/settings/api-tokens/" + id + "/logo?v=1"); r.StatusCode != 200 || r.body != string(pngBytes) {
		t.Errorf("logo = %d", r.StatusCode)
	}
	if app.countEvents(t, id, store.EventTokenCreated) != 1 {
		t.Error("no created record")
	}
	// The list shows the logo as the avatar.
	if src := c.get("/settings/api-tokens?q="+id).doc(t).Find("table.grid img.avatar").AttrOr("src", ""); !strings.HasPrefix(src, "/settings/api-tokens/"+id+"/logo") {
		t.Errorf("list avatar = %q", src)
	}
}

func TestAddAndEditRefuseBadInput(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	csrf := c.csrfFrom("/settings/api-tokens/new")
	tok := app.demoToken(t, "CI pipeline")
	countTokens := func() int {
		var n int
		app.store.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens`).Scan(&n)
		return n
	}
	tokens := countTokens()
	big := append(append([]byte{}, pngBytes...), make([]byte, 6<<20)...)
	cases := []struct {
		name   string
		fields url.Values
		logo   []byte
		field  string
		msg    string
	}{
		{"201-character name", url.Values{"name": {strings.Repeat("n", 201)}}, nil, "name", "at most 200 characters"},
		{"empty name", url.Values{"name": {"  "}}, nil, "name", "Name is required."},
		{"control character", url.Values{"name": {"bell\x07"}}, nil, "name", "may contain letters"},
		{"invalid UTF-8", url.Values{"name": {"bad\xffname"}}, nil, "name", "invalid characters"},
		{"2001-character description", url.Values{"name": {"ok"}, "description": {strings.Repeat("d", 2001)}}, nil, "description", "at most 2000 characters"},
		{"fake PNG", url.Values{"name": {"ok"}}, []byte("GIF89a definitely not a png"), "logo", "must be a PNG or JPEG"},
		{"6 MB logo", url.Values{"name": {"ok"}}, big, "logo", "at most 5 MB"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for _, target := range []struct{ path, step string }{{"/settings/api-tokens/new", "1"}, {"/settings/api-tokens/" + tok.ID + "/edit", ""}} {
				f := url.Values{"_csrf": {csrf}, "go": {"next"}, "description": {"kept description"}}
				if target.step != "" {
					f.Set("step", target.step)
				} else {
					f.Set("version", "1")
				}
				for k, v := range tc.fields {
					f[k] = v
				}
				r := c.postMultipart(target.path, f, "logo.png", tc.logo)
				if r.StatusCode != http.StatusBadRequest {
					t.Fatalf("%s: status %d, want 400", target.path, r.StatusCode)
				}
				d := r.doc(t)
				if msg := d.Find("#" + tc.field + "-error").Text(); !strings.Contains(msg, tc.msg) {
					t.Errorf("%s: %s message = %q, want %q", target.path, tc.field, msg, tc.msg)
				}
				if d.Find("#"+tc.field).AttrOr("aria-invalid", "") != "true" {
					t.Errorf("%s: %s is not marked invalid", target.path, tc.field)
				}
				if tc.field != "description" && d.Find("#description").Text() != "kept description" {
					t.Errorf("%s: the description was lost: %q", target.path, d.Find("#description").Text())
				}
				if tc.field != "name" && d.Find("#name").AttrOr("value", "") != tc.fields.Get("name") {
					t.Errorf("%s: the name was lost", target.path)
				}
			}
		})
	}
	// A module the account does not have.
	r := c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "step": {"2"}, "go": {"next"}, "name": {"ok"}, "modules": {"MOD-9999"}}, "", nil)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(r.doc(t).Find("#modules-error").Text(), "MOD-9999 is not enabled") {
		t.Errorf("unknown module = %d", r.StatusCode)
	}
	// Straight to Add with a bad name (skipping the steps) is still refused.
	r = c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "step": {"3"}, "go": {"add"}, "name": {"<b>"}}, "", nil)
	if r.StatusCode != http.StatusBadRequest {
		t.Errorf("Add with a bad name = %d", r.StatusCode)
	}
	// Without CSRF: 403.
	if r := c.postMultipart("/settings/api-tokens/new", url.Values{"step": {"3"}, "go": {"add"}, "name": {"ok"}}, "", nil); r.StatusCode != http.StatusForbidden {
		t.Errorf("Add without CSRF = %d", r.StatusCode)
	}
	// Over the upload limit: 413.
	huge := make([]byte, 9<<20)
	if r := c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "step": {"1"}, "name": {"ok"}}, "logo.png", huge); r.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("9 MB body = %d, want 413", r.StatusCode)
	}
	if got := countTokens(); got != tokens {
		t.Errorf("bad input created %d tokens", got-tokens)
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Version != tok.Version {
		t.Error("bad input changed the edited token")
	}
}

func TestEditToken(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	tok := app.demoToken(t, "Nightly license report")
	path := "/settings/api-tokens/" + tok.ID + "/edit"
	d := c.get(path).doc(t)
	if d.Find("#name").AttrOr("value", "") != tok.Name || d.Find(`#module-list input[checked]`).Length() != len(tok.Modules) {
		t.Fatal("the form does not show the token as it is")
	}
	form := url.Values{"_csrf": {d.Find(`input[name="_csrf"]`).AttrOr("value", "")}, "version": {d.Find(`input[name="version"]`).AttrOr("value", "")},
		"name": {"Nightly licence report"}, "description": {"Now documented."}, "modules": {"MOD-0478"}}
	r := c.postMultipart(path, form, "logo.png", pngBytes)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/settings/api-tokens/"+tok.ID {
		t.Fatalf("save = %d %s", r.StatusCode, r.body)
	}
	if got := squash(c.get("/settings/api-tokens/" + tok.ID).doc(t).Find(".flash-success").Text()); got != "API token "+tok.ID+" was updated." {
		t.Errorf("flash = %q", got)
	}
	rec, _ := app.store.LastChange(context.Background(), app.acc.ID, tok.ID)
	if rec.Event != store.EventTokenUpdated || !strings.Contains(rec.Details, `"before":"Nightly license report","after":"Nightly licence report"`) {
		t.Errorf("audit = %s %s", rec.Event, rec.Details)
	}
	// Saving the same form again: stale version, nothing saved, typed values
	// kept, the form now carrying the new version.
	form.Set("name", "Third name")
	r = c.postMultipart(path, form, "", nil)
	d = r.doc(t)
	if r.StatusCode != http.StatusConflict || !strings.Contains(d.Find(".flash-warning").Text(), "Alex Morgan edited") {
		t.Fatalf("stale save = %d %q", r.StatusCode, d.Find(".flash-warning").Text())
	}
	if d.Find("#name").AttrOr("value", "") != "Third name" || d.Find(`input[name="version"]`).AttrOr("value", "") == form.Get("version") {
		t.Error("stale form lost the typed name or kept the old version")
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Name != "Nightly licence report" {
		t.Errorf("a stale save changed the name to %q", cur.Name)
	}
	// Nothing changed: nothing recorded.
	n := app.countEvents(t, tok.ID, store.EventTokenUpdated)
	form.Set("version", d.Find(`input[name="version"]`).AttrOr("value", ""))
	form.Set("name", "Nightly licence report")
	form.Set("remove_logo", "")
	if r := c.postMultipart(path, form, "", nil); r.StatusCode != http.StatusSeeOther {
		t.Errorf("no-op save = %d", r.StatusCode)
	}
	if app.countEvents(t, tok.ID, store.EventTokenUpdated) != n {
		t.Error("a save without changes was recorded")
	}
	// Remove the logo.
	form.Set("remove_logo", "1")
	c.postMultipart(path, form, "", nil)
	if r := c.get("/settings/api-tokens/" + tok.ID + "/logo"); r.StatusCode != http.StatusNotFound {
		t.Errorf("removed logo = %d", r.StatusCode)
	}
}

// wantStepURL fails the test unless r is a 303 to a step of the Add wizard
// (GET /settings/api-tokens/new?draft=…&step=N), and returns that URL and
// the draft's id.
func wantStepURL(t *testing.T, r response, step int) (loc, draft string) {
	t.Helper()
	loc = r.Header.Get("Location")
	u, err := url.Parse(loc)
	if r.StatusCode != http.StatusSeeOther || err != nil || u.Path != "/settings/api-tokens/new" ||
		u.Query().Get("step") != strconv.Itoa(step) || u.Query().Get("draft") == "" {
		t.Fatalf("the wizard answered %d %q, want a 303 to GET step %d of a draft", r.StatusCode, loc, step)
	}
	return loc, u.Query().Get("draft")
}

func currentStep(d *goquery.Document) string {
	return squash(d.Find(`.steps [aria-current="step"]`).Text())
}

// TestWizardPostRedirectGet: every step of the Add wizard answers its POST
// with a redirect to a GET of the next step, so that the browser's Back,
// Reload and bookmarks show a step again, with what was entered, and never
// send a form again.
func TestWizardPostRedirectGet(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	const newPath = "/settings/api-tokens/new"
	// Add starts a draft of its own, named in the URL.
	start, draft := wantStepURL(t, c.get(newPath), 1)
	d := c.get(start).doc(t)
	if currentStep(d) != "1 General" || d.Find(`form input[name="draft"]`).AttrOr("value", "") != draft {
		t.Fatalf("GET %s: step %q", start, currentStep(d))
	}
	csrf := d.Find(`input[name="_csrf"]`).AttrOr("value", "")

	r := c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"1"}, "go": {"next"},
		"name": {"PRG token"}, "description": {"Typed once\r\nkept"}}, "logo.png", pngBytes)
	step2, _ := wantStepURL(t, r, 2)
	want := newPath + "?" + url.Values{"draft": {draft}, "step": {"2"}}.Encode()
	if step2 != want {
		t.Errorf("step 1 led to %q, want %q", step2, want)
	}
	for i := range 2 { // Reload shows the same step, and changes nothing.
		r := c.get(step2)
		d := r.doc(t)
		if r.StatusCode != http.StatusOK || currentStep(d) != "2 Modules" || d.Find(`form input[name="draft"]`).AttrOr("value", "") != draft {
			t.Fatalf("GET step 2 (%d) = %d, step %q, draft %q", i, r.StatusCode, currentStep(d), d.Find(`form input[name="draft"]`).AttrOr("value", ""))
		}
	}
	step1 := start
	step3 := newPath + "?" + url.Values{"draft": {draft}, "step": {"3"}}.Encode()
	// A step not reached yet is not shown: the wizard goes to the last one
	// reached.
	if r := c.get(step3); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != step2 {
		t.Errorf("GET step 3 before step 2 = %d %q, want a 303 to step 2", r.StatusCode, r.Header.Get("Location"))
	}

	r = c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"2"}, "go": {"next"},
		"modules": {"MOD-2210", "MOD-0478"}}, "", nil)
	if loc, _ := wantStepURL(t, r, 3); loc != step3 {
		t.Errorf("step 2 led to %q, want %q", loc, step3)
	}
	d = c.get(step3).doc(t)
	overview := words(d.Find(".fields"))
	for _, want := range []string{"PRG token", "Typed once", "kept", "Marketplace MOD-0478", "Billing MOD-2210"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q: %s", want, overview)
		}
	}
	if src := d.Find(".fields img.avatar").AttrOr("src", ""); !strings.HasPrefix(src, "/settings/api-tokens/uploads/") {
		t.Errorf("overview logo = %q, want the upload", src)
	}

	// The browser's Back to step 1: everything entered is there.
	d = c.get(step1).doc(t)
	if currentStep(d) != "1 General" || d.Find("#name").AttrOr("value", "") != "PRG token" || d.Find("#description").Text() != "Typed once\nkept" {
		t.Errorf("step 1 again: step %q, name %q, description %q", currentStep(d), d.Find("#name").AttrOr("value", ""), d.Find("#description").Text())
	}
	if src := d.Find(".logo-field img.avatar").AttrOr("src", ""); !strings.HasPrefix(src, "/settings/api-tokens/uploads/") {
		t.Errorf("step 1 again shows the logo %q, want the upload", src)
	}
	if got := c.get(step2).doc(t).Find(`#module-list input:checked`).Length(); got != 2 {
		t.Errorf("step 2 again has %d modules checked, want 2", got)
	}

	// An invalid step is answered at once (400), with the message and what
	// was typed; the draft keeps it, so the step's URL shows it again, and
	// the later steps wait until it is put right.
	r = c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"1"}, "go": {"next"},
		"name": {"Bad <name>"}, "description": {"Typed once\nkept"}}, "", nil)
	d = r.doc(t)
	if r.StatusCode != http.StatusBadRequest || !strings.Contains(d.Find("#name-error").Text(), "'<'") || d.Find("#name").AttrOr("value", "") != "Bad <name>" {
		t.Fatalf("bad name = %d %q", r.StatusCode, d.Find("#name-error").Text())
	}
	if got := d.Find("[data-location]").AttrOr("data-location", ""); got != step1 {
		t.Errorf("the error page names its URL as %q, want %q", got, step1)
	}
	d = c.get(step1).doc(t)
	if !strings.Contains(d.Find("#name-error").Text(), "'<'") || d.Find("#name").AttrOr("value", "") != "Bad <name>" {
		t.Errorf("step 1 after the error: name %q, message %q", d.Find("#name").AttrOr("value", ""), d.Find("#name-error").Text())
	}
	if r := c.get(step3); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != step1 {
		t.Errorf("GET step 3 with a bad name = %d %q, want a 303 to step 1", r.StatusCode, r.Header.Get("Location"))
	}
	r = c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"1"}, "go": {"next"},
		"name": {"PRG token"}, "description": {"Typed once\nkept"}}, "", nil)
	wantStepURL(t, r, 2)
	if got := c.get(step3); got.StatusCode != http.StatusOK || got.doc(t).Find("#name-error").Length() != 0 {
		t.Errorf("step 3 after the fix = %d", got.StatusCode)
	}

	// Add: a 303 to the summary. The same Add again (a resubmission, a
	// double click) adds nothing more.
	add := url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"3"}, "go": {"add"}}
	r = c.postMultipart(newPath, add, "", nil)
	created := r.Header.Get("Location")
	m := regexp.MustCompile(`^/settings/api-tokens/(TKN-\d{4}-\d{4})/created$`).FindStringSubmatch(created)
	if r.StatusCode != http.StatusSeeOther || m == nil {
		t.Fatalf("Add = %d %q", r.StatusCode, created)
	}
	id := m[1]
	tokenPage := "/settings/api-tokens/" + id
	if r := c.postMultipart(newPath, add, "", nil); r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tokenPage {
		t.Errorf("Add again = %d %q, want a 303 to the token added the first time", r.StatusCode, r.Header.Get("Location"))
	}
	var n int
	app.store.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE name = 'PRG token'`).Scan(&n)
	if n != 1 {
		t.Errorf("%d tokens named PRG token, want 1", n)
	}
	tok, err := app.store.Token(context.Background(), app.acc.ID, id)
	if err != nil || tok.Description != "Typed once\nkept" || len(tok.Modules) != 2 || tok.LogoType != "image/png" {
		t.Errorf("added token = %+v, %v", tok, err)
	}

	// The summary reloads; Back from it (the step 3 URL) leads to the token,
	// saying it was added already.
	for range 2 {
		if r := c.get(created); r.StatusCode != http.StatusOK || squash(r.doc(t).Find("#created-title").Text()) != "This API token has been created successfully." {
			t.Errorf("reload of the summary = %d", r.StatusCode)
		}
	}
	for _, step := range []string{step3, step1} {
		r := c.get(step)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != tokenPage {
			t.Errorf("GET %s after Add = %d %q, want a 303 to %s", step, r.StatusCode, r.Header.Get("Location"), tokenPage)
		}
	}
	if got := squash(c.get(tokenPage).doc(t).Find(".flash-info").Text()); !strings.Contains(got, "already added as API token "+id) {
		t.Errorf("notice on the token's page = %q", got)
	}
}

// TestWizardDraftsPerTab: two Add wizards open at once (two tabs) keep two
// drafts, each named in its URL; another user cannot open them.
func TestWizardDraftsPerTab(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	const newPath = "/settings/api-tokens/new"
	csrf := c.csrfFrom(newPath)
	step1 := func(name string) (string, string) {
		r := c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "step": {"1"}, "go": {"next"}, "name": {name}}, "", nil)
		return wantStepURL(t, r, 2)
	}
	urlA, draftA := step1("Tab A token")
	urlB, draftB := step1("Tab B token")
	if draftA == draftB {
		t.Fatal("two wizards share one draft")
	}
	r := c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "draft": {draftA}, "step": {"2"}, "go": {"next"}, "modules": {"MOD-0478"}}, "", nil)
	stepA3, _ := wantStepURL(t, r, 3)
	r = c.postMultipart(newPath, url.Values{"_csrf": {csrf}, "draft": {draftB}, "step": {"2"}, "go": {"back"}, "modules": {"MOD-2210"}}, "", nil)
	wantStepURL(t, r, 1)
	if got := words(c.get(stepA3).doc(t).Find(".fields")); !strings.Contains(got, "Tab A token") || !strings.Contains(got, "MOD-0478") || strings.Contains(got, "MOD-2210") {
		t.Errorf("draft A's overview = %q", got)
	}
	d := c.get(urlB).doc(t)
	if d.Find(`#module-list input:checked`).AttrOr("value", "") != "MOD-2210" {
		t.Errorf("draft B lost its module")
	}
	if d = c.get(newPath + "?draft=" + draftB + "&step=1").doc(t); d.Find("#name").AttrOr("value", "") != "Tab B token" {
		t.Errorf("draft B's name = %q", d.Find("#name").AttrOr("value", ""))
	}

	// Another administrator of the account: not their draft.
	other := app.client(t)
	other.mustLogin("priya@example.com")
	r = other.get(urlA)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != newPath {
		t.Fatalf("someone else's draft = %d %q, want a 303 to a new wizard", r.StatusCode, r.Header.Get("Location"))
	}
	if d := other.follow(r).doc(t); strings.Contains(d.Text(), "Tab A token") || !strings.Contains(d.Find(".flash-warning").Text(), "no longer") {
		t.Errorf("someone else's draft: warning %q", d.Find(".flash-warning").Text())
	}
	ocsrf := other.csrfFrom(newPath)
	r = other.postMultipart(newPath, url.Values{"_csrf": {ocsrf}, "draft": {draftA}, "step": {"3"}, "go": {"add"}}, "", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != newPath {
		t.Errorf("Add of someone else's draft = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
	var n int
	app.store.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE name = 'Tab A token'`).Scan(&n)
	if n != 0 {
		t.Errorf("someone else added draft A")
	}
}

// TestEditConflictShowsTheirsAndYours: a Save against a version someone
// else has changed saves nothing and shows, for every field that differs,
// their saved value beside the one typed; the next Save applies, and a
// further change meanwhile is one more conflict.
func TestEditConflictShowsTheirsAndYours(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	tok := app.demoToken(t, "Nightly license report")
	path := "/settings/api-tokens/" + tok.ID + "/edit"
	d := c.get(path).doc(t)
	csrf := d.Find(`input[name="_csrf"]`).AttrOr("value", "")
	opened := d.Find(`input[name="version"]`).AttrOr("value", "")

	other := store.UserActor(store.User{ID: "USR-0000-0009", Name: "Priya Shah"}, "", "")
	if _, _, err := app.store.UpdateToken(context.Background(), other, app.acc.ID, tok.ID, tok.Version, store.TokenUpdate{
		Name: "Theirs name", Description: "Theirs description", ModuleIDs: []string{"MOD-0478", "MOD-9042"},
	}); err != nil {
		t.Fatal(err)
	}
	form := url.Values{"_csrf": {csrf}, "version": {opened}, "name": {"Yours name"}, "description": {""}, "modules": {"MOD-0478"}}
	r := c.postMultipart(path, form, "logo.png", pngBytes)
	d = r.doc(t)
	if r.StatusCode != http.StatusConflict {
		t.Fatalf("stale save = %d", r.StatusCode)
	}
	msg := squash(d.Find(".flash-warning").Text())
	if !strings.Contains(msg, "Priya Shah edited its name and description at") || strings.Contains(msg, "edited (") {
		t.Errorf("conflict message = %q", msg)
	}
	cell := func(field, side string) string {
		return squash(d.Find(`table.conflict tr[data-field="` + field + `"] td.` + side).Text())
	}
	for _, tc := range []struct {
		field         string
		theirs, yours []string
	}{
		{"name", []string{"Theirs name"}, []string{"Yours name"}},
		{"description", []string{"Theirs description"}, []string{"—"}},
		{"modules", []string{"Marketplace MOD-0478", "Account management MOD-9042"}, []string{"Marketplace MOD-0478"}},
		{"logo", []string{"No logo"}, []string{"The file you chose"}},
	} {
		for side, wants := range map[string][]string{"theirs": tc.theirs, "yours": tc.yours} {
			got := cell(tc.field, side)
			for _, want := range wants {
				if !strings.Contains(got, want) {
					t.Errorf("%s: %s = %q, want %q in it", tc.field, side, got, want)
				}
			}
		}
	}
	if got := cell("modules", "yours"); strings.Contains(got, "MOD-9042") {
		t.Errorf("modules: yours = %q, want Marketplace only", got)
	}
	if head := squash(d.Find("table.conflict thead").Text()); !strings.Contains(head, "Priya Shah") {
		t.Errorf("the comparison does not say whose the saved values are: %q", head)
	}
	// The form keeps what was typed, the logo too, and the current version.
	if d.Find("#name").AttrOr("value", "") != "Yours name" || d.Find(`#module-list input:checked`).Length() != 1 {
		t.Error("the conflict page lost what was typed")
	}
	upload := d.Find(`form input[name="logo_upload"]`).AttrOr("value", "")
	version := d.Find(`input[name="version"]`).AttrOr("value", "")
	if upload == "" || version != strconv.FormatInt(tok.Version+1, 10) {
		t.Fatalf("conflict form: logo upload %q, version %q", upload, version)
	}
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Name != "Theirs name" {
		t.Errorf("the stale save changed the name to %q", cur.Name)
	}

	// The user has seen theirs: the next Save applies, the logo included.
	form.Set("version", version)
	form.Set("logo_upload", upload)
	if r := c.postMultipart(path, form, "", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save after the conflict = %d", r.StatusCode)
	}
	cur, _ = app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.Name != "Yours name" || cur.Description != "" || len(cur.Modules) != 1 || cur.LogoType != "image/png" {
		t.Errorf("after the second save: %+v", cur)
	}

	// Changed again meanwhile: another conflict, not an overwrite.
	d = c.get(path).doc(t)
	form.Set("version", d.Find(`input[name="version"]`).AttrOr("value", ""))
	form.Del("logo_upload")
	if _, _, err := app.store.UpdateToken(context.Background(), other, app.acc.ID, tok.ID, 0, store.TokenUpdate{
		Name: "Theirs again", ModuleIDs: []string{"MOD-0478"},
	}); err != nil {
		t.Fatal(err)
	}
	form.Set("name", "Mine again")
	if r := c.postMultipart(path, form, "", nil); r.StatusCode != http.StatusConflict {
		t.Errorf("save over a newer change = %d, want 409", r.StatusCode)
	}
	if cur, _ = app.store.Token(context.Background(), app.acc.ID, tok.ID); cur.Name != "Theirs again" {
		t.Errorf("name = %q", cur.Name)
	}
}

// TestEditReturnsToTheList: Edit opened from the list (its ••• menu) or
// from a token's page goes back, on Save and on Cancel, to where it was
// opened, the list with its search, filters, order and page.
func TestEditReturnsToTheList(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	list := c.get("/settings/api-tokens?q=e&status=Active&order=name&size=5&page=2").doc(t)
	ret := list.Find(`#bulk input[name="return"]`).AttrOr("value", "")
	if !strings.Contains(ret, "page=2") || !strings.Contains(ret, "q=e") {
		t.Fatalf("the list's own URL is %q", ret)
	}
	row := list.Find("table.grid tbody tr").First()
	edit := row.Find(".menu-list a").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "Edit" }).AttrOr("href", "")
	d := c.get(edit).doc(t)
	if href := d.Find(".form-actions a").AttrOr("href", ""); href != ret {
		t.Errorf("Cancel of Edit from the list = %q, want %q", href, ret)
	}
	form := url.Values{}
	d.Find("form.form-card input[type=hidden]").Each(func(_ int, s *goquery.Selection) { form.Set(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	form.Set("name", d.Find("#name").AttrOr("value", "")+" edited")
	d.Find(`#module-list input:checked`).Each(func(_ int, s *goquery.Selection) { form.Add("modules", s.AttrOr("value", "")) })
	editPath := strings.SplitN(edit, "?", 2)[0]
	r := c.postMultipart(editPath, form, "", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != ret {
		t.Errorf("Save of Edit from the list = %d %q, want %q", r.StatusCode, r.Header.Get("Location"), ret)
	}

	// From the token's page (opened from the list): back to that page,
	// which keeps its way back to the list.
	details := row.Find("a.cell-title").AttrOr("href", "")
	page := c.get(details).doc(t)
	edit = page.Find(".detail-actions a").FilterFunction(func(_ int, s *goquery.Selection) bool { return s.Text() == "Edit" }).AttrOr("href", "")
	d = c.get(edit).doc(t)
	if href := d.Find(".form-actions a").AttrOr("href", ""); href != details {
		t.Errorf("Cancel of Edit from the token's page = %q, want %q", href, details)
	}
	form = url.Values{}
	d.Find("form.form-card input[type=hidden]").Each(func(_ int, s *goquery.Selection) { form.Set(s.AttrOr("name", ""), s.AttrOr("value", "")) })
	form.Set("name", d.Find("#name").AttrOr("value", "")+" again")
	r = c.postMultipart(editPath, form, "", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != details {
		t.Errorf("Save of Edit from the token's page = %d %q, want %q", r.StatusCode, r.Header.Get("Location"), details)
	}
	// Somewhere else than the console: ignored.
	form.Set("return", "https://evil.example/")
	form.Set("version", c.get(editPath).doc(t).Find(`input[name="version"]`).AttrOr("value", ""))
	form.Set("name", "Safe name")
	if r := c.postMultipart(editPath, form, "", nil); r.StatusCode != http.StatusSeeOther || strings.Contains(r.Header.Get("Location"), "evil") {
		t.Errorf("Save with a foreign return = %d %q", r.StatusCode, r.Header.Get("Location"))
	}
}

// TestEditNothingChangedIsANotice: a Save that changes nothing says so in a
// neutral notice, not as a success.
func TestEditNothingChangedIsANotice(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	tok := app.demoToken(t, "CI pipeline")
	path := "/settings/api-tokens/" + tok.ID + "/edit"
	d := c.get(path).doc(t)
	form := url.Values{"_csrf": {d.Find(`input[name="_csrf"]`).AttrOr("value", "")}, "version": {d.Find(`input[name="version"]`).AttrOr("value", "")},
		"name": {tok.Name}, "description": {tok.Description}, "modules": {"MOD-0478"}}
	r := c.postMultipart(path, form, "", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("save = %d", r.StatusCode)
	}
	d = c.get(r.Header.Get("Location")).doc(t)
	if got := squash(d.Find(".flash-info").Text()); got != "Nothing was changed, so nothing was saved." {
		t.Errorf("notice = %q", got)
	}
	if d.Find(".flash-success").Length() != 0 {
		t.Errorf("a save without changes shows a success: %q", d.Find(".flash-success").Text())
	}
	if n := d.Find(`.flash-info[role="status"]`).Length(); n != 1 {
		t.Errorf("the notice is not a status message")
	}
}

// stepperTags returns the start tags inside the wizard's stepper (the
// <ol class="steps"> and everything in it), as the server sent them.
func stepperTags(t *testing.T, page string) []string {
	t.Helper()
	ol := regexp.MustCompile(`(?s)<ol class="steps".*?</ol>`).FindString(page)
	if ol == "" {
		t.Fatal("the page has no stepper")
	}
	return regexp.MustCompile(`<[a-zA-Z][^>]*>`).FindAllString(ol, -1)
}

// attrNames returns the names of the attributes of a start tag, in order,
// repeats included.
func attrNames(tag string) []string {
	var names []string
	attr := regexp.MustCompile(`\s([^\s"'=<>/]+)(?:\s*=\s*(?:"[^"]*"|'[^']*'|[^\s"'>]+))?`)
	for _, m := range attr.FindAllStringSubmatch(strings.TrimPrefix(tag, "<"), -1) {
		names = append(names, strings.ToLower(m[1]))
	}
	return names
}

// TestWizardStepperMarkup checks the raw HTML of the Add wizard's stepper
// on each step: every tag has each attribute once (a browser keeps only
// the first of two class attributes, goquery cannot tell) and no stray
// attribute named after templ syntax, such as an "else" left by a line
// break between "}" and "else".
func TestWizardStepperMarkup(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	check := func(step string, page string) {
		t.Helper()
		items := 0
		for _, tag := range stepperTags(t, page) {
			names := attrNames(tag)
			seen := map[string]bool{}
			for _, n := range names {
				if seen[n] {
					t.Errorf("%s: the stepper tag %s has two %s attributes", step, tag, n)
				}
				seen[n] = true
				if n == "else" || n == "if" || n == "{" || n == "}" {
					t.Errorf("%s: the stepper tag %s has a stray %q attribute", step, tag, n)
				}
			}
			if strings.HasPrefix(tag, "<li") {
				items++
				if !seen["class"] {
					t.Errorf("%s: the stepper item %s has no class", step, tag)
				}
			}
		}
		if items != 4 {
			t.Errorf("%s: the stepper has %d items, want 4", step, items)
		}
	}
	// Each step's POST is answered with a redirect to the next step's GET.
	r := c.follow(c.get("/settings/api-tokens/new"))
	check("step 1", r.body)
	d := r.doc(t)
	csrf := d.Find(`input[name="_csrf"]`).AttrOr("value", "")
	draft := d.Find(`form input[name="draft"]`).AttrOr("value", "")
	form := url.Values{"_csrf": {csrf}, "draft": {draft}, "step": {"1"}, "go": {"next"}, "name": {"Stepper markup"}}
	check("step 2", c.follow(c.postMultipart("/settings/api-tokens/new", form, "", nil)).body)
	form.Set("step", "2")
	form.Set("modules", "MOD-2210")
	check("step 3", c.follow(c.postMultipart("/settings/api-tokens/new", form, "", nil)).body)
	form.Set("step", "3")
	form.Set("go", "add")
	r = c.postMultipart("/settings/api-tokens/new", form, "", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Add answered %d, want 303", r.StatusCode)
	}
	check("step 4", c.follow(r).body)
}

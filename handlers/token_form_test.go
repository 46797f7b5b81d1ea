package handlers

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

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
	d := c.get("/settings/api-tokens/new").doc(t)
	if got := squash(d.Find(`.steps [aria-current="step"]`).Text()); got != "1 General" {
		t.Errorf("current step = %q", got)
	}
	csrf := d.Find(`input[name="_csrf"]`).AttrOr("value", "")

	// Step 1 with a logo: on to Modules, the logo kept server-side.
	r := c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "step": {"1"}, "go": {"next"},
		"name": {`Zoë's "Nightly" export`}, "description": {"Line one\r\nLine two"}}, "logo.png", pngBytes)
	d = r.doc(t)
	if r.StatusCode != http.StatusOK || squash(d.Find(`.steps [aria-current="step"]`).Text()) != "2 Modules" {
		t.Fatalf("step 1 → %d %q", r.StatusCode, squash(d.Find(`.steps [aria-current="step"]`).Text()))
	}
	upload := d.Find(`input[name="logo_upload"]`).AttrOr("value", "")
	if upload == "" || d.Find(`input[name="name"]`).AttrOr("value", "") != `Zoë's "Nightly" export` {
		t.Fatalf("step 2 does not carry the logo and name")
	}
	if n := d.Find(`#module-list input[type=checkbox]`).Length(); n != 8 {
		t.Errorf("%d modules offered, want the account's 8", n)
	}
	if r := c.get("/settings/api-tokens/uploads/" + upload); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
		t.Errorf("upload preview = %d %q", r.StatusCode, r.Header.Get("Content-Type"))
	}

	// Step 2 → Back keeps everything; → Next shows the overview.
	step2 := url.Values{"_csrf": {csrf}, "step": {"2"}, "name": {`Zoë's "Nightly" export`}, "description": {"Line one\nLine two"},
		"logo_upload": {upload}, "modules": {"MOD-2210", "MOD-0478"}}
	step2.Set("go", "back")
	d = c.postMultipart("/settings/api-tokens/new", step2, "", nil).doc(t)
	if d.Find("#name").AttrOr("value", "") != `Zoë's "Nightly" export` || d.Find("#description").Text() != "Line one\nLine two" {
		t.Errorf("Back lost the general fields")
	}
	if n := d.Find(`input[type=hidden][name="modules"]`).Length(); n != 2 {
		t.Errorf("Back carries %d modules, want 2", n)
	}
	step2.Set("go", "next")
	d = c.postMultipart("/settings/api-tokens/new", step2, "", nil).doc(t)
	overview := words(d.Find(".fields"))
	for _, want := range []string{`Zoë's "Nightly" export`, "Line one", "Marketplace MOD-0478", "Billing MOD-2210"} {
		if !strings.Contains(overview, want) {
			t.Errorf("overview lacks %q: %s", want, overview)
		}
	}

	// Step 3 → Add: a 303 to the summary, which shows the value masked.
	step3 := step2
	step3.Set("step", "3")
	step3.Set("go", "add")
	r = c.postMultipart("/settings/api-tokens/new", step3, "", nil)
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
	// Show on the summary: the value, recorded.
	r = c.post("/settings/api-tokens/"+id+"/reveal", url.Values{"_csrf": {csrf}, "from": {"created"}})
	if !regexp.MustCompile(`idt:` + id + `:[0-9A-Za-z]{49}`).MatchString(r.doc(t).Find("#token-value").Text()) {
		t.Error("Show on the summary did not show the value")
	}
	// A second visit to the summary goes to the token's page instead.
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
	r := c.get("/settings/api-tokens/new")
	check("step 1", r.body)
	csrf := r.doc(t).Find(`input[name="_csrf"]`).AttrOr("value", "")
	form := url.Values{"_csrf": {csrf}, "step": {"1"}, "go": {"next"}, "name": {"Stepper markup"}}
	check("step 2", c.postMultipart("/settings/api-tokens/new", form, "", nil).body)
	form.Set("step", "2")
	form.Set("modules", "MOD-2210")
	check("step 3", c.postMultipart("/settings/api-tokens/new", form, "", nil).body)
	form.Set("step", "3")
	form.Set("go", "add")
	r = c.postMultipart("/settings/api-tokens/new", form, "", nil)
	if r.StatusCode != http.StatusSeeOther {
		t.Fatalf("Add answered %d, want 303", r.StatusCode)
	}
	check("step 4", c.get(r.Header.Get("Location")).body)
}

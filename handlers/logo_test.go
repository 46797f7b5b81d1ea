package handlers

import (
	"context"
	"encoding/json"
	"image"
	"image/png"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"gatehouse/store/storetest"
)

// hostilePNG is a valid PNG with HTML and script after its end, which a
// browser sniffing content could take for a page.
var hostilePNG = append(storetest.PNG(40, 30), "<script>alert(1)</script>"...)

// servedLogo checks that a logo served in answer to an upload is an image
// the server made: not the bytes sent, no script in it, a PNG of at most
// 256 pixels a side. It returns the image's size.
func servedLogo(t *testing.T, what string, status int, contentType, body string, sent []byte) image.Point {
	t.Helper()
	if status != http.StatusOK || contentType != "image/png" {
		t.Fatalf("%s = %d %q, want 200 image/png", what, status, contentType)
	}
	if body == string(sent) {
		t.Errorf("%s is the upload byte for byte", what)
	}
	if strings.Contains(strings.ToLower(body), "<script") {
		t.Errorf("%s contains the uploaded script", what)
	}
	img, err := png.Decode(strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s is not a PNG: %v", what, err)
	}
	size := img.Bounds().Size()
	if size.X > 256 || size.Y > 256 {
		t.Errorf("%s is %v, more than 256 pixels a side", what, size)
	}
	return size
}

// TestLogoReencodedInConsole: a logo uploaded in the Add wizard or the Edit
// form is served as the server re-encoded it, scaled down to 256 pixels a
// side, never as the bytes uploaded.
func TestLogoReencodedInConsole(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	csrf := c.csrfFrom("/settings/api-tokens/new")

	// The wizard: step 1 keeps the upload, which the later steps show.
	r := c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "step": {"1"}, "go": {"next"}, "name": {"Hostile"}}, "logo.png", hostilePNG)
	_, draft := wantStepURL(t, r, 2)
	src := c.get("/settings/api-tokens/new?draft="+draft+"&step=1").doc(t).Find(".logo-field img.avatar").AttrOr("src", "")
	upload, ok := strings.CutPrefix(src, "/settings/api-tokens/uploads/")
	if !ok || upload == "" {
		t.Fatalf("the draft shows the logo %q, want its upload", src)
	}
	u := c.get("/settings/api-tokens/uploads/" + upload)
	servedLogo(t, "the wizard's upload", u.StatusCode, u.Header.Get("Content-Type"), u.body, hostilePNG)

	r = c.postMultipart("/settings/api-tokens/new", url.Values{"_csrf": {csrf}, "step": {"3"}, "go": {"add"}, "name": {"Hostile"},
		"logo_upload": {upload}, "modules": {"MOD-2210"}}, "", nil)
	id := strings.TrimSuffix(strings.TrimPrefix(r.Header.Get("Location"), "/settings/api-tokens/"), "/created")
	if r.StatusCode != http.StatusSeeOther || !tokenIDPattern.MatchString(id) {
		t.Fatalf("add = %d %s", r.StatusCode, r.Header.Get("Location"))
	}
	l := c.get("/settings/api-tokens/" + id + "/logo")
	if size := servedLogo(t, "the added token's logo", l.StatusCode, l.Header.Get("Content-Type"), l.body, hostilePNG); size != image.Pt(40, 30) {
		t.Errorf("the added token's logo is %v, want 40 × 30", size)
	}

	// Edit: the hostile PNG, then a 1000 × 500 JPEG, stored as 256 × 128.
	tok := app.demoToken(t, "CI pipeline")
	path := "/settings/api-tokens/" + tok.ID + "/edit"
	for i, tc := range []struct {
		name string
		logo []byte
		want image.Point
	}{
		{"PNG followed by a script", hostilePNG, image.Pt(40, 30)},
		{"1000 × 500 JPEG", storetest.JPEG(1000, 500), image.Pt(256, 128)},
		{"1000 × 500 PNG", storetest.PNG(1000, 500), image.Pt(256, 128)},
	} {
		version := tok.Version + int64(i)
		r := c.postMultipart(path, url.Values{"_csrf": {csrf}, "version": {strconv.FormatInt(version, 10)}, "name": {tok.Name}, "modules": {"MOD-1756"}}, "logo", tc.logo)
		if r.StatusCode != http.StatusSeeOther {
			t.Fatalf("%s: save = %d %s", tc.name, r.StatusCode, r.doc(t).Find("#logo-error").Text())
		}
		l := c.get("/settings/api-tokens/" + tok.ID + "/logo?v=" + strconv.FormatInt(version+1, 10))
		if size := servedLogo(t, tc.name, l.StatusCode, l.Header.Get("Content-Type"), l.body, tc.logo); size != tc.want {
			t.Errorf("%s: the logo is %v, want %v", tc.name, size, tc.want)
		}
	}
}

// TestLogoRefusedInConsole: a file claiming 50000 × 50000 pixels, or
// garbage after a PNG signature, is refused with a message beside the logo
// field, what was typed kept, and nothing stored.
func TestLogoRefusedInConsole(t *testing.T) {
	app := newTestApp(t)
	c := app.client(t)
	c.mustLogin("admin@example.com")
	csrf := c.csrfFrom("/settings/api-tokens/new")
	tok := app.demoToken(t, "CI pipeline")
	count := func(table string) int {
		var n int
		app.store.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n)
		return n
	}
	tokens, logos := count("api_tokens"), count("api_token_logos")
	for _, tc := range []struct{ name, logo, want string }{
		{"50000 × 50000", string(storetest.PNGHeader(50000, 50000)), "The logo is 50000 × 50000 pixels; it must be at most 4096 pixels a side."},
		{"garbage after a PNG signature", "\x89PNG\r\n\x1a\n<html><script>alert(1)</script>", "The logo could not be read as a PNG image: the file is damaged or incomplete."},
	} {
		for _, target := range []struct{ path, step string }{{"/settings/api-tokens/new", "1"}, {"/settings/api-tokens/" + tok.ID + "/edit", ""}} {
			f := url.Values{"_csrf": {csrf}, "go": {"next"}, "name": {"Typed name"}, "description": {"typed description"}}
			if target.step != "" {
				f.Set("step", target.step)
			} else {
				f.Set("version", strconv.FormatInt(tok.Version, 10))
			}
			r := c.postMultipart(target.path, f, "logo.png", []byte(tc.logo))
			d := r.doc(t)
			if r.StatusCode != http.StatusBadRequest || squash(d.Find("#logo-error").Text()) != tc.want {
				t.Errorf("%s at %s = %d, logo message %q; want 400, %q", tc.name, target.path, r.StatusCode, squash(d.Find("#logo-error").Text()), tc.want)
			}
			if d.Find("#name").AttrOr("value", "") != "Typed name" || d.Find("#description").Text() != "typed description" {
				t.Errorf("%s at %s: what was typed was lost", tc.name, target.path)
			}
		}
	}
	if count("api_tokens") != tokens || count("api_token_logos") != logos || count("logo_uploads") != 0 {
		t.Error("a refused logo was stored")
	}
	if cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID); cur.Version != tok.Version {
		t.Error("a refused logo changed the edited token")
	}
}

// TestAPIIconReencoded: an icon sent to POST or PUT is served as the server
// re-encoded it; one claiming 50000 × 50000 pixels, or garbage after a PNG
// signature, is a 400 naming icon, and nothing is stored.
func TestAPIIconReencoded(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Iconic", AccessManagement)
	body := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	r := app.call(t, "POST", "/public/v1/accounts/api-tokens", value, body(map[string]any{"name": "Hostile icon", "icon": dataURL("image/png", hostilePNG)}))
	var tok apiToken
	r.json(t, &tok)
	if r.status != http.StatusCreated || tok.Icon == "" {
		t.Fatalf("POST = %d %s", r.status, r.body)
	}
	icon := app.call(t, "GET", tok.Icon, value, "")
	if size := servedLogo(t, "the POSTed icon", icon.status, icon.header.Get("Content-Type"), icon.body, hostilePNG); size != image.Pt(40, 30) {
		t.Errorf("the POSTed icon is %v, want 40 × 30", size)
	}
	for _, tc := range []struct {
		name, mediaType string
		logo            []byte
	}{
		{"1000 × 500 JPEG", "image/jpeg", storetest.JPEG(1000, 500)},
		{"1000 × 500 PNG", "image/png", storetest.PNG(1000, 500)},
	} {
		if r := app.call(t, "PUT", tok.Href, value, body(map[string]any{"icon": dataURL(tc.mediaType, tc.logo)})); r.status != http.StatusOK {
			t.Fatalf("PUT %s = %d %s", tc.name, r.status, r.body)
		}
		icon := app.call(t, "GET", tok.Icon, value, "")
		if size := servedLogo(t, tc.name, icon.status, icon.header.Get("Content-Type"), icon.body, tc.logo); size != image.Pt(256, 128) {
			t.Errorf("%s is served as %v, want 256 × 128", tc.name, size)
		}
	}

	before := app.call(t, "GET", tok.Icon, value, "")
	var tokens int
	app.store.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens`).Scan(&tokens)
	for _, tc := range []struct {
		name string
		logo []byte
		want string
	}{
		{"50000 × 50000", storetest.PNGHeader(50000, 50000), "The logo is 50000 × 50000 pixels; it must be at most 4096 pixels a side."},
		{"garbage after a PNG signature", []byte("\x89PNG\r\n\x1a\n<html><script>alert(1)</script>"), "The logo could not be read as a PNG image: the file is damaged or incomplete."},
	} {
		for _, m := range []string{"POST", "PUT"} {
			path := "/public/v1/accounts/api-tokens"
			if m == "PUT" {
				path = tok.Href
			}
			r := app.call(t, m, path, value, body(map[string]any{"name": "Refused icon", "icon": dataURL("image/png", tc.logo)}))
			if p := r.problem(t); r.status != http.StatusBadRequest || len(p.Errors["icon"]) != 1 || p.Errors["icon"][0] != tc.want {
				t.Errorf("%s %s = %d %s", m, tc.name, r.status, r.body)
			}
		}
	}
	var after int
	app.store.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens`).Scan(&after)
	if after != tokens {
		t.Error("a refused icon created a token")
	}
	if r := app.call(t, "GET", tok.Icon, value, ""); r.body != before.body {
		t.Error("a refused icon changed the logo")
	}
}

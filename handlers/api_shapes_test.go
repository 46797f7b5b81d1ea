package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"image"
	"image/jpeg"
	"image/png"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"gatehouse/store"
)

var msPrecision = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$`)

func TestAPITimeIsUTCWithMilliseconds(t *testing.T) {
	cet := time.FixedZone("CET", 3600)
	for _, tc := range []struct {
		in   time.Time
		want string
	}{
		{time.Date(2024, 3, 15, 11, 0, 0, 0, cet), `"2024-03-15T10:00:00.000Z"`},
		{time.Date(2024, 3, 15, 10, 0, 0, 123456789, time.UTC), `"2024-03-15T10:00:00.123Z"`},
		{time.Date(2024, 12, 31, 23, 59, 59, 999999999, time.UTC), `"2024-12-31T23:59:59.999Z"`},
	} {
		b, err := json.Marshal(apiTime(tc.in))
		if err != nil || string(b) != tc.want {
			t.Errorf("%v = %s %v, want %s", tc.in, b, err, tc.want)
		}
		var back apiTime
		if err := json.Unmarshal(b, &back); err != nil || !time.Time(back).Equal(tc.in.Truncate(time.Millisecond)) {
			t.Errorf("%s decodes to %v %v", b, time.Time(back), err)
		}
	}
}

func TestAPIDateTimesHaveMilliseconds(t *testing.T) {
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Timed", AccessManagement)
	app.call(t, "GET", "/public/v1/auth/verify", value, "")
	if err := app.h.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	var got struct {
		LastAccessAt string
		Audit        struct{ Created, Updated struct{ At string } }
	}
	app.call(t, "GET", apiTokenHref(tok.ID), value, "").json(t, &got)
	var recs struct{ Data []struct{ Timestamp string } }
	app.call(t, "GET", "/public/v1/audit/records?limit=3", value, "").json(t, &recs)
	all := []string{got.LastAccessAt, got.Audit.Created.At, got.Audit.Updated.At}
	for _, r := range recs.Data {
		all = append(all, r.Timestamp)
	}
	for _, s := range all {
		if !msPrecision.MatchString(s) {
			t.Errorf("date-time %q is not UTC with milliseconds", s)
		}
	}
	if len(all) != 6 {
		t.Errorf("%d date-times", len(all))
	}
}

func TestAPIProblemTitles(t *testing.T) {
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Titled", "MOD-0478")
	r := app.call(t, "GET", "/public/v1/accounts/api-tokens", "", "")
	if p := r.problem(t); r.status != 401 || p.Title != "Authentication Failed" || p.Detail != "Authentication failed." {
		t.Errorf("401 = %d %+v", r.status, p)
	}
	r = app.call(t, "GET", "/public/v1/accounts/api-tokens", value, "")
	if p := r.problem(t); r.status != 403 || p.Title != "Forbidden" {
		t.Errorf("403 = %d %+v", r.status, p)
	}
	app.store.DisableToken(context.Background(), store.SystemActor, app.acc.ID, tok.ID, 0, "")
	r = app.call(t, "GET", "/public/v1/auth/verify", value, "")
	if p := r.problem(t); r.status != 401 || p.Title != "Authentication Failed" || !strings.Contains(p.Detail, "is disabled") {
		t.Errorf("disabled = %d %+v", r.status, p)
	}
}

// dataURL is a logo as the API takes it.
func dataURL(mediaType string, b []byte) string {
	return "data:" + mediaType + ";base64," + base64.StdEncoding.EncodeToString(b)
}

func jpegBytes(t testing.TB) []byte {
	t.Helper()
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, image.NewGray(image.Rect(0, 0, 4, 4)), nil); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAPIIcon(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Iconic", AccessManagement)
	body := func(v any) string { b, _ := json.Marshal(v); return string(b) }

	// POST with a PNG: the icon is the logo's path, served with its type.
	r := app.call(t, "POST", "/public/v1/accounts/api-tokens", value, body(map[string]any{"name": "With logo", "icon": dataURL("image/png", pngBytes)}))
	var tok apiToken
	r.json(t, &tok)
	if r.status != 201 || tok.Icon != "/public/v1/accounts/api-tokens/"+tok.ID+"/icon" {
		t.Fatalf("POST with icon = %d %s", r.status, r.body)
	}
	icon := app.call(t, "GET", tok.Icon, value, "")
	if icon.status != 200 || icon.header.Get("Content-Type") != "image/png" || icon.body != string(pngBytes) || icon.header.Get("ETag") == "" {
		t.Fatalf("GET icon = %d %q %d bytes", icon.status, icon.header.Get("Content-Type"), len(icon.body))
	}
	if r := app.call(t, "GET", tok.Icon, value, "", "If-None-Match", icon.header.Get("ETag")); r.status != 304 {
		t.Errorf("icon If-None-Match = %d", r.status)
	}
	// The console shows the same logo.
	if got, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID); got.LogoType != "image/png" {
		t.Errorf("logo type = %q", got.LogoType)
	}

	// PUT the GET body back: nothing changes (the icon path keeps the logo).
	got := app.call(t, "GET", tok.Href, value, "")
	r = app.call(t, "PUT", tok.Href, value, got.body, "If-Match", got.header.Get("ETag"))
	if r.status != 200 || r.header.Get("ETag") != got.header.Get("ETag") || r.body != got.body {
		t.Errorf("PUT of the GET body = %d %s, want it unchanged", r.status, r.body)
	}
	// Change the name in it: the name changes, the logo stays.
	var m map[string]any
	json.Unmarshal([]byte(got.body), &m)
	m["name"] = "Renamed with logo"
	r = app.call(t, "PUT", tok.Href, value, body(m))
	var after apiToken
	r.json(t, &after)
	if r.status != 200 || after.Name != "Renamed with logo" || after.Icon != tok.Icon {
		t.Errorf("PUT of a modified GET body = %d %s", r.status, r.body)
	}
	if r := app.call(t, "GET", tok.Icon, value, ""); r.body != string(pngBytes) {
		t.Error("the logo changed")
	}

	// A JPEG replaces it, kept as the PNG it is re-encoded to; "" removes it.
	jpg := jpegBytes(t)
	app.call(t, "PUT", tok.Href, value, body(map[string]any{"icon": dataURL("image/jpeg", jpg)}))
	if r := app.call(t, "GET", tok.Icon, value, ""); r.status != 200 || r.header.Get("Content-Type") != "image/png" {
		t.Errorf("after a JPEG = %d %q", r.status, r.header.Get("Content-Type"))
	} else if img, err := png.Decode(strings.NewReader(r.body)); err != nil || img.Bounds().Dx() != 4 {
		t.Errorf("after a JPEG, the icon is not the 4 × 4 PNG: %v", err)
	}
	r = app.call(t, "PUT", tok.Href, value, `{"icon":""}`)
	r.json(t, &after)
	if r.status != 200 || after.Icon != "" {
		t.Errorf(`PUT icon "" = %d %s`, r.status, r.body)
	}
	if r := app.call(t, "GET", tok.Icon, value, ""); r.status != 404 {
		t.Errorf("icon of a token without a logo = %d", r.status)
	}
	rec, _ := app.store.LastChange(context.Background(), app.acc.ID, tok.ID)
	if rec.Actor.Type != "token" || !strings.Contains(rec.Details, `"logo"`) {
		t.Errorf("the removal's audit record = %+v", rec)
	}

	// POST with "" or without icon: no logo.
	r = app.call(t, "POST", "/public/v1/accounts/api-tokens", value, `{"name":"No logo","icon":""}`)
	r.json(t, &after)
	if r.status != 201 || after.Icon != "" {
		t.Errorf(`POST icon "" = %d %s`, r.status, r.body)
	}
	if r := app.call(t, "GET", after.Href+"/icon", value, ""); r.status != 404 {
		t.Errorf("icon of a token made without one = %d", r.status)
	}

	// Bad icons: 400 naming icon, nothing changed.
	other, _ := app.apiToken(t, app.acc.ID, "Other")
	big := append(append([]byte{}, pngBytes...), make([]byte, store.MaxLogoBytes)...)
	before, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	for _, tc := range []struct{ name, icon, want string }{
		{"not an image", dataURL("image/png", []byte("GIF89a not a png at all")), "must be a PNG or JPEG"},
		{"a GIF type", dataURL("image/gif", []byte("GIF89a")), "data:image/png;base64"},
		{"not base64", "data:image/png;base64,@@@@", "not valid base64"},
		{"no data", "data:image/png;base64,", "holds no image"},
		{"no comma", "data:image/png;base64", "data:image/png;base64"},
		{"a URL", "https://example.com/logo.png", "data:image/png;base64"},
		{"another token's icon", apiIconPath(other.ID), "data:image/png;base64"},
		{"over 5 MB", dataURL("image/png", big), "at most 5 MB"},
	} {
		for _, m := range []string{"POST", "PUT"} {
			path := "/public/v1/accounts/api-tokens"
			if m == "PUT" {
				path = tok.Href
			}
			r := app.call(t, m, path, value, body(map[string]any{"name": "Bad icon", "icon": tc.icon}))
			p := r.problem(t)
			if r.status != 400 || len(p.Errors["icon"]) == 0 || !strings.Contains(p.Errors["icon"][0], tc.want) {
				t.Errorf("%s %s = %d %.300s", m, tc.name, r.status, r.body)
			}
		}
	}
	if now, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID); now.Version != before.Version {
		t.Error("a bad icon changed the token")
	}

	// The icon route needs what the other api-tokens routes need.
	_, noAccess := app.apiToken(t, app.acc.ID, "No access", "MOD-0478")
	if r := app.call(t, "GET", tok.Icon, noAccess, ""); r.status != 403 {
		t.Errorf("icon without Access management = %d", r.status)
	}
	if r := app.call(t, "GET", tok.Icon, "", ""); r.status != 401 {
		t.Errorf("icon without a token = %d", r.status)
	}
	if r := app.call(t, "GET", "/public/v1/accounts/api-tokens/nope/icon", value, ""); r.status != 404 {
		t.Errorf("icon of a malformed id = %d", r.status)
	}
}

func TestAPIIconOfAnotherAccount(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Mine", AccessManagement)
	theirs, _, err := app.store.CreateToken(context.Background(), app.sealer, store.SystemActor, app.other.ID, store.NewToken{Name: "Theirs", Logo: pngBytes})
	if err != nil {
		t.Fatal(err)
	}
	if r := app.call(t, "GET", apiIconPath(theirs.ID), value, ""); r.status != 404 || strings.Contains(r.body, "PNG") {
		t.Errorf("another account's icon = %d", r.status)
	}
}

func TestAPIAccountInBody(t *testing.T) {
	app := newTestApp(t)
	caller, value := app.apiToken(t, app.acc.ID, "Accounted", AccessManagement)
	href := apiTokenHref(caller.ID)
	for _, tc := range []struct {
		name, account string
		status        int
	}{
		{"own account", `{"id":"` + app.acc.ID + `"}`, 0},
		{"own account with its name", `{"id":"` + app.acc.ID + `","name":"anything"}`, 0},
		{"another account", `{"id":"` + app.other.ID + `"}`, 403},
		{"an unknown account", `{"id":"ACC-0000-0000"}`, 403},
		{"an id of no known form", `{"id":"'; DROP TABLE accounts; --"}`, 403},
		{"an empty id", `{"id":""}`, 403},
		{"no id", `{"name":"x"}`, 400},
		{"an id that is not a string", `{"id":5}`, 400},
		{"an unknown field", `{"id":"` + app.acc.ID + `","type":"Client"}`, 400},
		{"null", `null`, 0},
	} {
		for _, m := range []string{"POST", "PUT"} {
			path, want := "/public/v1/accounts/api-tokens", tc.status
			if m == "PUT" {
				path = href
			}
			if want == 0 {
				want = map[string]int{"POST": 201, "PUT": 200}[m]
			}
			before := app.snapshot(t)
			r := app.call(t, m, path, value, `{"name":"Accounted","account":`+tc.account+`}`)
			if r.status != want {
				t.Errorf("%s with %s = %d, want %d: %s", m, tc.name, r.status, want, r.body)
			}
			if want >= 400 {
				p := r.problem(t)
				if want == 403 && !strings.Contains(p.Detail, app.acc.ID) {
					t.Errorf("%s with %s: detail %q", m, tc.name, p.Detail)
				}
				if strings.Contains(r.body, "DROP") {
					t.Errorf("%s with %s: the problem repeats the id sent", m, tc.name)
				}
				if app.snapshot(t) != before {
					t.Errorf("%s with %s changed the database", m, tc.name)
				}
			}
		}
	}
}

func TestAPIPutAcceptsReadOnlyFields(t *testing.T) {
	app := newTestApp(t)
	caller, value := app.apiToken(t, app.acc.ID, "Round trip", AccessManagement, "MOD-0478")
	got := app.call(t, "GET", apiTokenHref(caller.ID), value, "")
	// Read-only fields with other values are ignored: the URL names the
	// token, the server keeps status, dates and names.
	var m map[string]any
	json.Unmarshal([]byte(got.body), &m)
	m["id"], m["href"], m["status"], m["lastAccessAt"] = "TKN-0000-0000", "/elsewhere", "Disabled", "2020-01-01T00:00:00.000Z"
	m["audit"] = map[string]any{"created": map[string]any{"at": "2020-01-01T00:00:00.000Z"}}
	for _, mod := range m["modules"].([]any) {
		mod.(map[string]any)["name"] = "Not its name"
	}
	m["account"].(map[string]any)["name"] = "Not its name"
	m["$meta"] = map[string]any{"omitted": []string{}}
	b, _ := json.Marshal(m)
	r := app.call(t, "PUT", apiTokenHref(caller.ID), value, string(b))
	if r.status != 200 || r.body != got.body {
		t.Errorf("PUT with read-only fields changed = %d\n%s\nwant\n%s", r.status, r.body, got.body)
	}
	// The value and unknown fields are refused.
	for _, extra := range []string{`"token":"idt:TKN-0000-0000:x"`, `"logo":"x"`, `"modules":[{"id":"MOD-0478","description":"x"}]`} {
		r := app.call(t, "PUT", apiTokenHref(caller.ID), value, `{"name":"x",`+extra+`}`)
		if r.status != 400 || len(r.problem(t).Errors["body"]) == 0 {
			t.Errorf("PUT with %s = %d %s", extra, r.status, r.body)
		}
	}
}

func TestAPIAuditRecordByID(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Auditor", AccessManagement)
	var list struct{ Data []json.RawMessage }
	app.call(t, "GET", "/public/v1/audit/records?limit=2", value, "").json(t, &list)
	if len(list.Data) != 2 {
		t.Fatalf("%d records", len(list.Data))
	}
	for _, item := range list.Data {
		var rec apiAuditRecord
		json.Unmarshal(item, &rec)
		r := app.call(t, "GET", "/public/v1/audit/records/"+rec.ID, value, "")
		if r.status != 200 || strings.TrimSpace(r.body) != string(item) {
			t.Errorf("GET %s = %d\n%s\nwant the list item\n%s", rec.ID, r.status, r.body, item)
		}
	}
	// Another account's record, an unknown one and a malformed id: 404.
	theirs, _ := app.apiToken(t, app.other.ID, "Theirs")
	foreign, err := app.store.LastChange(context.Background(), app.other.ID, theirs.ID)
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{foreign.ID, "AUD-0000-0000-0000-0000", "nope", "AUD-1' OR '1'='1"} {
		r := app.call(t, "GET", "/public/v1/audit/records/"+strings.ReplaceAll(id, " ", "%20"), value, "")
		if r.status != 404 || r.problem(t).Status != 404 || strings.Contains(r.body, theirs.Name) {
			t.Errorf("record %q = %d %s", id, r.status, r.body)
		}
	}
	_, noAccess := app.apiToken(t, app.acc.ID, "No access", "MOD-0478")
	if r := app.call(t, "GET", "/public/v1/audit/records/"+foreign.ID, noAccess, ""); r.status != 403 {
		t.Errorf("without Access management = %d", r.status)
	}
	if r := app.call(t, "GET", "/public/v1/audit/records/"+foreign.ID, "", ""); r.status != 401 {
		t.Errorf("without a token = %d", r.status)
	}
}

// TestAPIBodyLimits: a token's POST and PUT take a body large enough for a
// 5 MB logo as a data: URL.
func TestAPIBodyLimits(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Large", AccessManagement)
	logo := append(append([]byte{}, pngBytes...), make([]byte, store.MaxLogoBytes-len(pngBytes))...)
	r := app.call(t, "POST", "/public/v1/accounts/api-tokens", value, `{"name":"Largest logo","icon":"`+dataURL("image/png", logo)+`"}`)
	if r.status != 201 {
		t.Fatalf("POST with a 5 MB logo = %d %.300s", r.status, r.body)
	}
	var tok apiToken
	r.json(t, &tok)
	// What is kept is the image re-encoded, without the padding after it.
	if r := app.call(t, "GET", tok.Icon, value, ""); r.status != http.StatusOK || r.body != string(pngBytes) {
		t.Errorf("the 5 MB logo = %d, %d bytes", r.status, len(r.body))
	}
}

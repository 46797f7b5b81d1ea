package handlers

import (
	"bytes"
	"context"
	"encoding/base64"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"gatehouse/store"
)

// dbSnapshot is what a hostile request must leave as it was.
type dbSnapshot struct {
	tokens   int
	tokenSum string
	audit    int
	users    int
	userSum  string
	sessions int
	uploads  int
}

func (a *testApp) snapshot(t testing.TB) dbSnapshot {
	t.Helper()
	db := a.store.DB()
	var s dbSnapshot
	for _, q := range []struct {
		sql  string
		dest []any
	}{
		{`SELECT COUNT(*), COALESCE(string_agg(id||status||version||name, ',' ORDER BY id), '') FROM api_tokens`, []any{&s.tokens, &s.tokenSum}},
		{`SELECT COUNT(*) FROM audit_records`, []any{&s.audit}},
		{`SELECT COUNT(*), COALESCE(string_agg(id||role||email, ',' ORDER BY id), '') FROM users`, []any{&s.users, &s.userSum}},
		{`SELECT COUNT(*) FROM sessions`, []any{&s.sessions}},
		{`SELECT COUNT(*) FROM logo_uploads`, []any{&s.uploads}},
	} {
		if err := db.QueryRow(q.sql).Scan(q.dest...); err != nil {
			t.Fatalf("snapshot %q: %v", q.sql, err)
		}
	}
	return s
}

// hostileCase is one hostile request: what it gets back, and a fragment of
// what the user or client is told.
type hostileCase struct {
	name    string
	do      func() (status int, body string, header http.Header)
	status  int
	want    string // a fragment of the body
	notWant string // must not appear in the body
	problem bool   // an API answer: application/problem+json
	loc     string // prefix of the Location header (redirects)
}

func TestHostileInputCatalogue(t *testing.T) {
	app := newTestApp(t)
	ctx := context.Background()

	// Tokens the catalogue aims at.
	ci := app.demoToken(t, "CI pipeline") // Active, in the first account
	ciPath := "/settings/api-tokens/" + ci.ID
	ciVersion := strconv.FormatInt(ci.Version, 10)
	foreign, _ := app.apiToken(t, app.other.ID, "Globex private")
	fPath := "/settings/api-tokens/" + foreign.ID
	fAPI := "/public/v1/accounts/api-tokens/" + foreign.ID
	_, access := app.apiToken(t, app.acc.ID, "Hostile access", AccessManagement)
	_, billing := app.apiToken(t, app.acc.ID, "Billing only", "MOD-2210")
	disabled, disabledValue := app.apiToken(t, app.acc.ID, "Soon disabled", AccessManagement)
	if _, err := app.store.DisableToken(ctx, store.SystemActor, app.acc.ID, disabled.ID, disabled.Version, "test"); err != nil {
		t.Fatal(err)
	}
	deleted, deletedValue := app.apiToken(t, app.acc.ID, "Soon deleted", AccessManagement)
	if err := app.store.DeleteToken(ctx, store.SystemActor, app.acc.ID, deleted.ID, deleted.Version); err != nil {
		t.Fatal(err)
	}
	flipped := []byte(access)
	flipped[len(flipped)-1] ^= 1
	badChecksum := string(flipped)
	unknownValue := store.NewTokenValue("TKN-9999-9999")

	// Everyone logs in before the snapshot; a fourth session is ended, its
	// cookie kept for a replay.
	admin, op, viewer := app.client(t), app.client(t), app.client(t)
	admin.mustLogin("admin@example.com")
	op.mustLogin("operator@example.com")
	viewer.mustLogin("viewer@example.com")
	adminCSRF := admin.csrfFrom("/settings/api-tokens")
	opCSRF := op.csrfFrom("/settings/api-tokens")
	viewerCSRF := viewer.csrfFrom("/settings/api-tokens")
	gone := app.client(t)
	gone.mustLogin("operator@example.com")
	replayed := gone.cookie(SessionCookie).Value
	if r := gone.post("/logout", url.Values{"_csrf": {gone.csrfFrom("/settings/api-tokens")}}); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout = %d", r.StatusCode)
	}

	web := func(r response) (int, string, http.Header) { return r.StatusCode, r.body, r.Header }
	api := func(r apiResponse) (int, string, http.Header) { return r.status, r.body, r.header }
	// raw sends a request by hand, with the given headers, through c's jar
	// (or a new, empty one when c is nil).
	raw := func(c *client, method, path string, body []byte, headers ...string) (int, string, http.Header) {
		req, _ := http.NewRequest(method, app.srv.URL+path, bytes.NewReader(body))
		for i := 0; i+1 < len(headers); i += 2 {
			req.Header.Set(headers[i], headers[i+1])
		}
		if c == nil {
			c = app.client(t) // an empty jar: only the cookies in headers
		}
		return web(c.do(req))
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i+1 < len(kv); i += 2 {
			v.Add(kv[i], kv[i+1])
		}
		return v
	}
	const (
		notFound   = "There is nothing at this address"
		authFailed = "Authentication failed."
		csrfFailed = "This form has expired or did not come from Gatehouse"
		xss        = `<script>alert(1)</script>`
	)
	bigForm := []byte("_csrf=" + adminCSRF + "&reason=" + strings.Repeat("r", 2<<20))
	bigJSON := []byte(`{"name":"Big","description":"` + strings.Repeat("d", 9<<20) + `"}`) // past the 8 MB of a token's POST

	cases := []hostileCase{
		// Oversize bodies.
		{name: "oversize form", do: func() (int, string, http.Header) {
			return raw(admin, "POST", ciPath+"/disable", bigForm, "Content-Type", "application/x-www-form-urlencoded")
		}, status: 413, want: "The request is too large (the limit is 1 MB)."},
		{name: "oversize upload form", do: func() (int, string, http.Header) {
			return raw(admin, "POST", "/settings/api-tokens/new", make([]byte, 9<<20), "Content-Type", "multipart/form-data; boundary=x", "X-CSRF-Token", adminCSRF)
		}, status: 413, want: "the limit is 8 MB"},
		{name: "oversize API body", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens", access, string(bigJSON)))
		}, status: 413, want: "The request is too large", problem: true},

		// Invalid UTF-8.
		{name: "invalid UTF-8 name in the Add form", do: func() (int, string, http.Header) {
			return web(admin.post("/settings/api-tokens/new", form("_csrf", adminCSRF, "step", "1", "name", "Bad\xff\xfename")))
		}, status: 400, want: "Name contains invalid characters."},
		{name: "invalid UTF-8 reason in the disable form", do: func() (int, string, http.Header) {
			return web(admin.post(ciPath+"/disable", form("_csrf", adminCSRF, "version", ciVersion, "reason", "because\xc3")))
		}, status: 400, want: "The reason contains invalid characters."},
		{name: "invalid UTF-8 search", do: func() (int, string, http.Header) {
			return web(viewer.get("/settings/api-tokens?q=%FF%FE"))
		}, status: 400, want: "The search text is not valid UTF-8."},
		{name: "invalid UTF-8 JSON", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens", access, "{\"name\":\"Bad\xffname\"}"))
		}, status: 400, want: `"body":["is not valid UTF-8"]`, problem: true},
		{name: "invalid UTF-8 in RQL", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?eq(name,%FF)", access, ""))
		}, status: 400, want: `"filter":["a value is not valid UTF-8`, problem: true},

		// XSS payloads.
		{name: "XSS name via API", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens", access, `{"name":"`+xss+`"}`))
		}, status: 400, want: `"name":["Name may contain letters, digits`, problem: true},
		{name: "XSS name via API PUT", do: func() (int, string, http.Header) {
			return api(app.call(t, "PUT", "/public/v1/accounts/api-tokens/"+ci.ID, access, `{"name":"<img src=x onerror=alert(1)>"}`))
		}, status: 400, want: `"name":["Name may contain letters, digits`, problem: true},
		{name: "XSS name via the Add form", do: func() (int, string, http.Header) {
			return web(admin.post("/settings/api-tokens/new", form("_csrf", adminCSRF, "step", "3", "go", "add", "name", xss, "modules", "MOD-1756")))
		}, status: 400, want: "Name may contain letters, digits", notWant: xss},
		{name: "XSS name via the Edit form", do: func() (int, string, http.Header) {
			return web(admin.post(ciPath+"/edit", form("_csrf", adminCSRF, "version", ciVersion, "name", xss)))
		}, status: 400, want: "Name may contain letters, digits", notWant: xss},
		{name: "XSS in search is escaped", do: func() (int, string, http.Header) {
			return web(viewer.get("/settings/api-tokens?q=" + url.QueryEscape(xss)))
		}, status: 200, want: "&lt;script&gt;alert(1)&lt;/script&gt;", notWant: xss},

		// SQL-injection-looking payloads.
		{name: "SQL in q", do: func() (int, string, http.Header) {
			return web(viewer.get("/settings/api-tokens?q=" + url.QueryEscape(`' OR 1=1; DROP TABLE api_tokens;--`)))
		}, status: 200, want: "DROP TABLE api_tokens"},
		{name: "SQL in order falls back", do: func() (int, string, http.Header) {
			return web(viewer.get("/settings/api-tokens?order=" + url.QueryEscape("name; DROP TABLE api_tokens")))
		}, status: 200, want: "<title>API tokens · Gatehouse</title>"},
		{name: "SQL in page and size redirects to the defaults", do: func() (int, string, http.Header) {
			return web(viewer.get("/settings/api-tokens?page=" + url.QueryEscape("1 OR 1=1") + "&size=" + url.QueryEscape("10;--")))
		}, status: 303, loc: "/settings/api-tokens"},
		{name: "SQL in API order", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?order="+url.QueryEscape("name;DROP TABLE api_tokens"), access, ""))
		}, status: 400, want: `"order":["cannot order by \"name;DROP+TABLE+api_tokens\"`, problem: true},
		{name: "SQL in RQL value", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?eq(name,"+url.QueryEscape("x' OR '1'='1")+")", access, ""))
		}, status: 200, want: `"total":0`},
		{name: "SQL in RQL field", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?eq("+url.QueryEscape("name) OR 1=1 --")+",x)", access, ""))
		}, status: 400, want: `"filter"`, problem: true},
		{name: "SQL in a console token id", do: func() (int, string, http.Header) {
			return web(admin.get("/settings/api-tokens/" + url.PathEscape("TKN-0000-0001' OR '1'='1")))
		}, status: 404, want: notFound},
		{name: "SQL in an API token id", do: func() (int, string, http.Header) {
			return api(app.call(t, "DELETE", "/public/v1/accounts/api-tokens/"+url.PathEscape("1 OR 1=1"), access, ""))
		}, status: 404, want: notFound, problem: true},
		{name: "SQL in an audit record id", do: func() (int, string, http.Header) {
			return web(admin.get("/settings/audit-trail/" + url.PathEscape("' OR 1=1--")))
		}, status: 404, want: notFound},
		{name: "SQL in bulk ids (confirm)", do: func() (int, string, http.Header) {
			return web(op.get("/settings/api-tokens/bulk?action=disable&ids=" + url.QueryEscape("' OR 1=1--")))
		}, status: 200, want: "Unknown token"},
		{name: "SQL in bulk ids (apply)", do: func() (int, string, http.Header) {
			return web(op.post("/settings/api-tokens/bulk", form("_csrf", opCSRF, "action", "disable", "ids", "' OR 1=1--", "versions", "1")))
		}, status: 303, loc: "/settings/api-tokens"},
		{name: "SQL in the audit export object", do: func() (int, string, http.Header) {
			return web(admin.get("/settings/audit-trail/export.csv?object=" + url.QueryEscape("' OR 1=1--")))
		}, status: 400, want: "is neither an API token id (TKN-1234-5678) nor the start of a"},

		// Sessions.
		{name: "forged session cookie", do: func() (int, string, http.Header) {
			return raw(nil, "GET", "/settings/api-tokens", nil, "Cookie", SessionCookie+"=forged-"+strings.Repeat("A", 40))
		}, status: 303, loc: "/login"},
		{name: "replayed cookie after logout", do: func() (int, string, http.Header) {
			return raw(nil, "GET", "/settings/api-tokens", nil, "Cookie", SessionCookie+"="+replayed)
		}, status: 303, loc: "/login"},
		{name: "replayed cookie posting an action", do: func() (int, string, http.Header) {
			return raw(nil, "POST", ciPath+"/disable", []byte("version="+ciVersion), "Cookie", SessionCookie+"="+replayed+"; "+CSRFCookie+"="+adminCSRF,
				"Content-Type", "application/x-www-form-urlencoded", "X-CSRF-Token", adminCSRF)
		}, status: 303, loc: "/login"},

		// CSRF.
		{name: "missing CSRF", do: func() (int, string, http.Header) {
			return web(admin.post(ciPath+"/disable", form("version", ciVersion)))
		}, status: 403, want: csrfFailed},
		{name: "wrong CSRF", do: func() (int, string, http.Header) {
			return web(admin.post(ciPath+"/delete", form("_csrf", strings.Repeat("x", 43), "version", ciVersion)))
		}, status: 403, want: csrfFailed},
		{name: "missing CSRF on logout", do: func() (int, string, http.Header) {
			return web(admin.post("/logout", nil))
		}, status: 403, want: csrfFailed},
		{name: "cross-site Sec-Fetch-Site", do: func() (int, string, http.Header) {
			return web(admin.post(ciPath+"/disable", form("_csrf", adminCSRF, "version", ciVersion), "Sec-Fetch-Site", "cross-site"))
		}, status: 403, want: "This request came from another site and was refused."},

		// Another account's token ids: the console.
		{name: "foreign id: details", do: func() (int, string, http.Header) { return web(admin.get(fPath)) }, status: 404, want: notFound},
		{name: "foreign id: audit tab", do: func() (int, string, http.Header) { return web(admin.get(fPath + "/audit")) }, status: 404, want: notFound},
		{name: "foreign id: edit page", do: func() (int, string, http.Header) { return web(admin.get(fPath + "/edit")) }, status: 404, want: notFound},
		{name: "foreign id: logo", do: func() (int, string, http.Header) { return web(admin.get(fPath + "/logo")) }, status: 404, want: notFound},
		{name: "foreign id: created page", do: func() (int, string, http.Header) { return web(admin.get(fPath + "/created")) }, status: 404, want: notFound},
		{name: "foreign id: confirm disable", do: func() (int, string, http.Header) { return web(admin.get(fPath + "/disable")) }, status: 404, want: notFound},
		{name: "foreign id: edit", do: func() (int, string, http.Header) {
			return web(admin.post(fPath+"/edit", form("_csrf", adminCSRF, "version", "1", "name", "Mine now")))
		}, status: 404, want: notFound},
		{name: "foreign id: reveal", do: func() (int, string, http.Header) {
			return web(admin.post(fPath+"/reveal", form("_csrf", adminCSRF)))
		}, status: 404, want: notFound},
		{name: "foreign id: disable", do: func() (int, string, http.Header) {
			return web(admin.post(fPath+"/disable", form("_csrf", adminCSRF, "version", "1")))
		}, status: 404, want: notFound},
		{name: "foreign id: enable", do: func() (int, string, http.Header) {
			return web(admin.post(fPath+"/enable", form("_csrf", adminCSRF, "version", "1")))
		}, status: 404, want: notFound},
		{name: "foreign id: delete", do: func() (int, string, http.Header) {
			return web(admin.post(fPath+"/delete", form("_csrf", adminCSRF, "version", "1")))
		}, status: 404, want: notFound},
		{name: "foreign id: bulk delete", do: func() (int, string, http.Header) {
			return web(admin.post("/settings/api-tokens/bulk", form("_csrf", adminCSRF, "action", "delete", "ids", foreign.ID, "versions", "1")))
		}, status: 303, loc: "/settings/api-tokens"},
		// … and the API.
		{name: "foreign id: API GET", do: func() (int, string, http.Header) { return api(app.call(t, "GET", fAPI, access, "")) }, status: 404, want: notFound, problem: true},
		{name: "foreign id: API PUT", do: func() (int, string, http.Header) {
			return api(app.call(t, "PUT", fAPI, access, `{"name":"Mine now"}`))
		}, status: 404, want: notFound, problem: true},
		{name: "foreign id: API DELETE", do: func() (int, string, http.Header) { return api(app.call(t, "DELETE", fAPI, access, "")) }, status: 404, want: notFound, problem: true},
		{name: "foreign id: API enable", do: func() (int, string, http.Header) { return api(app.call(t, "POST", fAPI+"/enable", access, "")) }, status: 404, want: notFound, problem: true},
		{name: "foreign id: API disable", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", fAPI+"/disable", access, `{"reason":"x"}`))
		}, status: 404, want: notFound, problem: true},

		// Wrong roles.
		{name: "viewer disables", do: func() (int, string, http.Header) {
			return web(viewer.post(ciPath+"/disable", form("_csrf", viewerCSRF, "version", ciVersion)))
		}, status: 403, want: roleRefusal("Viewer", "disable API tokens")},
		{name: "operator deletes", do: func() (int, string, http.Header) {
			return web(op.post(ciPath+"/delete", form("_csrf", opCSRF, "version", ciVersion)))
		}, status: 403, want: roleRefusal("Operator", "delete API tokens")},
		{name: "operator adds", do: func() (int, string, http.Header) {
			return web(op.post("/settings/api-tokens/new", form("_csrf", opCSRF, "step", "3", "go", "add", "name", "Sneaky", "modules", "MOD-1756")))
		}, status: 403, want: roleRefusal("Operator", "add API tokens")},
		{name: "operator edits", do: func() (int, string, http.Header) {
			return web(op.post(ciPath+"/edit", form("_csrf", opCSRF, "version", ciVersion, "name", "Renamed")))
		}, status: 403, want: roleRefusal("Operator", "edit API tokens")},
		{name: "operator reveals", do: func() (int, string, http.Header) {
			return web(op.post(ciPath+"/reveal", form("_csrf", opCSRF)))
		}, status: 403, want: roleRefusal("Operator", "show or copy the values of API tokens")},
		{name: "viewer bulk-disables", do: func() (int, string, http.Header) {
			return web(viewer.post("/settings/api-tokens/bulk", form("_csrf", viewerCSRF, "action", "disable", "ids", ci.ID, "versions", ciVersion)))
		}, status: 403, want: roleRefusal("Viewer", "disable API tokens")},
		{name: "operator bulk-deletes", do: func() (int, string, http.Header) {
			return web(op.post("/settings/api-tokens/bulk", form("_csrf", opCSRF, "action", "delete", "ids", ci.ID, "versions", ciVersion)))
		}, status: 403, want: roleRefusal("Operator", "delete API tokens")},
		{name: "API token without Access management", do: func() (int, string, http.Header) {
			return api(app.call(t, "DELETE", "/public/v1/accounts/api-tokens/"+ci.ID, billing, ""))
		}, status: 403, want: "not granted the Access management module", problem: true},

		// Another account, or no image, in a token's body.
		{name: "API: create in another account", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens", access, `{"name":"Planted","account":{"id":"`+app.other.ID+`"}}`))
		}, status: 403, want: "can only manage the API tokens of that account", problem: true},
		{name: "API: move a token to SQL", do: func() (int, string, http.Header) {
			return api(app.call(t, "PUT", "/public/v1/accounts/api-tokens/"+ci.ID, access, `{"account":{"id":"ACC' OR 1=1 --"}}`))
		}, status: 403, want: "can only manage the API tokens of that account", notWant: "OR 1=1", problem: true},
		{name: "API: an icon that is HTML", do: func() (int, string, http.Header) {
			return api(app.call(t, "PUT", "/public/v1/accounts/api-tokens/"+ci.ID, access, `{"icon":"data:image/png;base64,`+base64.StdEncoding.EncodeToString([]byte(xss))+`"}`))
		}, status: 400, want: `"icon":["Logo must be a PNG or JPEG image."]`, problem: true},
		{name: "API: an icon pointing elsewhere", do: func() (int, string, http.Header) {
			return api(app.call(t, "PUT", "/public/v1/accounts/api-tokens/"+ci.ID, access, `{"icon":"javascript:alert(1)"}`))
		}, status: 400, want: `"icon":["The icon must be a data:image/png;base64`, problem: true},
		{name: "API: a foreign audit record", do: func() (int, string, http.Header) {
			rec, _ := app.store.LastChange(ctx, app.other.ID, foreign.ID)
			return api(app.call(t, "GET", "/public/v1/audit/records/"+rec.ID, access, ""))
		}, status: 404, want: notFound, problem: true},

		// Malformed bearer tokens.
		{name: "bearer: no scheme", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens", "", "", "Authorization", access))
		}, status: 401, want: authFailed, problem: true},
		{name: "bearer: bad checksum", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens", badChecksum, ""))
		}, status: 401, want: authFailed, problem: true},
		{name: "bearer: unknown id", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens", unknownValue, ""))
		}, status: 401, want: authFailed, problem: true},
		{name: "bearer: deleted token", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens", deletedValue, `{"name":"Zombie"}`))
		}, status: 401, want: authFailed, problem: true},
		{name: "bearer: SQL as the token", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens", "idt:TKN-0000-0001:' OR 1=1--", ""))
		}, status: 401, want: authFailed, problem: true},
		{name: "bearer: disabled token", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens", disabledValue, `{"name":"Zombie"}`))
		}, status: 401, want: "The API token " + disabled.ID + " is disabled.", problem: true},
		{name: "verify: disabled token", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/auth/verify", disabledValue, ""))
		}, status: 401, want: "is disabled", problem: true},

		// Garbage RQL, bad paging.
		{name: "garbage RQL", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?eq(status,Active", access, ""))
		}, status: 400, want: `"errors":{"filter":[`, problem: true},
		{name: "unknown RQL operator", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?drop(api_tokens)", access, ""))
		}, status: 400, want: `"errors":{"filter":[`, problem: true},
		{name: "garbage RQL on audit records", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/audit/records?and(,,)", access, ""))
		}, status: 400, want: `"errors":{"filter":[`, problem: true},
		{name: "negative limit", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?limit=-1", access, ""))
		}, status: 400, want: `"limit":["limit must be a whole number from 0 to 1000 (at character 7)"]`, problem: true},
		{name: "huge limit", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/api-tokens?limit=99999999999999999999", access, ""))
		}, status: 400, want: `"limit":[`, problem: true},
		{name: "SQL offset", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/audit/records?offset="+url.QueryEscape("0;DELETE FROM audit_records"), access, ""))
		}, status: 400, want: `"offset":["offset must be a whole number from 0 (at character 8)"]`, problem: true},

		// Concurrency and transitions.
		{name: "If-Match mismatch", do: func() (int, string, http.Header) {
			return api(app.call(t, "PUT", "/public/v1/accounts/api-tokens/"+ci.ID, access, `{"name":"Renamed"}`, "If-Match", `"v999"`))
		}, status: 412, want: "The token has changed since the ETag in If-Match", problem: true},
		{name: "If-Match garbage on delete", do: func() (int, string, http.Header) {
			return api(app.call(t, "DELETE", "/public/v1/accounts/api-tokens/"+ci.ID, access, "", "If-Match", `' OR 1=1`))
		}, status: 412, want: "The token has changed since the ETag in If-Match", problem: true},
		{name: "enable an Active token via API", do: func() (int, string, http.Header) {
			return api(app.call(t, "POST", "/public/v1/accounts/api-tokens/"+ci.ID+"/enable", access, ""))
		}, status: 400, want: "The token is already Active, so there is nothing to enable.", problem: true},
		{name: "enable an Active token in the console", do: func() (int, string, http.Header) {
			return web(op.post(ciPath+"/enable", form("_csrf", opCSRF, "version", ciVersion)))
		}, status: 409, want: "is already Active, so there is nothing to enable."},
		{name: "confirm page to enable an Active token", do: func() (int, string, http.Header) {
			return web(op.get(ciPath + "/enable"))
		}, status: 409, want: "is already Active, so there is nothing to enable."},
		{name: "stale version in the console", do: func() (int, string, http.Header) {
			return web(op.post(ciPath+"/disable", form("_csrf", opCSRF, "version", "999")))
		}, status: 409, want: "Nothing was applied."},
		{name: "version not a number", do: func() (int, string, http.Header) {
			return web(op.post(ciPath+"/disable", form("_csrf", opCSRF, "version", "1 OR 1=1")))
		}, status: 400, want: "The confirmation lacks the token"},

		// Unknown routes.
		{name: "unknown console route", do: func() (int, string, http.Header) { return web(admin.get("/settings/nope")) }, status: 404, want: notFound},
		{name: "unknown tab", do: func() (int, string, http.Header) { return web(admin.get(ciPath + "/secrets")) }, status: 404, want: notFound},
		{name: "unknown API route", do: func() (int, string, http.Header) {
			return api(app.call(t, "GET", "/public/v1/accounts/nope", access, ""))
		}, status: 404, want: notFound, problem: true},
	}

	before := app.snapshot(t)
	for _, tc := range cases {
		status, body, header := tc.do()
		if status != tc.status {
			t.Errorf("%s: status %d, want %d\n%.600s", tc.name, status, tc.status, body)
		}
		if tc.want != "" && !strings.Contains(body, tc.want) {
			t.Errorf("%s: the answer lacks %q\n%.600s", tc.name, tc.want, body)
		}
		if tc.notWant != "" && strings.Contains(body, tc.notWant) {
			t.Errorf("%s: the answer contains %q", tc.name, tc.notWant)
		}
		if tc.problem && header.Get("Content-Type") != "application/problem+json" {
			t.Errorf("%s: Content-Type %q, want application/problem+json", tc.name, header.Get("Content-Type"))
		}
		if tc.loc != "" && !strings.HasPrefix(header.Get("Location"), tc.loc) {
			t.Errorf("%s: Location %q, want %s…", tc.name, header.Get("Location"), tc.loc)
		}
		if status >= 500 {
			t.Errorf("%s: a %d", tc.name, status)
		}
		if after := app.snapshot(t); after != before {
			t.Errorf("%s changed the database:\nbefore %+v\nafter  %+v", tc.name, before, after)
			before = after
		}
	}
	if len(cases) < 40 {
		t.Errorf("only %d cases", len(cases))
	}
	t.Logf("%d hostile requests", len(cases))
}

// roleRefusal is the one wording of every page a role may not see (issue 14).
func roleRefusal(role, what string) string {
	return "Your role (" + role + ") may not " + what + ". Ask an administrator of your account if you need this done."
}

package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"

	"gatehouse/handlers/openapitest"
	"gatehouse/store/sqlite"
)

// TestOpenAPIDocument validates handlers/openapi.json as OpenAPI 3.1 (make
// check runs it) and holds it to the routes: every route of the public API
// is described, and nothing else.
func TestOpenAPIDocument(t *testing.T) {
	v, err := openapitest.New(openAPIDocument)
	if err != nil {
		t.Fatalf("handlers/openapi.json: %v", err)
	}
	var raw map[string]any
	if err := json.Unmarshal(openAPIDocument, &raw); err != nil {
		t.Fatal(err)
	}
	if raw["openapi"] != "3.1.0" {
		t.Errorf("openapi = %v, want 3.1.0", raw["openapi"])
	}

	st, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "gatehouse.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	e := echo.New()
	New(Deps{Store: st}).Register(e)
	var routes []string
	for _, r := range e.Routes() {
		if r.Method == echo.RouteNotFound || !strings.HasPrefix(r.Path, "/public/") {
			continue
		}
		path := r.Path
		for _, p := range strings.Split(path, "/") {
			if strings.HasPrefix(p, ":") {
				path = strings.Replace(path, p, "{"+p[1:]+"}", 1)
			}
		}
		routes = append(routes, r.Method+" "+path)
	}
	ops := v.Operations()
	slices.Sort(routes)
	slices.Sort(ops)
	for _, r := range routes {
		if !slices.Contains(ops, r) {
			t.Errorf("route %s is not in handlers/openapi.json", r)
		}
	}
	for _, o := range ops {
		if !slices.Contains(routes, o) {
			t.Errorf("handlers/openapi.json describes %s, which is no route", o)
		}
	}
	if len(routes) < 12 {
		t.Errorf("only %d API routes: %v", len(routes), routes)
	}

	// Every operation is named and tagged; every one but the document
	// itself needs the bearer token and lists 401 and 500.
	for path, item := range v.Document().Paths.Map() {
		for method, op := range item.Operations() {
			name := method + " " + path
			if op.OperationID == "" || op.Summary == "" || len(op.Tags) == 0 {
				t.Errorf("%s lacks an operationId, a summary or a tag", name)
			}
			if path == "/openapi.json" {
				if op.Security == nil || len(*op.Security) != 0 {
					t.Errorf("%s must need no authentication", name)
				}
				continue
			}
			if op.Security != nil {
				t.Errorf("%s overrides the document's security", name)
			}
			for _, status := range []int{401, 500} {
				if op.Responses.Status(status) == nil {
					t.Errorf("%s does not list %d", name, status)
				}
			}
		}
	}
}

func TestOpenAPIServed(t *testing.T) {
	app := newTestApp(t)
	r := app.call(t, "GET", "/public/v1/openapi.json", "", "")
	if r.status != 200 || r.header.Get("Content-Type") != "application/json" || r.body != string(openAPIDocument) {
		t.Fatalf("openapi.json = %d %q, %d bytes", r.status, r.header.Get("Content-Type"), len(r.body))
	}
	if cc := r.header.Get("Cache-Control"); !strings.Contains(cc, "public") || !strings.Contains(cc, "max-age=") {
		t.Errorf("Cache-Control = %q, want it cacheable", cc)
	}
	tag := r.header.Get("ETag")
	if r := app.call(t, "GET", "/public/v1/openapi.json", "", "", "If-None-Match", tag); r.status != 304 || r.body != "" {
		t.Errorf("If-None-Match = %d %q", r.status, r.body)
	}
	// A bad token changes nothing: the document needs none.
	if r := app.call(t, "GET", "/public/v1/openapi.json", "garbage", ""); r.status != 200 {
		t.Errorf("with a bad token = %d", r.status)
	}
	if r := app.call(t, "POST", "/public/v1/openapi.json", "", "{}"); r.status != 405 && r.status != 401 {
		t.Errorf("POST openapi.json = %d", r.status)
	}
}

// TestOpenAPIValidationBites proves that the validation the API tests rely
// on rejects what the document does not allow: real answers, spoiled one
// way at a time, are reported; the sound ones and the select-shaped ones
// are not.
func TestOpenAPIValidationBites(t *testing.T) {
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Validated", AccessManagement)
	v, err := apiSpec()
	if err != nil {
		t.Fatal(err)
	}
	get := app.call(t, "GET", apiTokenHref(tok.ID), value, "")
	list := app.call(t, "GET", "/public/v1/audit/records?limit=1", value, "")
	if get.status != 200 || list.status != 200 {
		t.Fatalf("GET = %d, list = %d", get.status, list.status)
	}
	spoil := func(body string, f func(m map[string]any)) string {
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatal(err)
		}
		f(m)
		b, _ := json.Marshal(m)
		return string(b)
	}
	item := func(f func(m map[string]any)) func(m map[string]any) {
		return func(m map[string]any) { f(m["data"].([]any)[0].(map[string]any)) }
	}
	withHeader := func(h http.Header, k, v string) http.Header {
		h = h.Clone()
		if v == "" {
			h.Del(k)
		} else {
			h.Set(k, v)
		}
		return h
	}
	tokenURL, recordsURL := app.srv.URL+apiTokenHref(tok.ID), app.srv.URL+"/public/v1/audit/records"
	problemHeader := http.Header{"Content-Type": {"application/problem+json"}}
	cases := []struct {
		name, method, url string
		status            int
		header            http.Header
		body              string
		ok                bool
	}{
		{"token as served", "GET", tokenURL, 200, get.header, get.body, true},
		{"records as served", "GET", recordsURL, 200, list.header, list.body, true},
		{"token without name", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) { delete(m, "name") }), false},
		{"token without audit.updated", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) { delete(m["audit"].(map[string]any), "updated") }), false},
		{"token with an unknown field", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) { m["secret"] = "x" }), false},
		{"seconds without milliseconds", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) {
			m["audit"].(map[string]any)["created"].(map[string]any)["at"] = "2024-03-15T10:00:00Z"
		}), false},
		{"an offset instead of Z", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) { m["lastAccessAt"] = "2024-03-15T10:00:00.000+01:00" }), false},
		{"a status the API has not", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) { m["status"] = "Deleted" }), false},
		{"select: fields left out, listed", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) {
			delete(m, "audit")
			delete(m, "description")
			delete(m["account"].(map[string]any), "name")
			m["$meta"] = map[string]any{"omitted": []string{"audit", "description", "account.name"}}
		}), true},
		{"select: only id", "GET", tokenURL, 200, get.header, `{"id":"` + tok.ID + `","$meta":{"omitted":["name"]}}`, true},
		{"select: id left out", "GET", tokenURL, 200, get.header, `{"name":"x","$meta":{"omitted":["id"]}}`, false},
		{"select: a field of the wrong type", "GET", tokenURL, 200, get.header, `{"id":"` + tok.ID + `","name":5,"$meta":{"omitted":["audit"]}}`, false},
		{"select: $meta without omitted", "GET", tokenURL, 200, get.header, spoil(get.body, func(m map[string]any) { m["$meta"] = map[string]any{} }), false},
		{"select: an unknown field still refused", "GET", tokenURL, 200, get.header, `{"id":"` + tok.ID + `","nope":1,"$meta":{"omitted":["name"]}}`, false},
		{"list item without hash", "GET", recordsURL, 200, list.header, spoil(list.body, item(func(m map[string]any) { delete(m, "hash") })), false},
		{"list item selected", "GET", recordsURL, 200, list.header, spoil(list.body, item(func(m map[string]any) {
			delete(m, "details")
			m["$meta"] = map[string]any{"omitted": []string{"details"}}
		})), true},
		{"list timestamp without milliseconds", "GET", recordsURL, 200, list.header, spoil(list.body, item(func(m map[string]any) { m["timestamp"] = "2024-03-15T10:00:00Z" })), false},
		{"list without pagination", "GET", recordsURL, 200, list.header, spoil(list.body, func(m map[string]any) { m["$meta"] = map[string]any{} }), false},
		{"no ETag", "GET", tokenURL, 200, withHeader(get.header, "ETag", ""), get.body, false},
		{"text/plain", "GET", tokenURL, 200, withHeader(get.header, "Content-Type", "text/plain"), get.body, false},
		{"a status the document does not list", "GET", tokenURL, 418, problemHeader, `{"type":"about:blank","title":"I'm a teapot","status":418,"traceId":"x"}`, false},
		{"401 titled Unauthorized", "GET", tokenURL, 401, problemHeader, `{"type":"about:blank","title":"Unauthorized","status":401,"detail":"Authentication failed.","traceId":"x"}`, false},
		{"401 titled Authentication Failed", "GET", tokenURL, 401, problemHeader, `{"type":"about:blank","title":"Authentication Failed","status":401,"detail":"Authentication failed.","traceId":"x"}`, true},
		{"a problem that says another status", "GET", tokenURL, 404, problemHeader, `{"type":"about:blank","title":"Not Found","status":400,"traceId":"x"}`, false},
		{"a problem without traceId", "GET", tokenURL, 404, problemHeader, `{"type":"about:blank","title":"Not Found","status":404}`, false},
		{"a 204 with a body", "DELETE", tokenURL, 204, http.Header{}, `{}`, false},
		{"unknown route: a problem", "GET", app.srv.URL + "/public/v1/nope", 404, problemHeader, `{"type":"about:blank","title":"Not Found","status":404,"traceId":"x"}`, true},
		{"unknown route: HTML", "GET", app.srv.URL + "/public/v1/nope", 404, http.Header{"Content-Type": {"text/html"}}, `<p>nope</p>`, false},
		{"unknown route: a success", "GET", app.srv.URL + "/public/v1/nope", 200, http.Header{"Content-Type": {"application/json"}}, `{}`, false},
		{"unknown method: a problem", "PATCH", tokenURL, 405, problemHeader, `{"type":"about:blank","title":"Method Not Allowed","status":405,"traceId":"x"}`, true},
	}
	for _, tc := range cases {
		req, _ := http.NewRequest(tc.method, tc.url, nil)
		err := v.CheckResponse(req, tc.status, tc.header, []byte(tc.body))
		if (err == nil) != tc.ok {
			t.Errorf("%s: CheckResponse = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}

	// And checkOpenAPI, which call uses, fails a test with such an answer.
	ft := &fakeT{TB: t}
	req, _ := http.NewRequest("GET", tokenURL, nil)
	checkOpenAPI(ft, req, 200, get.header, []byte(spoil(get.body, func(m map[string]any) { delete(m, "name") })))
	if !ft.failed || !strings.Contains(ft.msg, "departs from handlers/openapi.json") || !strings.Contains(ft.msg, "name") {
		t.Errorf("checkOpenAPI did not fail the test clearly: %q", ft.msg)
	}
}

// fakeT records a failure instead of failing the test.
type fakeT struct {
	testing.TB
	failed bool
	msg    string
}

func (f *fakeT) Helper() {}

func (f *fakeT) Errorf(format string, args ...any) {
	f.failed = true
	f.msg = fmt.Sprintf(format, args...)
}

package handlers

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/handlers/openapitest"
	"gatehouse/store"
)

// apiSpec is the OpenAPI document, loaded (and validated) once per test
// binary.
var apiSpec = sync.OnceValues(func() (*openapitest.Validator, error) { return openapitest.New(openAPIDocument) })

// checkOpenAPI fails the test when a response of the public API departs
// from the OpenAPI document.
func checkOpenAPI(t testing.TB, req *http.Request, status int, header http.Header, body []byte) {
	t.Helper()
	v, err := apiSpec()
	if err != nil {
		t.Fatalf("handlers/openapi.json: %v", err)
	}
	if err := v.CheckResponse(req, status, header, body); err != nil {
		t.Errorf("%s %s: the response departs from handlers/openapi.json: %v", req.Method, req.URL.Path, err)
	}
}

// apiToken creates a token in the account through the store and returns its
// value.
func (a *testApp) apiToken(t testing.TB, accountID, name string, modules ...string) (store.Token, string) {
	t.Helper()
	tok, value, err := a.store.CreateToken(context.Background(), a.sealer, store.SystemActor, accountID, store.NewToken{Name: name, ModuleIDs: modules})
	if err != nil {
		t.Fatal(err)
	}
	return tok, value
}

type apiResponse struct {
	status int
	header http.Header
	body   string
}

func (r apiResponse) json(t testing.TB, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(r.body), v); err != nil {
		t.Fatalf("body is not JSON: %v\n%s", err, r.body)
	}
}

func (r apiResponse) problem(t testing.TB) Problem {
	t.Helper()
	if ct := r.header.Get("Content-Type"); ct != "application/problem+json" {
		t.Errorf("Content-Type = %q, want application/problem+json (status %d)", ct, r.status)
	}
	var p Problem
	r.json(t, &p)
	if p.Status != r.status || p.Title == "" || p.TraceID == "" || p.Type == "" {
		t.Errorf("problem = %+v", p)
	}
	return p
}

func (a *testApp) call(t testing.TB, method, path, value, body string, headers ...string) apiResponse {
	t.Helper()
	req, _ := http.NewRequest(method, a.srv.URL+path, strings.NewReader(body))
	if value != "" {
		req.Header.Set("Authorization", "Bearer "+value)
	}
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	checkOpenAPI(t, req, resp.StatusCode, resp.Header, b)
	return apiResponse{resp.StatusCode, resp.Header, string(b)}
}

func TestAPIAuthentication(t *testing.T) {
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Gateway", "MOD-1756")
	secret := value[strings.LastIndex(value, ":")+1:]
	var deleted string
	app.store.DB().QueryRow(`SELECT id FROM api_tokens WHERE status = 'Deleted'`).Scan(&deleted)
	flip := []byte(value)
	flip[len(flip)-10] ^= 1
	cases := []struct {
		name, auth string
		status     int
		detail     string
	}{
		{"no header", "", 401, "Authentication failed."},
		{"not bearer", "Basic Zm9vOmJhcg==", 401, "Authentication failed."},
		{"garbage", "Bearer garbage", 401, "Authentication failed."},
		{"checksum broken", "Bearer " + string(flip), 401, "Authentication failed."},
		{"unknown token", "Bearer " + store.NewTokenValue("TKN-0000-0001"), 401, "Authentication failed."},
		{"right id, other secret", "Bearer " + store.NewTokenValue(tok.ID), 401, "Authentication failed."},
		{"deleted token", "Bearer " + store.NewTokenValue(deleted), 401, "Authentication failed."},
		{"valid", "Bearer " + value, 200, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			r := app.call(t, "GET", "/public/v1/auth/verify", "", "", "Authorization", tc.auth)
			if r.status != tc.status {
				t.Fatalf("status %d, want %d: %s", r.status, tc.status, r.body)
			}
			if tc.status != 200 {
				if p := r.problem(t); p.Detail != tc.detail {
					t.Errorf("detail = %q", p.Detail)
				}
			}
		})
	}
	// Disabled: refused on the very next call, saying so.
	if _, err := app.store.DisableToken(context.Background(), store.SystemActor, app.acc.ID, tok.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	r := app.call(t, "GET", "/public/v1/auth/verify", value, "")
	if r.status != 401 || !strings.Contains(r.problem(t).Detail, "is disabled") {
		t.Errorf("disabled token = %d %s", r.status, r.body)
	}
	if _, err := app.store.EnableToken(context.Background(), store.SystemActor, app.acc.ID, tok.ID, 0); err != nil {
		t.Fatal(err)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 200 {
		t.Errorf("enabled again = %d", r.status)
	}
	if strings.Contains(app.logs.String(), secret) {
		t.Error("the secret reached the log")
	}
}

func TestAPIDisableIsImmediate(t *testing.T) {
	// Through the console: the operator's disable commits, and the next API
	// call is refused, with the cache warm before.
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Immediate", "MOD-1756")
	for range 3 {
		if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 200 {
			t.Fatalf("warm-up = %d", r.status)
		}
	}
	c := app.client(t)
	c.mustLogin("operator@example.com")
	form, _ := c.confirmForm("/settings/api-tokens/" + tok.ID + "/disable")
	if r := c.post("/settings/api-tokens/"+tok.ID+"/disable", form); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("disable = %d", r.StatusCode)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 401 {
		t.Errorf("first call after the disable = %d, want 401", r.status)
	}
}

func TestAPIAuthCacheRace(t *testing.T) {
	// A fill that read the token before a change must not survive the change.
	c := newAuthCache(10)
	_, _, epoch := c.get("TKN-1")
	c.drop("TKN-1") // the change commits while the fill is reading
	c.put(newAuthEntry(store.AuthToken{ID: "TKN-1", Status: store.StatusActive}), epoch)
	if _, ok, _ := c.get("TKN-1"); ok {
		t.Error("a stale fill was cached")
	}
	_, _, epoch = c.get("TKN-1")
	c.put(newAuthEntry(store.AuthToken{ID: "TKN-1"}), epoch)
	if _, ok, _ := c.get("TKN-1"); !ok {
		t.Error("a clean fill was not cached")
	}
}

func TestAPITokensEndpoints(t *testing.T) {
	app := newTestApp(t)
	caller, value := app.apiToken(t, app.acc.ID, "Automation", "MOD-1756")
	_, noAccess := app.apiToken(t, app.acc.ID, "No access", "MOD-0478")

	if r := app.call(t, "GET", "/public/v1/accounts/api-tokens", noAccess, ""); r.status != 403 || !strings.Contains(r.problem(t).Detail, "Access management") {
		t.Errorf("without Access management = %d", r.status)
	}

	// List with envelope, paging, order and RQL.
	var list struct {
		Meta struct{ Pagination pagination } `json:"$meta"`
		Data []apiToken
	}
	r := app.call(t, "GET", "/public/v1/accounts/api-tokens?limit=3&offset=1&order=name", value, "")
	r.json(t, &list)
	if r.status != 200 || list.Meta.Pagination != (pagination{Offset: 1, Limit: 3, Total: 15}) || len(list.Data) != 3 || list.Data[0].Name != "Automation" {
		t.Fatalf("list = %d %+v %v", r.status, list.Meta, list.Data)
	}
	r = app.call(t, "GET", "/public/v1/accounts/api-tokens?and(eq(status,Disabled),like(name,*ERP*))", value, "")
	r.json(t, &list)
	if len(list.Data) != 1 || list.Data[0].Name != "Legacy ERP connector" {
		t.Errorf("RQL and/eq/like = %+v", list.Data)
	}
	r = app.call(t, "GET", "/public/v1/accounts/api-tokens?or(eq(modules.id,MOD-4617),eq(name,CI%20pipeline))&order=name", value, "")
	r.json(t, &list)
	var names []string
	for _, d := range list.Data {
		names = append(names, d.Name)
	}
	if strings.Join(names, "|") != "CI pipeline|Grafana exporter|Helpdesk integration" {
		t.Errorf("RQL or = %v", names)
	}
	for _, bad := range []string{"eq(status", "eq(nope,1)", "frob(a,b)", "limit=-1", "limit=abc", "order=secret", "like(modules.name,)", "eq(name,%zz)", "status=Active&foo=1", "select=secret"} {
		r := app.call(t, "GET", "/public/v1/accounts/api-tokens?"+bad, value, "")
		if r.status != 400 || len(r.problem(t).Errors) == 0 {
			t.Errorf("?%s = %d %s", bad, r.status, r.body)
		}
	}

	// Create: 201, the value once, Location and ETag; the audit actor is the token.
	r = app.call(t, "POST", "/public/v1/accounts/api-tokens", value, `{"name":"Made by API","description":"d","modules":[{"id":"MOD-0478"}]}`)
	var created apiToken
	r.json(t, &created)
	if r.status != 201 || created.Token == "" || r.header.Get("Location") != created.Href || r.header.Get("ETag") != `"v1"` {
		t.Fatalf("create = %d %s", r.status, r.body)
	}
	if _, err := store.ParseTokenValue(created.Token); err != nil {
		t.Errorf("created value %q: %v", created.Token, err)
	}
	rec, _ := app.store.LastChange(context.Background(), app.acc.ID, created.ID)
	if rec.Actor.Type != "token" || rec.Actor.ID != caller.ID || rec.Event != store.EventTokenCreated {
		t.Errorf("audit actor = %+v", rec.Actor)
	}
	// GET never shows the value.
	r = app.call(t, "GET", created.Href, value, "")
	if r.status != 200 || strings.Contains(r.body, created.Token) || strings.Contains(r.body, `"token"`) {
		t.Errorf("GET = %d %s", r.status, r.body)
	}
	if r := app.call(t, "GET", created.Href, value, "", "If-None-Match", `"v1"`); r.status != 304 {
		t.Errorf("If-None-Match = %d", r.status)
	}

	// PUT with a stale If-Match: 412, nothing changed.
	r = app.call(t, "PUT", created.Href, value, `{"name":"Renamed"}`, "If-Match", `"v7"`)
	if r.status != 412 {
		t.Errorf("stale If-Match = %d", r.status)
	}
	r = app.call(t, "PUT", created.Href, value, `{"name":"Renamed"}`, "If-Match", `"v1"`)
	var updated apiToken
	r.json(t, &updated)
	if r.status != 200 || updated.Name != "Renamed" || updated.Description != "d" || len(updated.Modules) != 1 || r.header.Get("ETag") != `"v2"` {
		t.Errorf("PUT = %d %s", r.status, r.body)
	}

	// Transitions: enabling an Active token is a 400; disable with a reason.
	if r := app.call(t, "POST", created.Href+"/enable", value, ""); r.status != 400 || !strings.Contains(r.problem(t).Detail, "already Active") {
		t.Errorf("enable Active = %d %s", r.status, r.body)
	}
	r = app.call(t, "POST", created.Href+"/disable", value, `{"reason":"rotating"}`)
	if r.status != 200 || !strings.Contains(r.body, `"status":"Disabled"`) {
		t.Errorf("disable = %d %s", r.status, r.body)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", created.Token, ""); r.status != 401 || !strings.Contains(r.body, "disabled") {
		t.Errorf("verify with the disabled token = %d", r.status)
	}
	if r := app.call(t, "DELETE", created.Href, value, ""); r.status != 204 {
		t.Errorf("DELETE = %d", r.status)
	}
	if r := app.call(t, "GET", created.Href, value, ""); r.status != 404 {
		t.Errorf("GET deleted = %d", r.status)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", created.Token, ""); r.status != 401 || r.problem(t).Detail != "Authentication failed." {
		t.Errorf("verify with the deleted token = %d %s", r.status, r.body)
	}

	// Bad bodies.
	for _, body := range []string{`{"name":`, `{"name":"x","extra":1}`, `{"name":"` + strings.Repeat("n", 201) + `"}`, "{\"name\":\"a\xffb\"}", `{"name":"ok","modules":[{"id":"MOD-0000"}]}`, `{}`, `[1]`} {
		r := app.call(t, "POST", "/public/v1/accounts/api-tokens", value, body)
		if r.status != 400 || len(r.problem(t).Errors) == 0 {
			t.Errorf("POST %.40q = %d %s", body, r.status, r.body)
		}
	}
	// POST and PUT of a token take 8 MB (an icon is a 5 MB logo in base64);
	// the other endpoints 1 MB.
	if r := app.call(t, "POST", "/public/v1/accounts/api-tokens", value, `{"name":"`+strings.Repeat("x", 9<<20)+`"}`); r.status != 413 || !strings.Contains(r.problem(t).Detail, "8 MB") {
		t.Errorf("9 MB body = %d %.200s", r.status, r.body)
	}
	if r := app.call(t, "POST", "/public/v1/accounts/api-tokens/"+caller.ID+"/disable", value, `{"reason":"`+strings.Repeat("x", 2<<20)+`"}`); r.status != 413 || !strings.Contains(r.problem(t).Detail, "1 MB") {
		t.Errorf("2 MB disable body = %d %.200s", r.status, r.body)
	}
}

func TestAPIAccountIsolation(t *testing.T) {
	app := newTestApp(t)
	_, mine := app.apiToken(t, app.acc.ID, "Mine", "MOD-1756")
	theirs, _ := app.apiToken(t, app.other.ID, "Theirs", "MOD-1756")
	href := "/public/v1/accounts/api-tokens/" + theirs.ID
	for _, m := range []struct{ method, path, body string }{
		{"GET", href, ""}, {"PUT", href, `{"name":"hijack"}`}, {"DELETE", href, ""},
		{"POST", href + "/disable", ""}, {"POST", href + "/enable", ""},
	} {
		if r := app.call(t, m.method, m.path, mine, m.body); r.status != 404 {
			t.Errorf("%s %s of another account = %d", m.method, m.path, r.status)
		}
	}
	var list struct{ Data []apiToken }
	app.call(t, "GET", "/public/v1/accounts/api-tokens?limit=1000&eq(name,Theirs)", mine, "").json(t, &list)
	if len(list.Data) != 0 {
		t.Error("another account's token is listed")
	}
	var recs struct{ Data []apiAuditRecord }
	app.call(t, "GET", "/public/v1/audit/records?limit=1000", mine, "").json(t, &recs)
	for _, r := range recs.Data {
		if r.Object.ID == theirs.ID {
			t.Fatal("another account's audit record is listed")
		}
	}
	cur, _ := app.store.Token(context.Background(), app.other.ID, theirs.ID)
	if cur.Version != 1 {
		t.Error("another account's token changed")
	}
}

func TestAPIAuditRecords(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Auditor", "MOD-1756")
	var recs struct {
		Meta struct{ Pagination pagination } `json:"$meta"`
		Data []apiAuditRecord
	}
	r := app.call(t, "GET", "/public/v1/audit/records?limit=2&eq(event,platform.accounts.api-token.disabled)", value, "")
	r.json(t, &recs)
	if r.status != 200 || recs.Meta.Pagination.Total != 4 || len(recs.Data) != 2 || recs.Data[0].Event != store.EventTokenDisabled {
		t.Errorf("audit records = %d %+v", r.status, recs)
	}
}

func TestVerifyForGateways(t *testing.T) {
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Edge", "MOD-0478", "MOD-2210")
	r := app.call(t, "GET", "/public/v1/auth/verify?module=MOD-0478", value, "")
	if r.status != 200 || r.header.Get("X-Gatehouse-Token-Id") != tok.ID || r.header.Get("X-Gatehouse-Account-Id") != app.acc.ID ||
		r.header.Get("X-Gatehouse-Modules") != "MOD-0478,MOD-2210" {
		t.Errorf("verify = %d %v", r.status, r.header)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify?module=MOD-1756", value, ""); r.status != 403 {
		t.Errorf("module not granted = %d", r.status)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, "", "X-Gatehouse-Module", "MOD-1756"); r.status != 403 {
		t.Errorf("module header not granted = %d", r.status)
	}
}

func TestLastAccessAndRejectionsAreBatched(t *testing.T) {
	app := newTestApp(t)
	tok, value := app.apiToken(t, app.acc.ID, "Tracked", "MOD-1756")
	h := app.h
	app.call(t, "GET", "/public/v1/auth/verify", value, "", "User-Agent", "tracked-client/1.0")
	// Nothing is written per request…
	cur, _ := app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if !cur.LastAccessAt.IsZero() {
		t.Fatal("last access was written by the request itself")
	}
	// …but by the flush.
	if err := h.Flush(context.Background(), false); err != nil {
		t.Fatal(err)
	}
	cur, _ = app.store.Token(context.Background(), app.acc.ID, tok.ID)
	if cur.LastAccessAt.IsZero() || cur.LastAccessAgent != "tracked-client/1.0" || cur.LastAccessIP != "127.0.0.1" {
		t.Errorf("last access = %+v %q %q", cur.LastAccessAt, cur.LastAccessIP, cur.LastAccessAgent)
	}
	// Refused calls of a disabled token: one record per token and minute.
	app.store.DisableToken(context.Background(), store.SystemActor, app.acc.ID, tok.ID, 0, "")
	for range 5 {
		app.call(t, "GET", "/public/v1/auth/verify", value, "")
	}
	h.Flush(context.Background(), false) // the minute is not over: nothing yet
	if n := app.countEvents(t, tok.ID, store.EventTokenRejected); n != 0 {
		t.Errorf("%d rejected records before the minute ended", n)
	}
	// Just after the minute: every replica has until RejectionGrace after
	// it to add its count, so nothing is recorded yet.
	now := app.store.Now()
	app.clock.advance(now.Truncate(time.Minute).Add(time.Minute + time.Second).Sub(now))
	h.Flush(context.Background(), false)
	if n := app.countEvents(t, tok.ID, store.EventTokenRejected); n != 0 {
		t.Errorf("%d rejected records before every replica could flush the minute", n)
	}
	app.clock.advance(store.RejectionGrace)
	h.Flush(context.Background(), false)
	if n := app.countEvents(t, tok.ID, store.EventTokenRejected); n != 1 {
		t.Fatalf("%d rejected records, want 1 for the minute", n)
	}
	var details struct{ Count int }
	var raw string
	app.store.DB().QueryRow(`SELECT details FROM audit_records WHERE object_id = ? AND event = ?`, tok.ID, store.EventTokenRejected).Scan(&raw)
	json.Unmarshal([]byte(raw), &details)
	if details.Count != 5 {
		t.Errorf("rejected record counts %d calls, want 5 (%s)", details.Count, raw)
	}
}

// A token value a client puts in the URL path, or anywhere else that is
// logged, never reaches the log: whatever is shaped like a secret is
// redacted.
func TestNoSecretInTheLog(t *testing.T) {
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, "Pasted", "MOD-1756")
	secret := value[strings.LastIndex(value, ":")+1:]
	for _, path := range []string{
		"/public/v1/accounts/api-tokens/" + value,
		"/public/v1/accounts/api-tokens/" + url.PathEscape(value) + "/enable",
		"/settings/api-tokens/" + secret,
		"/public/v1/auth/verify/" + value,
	} {
		req, _ := http.NewRequest(http.MethodGet, app.srv.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+value)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	logs := app.logs.String()
	if strings.Contains(logs, secret) || strings.Contains(logs, secret[:40]) {
		t.Errorf("the log holds the secret:\n%s", logs)
	}
	if strings.Count(logs, "[redacted]") < 4 {
		t.Errorf("the logged paths were not redacted:\n%s", logs)
	}
	if got := store.RedactSecrets("/x/idt:TKN-1234-5678:" + secret + "/y"); got != "/x/idt:TKN-1234-5678:[redacted]/y" {
		t.Errorf("RedactSecrets = %q", got)
	}
	if got := store.RedactSecrets("/static/05441da279/app.css?page=2"); got != "/static/05441da279/app.css?page=2" {
		t.Errorf("RedactSecrets changed an ordinary path: %q", got)
	}
}

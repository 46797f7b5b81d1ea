package handlers

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"gatehouse/store"
)

// TestAPIJSONStrictness: a body with a key twice in one object is a 400 (the
// decoder would silently keep one of them, and another decoder the other),
// and a JSON body sent with any Content-Type but application/json is a 415.
// Neither changes anything.
func TestAPIJSONStrictness(t *testing.T) {
	app := newTestApp(t)
	caller, value := app.apiToken(t, app.acc.ID, "Automation", AccessManagement)
	count := func() int {
		var n int
		if err := app.store.DB().QueryRow(`SELECT count(*) FROM api_tokens`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := count()
	const tokens = "/public/v1/accounts/api-tokens"
	acc := fmt.Sprintf(`{"id":%q}`, app.acc.ID)

	dups := []struct{ name, body, where string }{
		{"top level", `{"name":"first","description":"d","name":"second"}`, `"name" more than once in the body`},
		{"differing in case", `{"name":"first","Name":"second"}`, `"Name" more than once in the body`},
		{"in account", `{"name":"x","account":{"id":"` + app.acc.ID + `","id":"ACC-0000-0000"}}`, `"id" more than once in account`},
		{"in a module", `{"name":"x","modules":[{"id":"MOD-1756"},{"id":"MOD-1756","id":"MOD-0478"}]}`, `"id" more than once in modules[1]`},
	}
	for _, tc := range dups {
		t.Run("duplicate key "+tc.name, func(t *testing.T) {
			r := app.call(t, "POST", tokens, value, tc.body)
			if r.status != http.StatusBadRequest {
				t.Fatalf("status %d, want 400: %s", r.status, r.body)
			}
			p := r.problem(t)
			if got := strings.Join(p.Errors["body"], " "); !strings.Contains(got, tc.where) {
				t.Errorf("errors.body = %q, want it to name %s", got, tc.where)
			}
		})
	}
	// Folded as the decoder folds: "ſ" (U+017F) is an "s".
	if r := app.call(t, "POST", tokens, value, `{"name":"x","description":"a","de\u017fcription":"b"}`); r.status != http.StatusBadRequest {
		t.Errorf("description and de\u017fcription = %d, want 400", r.status)
	}
	// Nesting is bounded: a megabyte of brackets is a 400, not a server
	// building paths for a million levels.
	deep := `{"name":"x","icon":` + strings.Repeat("[", 500_000) + strings.Repeat("]", 500_000) + `}`
	if r := app.call(t, "POST", tokens, value, deep); r.status != http.StatusBadRequest || !strings.Contains(r.body, "nests deeper") {
		t.Errorf("deeply nested body = %d %.200s, want 400", r.status, r.body)
	}
	// A key used once in each of several objects is not a duplicate.
	ok := app.call(t, "POST", tokens, value, `{"name":"Once each","account":`+acc+`,"modules":[{"id":"MOD-1756"},{"id":"MOD-0478"}]}`)
	if ok.status != http.StatusCreated {
		t.Fatalf("a body with each key once per object = %d: %s", ok.status, ok.body)
	}

	body := `{"name":"Typed"}`
	types := []struct {
		ct     string
		status int
	}{
		{"text/plain", 415},
		{"application/x-www-form-urlencoded", 415},
		{"multipart/form-data; boundary=x", 415},
		{"application/json; charset=iso-8859-1", 415},
		{"application/jsonx", 415},
		{"not a media type;;", 415},
		{"application/json; charset=UTF-8", 201},
		{"Application/JSON", 201},
	}
	for _, tc := range types {
		r := app.call(t, "POST", tokens, value, body, "Content-Type", tc.ct)
		if r.status != tc.status {
			t.Errorf("POST with Content-Type %q = %d, want %d: %s", tc.ct, r.status, tc.status, r.body)
			continue
		}
		if tc.status == 415 {
			if p := r.problem(t); !strings.Contains(p.Detail, "Content-Type: application/json") {
				t.Errorf("415 detail = %q", p.Detail)
			}
		}
	}
	// No Content-Type at all.
	if r := app.call(t, "POST", tokens, value, body, "Content-Type", ""); r.status != 415 {
		t.Errorf("POST without Content-Type = %d, want 415", r.status)
	}
	// PUT and disable read JSON the same way.
	path := tokens + "/" + caller.ID
	if r := app.call(t, "PUT", path, value, `{"description":"changed"}`, "Content-Type", "text/plain"); r.status != 415 {
		t.Errorf("PUT as text/plain = %d, want 415", r.status)
	}
	if r := app.call(t, "PUT", path, value, `{"description":"changed","description":"again"}`); r.status != 400 {
		t.Errorf("PUT with a key twice = %d, want 400", r.status)
	}
	other, _ := app.apiToken(t, app.acc.ID, "Other", "MOD-0478")
	if r := app.call(t, "POST", tokens+"/"+other.ID+"/disable", value, `{"reason":"x"}`, "Content-Type", "text/plain"); r.status != 415 {
		t.Errorf("disable as text/plain = %d, want 415", r.status)
	}
	if r := app.call(t, "POST", tokens+"/"+other.ID+"/disable", value, `{"reason":"x","reason":"y"}`); r.status != 400 {
		t.Errorf("disable with a key twice = %d, want 400", r.status)
	}

	// Nothing changed but the four tokens created on purpose above (the
	// "Other" token was made directly in the store).
	if got := count(); got != before+4 {
		t.Errorf("%d tokens, want %d: a refused body created one", got, before+4)
	}
	for _, id := range []string{caller.ID, other.ID} {
		tok, err := app.store.Token(context.Background(), app.acc.ID, id)
		if err != nil {
			t.Fatal(err)
		}
		if tok.Description != "" && id == caller.ID || tok.Status != store.StatusActive {
			t.Errorf("%s changed by a refused body: %q %s", id, tok.Description, tok.Status)
		}
	}
}

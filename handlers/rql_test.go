package handlers

import (
	"context"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"

	"gatehouse/store"
)

func TestParseRQL(t *testing.T) {
	cases := []struct {
		in   string
		want store.Filter
	}{
		{"eq(status,Active)", store.Filter{Op: "eq", Field: "status", Values: []string{"Active"}}},
		{"like(name,*prod*)", store.Filter{Op: "like", Field: "name", Values: []string{"*prod*"}}},
		{"eq(name,CI%20pipeline)", store.Filter{Op: "eq", Field: "name", Values: []string{"CI pipeline"}}},
		{"eq(name,a%2Cb%28c%29)", store.Filter{Op: "eq", Field: "name", Values: []string{"a,b(c)"}}},
		{"in(status,(Active,Disabled))", store.Filter{Op: "in", Field: "status", Values: []string{"Active", "Disabled"}}},
		{"and(eq(status,Active),not(eq(name,x)))", store.Filter{Op: "and", Args: []store.Filter{
			{Op: "eq", Field: "status", Values: []string{"Active"}},
			{Op: "not", Args: []store.Filter{{Op: "eq", Field: "name", Values: []string{"x"}}}},
		}}},
	}
	for _, tc := range cases {
		got, err := parseRQL(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseRQL(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "eq", "eq(", "eq(status", "eq(status,Active", "eq(status,Active))", "drop(table)",
		"and()", "eq(,x)", "in(status,(a,b)", "eq(name,%zz)", strings.Repeat("not(", 20) + "eq(a,b)" + strings.Repeat(")", 20),
		strings.Repeat("a", maxRQLLength+1)} {
		if f, err := parseRQL(bad); err == nil {
			t.Errorf("parseRQL(%.40q) = %+v, want an error", bad, f)
		}
	}
}

// FuzzParseRQL: no input makes the parser panic, and whatever it accepts the
// store either turns into SQL or refuses with a validation error, and the
// endpoint answers 200 or 400, never a 500.
func FuzzParseRQL(f *testing.F) {
	for _, s := range []string{"eq(status,Active)", "and(eq(status,Active),like(name,*a*))", "in(status,(Active,Disabled))",
		"or(eq(modules.id,MOD-1756),not(eq(name,x)))", "eq(name,%20)", "eq(", "))((", "like(modules.id,*)", "eq(name,'; DROP TABLE api_tokens; --)"} {
		f.Add(s)
	}
	app := newTestApp(f)
	_, value := app.apiToken(f, app.acc.ID, "Fuzzer", "MOD-1756")
	f.Fuzz(func(t *testing.T, s string) {
		parsed, err := parseRQL(s)
		if err == nil {
			if _, err := app.store.ListTokens(context.Background(), app.acc.ID, store.TokenQuery{Filter: &parsed, Limit: 1}); err != nil {
				if _, ok := err.(*store.ValidationError); !ok {
					t.Fatalf("filter %q: store error %v", s, err)
				}
			}
		}
		req := httptest.NewRequest(http.MethodGet, "/public/v1/accounts/api-tokens", nil)
		req.URL.RawQuery = s
		req.Header.Set("Authorization", "Bearer "+value)
		rec := httptest.NewRecorder()
		app.echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
			t.Fatalf("?%q = %d %s", s, rec.Code, rec.Body.String())
		}
	})
}

// FuzzBearer: whatever arrives in the Authorization header gets 200 or 401,
// never a panic or a 500.
func FuzzBearer(f *testing.F) {
	app := newTestApp(f)
	_, value := app.apiToken(f, app.acc.ID, "Fuzzed", "MOD-1756")
	for _, s := range []string{"Bearer " + value, "Bearer " + value[:len(value)-1], "Bearer idt:TKN-0000-0000:", "Basic x", "Bearer \xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, auth string) {
		req := httptest.NewRequest(http.MethodGet, "/public/v1/auth/verify", nil)
		req.Header["Authorization"] = []string{auth}
		rec := httptest.NewRecorder()
		app.echo.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK && rec.Code != http.StatusUnauthorized {
			t.Fatalf("Authorization %q = %d", auth, rec.Code)
		}
	})
}

package handlers

import (
	"net/http"
	"net/http/httptest"
	"testing"
)

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

package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"gatehouse/cmd/internal/cluster"
	"gatehouse/handlers/openapitest"
)

// nginxConfig returns the nginx block of docs/gateway.md, so that the test
// runs exactly the configuration the documentation gives.
func nginxConfig(t *testing.T) string {
	t.Helper()
	doc, err := os.ReadFile("../../docs/gateway.md")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)```nginx\n(.*?)```").FindSubmatch(doc)
	if m == nil {
		t.Fatal("docs/gateway.md has no nginx block")
	}
	return string(m[1])
}

// TestNginxGateway runs a real nginx (Debian's package) with the documented
// auth_request configuration in front of a small upstream, and Gatehouse.
func TestNginxGateway(t *testing.T) {
	dir := demoDataDir(t)
	s := startServer(dir)
	t.Cleanup(func() {
		if err := s.stop(); err != nil {
			t.Error(err)
		}
		if t.Failed() {
			t.Logf("gatehouse log:\n%s", s.stderr.String())
		}
	})
	base, err := s.waitListening()
	if err != nil {
		t.Fatal(err)
	}

	upstream := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "upstream %s token=%s account=%s", r.URL.Path, r.Header.Get("X-Gatehouse-Token-Id"), r.Header.Get("X-Gatehouse-Account-Id"))
	}))
	defer upstream.Close()

	listen, err := cluster.FreeAddr()
	if err != nil {
		t.Fatal(err)
	}
	block := strings.NewReplacer(
		"127.0.0.1:8080", strings.TrimPrefix(base, "http://"),
		"127.0.0.1:9000", strings.TrimPrefix(upstream.URL, "http://"),
	).Replace(nginxConfig(t))
	lb, err := cluster.StartNginx(t.TempDir(), listen, "    server {\n        listen "+listen+";\n"+block+"\n    }\n")
	if errors.Is(err, cluster.ErrNoNginx) && os.Getenv("CI") == "" {
		t.Skip(err)
	}
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		lb.Stop()
		if t.Failed() {
			t.Logf("nginx output:\n%s\nnginx error log:\n%s", lb.Output(), lb.ErrorLog())
		}
	})
	gateway := lb.URL()

	// Tokens: an automation token holding Access management (to disable the
	// other through the API), and a caller holding Marketplace only.
	account := regexp.MustCompile(`ACC-\d{4}-\d{4}`).FindString(cli(t, dir, "account", "list"))
	admin := strings.TrimSpace(cli(t, dir, "token", "create", "--account", account, "--name", "Automation", "--module", "MOD-1756"))
	caller := strings.TrimSpace(cli(t, dir, "token", "create", "--account", account, "--name", "Gateway caller", "--module", "MOD-0478"))
	callerID := strings.Split(caller, ":")[1]

	get := func(path, value string) (int, string) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, gateway+path, nil)
		if value != "" {
			req.Header.Set("Authorization", "Bearer "+value)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}

	if code, body := get("/marketplace/orders", caller); code != 200 || body != "upstream /marketplace/orders token="+callerID+" account="+account {
		t.Fatalf("valid token through nginx = %d %q", code, body)
	}
	if code, _ := get("/marketplace/orders", ""); code != 401 {
		t.Errorf("no token through nginx = %d, want 401", code)
	}
	if code, _ := get("/marketplace/orders", "idt:TKN-0000-0000:forged"); code != 401 {
		t.Errorf("forged token through nginx = %d, want 401", code)
	}
	if code, _ := get("/billing/invoices", caller); code != 403 {
		t.Errorf("token without Billing through nginx = %d, want 403", code)
	}

	// Disable the caller through the API, its answers checked against the
	// OpenAPI document the binary serves; the very next call through nginx
	// is refused.
	spec := servedOpenAPI(t, base)
	if code := apiCall(t, spec, http.MethodGet, base+"/public/v1/auth/verify?module=MOD-0478", caller); code != 200 {
		t.Errorf("verify straight at Gatehouse = %d", code)
	}
	if code := apiCall(t, spec, http.MethodPost, base+"/public/v1/accounts/api-tokens/"+callerID+"/disable", admin); code != 200 {
		t.Fatalf("disable through the API = %d", code)
	}
	if code := apiCall(t, spec, http.MethodGet, base+"/public/v1/auth/verify", caller); code != 401 {
		t.Errorf("verify with the disabled token = %d", code)
	}
	if code, body := get("/marketplace/orders", caller); code != 401 || strings.Contains(body, "upstream") {
		t.Errorf("disabled token through nginx = %d %q, want 401", code, body)
	}
}

// cli runs a gatehouse command on the data directory and returns its stdout.
func cli(t *testing.T, dir string, args ...string) string {
	t.Helper()
	var out, errOut bytes.Buffer
	if err := run(context.Background(), append(args, "--data", dir), func(string) string { return "" }, strings.NewReader(""), &out, &errOut); err != nil {
		t.Fatalf("gatehouse %v: %v\n%s", args, err, errOut.String())
	}
	return out.String()
}

// servedOpenAPI loads the OpenAPI document the running binary serves,
// without a token.
func servedOpenAPI(t *testing.T, base string) *openapitest.Validator {
	t.Helper()
	resp, err := http.Get(base + "/public/v1/openapi.json")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET /public/v1/openapi.json = %d %q", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
	v, err := openapitest.New(b)
	if err != nil {
		t.Fatalf("the served OpenAPI document: %v", err)
	}
	return v
}

// apiCall makes a call to the public API with the token value and fails
// the test when the answer departs from the OpenAPI document.
func apiCall(t *testing.T, spec *openapitest.Validator, method, url, value string) int {
	t.Helper()
	req, _ := http.NewRequest(method, url, nil)
	req.Header.Set("Authorization", "Bearer "+value)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if err := spec.CheckResponse(req, resp.StatusCode, resp.Header, b); err != nil {
		t.Errorf("%s %s: the answer departs from the OpenAPI document: %v", method, req.URL.Path, err)
	}
	return resp.StatusCode
}

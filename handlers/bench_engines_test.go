package handlers

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"gatehouse/store/storetest"
)

// BenchmarkEngines puts the same bulk data on SQLite and on PostgreSQL —
// 100 000 tokens and 1 000 000 audit records by default
// (GATEHOUSE_BENCH_TOKENS and GATEHOUSE_BENCH_AUDIT change them) — and serves
// the same console pages and API calls from each through the whole echo
// stack, printing p50 and p99 server time side by side and PostgreSQL's over
// SQLite's. The two engines are measured in alternating rounds of 25 requests,
// 600 requests each per case (GATEHOUSE_BENCH_SAMPLES), so that whatever else
// the machine does falls on both. Target: every p99 under 20 ms on
// PostgreSQL, within 2× of SQLite. make bench-engines runs it.
func BenchmarkEngines(b *testing.B) {
	tokens, audit := envInt("GATEHOUSE_BENCH_TOKENS", 100_000), envInt("GATEHOUSE_BENCH_AUDIT", 1_000_000)
	samples := envInt("GATEHOUSE_BENCH_SAMPLES", 600)
	engines := []string{"sqlite", "postgres"}
	type side struct {
		app            *testApp
		session        *http.Cookie
		value, tokenID string
	}
	sides := map[string]*side{}
	for _, engine := range engines {
		app := newTestAppOn(b, storetest.OpenEngine(b, engine))
		start := time.Now()
		if err := app.store.BulkSeed(context.Background(), app.sealer, app.acc.ID, tokens, audit, nil); err != nil {
			b.Fatal(err)
		}
		fmt.Printf("%s: seeded %d tokens and %d audit records in %.1f s\n", engine, tokens, audit, time.Since(start).Seconds())
		c := app.client(b)
		c.mustLogin("admin@example.com")
		_, value := app.apiToken(b, app.acc.ID, "Bench", "MOD-1756")
		sides[engine] = &side{app: app, session: c.cookie(SessionCookie), value: value, tokenID: app.demoToken(b, "CI pipeline").ID}
	}
	month := sides["sqlite"].app.store.Now().AddDate(0, 0, -30).Format(time.DateOnly)
	last := strconv.Itoa(tokens/10 + 2)
	cases := []struct {
		name, path string
		api        bool
	}{
		{"list first", "/settings/api-tokens", false},
		{"list search", "/settings/api-tokens?q=gateway+sync", false},
		{"list last", "/settings/api-tokens?page=" + last, false},
		{"list filtered+ordered", "/settings/api-tokens?status=Disabled&module=MOD-1756&order=name&size=100&page=5", false},
		{"audit trail first", "/settings/audit-trail", false},
		{"audit trail filtered", "/settings/audit-trail?event=updated", false},
		{"token audit tab", "/settings/api-tokens/{token}/audit", false},
		{"audit trail by token id", "/settings/audit-trail?object={token}", false},
		{"audit trail by name", "/settings/audit-trail?object=gateway+sync+1", false}, // 78 tokens
		{"audit trail by actor", "/settings/audit-trail?actor=system", false},
		{"API filtered by date", "/public/v1/accounts/api-tokens?and(ge(audit.created.at," + month + "),eq(status,'Active'))", true},
		{"API ordered by path", "/public/v1/accounts/api-tokens?order=-audit.updated.at,name", true},
	}
	type figures struct{ p50, p99 float64 }
	results := map[string]map[string]figures{"sqlite": {}, "postgres": {}}
	for b.Loop() {
		for _, tc := range cases {
			durations := map[string][]time.Duration{}
			serve := func(engine string, n int) {
				sd := sides[engine]
				path := strings.ReplaceAll(tc.path, "{token}", sd.tokenID)
				for range n {
					req := httptest.NewRequest(http.MethodGet, path, nil)
					if tc.api {
						req.Header.Set("Authorization", "Bearer "+sd.value)
					} else {
						req.AddCookie(sd.session)
					}
					rec := httptest.NewRecorder()
					start := time.Now()
					sd.app.echo.ServeHTTP(rec, req)
					durations[engine] = append(durations[engine], time.Since(start))
					if rec.Code != http.StatusOK {
						b.Fatalf("%s %s = %d", engine, path, rec.Code)
					}
				}
			}
			for _, engine := range engines {
				serve(engine, 10) // warm up, not counted
				durations[engine] = nil
			}
			for done := 0; done < samples; done += 25 {
				for _, engine := range engines {
					serve(engine, min(25, samples-done))
				}
			}
			for _, engine := range engines {
				d := durations[engine]
				slices.Sort(d)
				pct := func(p float64) float64 { return float64(d[int(float64(len(d)-1)*p)]) / float64(time.Millisecond) }
				results[engine][tc.name] = figures{pct(0.50), pct(0.99)}
			}
		}
	}
	fmt.Printf("engines side by side, %d tokens and %d audit records, %d requests each, server time p50 / p99 in ms:\n", tokens, audit, samples)
	fmt.Printf("  %-24s %18s %18s %16s\n", "", "SQLite", "PostgreSQL", "ratio p50 / p99")
	worst := 0.0
	for _, tc := range cases {
		s, p := results["sqlite"][tc.name], results["postgres"][tc.name]
		fmt.Printf("  %-24s %8.2f / %7.2f %8.2f / %7.2f %7.2f× / %5.2f×\n", tc.name, s.p50, s.p99, p.p50, p.p99, p.p50/s.p50, p.p99/s.p99)
		worst = max(worst, p.p99)
		b.ReportMetric(p.p99, strings.ReplaceAll(tc.name, " ", "-")+"-pg-p99-ms")
	}
	fmt.Printf("  worst PostgreSQL p99: %.2f ms (budget 20 ms)\n", worst)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

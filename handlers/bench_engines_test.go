package handlers

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"testing"
	"time"

	"gatehouse/store/storetest"
)

// BenchmarkEngines puts the same bulk data on SQLite and on PostgreSQL —
// 100 000 tokens and 1 000 000 audit records by default
// (GATEHOUSE_BENCH_TOKENS and GATEHOUSE_BENCH_AUDIT change them) — and serves
// the same console pages and API calls from each through the whole echo
// stack, printing p50 and p99 server time side by side and PostgreSQL's p99
// over SQLite's. Target: every p99 under 20 ms on PostgreSQL, within 2× of
// SQLite. make bench-engines runs it.
func BenchmarkEngines(b *testing.B) {
	tokens, audit := envInt("GATEHOUSE_BENCH_TOKENS", 100_000), envInt("GATEHOUSE_BENCH_AUDIT", 1_000_000)
	type figures struct{ p50, p99 float64 }
	results := map[string]map[string]figures{}
	var names []string
	for _, engine := range []string{"sqlite", "postgres"} {
		b.Run(engine, func(b *testing.B) {
			app := newTestAppOn(b, storetest.OpenEngine(b, engine))
			start := time.Now()
			if err := app.store.BulkSeed(context.Background(), app.sealer, app.acc.ID, tokens, audit, nil); err != nil {
				b.Fatal(err)
			}
			fmt.Printf("%s: seeded %d tokens and %d audit records in %.1f s\n", engine, tokens, audit, time.Since(start).Seconds())
			tok := app.demoToken(b, "CI pipeline")
			c := app.client(b)
			c.mustLogin("admin@example.com")
			session := c.cookie(SessionCookie)
			_, value := app.apiToken(b, app.acc.ID, "Bench", "MOD-1756")
			month := app.store.Now().AddDate(0, 0, -30).Format(time.DateOnly)
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
				{"token audit tab", "/settings/api-tokens/" + tok.ID + "/audit", false},
				{"API filtered by date", "/public/v1/accounts/api-tokens?and(ge(audit.created.at," + month + "),eq(status,'Active'))", true},
				{"API ordered by path", "/public/v1/accounts/api-tokens?order=-audit.updated.at,name", true},
			}
			results[engine] = map[string]figures{}
			names = names[:0]
			for _, tc := range cases {
				names = append(names, tc.name)
				prep := func(r *http.Request) { r.AddCookie(session) }
				if tc.api {
					prep = func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+value) }
				}
				b.Run(tc.name, func(b *testing.B) {
					p50, p99 := percentiles(b, app, prep, tc.path)
					results[engine][tc.name] = figures{p50, p99}
				})
			}
		})
	}
	if len(results) != 2 {
		return
	}
	fmt.Printf("engines side by side, %d tokens and %d audit records, server time p50 / p99 in ms:\n", tokens, audit)
	fmt.Printf("  %-24s %18s %18s %10s\n", "", "SQLite", "PostgreSQL", "p99 ratio")
	worst := 0.0
	for _, n := range names {
		s, p := results["sqlite"][n], results["postgres"][n]
		fmt.Printf("  %-24s %8.2f / %7.2f %8.2f / %7.2f %9.2f×\n", n, s.p50, s.p99, p.p50, p.p99, p.p99/s.p99)
		worst = max(worst, p.p99)
	}
	fmt.Printf("  worst PostgreSQL p99: %.2f ms (budget 20 ms)\n", worst)
}

func envInt(name string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(name)); err == nil && n > 0 {
		return n
	}
	return def
}

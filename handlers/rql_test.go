package handlers

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"gatehouse/store"
)

// The demo account's live tokens, by a letter each, and the caller the
// tests make (Z, Access management only, never used: the test app flushes
// no last access).
var demoNames = map[string]string{
	"B": "Production billing sync", "CI": "CI pipeline", "G": "Grafana exporter", "P": "Partner portal EU",
	"H": "Helpdesk integration", "L": "Legacy ERP connector", "N": "Nightly license report",
	"M": `Marketing site "Buy now" widget`, "O": "O'Reilly reseller feed", "S": "Staging smoke tests",
	"D": "Data warehouse export", "R": "Notifications relay", "A": "Access review bot", "Z": "Zz API caller",
}

const (
	allLive    = "B CI G P H L N M O S D R A Z"
	allActive  = "B CI G P H N O S D R A Z"
	noneOfThem = ""
)

// rqlApp is a test app with the caller's token and the placeholders the
// query table uses: {acc}, {priya}, {ci} (CI pipeline's id) and {D-N}, the
// date N days ago.
type rqlApp struct {
	*testApp
	value string
	vars  *strings.Replacer
	ids   map[string]string // name → id
}

func newRQLApp(t testing.TB) *rqlApp {
	t.Helper()
	app := newTestApp(t)
	_, value := app.apiToken(t, app.acc.ID, demoNames["Z"], "MOD-1756")
	page, err := app.store.ListTokens(context.Background(), app.acc.ID, store.TokenQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	ids := map[string]string{}
	for _, tok := range page.Tokens {
		ids[tok.Name] = tok.ID
	}
	priya, err := app.store.UserByEmail(context.Background(), "priya@example.com")
	if err != nil {
		t.Fatal(err)
	}
	pairs := []string{"{acc}", app.acc.ID, "{other}", app.other.ID, "{priya}", priya.ID, "{ci}", ids["CI pipeline"]}
	for _, d := range []int{10, 100, 150} {
		pairs = append(pairs, fmt.Sprintf("{D-%d}", d), app.store.Now().AddDate(0, 0, -d).Format(time.DateOnly))
	}
	return &rqlApp{testApp: app, value: value, vars: strings.NewReplacer(pairs...), ids: ids}
}

// names lists the names of a token list response, in order.
func (a *rqlApp) names(t *testing.T, query string) (int, []string, apiResponse) {
	t.Helper()
	r := a.call(t, "GET", "/public/v1/accounts/api-tokens?"+urlSpaces(a.vars.Replace(query)), a.value, "")
	if r.status != http.StatusOK {
		return r.status, nil, r
	}
	var page struct {
		Data []struct{ Name string }
	}
	r.json(t, &page)
	var names []string
	for _, d := range page.Data {
		names = append(names, d.Name)
	}
	return r.status, names, r
}

// urlSpaces writes the spaces of a query as %20, as HTTP clients do.
func urlSpaces(q string) string { return strings.ReplaceAll(q, " ", "%20") }

func expand(letters string) []string {
	var names []string
	for _, l := range strings.Fields(letters) {
		names = append(names, demoNames[l])
	}
	return names
}

// TestRQLFilters runs each query against the demo data and wants exactly the
// tokens listed.
func TestRQLFilters(t *testing.T) {
	app := newRQLApp(t)
	cases := []struct{ query, want string }{
		// Quoting as the platform's clients send it.
		{"eq(status,'Active')", allActive},
		{`eq(status,"Active")`, allActive},
		{"eq(status,Active)", allActive},
		{"eq(status,%27Active%27)", allActive},
		{"eq(status,%22Disabled%22)", "L M"},
		{"ne(status,'Disabled')", allActive},
		{"out(status,('Disabled'))", allActive},
		{"out(status,(Active,Disabled))", noneOfThem},
		{"in(status,('Active','Disabled'))", allLive},
		{"in(status,Disabled)", "L M"},
		{"not(eq(status,'Active'))", "L M"},
		{"not(not(eq(status,Disabled)))", "L M"},
		{"eq(name,'CI pipeline')", "CI"},
		{"eq(name,CI%20pipeline)", "CI"},
		{"eq(name,'O''Reilly reseller feed')", "O"},
		{`eq(name,'O\'Reilly reseller feed')`, "O"},
		{`eq(name,"O'Reilly reseller feed")`, "O"},
		{"eq(name,O'Reilly%20reseller%20feed)", "O"},
		{`eq(name,'Marketing site "Buy now" widget')`, "M"},
		{`eq(name,"Marketing site ""Buy now"" widget")`, "M"},
		{"eq(description,'Run after every staging deploy.')", "S"},
		{"eq(description,'Shows prices on the public web site.')", "M"},
		{"like(description,'Pushes approved invoices to the finance system*')", "B"},
		{"eq(name,'a,b (c)')", noneOfThem},
		{"eq(name,a%2Cb)", noneOfThem},
		// like is case-sensitive, ilike is not; * is the wildcard.
		{"like(name,*sync*)", "B"},
		{"like(name,*Sync*)", noneOfThem},
		{"ilike(name,*SYNC*)", "B"},
		{"ilike(name,'*export*')", "G D"},
		{"like(name,'O''Reilly*')", "O"},
		{"like(name,'*?*')", noneOfThem},
		{"like(id,TKN-*)", allLive},
		{"ilike(description,*nightly*)", "D"},
		// null() and empty().
		{"eq(description,empty())", "N Z"},
		{"eq(description,'')", "N Z"},
		{"ne(description,empty())", "B CI G P H L M O S D R A"},
		{"eq(lastAccessAt,null())", "G M S A Z"},
		{"ne(lastAccessAt,null())", "B CI P H L N O D R"},
		{"eq(lastAccessAt,empty())", "G M S A Z"},
		{"in(lastAccessAt,(null(),{D-100}))", "G M S A Z"},
		{"eq(icon,empty())", allLive},
		{"ne(icon,empty())", noneOfThem},
		// Dates: a plain date is the whole day, in UTC.
		{"lt(lastAccessAt,{D-10})", "L"},
		{"ge(lastAccessAt,{D-10})", "B CI P H N O D R"},
		{"not(ge(lastAccessAt,{D-10}))", "G L M S A Z"},
		{"gt(audit.created.at,{D-100})", "H N M O S D R A Z"},
		{"lt(audit.created.at,{D-150})", "B CI L"},
		{"le(audit.created.at,{D-150})", "B CI L"},
		{"and(ge(audit.created.at,{D-150}),lt(audit.created.at,{D-100}))", "G P"},
		{"gt(audit.updated.at,2000-01-01T00:00:00Z)", allLive},
		{"lt(audit.updated.at,2000-01-01T00:00:00.000%2B01:00)", noneOfThem},
		// Every field path.
		{"eq(id,{ci})", "CI"},
		{"eq(account.id,{acc})", allLive},
		{"eq(account.id,{other})", noneOfThem},
		{"eq(account.name,'Northwind Traders')", allLive},
		{"eq(account.name,'Globex Software')", noneOfThem},
		{"eq(audit.created.by.id,{priya})", "CI P M S R"},
		{"eq(audit.created.by.name,'Priya Shah')", "CI P M S R"},
		{"eq(audit.updated.by.name,'Oliver Perez')", "L M"},
		{"eq(audit.updated.by.id,{priya})", "CI S R"},
		{"gt(name,S)", "S Z"},
		{"ge(name,'Staging smoke tests')", "S Z"},
		{"lt(name,B)", "A"},
		{"le(status,Active)", allActive},
		// Modules: a token matches when any of its modules does.
		{"eq(modules.id,MOD-1756)", "G A Z"},
		{"ne(modules.id,MOD-1756)", "B CI P H L N M O S D R"},
		{"in(modules.id,(MOD-4617,MOD-5823))", "G H R"},
		{"out(modules.id,(MOD-4617,MOD-5823))", "B CI P L N M O S D A Z"},
		{"eq(modules.id,null())", "S"},
		{"ne(modules.id,empty())", "B CI G P H L N M O D R A Z"},
		{"eq(modules.name,Marketplace)", "CI G N O D"},
		{"ilike(modules.name,*MANAGEMENT)", "B G P N M O D A Z"},
		{"any(modules,eq(name,'Billing'))", "B L D"},
		{"any(modules,and(eq(id,MOD-0478),eq(name,Marketplace)))", "CI G N O D"},
		{"not(any(modules,like(name,*a*)))", "L S"},
		// Combinations and short forms.
		{"and(eq(status,'Active'),ilike(name,'*sync*'))", "B"},
		{"or(eq(name,'CI pipeline'),eq(name,\"Notifications relay\"))", "CI R"},
		{"eq(name,CI%20pipeline)|eq(name,Notifications%20relay)", "CI R"},
		{"eq(name,CI%20pipeline);eq(name,Notifications%20relay)", "CI R"},
		{"eq(status,Active),eq(modules.id,MOD-6094)", "O"},
		{"eq(status,Active)&eq(modules.id,MOD-6094)", "O"},
		{"eq(status,Disabled);eq(modules.id,MOD-6094)", "L M O"},
		{"(eq(status,Disabled)|eq(modules.id,MOD-1756))&ne(name,'Grafana exporter')", "L M A Z"},
		{"and((eq(status,Disabled),eq(modules.id,MOD-6094)))", "M"},
		{"and(not(eq(status,Disabled)),eq(lastAccessAt,null()))", "G S A Z"},
		{"status=Disabled", "L M"},
		{"status='Disabled'", "L M"},
		{"status=ne=Active", "L M"},
		{"status=in=(Active,Disabled)&name=ilike=*EXPORT*", "G D"},
		{"modules.id=in=(MOD-4617,MOD-5823)", "G H R"},
		{"lastAccessAt=null()", "G M S A Z"},
		{"lastAccessAt=lt={D-10}", "L"},
		{"name=a=b", noneOfThem},
		// A short form's list needs parentheses: the comma ends the term.
		{"name=out=x,status=Disabled", "L M"},
		{"status=in=Disabled,ilike(name,*market*)", "M"},
		// like and ilike: \* is a star itself.
		{"like(name,*\\*)", noneOfThem},
		{"like(name,'*\\*')", noneOfThem},
		{"like(name,'*\\\\*')", noneOfThem},
		// Names compare as they sort, ignoring case.
		{"gt(name,m)", "M N R O P B S Z"},
		{"lt(name,b)", "A"},
		{"ge(name,'ci pipeline')&lt(name,d)", "CI"},
		{"gt(audit.created.at,9999-12-31)", noneOfThem},
		{"le(audit.created.at,9999-12-31)", allLive},
		{"gt(audit.created.at,'2000-01-01T00:00:00,5Z')", allLive},
		{"status=Disabled&offset=0&", "L M"},
		{"select=id,name&status=Disabled", "L M"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			status, got, r := app.names(t, tc.query+"&limit=100")
			want := expand(tc.want)
			slices.Sort(got)
			slices.Sort(want)
			if status != http.StatusOK || !slices.Equal(got, want) {
				t.Errorf("?%s = %d\n got %q\nwant %q\n%s", tc.query, status, got, want, r.body)
			}
		})
	}
}

// TestRQLOrder checks orders by field paths, several keys, and the old names.
func TestRQLOrder(t *testing.T) {
	app := newRQLApp(t)
	cases := []struct{ query, want string }{
		{"order=name&limit=3", "A CI D"},
		{"order=-name&limit=2", "Z S"},
		{"order=-audit.created.at,name&status=Disabled", "M L"},
		{"order=audit.created.at&status=Disabled", "L M"},
		{"order=-created&limit=2", "Z A"},
		{"order=created&limit=2", "L B"},
		{"order=-lastAccessAt&ne(lastAccessAt,null())&ne(name,'Notifications relay')", "B CI O H N D P L"},
		{"order=lastAccess&ne(lastAccessAt,null())&ne(name,'Notifications relay')", "L P D N H O CI B"},
		{"order=lastAccessAt,name&limit=5", "A G M S Z"},
		{"order=status,-name&limit=4", "Z S B P"},
		{"order=-status,name&limit=100", "L M A CI D G H N R O P B S Z"},
		{"order=modules.name,name&limit=3", "S A G"},
		{"order=-audit.created.by.name,name&limit=5", "CI M R P S"},
		{"order=description,name&limit=2", "N Z"},
		{"order=+name&limit=1", "A"},
		// the last page comes from the other end; it must be the same rows
		{"order=name&limit=5&offset=10", "P B S Z"},
		{"order=-name&limit=5&offset=10", "G D CI A"},
		{"order=lastAccessAt,name&offset=12", "R B"},
		{"order=-lastAccessAt,-name&offset=9&limit=2", "Z S"},
	}
	for _, tc := range cases {
		t.Run(tc.query, func(t *testing.T) {
			status, got, r := app.names(t, tc.query)
			if want := expand(tc.want); status != http.StatusOK || !slices.Equal(got, want) {
				t.Errorf("?%s = %d\n got %q\nwant %q\n%s", tc.query, status, got, want, r.body)
			}
		})
	}
}

// TestRQLTimesToTheMillisecond: a date-time as the API shows it finds the
// token it came from.
func TestRQLTimesToTheMillisecond(t *testing.T) {
	app := newRQLApp(t)
	r := app.call(t, "GET", "/public/v1/accounts/api-tokens/"+app.ids["CI pipeline"], app.value, "")
	var tok struct {
		Audit struct{ Created struct{ At string } }
	}
	r.json(t, &tok)
	at := tok.Audit.Created.At
	if len(at) != len("2024-03-15T10:00:00.000Z") {
		t.Fatalf("created at %q is not to the millisecond", at)
	}
	for query, want := range map[string]string{
		"eq(audit.created.at," + at + ")":                                      "CI",
		"eq(audit.created.at,'" + at + "')":                                    "CI",
		"audit.created.at=" + at:                                               "CI",
		"and(ge(audit.created.at," + at + "),le(audit.created.at," + at + "))": "CI",
		"and(gt(audit.created.at," + at + "),lt(audit.created.at,{D-150}))":    noneOfThem,
	} {
		_, got, r := app.names(t, query)
		if w := expand(want); !slices.Equal(got, w) {
			t.Errorf("?%s = %q, want %q\n%s", query, got, w, r.body)
		}
	}
}

// TestRQLAuditRecords filters and orders the audit trail by its field paths.
func TestRQLAuditRecords(t *testing.T) {
	app := newRQLApp(t)
	count := func(query string) (int, []apiAuditRecord) {
		t.Helper()
		r := app.call(t, "GET", "/public/v1/audit/records?"+urlSpaces(app.vars.Replace(query)), app.value, "")
		if r.status != http.StatusOK {
			t.Fatalf("?%s = %d %s", query, r.status, r.body)
		}
		var page struct {
			Meta struct{ Pagination pagination } `json:"$meta"`
			Data []apiAuditRecord
		}
		r.json(t, &page)
		return page.Meta.Pagination.Total, page.Data
	}
	// The demo account's history: 14 tokens created, 4 disables, 2 enables,
	// 1 delete, and the caller's creation.
	for query, want := range map[string]int{
		"": 22,
		"eq(event,'platform.accounts.api-token.disabled')": 4,
		"event=platform.accounts.api-token.enabled":        2,
		"ilike(event,*DELETED)":                            1,
		"eq(object.name,'CI pipeline')":                    1,
		"eq(object.id,{ci})":                               1,
		"eq(object.type,'API token')":                      22,
		"eq(actor.type,system)":                            2,
		"eq(actor.name,'Oliver Perez')":                    5, // 4 disables, 1 delete
		"and(eq(actor.id,{priya}),like(event,*.created))":  5,
		"gt(timestamp,{D-10})":                             4, // 3 created, 1 enabled
		"lt(timestamp,{D-150})":                            5, // 4 created, 1 disabled
		"ilike(summary,*was disabled*)":                    4,
		"in(event,(platform.accounts.api-token.enabled,platform.accounts.api-token.deleted))": 3,
	} {
		if got, _ := count(query); got != want {
			t.Errorf("?%s: total %d, want %d", query, got, want)
		}
	}
	_, newest := count("limit=1")
	_, oldest := count("order=timestamp&limit=1")
	if len(newest) != 1 || len(oldest) != 1 || newest[0].Timestamp < oldest[0].Timestamp || oldest[0].Object.Name != "Legacy ERP connector" {
		t.Errorf("newest %+v, oldest %+v", newest, oldest)
	}
	_, byName := count("order=object.name,-timestamp&eq(object.name,'Partner portal EU')")
	var events []string
	for _, r := range byName {
		events = append(events, strings.TrimPrefix(r.Event, "platform.accounts.api-token."))
	}
	if !slices.Equal(events, []string{"enabled", "disabled", "created"}) {
		t.Errorf("Partner portal EU's history newest first = %q", events)
	}
}

// TestRQLRefusals: each bad query is a 400 problem whose errors name the
// parameter, the problem and where it is; none changes or lists anything.
func TestRQLRefusals(t *testing.T) {
	app := newRQLApp(t)
	many := make([]string, 101)
	for i := range many {
		many[i] = "v" + fmt.Sprint(i)
	}
	cases := []struct{ query, param, want string }{
		{"eq(status,'Active)", "filter", "the quote opened here is never closed (at character 11)"},
		{"eq(status,'Active'", "filter", `expected ")" to close eq(, found the end of the query (at character 19)`},
		{"eq(status,Active", "filter", `expected ")" to close eq(, found the end of the query (at character 17)`},
		{"eq(status,Active))", "filter", `found ")" (at character 18)`},
		{"((eq(status,Active))", "filter", `expected ")" to close the group`},
		{"eq(nme,x)", "filter", `unknown field "nme"; API tokens can be filtered by id, name, description, status, lastAccessAt, icon`},
		{"status=Active&foo=bar", "filter", `unknown field "foo"; API tokens can be filtered by id, name`},
		{"foo=bar", "filter", "the other parameters are limit, offset, order, select"},
		{"drop(table)", "filter", `unknown operator "drop"; the operators are eq ne gt ge lt le like ilike in out and or not any (at character 1)`},
		{"eq", "filter", "expected ( or = after \"eq\""},
		{")(", "filter", "expected a condition such as eq(status,Active)"},
		{"eq(status,Enabled)", "filter", `status is one of Active, Disabled, not "Enabled" (at character 11)`},
		{"gt(lastAccessAt,yesterday)", "filter", `lastAccessAt is a date-time: "yesterday" is neither a date (2026-01-01) nor an RFC 3339 date-time`},
		{"gt(lastAccessAt,2026-13-01)", "filter", "is neither a date"},
		{"like(audit.created.at,2026*)", "filter", "audit.created.at is a date-time: compare it with eq, ne, gt, ge, lt or le"},
		{"gt(name,null())", "filter", "gt() cannot compare with null() or empty()"},
		{"eq(name,)", "filter", "expected a value"},
		{"eq(name,a,b)", "filter", "eq() takes one value; quote a value that holds a comma"},
		{"eq(name,a(b))", "filter", "cannot hold a parenthesis unless it is quoted"},
		{"eq(name,'a'b)", "filter", `unexpected "b" after a quoted value`},
		{"eq(name,%zz)", "filter", "% must be followed by two hexadecimal digits (write %25 for a % sign) (at character 9)"},
		{"eq(name,%FF)", "filter", "not valid UTF-8"},
		{"and()", "filter", "and() needs at least one condition"},
		{"not(eq(status,Active),eq(status,Disabled))", "filter", "not() takes exactly one condition"},
		{"any(status,eq(id,x))", "filter", "any() takes a collection and a condition on its members; API tokens have only modules"},
		{"any(modules,eq(price,1))", "filter", `unknown field "price"; modules can be filtered by id, name`},
		{"in(name,(" + strings.Join(many, ",") + "))", "filter", "at most 100 values"},
		{strings.Repeat("not(", 17) + "eq(status,Active)" + strings.Repeat(")", 17), "filter", "nests more than 16 levels deep"},
		{"eq(status,Active)|eq(status,Disabled)&eq(name,x)", "filter", "mixed here without parentheses (the other one is at character 18)"},
		{"eq(status,Active)|", "filter", `expected a condition after "|"`},
		{"eq(status,Active)|limit=5", "filter", "limit= must be separated from the filter by &"},
		{"select(id)&and(select(y))", "filter", "select belongs at the top level"},
		{"limit=abc", "limit", "limit must be a whole number from 0 to 1000 (at character 7)"},
		{"limit=5&limit=6", "limit", "limit is given twice (at character 9)"},
		{"offset=-1", "offset", "offset must be a whole number from 0"},
		{"order=bogus", "order", `cannot order by "bogus"; API tokens can be ordered by id, name, description, status, lastAccessAt`},
		{"order=name,,status", "order", "order takes field paths separated by commas"},
		{"order=name,-name", "order", "name appears twice in order"},
		{"select=bogus", "select", `unknown field "bogus"; API tokens show id, href, name`},
		{"select=-id", "select", "id is always shown"},
		{"select=name,-name", "select", "name is selected, but -name leaves it out (at character 8)"},
		{"select=audit.created,-audit", "select", "audit.created is selected, but -audit leaves it out"},
		{"select=id,bogus", "select", `unknown field "bogus"; API tokens show id, href, name, description, icon, status, lastAccessAt, account, account.id, account.name, modules, modules.id, modules.name, audit, audit.created, audit.created.at, audit.created.by, audit.created.by.id, audit.created.by.name, audit.updated, audit.updated.at, audit.updated.by, audit.updated.by.id, audit.updated.by.name (at character 11)`},
		{"order=%6Eame,bogus", "order", `cannot order by "bogus"`},
		{"order=%6Eame,bogus&x", "order", "(at character 14)"},
		{"eq(name,'Grafana%20exporter')|&eq(status,Disabled)", "filter", `expected a condition after "|" (at character 30)`},
		{"order(name)", "filter", "order( is not an operator: write the parameter as order=…"},
		{"limit(5)", "filter", "limit( is not an operator"},
		{"(limit=5)", "filter", "limit= belongs at the top level of the query"},
		{"eq(name,'CI%20pipeline'%29", "filter", `")" sent percent-encoded (%29), which makes it part of a value`},
		{"gt(audit.created.at,10000-01-01T00:00:00Z)", "filter", "is neither a date"},
		{"select(name", "select", `expected ")" to close select(`},
		{"eq(name," + strings.Repeat("a", maxQueryLength) + ")", "filter", "longer than 8000 characters"},
	}
	before := app.call(t, "GET", "/public/v1/audit/records?limit=0", app.value, "")
	for _, tc := range cases {
		t.Run(tc.query[:min(len(tc.query), 60)], func(t *testing.T) {
			r := app.call(t, "GET", "/public/v1/accounts/api-tokens?"+tc.query, app.value, "")
			if r.status != http.StatusBadRequest {
				t.Fatalf("?%s = %d, want 400\n%s", tc.query, r.status, r.body)
			}
			p := r.problem(t)
			if got := strings.Join(p.Errors[tc.param], " "); !strings.Contains(got, tc.want) {
				t.Errorf("?%s: errors = %v, want errors.%s to say %q", tc.query, p.Errors, tc.param, tc.want)
			}
		})
	}
	for _, q := range []string{"eq(nme,x)", "gt(timestamp,tomorrow)", "eq(actor.type,robot)", "order=name", "select=modules", "status=Active"} {
		if r := app.call(t, "GET", "/public/v1/audit/records?"+q, app.value, ""); r.status != http.StatusBadRequest || len(r.problem(t).Errors) != 1 {
			t.Errorf("audit ?%s = %d %s", q, r.status, r.body)
		}
	}
	if after := app.call(t, "GET", "/public/v1/audit/records?limit=0", app.value, ""); after.body != before.body {
		t.Errorf("refused queries changed the trail: %s → %s", before.body, after.body)
	}
}

// TestRQLSelect narrows and trims the objects and says what it left out.
func TestRQLSelect(t *testing.T) {
	app := newRQLApp(t)
	get := func(path string) map[string]any {
		t.Helper()
		r := app.call(t, "GET", app.vars.Replace(path), app.value, "")
		if r.status != http.StatusOK {
			t.Fatalf("%s = %d %s", path, r.status, r.body)
		}
		var v map[string]any
		r.json(t, &v)
		return v
	}
	first := func(v map[string]any) map[string]any { return v["data"].([]any)[0].(map[string]any) }
	keys := func(m map[string]any) string {
		var ks []string
		for k := range m {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		return strings.Join(ks, " ")
	}
	omitted := func(m map[string]any) string {
		meta, _ := m["$meta"].(map[string]any)
		var out []string
		for _, o := range meta["omitted"].([]any) {
			out = append(out, o.(string))
		}
		return strings.Join(out, " ")
	}
	tok := first(get("/public/v1/accounts/api-tokens?select=id,name&eq(id,{ci})"))
	if keys(tok) != "$meta id name" || omitted(tok) != "href description icon status lastAccessAt account modules audit" {
		t.Errorf("select=id,name: %v", tok)
	}
	tok = first(get("/public/v1/accounts/api-tokens?select=-audit,-account.name&eq(id,{ci})"))
	if keys(tok) != "$meta account description href icon id lastAccessAt modules name status" || omitted(tok) != "account.name audit" {
		t.Errorf("select=-audit,-account.name: %v", tok)
	}
	tok = first(get("/public/v1/accounts/api-tokens?select(name,modules.id,audit.created.by)&eq(id,{ci})"))
	if fmt.Sprint(tok["modules"]) != "[map[id:MOD-0478]]" || fmt.Sprint(tok["audit"]) != fmt.Sprintf("map[created:map[by:map[id:%s name:Priya Shah]]]", app.vars.Replace("{priya}")) ||
		omitted(tok) != "href description icon status lastAccessAt account modules.name audit.created.at audit.updated" {
		t.Errorf("select(name,modules.id,audit.created.by): %v", tok)
	}
	tok = first(get("/public/v1/accounts/api-tokens?select=-account.id,-account.name,-audit.created,-audit.updated&eq(id,{ci})"))
	if _, ok := tok["account"]; ok || omitted(tok) != "account audit" {
		t.Errorf("select leaving out every field of account and audit leaves them out: %v", tok)
	}
	tok = first(get("/public/v1/accounts/api-tokens?select=+audit&eq(id,{ci})"))
	if _, ok := tok["$meta"]; ok || keys(tok) != "account audit description href icon id lastAccessAt modules name status" {
		t.Errorf("select=+audit changes nothing: %v", tok)
	}
	rec := first(get("/public/v1/audit/records?select=-details,-hash,-actor&limit=1"))
	if keys(rec) != "$meta event id ip object summary timestamp userAgent" || omitted(rec) != "actor details hash" {
		t.Errorf("audit select: %v", rec)
	}
	// The order of the fields that remain is the object's own.
	r := app.call(t, "GET", app.vars.Replace("/public/v1/accounts/api-tokens?select=status,name,id&eq(id,{ci})"), app.value, "")
	if !strings.Contains(r.body, `{"$meta":{"omitted":[`) || !strings.Contains(r.body, app.vars.Replace(`"id":"{ci}","name":"CI pipeline","status":"Active"}`)) {
		t.Errorf("select order: %s", r.body)
	}
}

// stripPos forgets where a filter's terms were, to compare trees.
func stripPos(f store.Filter) store.Filter {
	f.Pos = 0
	vs := make([]store.Value, len(f.Values))
	for i, v := range f.Values {
		v.Pos = 0
		vs[i] = v
	}
	f.Values = vs
	args := make([]store.Filter, len(f.Args))
	for i, a := range f.Args {
		args[i] = stripPos(a)
	}
	f.Args = args
	return f
}

// TestRQLRoundTrip: a filter written back as RQL parses to the same tree.
func TestRQLRoundTrip(t *testing.T) {
	for _, q := range []string{
		"eq(status,'Active')", `and(eq(name,'it''s'),ilike(description,"*a\"b*"),in(modules.id,(MOD-1756,null())))`,
		"(eq(status,Active)|eq(lastAccessAt,null()))&not(any(modules,eq(name,'Billing')))",
		"eq(name,%25%26%27%28)", "name=like=*%2C*", "gt(audit.created.at,2026-01-01T10:00:00.5%2B02:00)",
	} {
		lq, err := parseAPIQuery(q, store.TokenSchema, tokenShape)
		if err != nil || lq.filter == nil {
			t.Fatalf("%s: %v", q, err)
		}
		s := lq.filter.String()
		again, err := parseAPIQuery(s, store.TokenSchema, tokenShape)
		if err != nil || !reflect.DeepEqual(stripPos(*again.filter), stripPos(*lq.filter)) {
			t.Errorf("%s → %s → %+v, %v; want %+v", q, s, again.filter, err, lq.filter)
		}
		if _, err := url.ParseQuery(s); err != nil {
			t.Errorf("%s: the canonical form %s is not a valid query string: %v", q, s, err)
		}
	}
}

// FuzzParseRQL: no query makes the parser panic; whatever it accepts writes
// back (Filter.String) as RQL that parses to the same tree; and the endpoint
// answers 200 or 400, never a 500.
func FuzzParseRQL(f *testing.F) {
	for _, s := range []string{"eq(status,Active)", "and(eq(status,'Active'),like(name,*a*))", "in(status,(Active,Disabled))",
		"or(eq(modules.id,MOD-1756),not(eq(name,x)))", "eq(name,%20)", "eq(", "))((", "like(modules.id,*)",
		"eq(name,'; DROP TABLE api_tokens; --)", `status=ne=Active&name='a''b'|x`, "any(modules,eq(name,\"B\\\"x\"))",
		"gt(lastAccessAt,2026-01-01)&order=-name,created&select=-audit", "(a=1|b=2),c=3", "eq(description,empty())"} {
		f.Add(s)
	}
	app := newTestApp(f)
	_, value := app.apiToken(f, app.acc.ID, "Fuzzer", "MOD-1756")
	f.Fuzz(func(t *testing.T, s string) {
		for _, target := range []struct {
			schema *store.Schema
			shape  *jsonShape
			path   string
		}{{store.TokenSchema, tokenShape, "/public/v1/accounts/api-tokens"}, {store.AuditSchema, auditShape, "/public/v1/audit/records"}} {
			lq, err := parseAPIQuery(s, target.schema, target.shape)
			if err == nil && lq.filter != nil {
				written := lq.filter.String()
				again, err := parseAPIQuery(written, target.schema, target.shape)
				if err != nil {
					t.Fatalf("%q → %q does not parse: %v", s, written, err)
				}
				if !reflect.DeepEqual(stripPos(*again.filter), stripPos(*lq.filter)) {
					t.Fatalf("%q → %q parses to %+v, want %+v", s, written, again.filter, lq.filter)
				}
			} else if err != nil {
				if _, ok := err.(*store.QueryError); !ok {
					t.Fatalf("%q: error %T %v", s, err, err)
				}
			}
			req := httptest.NewRequest(http.MethodGet, target.path, nil)
			req.URL.RawQuery = s
			req.Header.Set("Authorization", "Bearer "+value)
			rec := httptest.NewRecorder()
			app.echo.ServeHTTP(rec, req)
			if rec.Code != http.StatusOK && rec.Code != http.StatusBadRequest {
				t.Fatalf("%s?%q = %d %s", target.path, s, rec.Code, rec.Body.String())
			}
			if rec.Code == http.StatusOK && !json.Valid(rec.Body.Bytes()) {
				t.Fatalf("%s?%q: invalid JSON %s", target.path, s, rec.Body.String())
			}
		}
	})
}

// TestRQLUnicodeCase: ilike folds every letter, like folds none.
func TestRQLUnicodeCase(t *testing.T) {
	app := newRQLApp(t)
	app.apiToken(t, app.acc.ID, "Ärger Über Straße")
	for query, want := range map[string]string{
		"ilike(name,*ärger*)":               "Ärger Über Straße",
		"ilike(name,*ÜBER*)":                "Ärger Über Straße",
		"ilike(name,*ärger*ü*)":             "Ärger Über Straße",
		"like(name,*ärger*)":                "",
		"like(name,Ärger*)":                 "Ärger Über Straße",
		"ilike(name,ärger%20über%20straße)": "Ärger Über Straße",
	} {
		var enc strings.Builder
		for _, b := range []byte(query) {
			if b >= 0x80 {
				fmt.Fprintf(&enc, "%%%02X", b)
			} else {
				enc.WriteByte(b)
			}
		}
		_, got, r := app.names(t, enc.String())
		if strings.Join(got, "|") != want {
			t.Errorf("?%s = %q, want %q\n%s", query, got, want, r.body)
		}
	}
}

// TestAPIUnknownParameters: every endpoint refuses a query parameter it does
// not take, naming it, and changes nothing; one object takes select.
func TestAPIUnknownParameters(t *testing.T) {
	app := newRQLApp(t)
	ci := app.ids["CI pipeline"]
	href := "/public/v1/accounts/api-tokens/" + ci
	cases := []struct{ method, path, body, want string }{
		{"GET", href + "?status=Active", "", "this endpoint shows one object and takes only select"},
		{"GET", href + "?limit=5", "", "takes only select"},
		{"GET", href + "?select=bogus", "", `unknown field "bogus"`},
		{"PUT", href + "?dryRun=true", `{"name":"Renamed"}`, `unknown query parameter "dryRun": this endpoint takes no query parameters (at character 1)`},
		{"POST", href + "/disable?force=1", "", `unknown query parameter "force"`},
		{"POST", href + "/enable?x", "", `unknown query parameter "x"`},
		{"DELETE", href + "?cascade=true", "", `unknown query parameter "cascade"`},
		{"POST", "/public/v1/accounts/api-tokens?account=ACC-1", `{"name":"New"}`, `unknown query parameter "account"`},
		{"GET", "/public/v1/audit/records/AUD-0000-0000-0000-0000?eq(event,x)", "", "takes only select"},
		{"GET", href + "?eq(nme,x)", "", "this endpoint shows one object and takes only select"},
	}
	for _, tc := range cases {
		r := app.call(t, tc.method, tc.path, app.value, tc.body)
		if r.status != http.StatusBadRequest {
			t.Errorf("%s %s = %d %s", tc.method, tc.path, r.status, r.body)
			continue
		}
		p := r.problem(t)
		if got := fmt.Sprint(p.Errors); !strings.Contains(got, tc.want) {
			t.Errorf("%s %s: errors %s, want %q", tc.method, tc.path, got, tc.want)
		}
	}
	tok, _ := app.store.Token(context.Background(), app.acc.ID, ci)
	if tok.Name != "CI pipeline" || tok.Status != store.StatusActive || tok.Version != 1 {
		t.Errorf("a refused call changed the token: %+v", tok)
	}
	// One token, and one record, trimmed by select.
	r := app.call(t, "GET", href+"?select=name,status", app.value, "")
	if want := `{"$meta":{"omitted":["href","description","icon","lastAccessAt","account","modules","audit"]},"id":"` + ci + `","name":"CI pipeline","status":"Active"}`; r.status != 200 || strings.TrimSpace(r.body) != want {
		t.Errorf("GET ?select=name,status = %d %s, want %s", r.status, r.body, want)
	}
	var list struct{ Data []apiAuditRecord }
	app.call(t, "GET", "/public/v1/audit/records?limit=1", app.value, "").json(t, &list)
	r = app.call(t, "GET", "/public/v1/audit/records/"+list.Data[0].ID+"?select(-details,-hash)", app.value, "")
	if r.status != 200 || strings.Contains(r.body, `"hash":`) || !strings.Contains(r.body, `"omitted":["details","hash"]`) {
		t.Errorf("GET record ?select(-details,-hash) = %d %s", r.status, r.body)
	}
}

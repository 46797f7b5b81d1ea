package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
	"gatehouse/store/storetest"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestCreateTokenValidation(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	cases := []struct {
		name  string
		in    store.NewToken
		field string
	}{
		{"empty name", store.NewToken{Name: "   "}, "name"},
		{"201 characters", store.NewToken{Name: strings.Repeat("a", 201)}, "name"},
		{"angle brackets", store.NewToken{Name: "<script>"}, "name"},
		{"control character", store.NewToken{Name: "a\x07b"}, "name"},
		{"invalid UTF-8", store.NewToken{Name: "a\xffb"}, "name"},
		{"long description", store.NewToken{Name: "ok", Description: strings.Repeat("d", 2001)}, "description"},
		{"control in description", store.NewToken{Name: "ok", Description: "a\x00b"}, "description"},
		{"unknown module", store.NewToken{Name: "ok", ModuleIDs: []string{"MOD-0000"}}, "modules"},
		{"fake PNG", store.NewToken{Name: "ok", Logo: []byte("GIF89a not a png")}, "logo"},
		{"logo too large", store.NewToken{Name: "ok", Logo: append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, store.MaxLogoBytes)...)}, "logo"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, c.in)
			var ve *store.ValidationError
			if !errors.As(err, &ve) || ve.Fields[c.field] == "" {
				t.Fatalf("err = %v, want a message for %s", err, c.field)
			}
		})
	}
	// A module enabled in the catalogue but not for this account.
	_, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.other.ID, store.NewToken{Name: "ok", ModuleIDs: []string{f.modules[5].ID}})
	var ve *store.ValidationError
	if !errors.As(err, &ve) || ve.Fields["modules"] == "" {
		t.Errorf("module not enabled for the account: err = %v", err)
	}
	var n int
	f.s.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens`).Scan(&n)
	if n != 0 {
		t.Errorf("%d tokens were stored by invalid requests", n)
	}
	// Allowed punctuation and letters beyond ASCII.
	if _, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: `Zoë's "Prod" v1.2 - EU`}); err != nil {
		t.Errorf("valid name refused: %v", err)
	}
}

func TestCreateTokenStoresHashAndSealedValue(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	png := storetest.PNG(8, 8)
	tok, value, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{
		Name: "Billing", Description: "desc", ModuleIDs: []string{"MOD-2210", "MOD-1756"}, Logo: png,
	})
	if err != nil {
		t.Fatal(err)
	}
	if id, err := store.ParseTokenValue(value); err != nil || id != tok.ID {
		t.Fatalf("value %q does not parse to %s: %v", value, tok.ID, err)
	}
	if tok.Status != store.StatusActive || tok.Version != 1 || tok.CreatedBy.ID != f.admin.ID || tok.LogoType != "image/png" {
		t.Errorf("token = %+v", tok)
	}
	if got := []string{tok.Modules[0].ID, tok.Modules[1].ID}; !slices.Equal(got, []string{"MOD-1756", "MOD-2210"}) {
		t.Errorf("modules = %v, want catalogue order", got)
	}
	var hash, sealed []byte
	f.s.DB().QueryRow(`SELECT secret_hash, secret_sealed FROM api_tokens WHERE id = ?`, tok.ID).Scan(&hash, &sealed)
	if string(hash) != string(store.HashTokenValue(value)) {
		t.Error("stored hash is not SHA-256 of the value")
	}
	if opened, err := f.sealer.Open(tok.ID, sealed); err != nil || opened != value {
		t.Errorf("sealed value opens to %q, %v", opened, err)
	}
	// The value appears nowhere in the audit trail.
	var details, summary string
	f.s.DB().QueryRow(`SELECT details, summary FROM audit_records WHERE object_id = ?`, tok.ID).Scan(&details, &summary)
	secret := value[strings.LastIndex(value, ":")+1:]
	if strings.Contains(details, secret) || strings.Contains(summary, secret) {
		t.Error("the audit record contains the secret")
	}
	if !strings.Contains(details, `"Billing"`) {
		t.Errorf("created record details %s lack the name", details)
	}
}

func TestTokenVisibility(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	mine, _, _ := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "mine"})
	theirs, _, _ := f.s.CreateToken(ctx, f.sealer, store.SystemActor, f.other.ID, store.NewToken{Name: "theirs"})
	gone, _, _ := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "gone"})
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, gone.ID, gone.Version); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Token(ctx, f.acc.ID, mine.ID); err != nil {
		t.Errorf("own token: %v", err)
	}
	for _, id := range []string{theirs.ID, gone.ID, "TKN-0000-0000"} {
		if _, err := f.s.Token(ctx, f.acc.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("Token(%s) err = %v, want ErrNotFound", id, err)
		}
	}
	page, err := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Limit: 10})
	if err != nil || page.Total != 1 || len(page.Tokens) != 1 || page.Tokens[0].ID != mine.ID {
		t.Errorf("list = %+v, %v; want only %s", page, err, mine.ID)
	}
	// Transitions of another account's token are not found either.
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, theirs.ID, 0, ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("disable other account's token: %v", err)
	}
	// The audit grid links the account's tokens, deleted ones included, and
	// only those.
	statuses, err := f.s.TokenStatuses(ctx, f.acc.ID, []string{mine.ID, theirs.ID, gone.ID, "TKN-0000-0000", mine.ID})
	if want := map[string]string{mine.ID: store.StatusActive, gone.ID: store.StatusDeleted}; err != nil || !maps.Equal(statuses, want) {
		t.Errorf("TokenStatuses = %v, %v; want %v", statuses, err, want)
	}
	if statuses, err := f.s.TokenStatuses(ctx, f.acc.ID, nil); err != nil || len(statuses) != 0 {
		t.Errorf("TokenStatuses of none = %v, %v", statuses, err)
	}
}

func TestTransitions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, _, _ := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "t"})
	if _, err := f.s.EnableToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version); !errors.Is(err, store.ErrInvalidTransition) {
		t.Errorf("enable Active: %v, want ErrInvalidTransition", err)
	}
	dis, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, "incident 42")
	if err != nil {
		t.Fatal(err)
	}
	if dis.Status != store.StatusDisabled || dis.Version != 2 || dis.DisabledReason != "incident 42" || dis.DisabledBy.ID != f.admin.ID || dis.DisabledAt.IsZero() {
		t.Errorf("disabled token = %+v", dis)
	}
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, dis.Version, ""); !errors.Is(err, store.ErrInvalidTransition) {
		t.Errorf("disable Disabled: %v, want ErrInvalidTransition", err)
	}
	if _, err := f.s.EnableToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version); !errors.Is(err, store.ErrConflict) {
		t.Errorf("enable with stale version: %v, want ErrConflict", err)
	}
	en, err := f.s.EnableToken(ctx, f.actor, f.acc.ID, tok.ID, dis.Version)
	if err != nil || en.Status != store.StatusActive || !en.DisabledAt.IsZero() || en.DisabledReason != "" {
		t.Fatalf("enable: %+v, %v", en, err)
	}
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, tok.ID, en.Version); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, tok.ID, 0); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("delete Deleted: %v, want ErrNotFound", err)
	}
	rows, _ := f.s.DB().Query(`SELECT event, details FROM audit_records WHERE object_id = ? ORDER BY seq`, tok.ID)
	defer rows.Close()
	var events []string
	var disabledDetails string
	for rows.Next() {
		var e, d string
		rows.Scan(&e, &d)
		events = append(events, strings.TrimPrefix(e, "platform.accounts.api-token."))
		if strings.HasSuffix(e, "disabled") {
			disabledDetails = d
		}
	}
	if want := []string{"created", "disabled", "enabled", "deleted"}; !slices.Equal(events, want) {
		t.Errorf("audit events = %v, want %v (failed attempts write nothing)", events, want)
	}
	if !strings.Contains(disabledDetails, "incident 42") || !strings.Contains(disabledDetails, `"before":"Active"`) {
		t.Errorf("disabled details = %s", disabledDetails)
	}
}

// seedTokens adds n tokens straight into the database (fast, for list tests
// and benchmarks): names "Token 00001"…, every third Disabled, every fifth
// with Billing, every seventh never used, created a minute apart.
func seedTokens(tb testing.TB, s *sqlite.Store, accountID string, n int) {
	tb.Helper()
	tx, err := s.DB().Begin()
	if err != nil {
		tb.Fatal(err)
	}
	defer tx.Rollback()
	base := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("TKN-%04d-%04d", i/10000, i%10000)
		status := store.StatusActive
		if i%3 == 0 {
			status = store.StatusDisabled
		}
		var access any
		if i%7 != 0 {
			access = base.Add(time.Duration(n-i) * time.Second)
		}
		desc := "integration"
		if i%100 == 0 {
			desc = "needle in the haystack"
		}
		if _, err := tx.Exec(`INSERT INTO api_tokens (id, account_id, name, description, status, secret_hash, secret_sealed,
			created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name, last_access_at)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'USR-0000-0001', 'Seeder', ?, 'USR-0000-0001', 'Seeder', ?)`,
			id, accountID, fmt.Sprintf("Token %05d", i), desc, status, []byte(id), []byte{0},
			base.Add(time.Duration(i)*time.Minute), base, access); err != nil {
			tb.Fatal(err)
		}
		var mods []string
		if i%5 == 0 {
			mods = append(mods, "MOD-2210")
		}
		if i%2 == 0 {
			mods = append(mods, "MOD-1756")
		}
		if err := sqldb.SetTokenModules(context.Background(), tx, id, mods); err != nil {
			tb.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		tb.Fatal(err)
	}
}

func names(ts []store.Token) []string {
	out := make([]string, len(ts))
	for i, t := range ts {
		out[i] = t.Name
	}
	return out
}

func TestListTokensFiltersSortsAndPages(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seedTokens(t, f.s, f.acc.ID, 100)
	cases := []struct {
		name      string
		q         store.TokenQuery
		wantTotal int
		wantFirst []string
	}{
		{"default order is created ascending", store.TokenQuery{Limit: 3}, 100, []string{"Token 00001", "Token 00002", "Token 00003"}},
		{"newest first", store.TokenQuery{Order: store.OrderCreated, Desc: true, Limit: 2}, 100, []string{"Token 00100", "Token 00099"}},
		{"name descending", store.TokenQuery{Order: store.OrderName, Desc: true, Limit: 2}, 100, []string{"Token 00100", "Token 00099"}},
		{"second page", store.TokenQuery{Order: store.OrderName, Offset: 10, Limit: 2}, 100, []string{"Token 00011", "Token 00012"}},
		{"last page is short", store.TokenQuery{Order: store.OrderName, Offset: 98, Limit: 10}, 100, []string{"Token 00099", "Token 00100"}},
		{"status filter", store.TokenQuery{Status: store.StatusDisabled, Order: store.OrderName, Limit: 2}, 33, []string{"Token 00003", "Token 00006"}},
		{"module filter", store.TokenQuery{Module: "MOD-2210", Order: store.OrderName, Limit: 2}, 20, []string{"Token 00005", "Token 00010"}},
		{"both filters", store.TokenQuery{Module: "MOD-2210", Status: store.StatusDisabled, Order: store.OrderName, Limit: 5}, 6, []string{"Token 00015", "Token 00030"}},
		{"search name", store.TokenQuery{Search: "token 0004", Order: store.OrderName, Limit: 20}, 10, []string{"Token 00040"}},
		{"search id", store.TokenQuery{Search: "TKN-0000-0077", Limit: 5}, 1, []string{"Token 00077"}},
		{"search description", store.TokenQuery{Search: "NEEDLE", Limit: 5}, 1, []string{"Token 00100"}},
		{"LIKE wildcards are literal", store.TokenQuery{Search: "%", Limit: 5}, 0, nil},
		{"underscore is literal", store.TokenQuery{Search: "Token_0", Limit: 5}, 0, nil},
		{"never used last when newest access first", store.TokenQuery{Order: store.OrderLastAccess, Desc: true, Offset: 84, Limit: 3}, 100, []string{"Token 00099", "Token 00100", "Token 00098"}},
		{"status then name", store.TokenQuery{Order: store.OrderStatus, Limit: 1, Offset: 67}, 100, []string{"Token 00003"}},
		{"offset past the end", store.TokenQuery{Offset: 500, Limit: 10}, 100, nil},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			page, err := f.s.ListTokens(ctx, f.acc.ID, c.q)
			if err != nil {
				t.Fatal(err)
			}
			if page.Total != c.wantTotal {
				t.Errorf("total = %d, want %d", page.Total, c.wantTotal)
			}
			got := names(page.Tokens)
			if len(got) > len(c.wantFirst) {
				got = got[:len(c.wantFirst)]
			}
			if !slices.Equal(got, c.wantFirst) {
				t.Errorf("names = %v, want %v", got, c.wantFirst)
			}
		})
	}
	page, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Token 00010", Limit: 1})
	if len(page.Tokens) != 1 || len(page.Tokens[0].Modules) != 2 {
		t.Errorf("Token 00010 modules = %+v, want Access management and Billing", page.Tokens)
	}
	// module_bits agrees with the module rows for every token.
	var mismatched int
	f.s.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens t WHERE t.module_bits != (SELECT COALESCE(SUM(m.bit), 0)
		FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = t.id)`).Scan(&mismatched)
	if mismatched != 0 {
		t.Errorf("%d tokens have module_bits out of step with their modules", mismatched)
	}
}

// A page of the list is found from an index alone, in the index's order:
// no table row is read for the rows it skips, and nothing is sorted.
func TestListTokensUsesCoveringIndexForPaging(t *testing.T) {
	f := newFixture(t)
	where := `FROM api_tokens t WHERE t.account_id = ? AND t.status != 'Deleted'`
	if storetest.Engine() == "postgres" {
		// The fixture's table is tiny, so the planner would rather read it
		// whole: forbid that, and see whether the index can answer alone.
		for _, order := range []string{"t.created_at DESC, t.id DESC", "lower(t.name) ASC, t.id ASC",
			"t.last_access_at DESC NULLS LAST, t.id DESC", "t.updated_at DESC, t.id DESC"} {
			for _, cond := range []string{"", " AND t.status = 'Disabled'"} {
				if cond != "" && !strings.HasPrefix(order, "lower") {
					continue
				}
				tx, err := f.s.DB().Begin()
				if err != nil {
					t.Fatal(err)
				}
				for _, set := range []string{"enable_seqscan", "enable_bitmapscan", "enable_sort"} {
					if _, err := tx.Exec(`SET LOCAL ` + set + ` = off`); err != nil {
						t.Fatal(err)
					}
				}
				plan := queryStrings(t, tx, `EXPLAIN SELECT t.id `+where+cond+` ORDER BY `+order+` LIMIT 10 OFFSET 9990`, f.acc.ID)
				tx.Rollback()
				joined := strings.Join(plan, "; ")
				if !strings.Contains(joined, "Index Only Scan") || strings.Contains(joined, "Sort") {
					t.Errorf("ORDER BY %s%s: plan %q; want an index-only scan and no sort", order, cond, joined)
				}
			}
		}
		return
	}
	for _, order := range []string{"t.created_at DESC, t.id DESC", "t.name COLLATE NOCASE ASC, t.id ASC", "t.last_access_at DESC, t.id DESC"} {
		rows, err := f.s.DB().Query(`EXPLAIN QUERY PLAN SELECT t.id `+where+` ORDER BY `+order+` LIMIT 10 OFFSET 9990`, f.acc.ID)
		if err != nil {
			t.Fatal(err)
		}
		var plan []string
		for rows.Next() {
			var id, parent, notused int
			var detail string
			rows.Scan(&id, &parent, &notused, &detail)
			plan = append(plan, detail)
		}
		rows.Close()
		joined := strings.Join(plan, "; ")
		if !strings.Contains(joined, "COVERING INDEX") || strings.Contains(joined, "TEMP B-TREE") {
			t.Errorf("ORDER BY %s: plan %q; want a covering index and no sort", order, joined)
		}
	}
}

func queryStrings(t *testing.T, tx *sqldb.Tx, query string, args ...any) []string {
	t.Helper()
	rows, err := tx.QueryContext(context.Background(), query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		out = append(out, line)
	}
	return out
}

func BenchmarkListTokens10k(b *testing.B) {
	ctx := context.Background()
	s, err := sqlite.Open(ctx, b.TempDir()+"/bench.db")
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	acc, _ := s.CreateAccount(ctx, "Bench", store.AccountClient, []string{"MOD-1756", "MOD-2210"})
	seedTokens(b, s, acc.ID, 10_000)
	for _, c := range []struct {
		name string
		q    store.TokenQuery
	}{
		{"first", store.TokenQuery{Order: store.OrderCreated, Desc: true, Limit: 10}},
		{"search", store.TokenQuery{Search: "needle", Order: store.OrderCreated, Desc: true, Limit: 10}},
		{"last", store.TokenQuery{Order: store.OrderCreated, Desc: true, Offset: 9990, Limit: 10}},
		{"module-last", store.TokenQuery{Module: "MOD-2210", Order: store.OrderName, Offset: 1990, Limit: 10}},
	} {
		b.Run(c.name, func(b *testing.B) {
			for b.Loop() {
				if _, err := s.ListTokens(ctx, acc.ID, c.q); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestUpdateToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	png := storetest.PNG(8, 8)
	tok, _, _ := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "before", Description: "d", ModuleIDs: []string{"MOD-2210"}})

	// Nothing changed: nothing written.
	same, changed, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, store.TokenUpdate{Name: "before", Description: "d", ModuleIDs: []string{"MOD-2210"}})
	if err != nil || changed || same.Version != tok.Version {
		t.Fatalf("no-op update: changed %v, version %d, %v", changed, same.Version, err)
	}
	upd, changed, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, store.TokenUpdate{
		Name: "after", Description: "d", ModuleIDs: []string{"MOD-1756", "MOD-2210", "MOD-1756"}, Logo: png})
	if err != nil || !changed {
		t.Fatalf("update: %v", err)
	}
	if upd.Name != "after" || upd.Version != tok.Version+1 || len(upd.Modules) != 2 || upd.LogoType != "image/png" {
		t.Errorf("updated token = %+v", upd)
	}
	if ct, data, err := f.s.TokenLogo(ctx, f.acc.ID, tok.ID); err != nil || ct != "image/png" || string(data) != string(png) {
		t.Errorf("logo = %q, %v", ct, err)
	}
	rec, err := f.s.LastChange(ctx, f.acc.ID, tok.ID)
	if err != nil || rec.Event != store.EventTokenUpdated {
		t.Fatalf("last change = %+v, %v", rec, err)
	}
	for _, want := range []string{`"name":{"before":"before","after":"after"}`, `"modules":{"before":["MOD-2210"],"after":["MOD-1756","MOD-2210"]}`, `"logo":{"before":false,"after":true}`} {
		if !strings.Contains(rec.Details, want) {
			t.Errorf("details %s lack %s", rec.Details, want)
		}
	}
	if strings.Contains(rec.Details, "description") {
		t.Errorf("details %s mention an unchanged field", rec.Details)
	}
	// A stale version applies nothing.
	if _, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, store.TokenUpdate{Name: "stale"}); !errors.Is(err, store.ErrConflict) {
		t.Errorf("stale update: %v, want ErrConflict", err)
	}
	// Invalid input applies nothing either.
	var ve *store.ValidationError
	if _, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, upd.Version, store.TokenUpdate{Name: strings.Repeat("x", 201)}); !errors.As(err, &ve) {
		t.Errorf("invalid update: %v", err)
	}
	// Removing the logo.
	if noLogo, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, upd.Version, store.TokenUpdate{Name: "after", Description: "d", ModuleIDs: []string{"MOD-1756", "MOD-2210"}, RemoveLogo: true}); err != nil || noLogo.LogoType != "" {
		t.Errorf("remove logo: %+v, %v", noLogo, err)
	}
	if _, _, err := f.s.TokenLogo(ctx, f.acc.ID, tok.ID); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("removed logo still served: %v", err)
	}
	// The search index follows the rename.
	if page, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "after", Limit: 5}); page.Total != 1 {
		t.Errorf("search for the new name finds %d", page.Total)
	}
	if page, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "before", Limit: 5}); page.Total != 0 {
		t.Errorf("search for the old name finds %d", page.Total)
	}
}

func TestLogoUploads(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.s.SaveLogoUpload(ctx, f.admin.ID, []byte("not an image")); err == nil {
		t.Error("a fake image was accepted")
	}
	id, err := f.s.SaveLogoUpload(ctx, f.admin.ID, storetest.JPEG(40, 30))
	if err != nil {
		t.Fatal(err)
	}
	if ct, _, err := f.s.LogoUpload(ctx, f.admin.ID, id); err != nil || ct != "image/png" {
		t.Errorf("upload = %q, %v; want the JPEG kept re-encoded as a PNG", ct, err)
	}
	if _, _, err := f.s.LogoUpload(ctx, "USR-0000-0000", id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("another user's upload: %v", err)
	}
	f.s.DeleteLogoUploads(ctx, time.Now().Add(time.Hour))
	if _, _, err := f.s.LogoUpload(ctx, f.admin.ID, id); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("swept upload: %v", err)
	}
}

func TestBulkSeed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	schema := func() string { return bulkSchema(t, f.s) }
	before := schema()
	if _, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Existing"}); err != nil {
		t.Fatal(err)
	}
	if err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, 300, 2000, nil); err != nil {
		t.Fatal(err)
	}
	if got := schema(); got != before {
		t.Errorf("indexes and triggers after the seed:\n%s\nwant\n%s", got, before)
	}
	page, err := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Limit: 1})
	if err != nil || page.Total != 301 {
		t.Fatalf("tokens = %d, %v", page.Total, err)
	}
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Gateway", Limit: 1}); p.Total == 0 {
		t.Error("the search index does not know the seeded tokens")
	}
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Existing", Limit: 1}); p.Total != 1 {
		t.Error("the search index lost the token made before the seed")
	}
	// The insert trigger is back: a new token is searchable.
	f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Afterwards"})
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Afterwards", Limit: 1}); p.Total != 1 {
		t.Error("a token added after the seed is not searchable")
	}
	var records int
	f.s.DB().QueryRow(`SELECT COUNT(*) FROM audit_records`).Scan(&records)
	if records != 1+2000+1 {
		t.Errorf("%d audit records, want 2002", records)
	}
	if res, err := f.s.VerifyAudit(ctx); err != nil || res.BadID != "" {
		t.Errorf("chain after the seed: %+v, %v", res, err)
	}
	var bad int
	f.s.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens t WHERE t.module_bits != (SELECT COALESCE(SUM(m.bit), 0)
		FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = t.id)`).Scan(&bad)
	if bad != 0 {
		t.Errorf("%d seeded tokens have module_bits out of step", bad)
	}
}

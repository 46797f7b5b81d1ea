package sqldb_test

import (
	"context"
	"errors"
	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
	"gatehouse/store/storetest"
	"os"
	"testing"
)

// bulkCheck checks what a bulk seed must leave behind: an intact audit
// chain, a sound database in WAL mode, the counts and the search index kept
// by the dropped triggers, every index and trigger back.
func bulkCheck(t *testing.T, f fixture, schema string, tokens, records, grants int) {
	t.Helper()
	ctx := context.Background()
	if got := bulkSchema(t, f.s); got != schema {
		t.Errorf("indexes and triggers after the seed:\n%s\nwant\n%s", got, schema)
	}
	if res, err := f.s.VerifyAudit(ctx); err != nil || res.BadID != "" || res.Count != records {
		t.Errorf("VerifyAudit = %+v, %v; want %d records intact", res, err, records)
	}
	var check string
	if err := f.s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	rows, err := f.s.DB().Query(`PRAGMA foreign_key_check`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var table string
		var rowid, parent, fkid any
		rows.Scan(&table, &rowid, &parent, &fkid)
		t.Errorf("foreign key violation in %s (row %v, parent %v)", table, rowid, parent)
	}
	rows.Close()
	var mode string
	if err := f.s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	for _, c := range []struct {
		query string
		want  int
	}{
		{`SELECT COUNT(*) FROM api_tokens`, tokens},
		{`SELECT COUNT(*) FROM audit_records`, records},
		{`SELECT COUNT(*) FROM api_token_modules`, grants},
		{`SELECT COUNT(*) FROM api_tokens_search`, tokens},
		{`SELECT COUNT(*) FROM api_tokens t WHERE t.module_bits != (SELECT COALESCE(SUM(m.bit), 0)
			FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = t.id)`, 0},
	} {
		var got int
		if err := f.s.DB().QueryRow(c.query).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s = %d, %v; want %d", c.query, got, err, c.want)
		}
	}
	// The counts the triggers keep agree with the table.
	wantCountsInStep(t, f.s)
}

func bulkSchema(t *testing.T, s *sqlite.Store) string {
	t.Helper()
	var schema string
	if err := s.DB().QueryRow(`SELECT group_concat(name || ':' || sql, char(10)) FROM
		(SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name)`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	return schema
}

// bulkGrants is how many token modules the bulk seeder grants to tokens
// from..to-1 of an account with n modules.
func bulkGrants(from, to, n int) int {
	grants := 0
	for i := from; i < to; i++ {
		for j := range n {
			grants += (i >> j) & 1
		}
	}
	return grants
}

// walSize is the size of the database's WAL file.
func walSize(t *testing.T, s *sqlite.Store) int64 {
	t.Helper()
	var seq int
	var name, file string
	if err := s.DB().QueryRow(`PRAGMA database_list`).Scan(&seq, &name, &file); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(file + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return fi.Size()
}

func TestBulkSeedLeavesWALAndChecks(t *testing.T) {
	storetest.SQLiteOnly(t)
	f := newFixture(t)
	ctx := context.Background()
	// One connection: the seed's, whose settings must be back afterwards.
	f.s.DB().SetMaxOpenConns(1)
	schema := bulkSchema(t, f.s)
	if _, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Existing", ModuleIDs: []string{"MOD-1756"}}); err != nil {
		t.Fatal(err)
	}
	var reports int
	// 250 tokens: a batch of records is half "created" (by the system) and
	// half "value-viewed" (by a user).
	if err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, 250, 1234, func(tokens, audit int) { reports++ }); err != nil {
		t.Fatal(err)
	}
	if reports == 0 {
		t.Error("no progress reported")
	}
	bulkCheck(t, f, schema, 1+250, 1+1234, 1+bulkGrants(0, 250, len(f.modules)))
	// The transaction went to the database file, not through the WAL.
	if n := walSize(t, f.s); n > 64<<10 {
		t.Errorf("the WAL has %d bytes after the seed", n)
	}
	for _, p := range []struct{ name, want string }{
		{"journal_mode", "wal"}, {"foreign_keys", "1"}, {"synchronous", "1"}, {"cache_size", "-2000"}, {"mmap_size", "0"},
	} {
		var got string
		if err := f.s.DB().QueryRow(`PRAGMA ` + p.name).Scan(&got); err != nil || got != p.want {
			t.Errorf("PRAGMA %s = %q, %v; want %q", p.name, got, err, p.want)
		}
	}

	// The seeded tokens work like any other: found by name and id, their
	// values open and authenticate, their status changes are counted and
	// audited on the same chain.
	page, err := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Gateway", Limit: 100})
	if err != nil || page.Total == 0 {
		t.Fatalf("search for Gateway: %d, %v", page.Total, err)
	}
	tok := page.Tokens[0]
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: tok.ID, Limit: 1}); p.Total != 1 {
		t.Errorf("search for %s finds %d", tok.ID, p.Total)
	}
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Existing", Limit: 1}); p.Total != 1 {
		t.Error("the search index lost the token made before the seed")
	}
	value, err := f.s.RevealToken(ctx, f.sealer, f.actor, f.acc.ID, tok.ID, "show")
	if err != nil {
		t.Fatal(err)
	}
	if id, err := store.ParseTokenValue(value); err != nil || id != tok.ID {
		t.Errorf("value %q names %q, %v", value, id, err)
	}
	if at, err := f.s.TokenForAuth(ctx, tok.ID); err != nil || string(at.Hash) != string(store.HashTokenValue(value)) {
		t.Errorf("TokenForAuth(%s) = %+v, %v", tok.ID, at, err)
	}
	if tok.Status == store.StatusActive {
		if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, "test"); err != nil {
			t.Fatal(err)
		}
	}
	if _, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Afterwards"}); err != nil {
		t.Fatal(err)
	}
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Afterwards", Limit: 1}); p.Total != 1 {
		t.Error("a token added after the seed is not searchable")
	}
	active, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Status: store.StatusActive, Limit: 1})
	var want int
	f.s.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE account_id = ? AND status = 'Active'`, f.acc.ID).Scan(&want)
	if active.Total != want {
		t.Errorf("%d active tokens listed, %d in the table", active.Total, want)
	}
	records := 1 + 1234 + 1 + 1 + 1 // the reveal, the disabling, the new token
	if tok.Status != store.StatusActive {
		records--
	}
	bulkCheck(t, f, schema, 1+250+1, records, 1+bulkGrants(0, 250, len(f.modules)))
}

// With another connection open the journal cannot leave WAL: the seed runs
// in WAL all the same.
func TestBulkSeedInWALWhenNotAlone(t *testing.T) {
	storetest.SQLiteOnly(t)
	f := newFixture(t)
	ctx := context.Background()
	schema := bulkSchema(t, f.s)
	other, err := f.s.DB().Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	var n int
	if err := other.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	if err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, 300, 2000, nil); err != nil {
		t.Fatal(err)
	}
	if n := walSize(t, f.s); n < 512<<10 {
		t.Errorf("the WAL has only %d bytes after a seed in WAL", n)
	}
	if err := other.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens`).Scan(&n); err != nil || n != 300 {
		t.Errorf("the other connection sees %d tokens, %v", n, err)
	}
	other.Close()
	bulkCheck(t, f, schema, 300, 2000, bulkGrants(0, 300, len(f.modules)))
}

// Ids already in the tables or drawn twice are drawn again; the chain
// stays intact.
func TestBulkSeedIDCollisions(t *testing.T) {
	storetest.SQLiteOnly(t)
	f := newFixture(t)
	ctx := context.Background()
	schema := bulkSchema(t, f.s)
	existing, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Existing"})
	if err != nil {
		t.Fatal(err)
	}
	var record string
	if err := f.s.DB().QueryRow(`SELECT id FROM audit_records`).Scan(&record); err != nil {
		t.Fatal(err)
	}
	// Each generator first returns the existing id, then a new one twice,
	// then odd ids (not of NewID's form) twice, then random ones.
	collide := func(existing, prefix string, groups int, odd string) func() string {
		var calls int
		var first string
		return func() string {
			calls++
			switch calls {
			case 1:
				return existing
			case 2:
				first = store.NewID(prefix, groups)
				return first
			case 3:
				return first
			case 4, 5:
				return odd
			}
			return store.NewID(prefix, groups)
		}
	}
	defer sqldb.SetBulkIDs(collide(existing.ID, "TKN", 2, "TKN-odd"), collide(record, "AUD", 4, "AUD-odd"))()
	if err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, 120, 500, nil); err != nil {
		t.Fatal(err)
	}
	bulkCheck(t, f, schema, 1+120, 1+500, bulkGrants(0, 120, len(f.modules)))
	for _, id := range []string{"TKN-odd", "AUD-odd"} {
		var n int
		f.s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM api_tokens WHERE id = ?1) + (SELECT COUNT(*) FROM audit_records WHERE id = ?1)`, id).Scan(&n)
		if n != 1 {
			t.Errorf("%s is there %d times", id, n)
		}
	}
}

// A seed that fails half-way leaves nothing behind, and the database as it
// was.
func TestBulkSeedCancelled(t *testing.T) {
	storetest.SQLiteOnly(t)
	f := newFixture(t)
	schema := bulkSchema(t, f.s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, 2*sqldb.BulkBatch, 0, func(tokens, audit int) { cancel() })
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	bulkCheck(t, f, schema, 0, 0, 0)
	if err := f.s.BulkSeed(context.Background(), f.sealer, "ACC-0000-0000", 1, 0, nil); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("seed for an unknown account: %v", err)
	}
}

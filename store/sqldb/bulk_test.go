package sqldb_test

import (
	"context"
	"errors"
	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/storetest"
	"maps"
	"os"
	"testing"
)

// bulkCheck checks what a bulk seed must leave behind: an intact audit
// chain, the counts (and on SQLite the search index) kept by the triggers it
// set aside, every index, trigger and constraint back, and on SQLite a sound
// database in WAL mode.
func bulkCheck(t *testing.T, f fixture, schema string, tokens, records, grants int) {
	t.Helper()
	ctx := context.Background()
	if got := bulkSchema(t, f.s); got != schema {
		t.Errorf("indexes, triggers and constraints after the seed:\n%s\nwant\n%s", got, schema)
	}
	if res, err := f.s.VerifyAudit(ctx); err != nil || res.BadID != "" || res.Count != records {
		t.Errorf("VerifyAudit = %+v, %v; want %d records intact", res, err, records)
	}
	type check struct {
		query string
		want  int
	}
	checks := []check{
		{`SELECT COUNT(*) FROM api_tokens`, tokens},
		{`SELECT COUNT(*) FROM audit_records`, records},
		{`SELECT COUNT(*) FROM api_token_modules`, grants},
		{`SELECT COUNT(*) FROM api_tokens t WHERE t.module_bits != (SELECT COALESCE(SUM(m.bit), 0)
			FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = t.id)`, 0},
	}
	if storetest.Engine() == "sqlite" {
		checks = append(checks, check{`SELECT COUNT(*) FROM api_tokens_search`, tokens})
		sqliteSound(t, f.s)
	}
	for _, c := range checks {
		var got int
		if err := f.s.DB().QueryRow(c.query).Scan(&got); err != nil || got != c.want {
			t.Errorf("%s = %d, %v; want %d", c.query, got, err, c.want)
		}
	}
	// The counts the triggers keep agree with the table.
	wantCountsInStep(t, f.s)
}

// sqliteSound checks that a SQLite database is intact, its foreign keys
// hold, and it is in WAL mode.
func sqliteSound(t *testing.T, s *sqldb.Store) {
	t.Helper()
	var check string
	if err := s.DB().QueryRow(`PRAGMA integrity_check`).Scan(&check); err != nil || check != "ok" {
		t.Errorf("integrity_check = %q, %v", check, err)
	}
	rows, err := s.DB().Query(`PRAGMA foreign_key_check`)
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
	if err := s.DB().QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
}

// bulkSchema lists the database's indexes and triggers, and on PostgreSQL
// its constraints, whether each is validated and whether each trigger is
// enabled: what a bulk seed sets aside must come back as it was.
func bulkSchema(t *testing.T, s *sqldb.Store) string {
	t.Helper()
	q := `SELECT group_concat(name || ':' || sql, char(10)) FROM
		(SELECT name, sql FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL ORDER BY name)`
	if storetest.Engine() == "postgres" {
		q = `SELECT string_agg(d, E'\n' ORDER BY d) FROM (
			SELECT indexname || ': ' || indexdef FROM pg_indexes WHERE schemaname = current_schema()
			UNION ALL
			SELECT tgname || ' (' || tgenabled::text || '): ' || pg_get_triggerdef(oid) FROM pg_trigger WHERE NOT tgisinternal
			UNION ALL
			SELECT conname || ' (' || convalidated || '): ' || pg_get_constraintdef(oid) FROM pg_constraint
			WHERE connamespace = current_schema()::regnamespace) AS s (d)`
	}
	var schema string
	if err := s.DB().QueryRow(q).Scan(&schema); err != nil {
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
func walSize(t *testing.T, s *sqldb.Store) int64 {
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

// bulkCounts runs a query of (key, count) rows and returns them as a map.
func bulkCounts(t *testing.T, s *sqldb.Store, query string, args ...any) map[string]int {
	t.Helper()
	rows, err := s.DB().Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	got := map[string]int{}
	for rows.Next() {
		var key string
		var n int
		if err := rows.Scan(&key, &n); err != nil {
			t.Fatal(err)
		}
		got[key] = n
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return got
}

// The seed makes the same data on every engine, and the seeded tokens work
// like any other: found by name and id, their values open and authenticate,
// their changes counted and audited on the same chain, and what is written
// after the seed numbered after it.
func TestBulkSeedChecks(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
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

	// Token i (from 0) is made i minutes after the first, every fifth
	// disabled, every seventh never used; one in ten further records is an
	// update, the others show a value.
	for _, c := range []struct {
		query string
		want  map[string]int
	}{
		{`SELECT status, COUNT(*) FROM api_tokens WHERE created_by_id = 'SYSTEM' GROUP BY status`,
			map[string]int{store.StatusActive: 200, store.StatusDisabled: 50}},
		{`SELECT CASE WHEN last_access_at IS NULL THEN 'never' ELSE last_access_agent END, COUNT(*)
			FROM api_tokens WHERE created_by_id = 'SYSTEM' GROUP BY 1`,
			map[string]int{"never": 35, "bulk-client/1.0": 215}},
		{`SELECT event || ' by ' || actor_type, COUNT(*) FROM audit_records GROUP BY event, actor_type`,
			map[string]int{store.EventTokenCreated + " by user": 1, store.EventTokenCreated + " by system": 250,
				store.EventTokenUpdated + " by user": 99, store.EventTokenValueViewed + " by user": 885}},
	} {
		if got := bulkCounts(t, f.s, c.query); !maps.Equal(got, c.want) {
			t.Errorf("%s:\ngot  %v\nwant %v", c.query, got, c.want)
		}
	}
	var name, status string
	var bits int64
	var createdOrder bool
	if err := f.s.DB().QueryRow(`SELECT name, status, module_bits FROM api_tokens WHERE created_by_id = 'SYSTEM' ORDER BY rid LIMIT 1 OFFSET 6`).Scan(&name, &status, &bits); err != nil ||
		name != "Metrics Billing 7" || status != store.StatusActive || bits != 2|4 {
		t.Errorf("the seventh token: %q, %s, modules %b, %v; want Metrics Billing 7, Active, 110", name, status, bits, err)
	}
	// The tokens are numbered in the order they were made.
	if err := f.s.DB().QueryRow(`SELECT COUNT(*) = 0 FROM api_tokens a JOIN api_tokens b ON b.rid > a.rid
		WHERE a.created_by_id = 'SYSTEM' AND b.created_by_id = 'SYSTEM' AND b.created_at <= a.created_at`).Scan(&createdOrder); err != nil || !createdOrder {
		t.Errorf("the seeded tokens are not numbered in the order they were made: %v", err)
	}

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
	after, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Afterwards"})
	if err != nil {
		t.Fatal(err)
	}
	if p, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "Afterwards", Limit: 1}); p.Total != 1 {
		t.Error("a token added after the seed is not searchable")
	}
	// The token and its record come after every seeded one.
	var last string
	if err := f.s.DB().QueryRow(`SELECT id FROM api_tokens ORDER BY rid DESC LIMIT 1`).Scan(&last); err != nil || last != after.ID {
		t.Errorf("the last token by rid is %s, %v; want %s", last, err, after.ID)
	}
	if err := f.s.DB().QueryRow(`SELECT object_id FROM audit_records ORDER BY seq DESC LIMIT 1`).Scan(&last); err != nil || last != after.ID {
		t.Errorf("the last record by seq is about %s, %v; want %s", last, err, after.ID)
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

// Alone on the database, the seed on SQLite leaves WAL for its transaction
// and sets every setting it changed back.
func TestBulkSeedLeavesWAL(t *testing.T) {
	storetest.SQLiteOnly(t)
	f := newFixture(t)
	ctx := context.Background()
	// One connection: the seed's, whose settings must be back afterwards.
	f.s.DB().SetMaxOpenConns(1)
	schema := bulkSchema(t, f.s)
	if err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, 250, 1234, nil); err != nil {
		t.Fatal(err)
	}
	bulkCheck(t, f, schema, 250, 1234, bulkGrants(0, 250, len(f.modules)))
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
		f.s.DB().QueryRow(`SELECT (SELECT COUNT(*) FROM api_tokens WHERE id = ?) + (SELECT COUNT(*) FROM audit_records WHERE id = ?)`, id, id).Scan(&n)
		if n != 1 {
			t.Errorf("%s is there %d times", id, n)
		}
	}
}

// A seed that fails half-way leaves nothing behind, and the database as it
// was.
func TestBulkSeedCancelled(t *testing.T) {
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

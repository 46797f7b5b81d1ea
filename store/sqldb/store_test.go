package sqldb_test

import (
	"context"
	"errors"
	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/sqlite"
	"gatehouse/store/storetest"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// newTestStore opens a fresh database file in a temporary directory.
func newTestStore(t *testing.T) *sqldb.Store {
	t.Helper()
	return storetest.Open(t)
}

func testSealer(t *testing.T) *store.Sealer {
	t.Helper()
	s, err := store.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// fixture is an account with all modules, an administrator, and a second
// account for isolation checks.
type fixture struct {
	s       *sqlite.Store
	sealer  *store.Sealer
	acc     store.Account
	other   store.Account
	admin   store.User
	actor   store.Actor
	modules []store.Module
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	return newFixtureWith(t, newTestStore(t))
}

// newFixtureOn is newFixture on a database that open opens (again).
func newFixtureOn(t *testing.T, open func() (*sqldb.Store, error)) fixture {
	t.Helper()
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return newFixtureWith(t, s)
}

func newFixtureWith(t *testing.T, s *sqldb.Store) fixture {
	t.Helper()
	ctx := context.Background()
	mods, err := s.Modules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, len(mods))
	for i, m := range mods {
		ids[i] = m.ID
	}
	acc, err := s.CreateAccount(ctx, "Acme", store.AccountClient, ids)
	if err != nil {
		t.Fatal(err)
	}
	other, err := s.CreateAccount(ctx, "Other", store.AccountVendor, ids[:2])
	if err != nil {
		t.Fatal(err)
	}
	admin, err := s.CreateUser(ctx, store.NewUser{AccountID: acc.ID, Email: "a@example.com", Name: "Ann Admin", Role: store.RoleAdministrator, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{s: s, sealer: testSealer(t), acc: acc, other: other, admin: admin,
		actor: store.UserActor(admin, "192.0.2.1", "test-agent"), modules: mods}
}

// The database and its -wal and -shm files are created 0600, whatever the
// umask lets SQLite do (it creates them 0644).
func TestDatabaseFilesArePrivate(t *testing.T) {
	storetest.SQLiteOnly(t)
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	path := filepath.Join(t.TempDir(), "g.db")
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.CreateAccount(context.Background(), "Written", store.AccountClient, nil); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{path, path + "-wal", path + "-shm"} {
		fi, err := os.Stat(f)
		if err != nil {
			t.Fatal(err)
		}
		if mode := fi.Mode().Perm(); mode != 0o600 {
			t.Errorf("%s is %v, want -rw-------", filepath.Base(f), mode)
		}
	}
}

func TestOpenAppliesSchemaOnceAndSetsPragmas(t *testing.T) {
	storetest.SQLiteOnly(t)
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "g.db")
	s, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	s.Close()
	// A second open must not re-run the migrations (they would fail on
	// existing tables).
	s, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatalf("reopen: %v", err)
	}
	defer s.Close()

	for pragma, want := range map[string]string{"journal_mode": "wal", "foreign_keys": "1", "synchronous": "1", "busy_timeout": "10000"} {
		var got string
		if err := s.DB().QueryRow("PRAGMA " + pragma).Scan(&got); err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("PRAGMA %s = %s, want %s", pragma, got, want)
		}
	}
	var n int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM schema_migrations`).Scan(&n); err != nil || n == 0 {
		t.Errorf("schema_migrations rows = %d, %v", n, err)
	}
	mods, err := s.Modules(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(mods) < 8 {
		t.Fatalf("catalogue has %d modules, want at least 8", len(mods))
	}
	want := map[string]string{"MOD-1756": "Access management", "MOD-9042": "Account management", "MOD-0478": "Marketplace"}
	for _, m := range mods {
		if name, ok := want[m.ID]; ok && name != m.Name {
			t.Errorf("%s is %q, want %q", m.ID, m.Name, name)
		}
		delete(want, m.ID)
		if !regexp.MustCompile(`^MOD-\d{4}$`).MatchString(m.ID) {
			t.Errorf("module id %q is not MOD-NNNN", m.ID)
		}
	}
	if len(want) > 0 {
		t.Errorf("catalogue lacks %v", want)
	}
}

func TestNewIDFormat(t *testing.T) {
	cases := []struct {
		prefix string
		groups int
		re     string
	}{
		{"ACC", 2, `^ACC-\d{4}-\d{4}$`},
		{"TKN", 2, `^TKN-\d{4}-\d{4}$`},
		{"AUD", 4, `^AUD-\d{4}-\d{4}-\d{4}-\d{4}$`},
	}
	for _, c := range cases {
		seen := map[string]bool{}
		for range 50 {
			id := store.NewID(c.prefix, c.groups)
			if !regexp.MustCompile(c.re).MatchString(id) {
				t.Fatalf("NewID(%q, %d) = %q", c.prefix, c.groups, id)
			}
			seen[id] = true
		}
		if len(seen) < 45 {
			t.Errorf("NewID(%q) gave only %d distinct ids in 50", c.prefix, len(seen))
		}
	}
}

func TestInsertWithIDRetriesOnCollision(t *testing.T) {
	f := newFixture(t)
	ids := []string{f.acc.ID, f.acc.ID, "ACC-0000-0001"}
	i := 0
	got, err := sqldb.InsertWithID(func() string { id := ids[i]; i++; return id }, func(id string) (bool, error) {
		return sqldb.Inserted(f.s.DB().Exec(`INSERT INTO accounts (id, name, type, created_at) VALUES (?, 'x', 'Client', ?)
			ON CONFLICT (id) DO NOTHING`, id, time.Now()))
	})
	if err != nil || got != "ACC-0000-0001" {
		t.Fatalf("insertWithID = %q, %v; want the third id after two collisions", got, err)
	}
}

func TestAuditTableIsAppendOnly(t *testing.T) {
	f := newFixture(t)
	if _, _, err := f.s.CreateToken(context.Background(), f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "x"}); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{`UPDATE audit_records SET summary = 'forged'`, `DELETE FROM audit_records`} {
		_, err := f.s.DB().Exec(q)
		if err == nil || !strings.Contains(err.Error(), "append-only") {
			t.Errorf("%s: err = %v, want the append-only refusal", q, err)
		}
	}
}

func TestAuditChainLinksRecords(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "chain"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, tok.Version, "why not"); err != nil {
		t.Fatal(err)
	}
	rows, err := f.s.DB().Query(`SELECT id, account_id, occurred_at, event, object_type, object_id, object_name,
		actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash FROM audit_records ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	prev := ""
	n := 0
	for rows.Next() {
		var r store.AuditRecord
		var ms int64
		if err := rows.Scan(&r.ID, &r.AccountID, &ms, &r.Event, &r.ObjectType, &r.ObjectID, &r.ObjectName,
			&r.Actor.Type, &r.Actor.ID, &r.Actor.Name, &r.Actor.IP, &r.Actor.UserAgent, &r.Summary, &r.Details, &r.PrevHash, &r.Hash); err != nil {
			t.Fatal(err)
		}
		r.OccurredAt = time.UnixMilli(ms)
		if r.PrevHash != prev {
			t.Errorf("record %d prev_hash = %q, want %q", n, r.PrevHash, prev)
		}
		if got := store.ChainHash(prev, r); got != r.Hash {
			t.Errorf("record %d hash does not recompute", n)
		}
		if !regexp.MustCompile(`^AUD-\d{4}-\d{4}-\d{4}-\d{4}$`).MatchString(r.ID) {
			t.Errorf("audit id %q", r.ID)
		}
		prev = r.Hash
		n++
	}
	if n != 2 {
		t.Fatalf("got %d audit records, want 2 (created, disabled)", n)
	}
}

func TestDemoSeedOnlyOnce(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	seeded, err := s.SeedDemo(ctx, testSealer(t))
	if err != nil || !seeded {
		t.Fatalf("SeedDemo = %v, %v", seeded, err)
	}
	seeded, err = s.SeedDemo(ctx, testSealer(t))
	if err != nil || seeded {
		t.Fatalf("second SeedDemo = %v, %v; want false, nil", seeded, err)
	}
	accounts, err := s.Accounts(ctx)
	if err != nil || len(accounts) != 2 {
		t.Fatalf("accounts = %d, %v; want 2", len(accounts), err)
	}
	for _, u := range store.DemoUsers {
		got, err := s.Authenticate(ctx, u.Email, store.DemoPassword)
		if err != nil || got.Role != u.Role || got.AccountID != accounts[0].ID {
			t.Errorf("demo login %s: %+v, %v", u.Email, got, err)
		}
	}
	page, err := s.ListTokens(ctx, accounts[0].ID, store.TokenQuery{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if page.Total < 12 {
		t.Errorf("demo account has %d live tokens, want a dozen", page.Total)
	}
	statuses := map[string]int{}
	creators := map[string]bool{}
	neverUsed := 0
	for _, tok := range page.Tokens {
		statuses[tok.Status]++
		creators[tok.CreatedBy.ID] = true
		if tok.LastAccessAt.IsZero() {
			neverUsed++
		}
	}
	if statuses[store.StatusActive] == 0 || statuses[store.StatusDisabled] == 0 || statuses[store.StatusDeleted] != 0 {
		t.Errorf("demo statuses %v: want Active and Disabled, no Deleted", statuses)
	}
	if len(creators) < 2 || neverUsed == 0 {
		t.Errorf("demo tokens by %d creators with %d never used; want several and some", len(creators), neverUsed)
	}
	var deleted, records int
	s.DB().QueryRow(`SELECT COUNT(*) FROM api_tokens WHERE status = 'Deleted'`).Scan(&deleted)
	s.DB().QueryRow(`SELECT COUNT(*) FROM audit_records`).Scan(&records)
	if deleted != 1 || records <= page.Total {
		t.Errorf("deleted tokens %d, audit records %d: want one deleted and a history", deleted, records)
	}
}

func TestUsersAndSessions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	if _, err := f.s.CreateUser(ctx, store.NewUser{AccountID: f.acc.ID, Email: "A@example.com", Name: "Dup", Role: store.RoleViewer, Password: "long enough password"}); !errors.Is(err, store.ErrDuplicate) {
		t.Errorf("duplicate email (other case): err = %v, want ErrDuplicate", err)
	}
	var ve *store.ValidationError
	if _, err := f.s.CreateUser(ctx, store.NewUser{AccountID: f.acc.ID, Email: "not an email", Name: "", Role: "God", Password: "short"}); !errors.As(err, &ve) || len(ve.Fields) != 4 {
		t.Errorf("invalid user: err = %v, want 4 field errors", err)
	}
	if _, err := f.s.Authenticate(ctx, "a@example.com", "wrong password!!"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := f.s.Authenticate(ctx, "nobody@example.com", "correct horse battery"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("unknown email: %v", err)
	}
	u, err := f.s.Authenticate(ctx, "A@EXAMPLE.com", "correct horse battery")
	if err != nil || u.ID != f.admin.ID {
		t.Fatalf("Authenticate: %v", err)
	}

	if err := f.s.CreateSession(ctx, "sid-1", u.ID, `{"flash":"hi"}`); err != nil {
		t.Fatal(err)
	}
	got, err := f.s.Session(ctx, "sid-1")
	if err != nil || got.UserID != u.ID || got.Data != `{"flash":"hi"}` {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	// The session brings its user, account and the account's modules along.
	if got.User.ID != u.ID || got.User.Email != "a@example.com" || got.User.AccountName != "Acme" || got.User.Role != store.RoleAdministrator {
		t.Errorf("Session's user = %+v, want %+v", got.User, u)
	}
	if len(got.User.AccountModules) != len(f.modules) || got.User.AccountModules[0] != f.modules[0] {
		t.Errorf("Session's account modules = %v, want the catalogue %v", got.User.AccountModules, f.modules)
	}
	other, err := f.s.CreateUser(ctx, store.NewUser{AccountID: f.other.ID, Email: "o@example.com", Name: "Olga", Role: store.RoleViewer, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	if other.AccountModules == nil {
		if other, err = f.s.User(ctx, other.ID); err != nil {
			t.Fatal(err)
		}
	}
	if want := f.modules[:2]; !slices.Equal(other.AccountModules, want) {
		t.Errorf("user of Other: account modules %v, want %v", other.AccountModules, want)
	}
	if err := f.s.CreateSession(ctx, "anonymous", "", `{}`); err != nil {
		t.Fatal(err)
	}
	if got, err := f.s.Session(ctx, "anonymous"); err != nil || got.UserID != "" || got.User.ID != "" || got.User.AccountModules != nil {
		t.Errorf("a session without a user = %+v, %v; want no user", got, err)
	}
	if err := f.s.DeleteSession(ctx, "anonymous"); err != nil {
		t.Fatal(err)
	}
	var stored string
	f.s.DB().QueryRow(`SELECT id_hash FROM sessions`).Scan(&stored)
	if stored == "sid-1" {
		t.Error("the session id is stored in clear")
	}
	// A role change ends the user's sessions.
	if err := f.s.SetRole(ctx, "a@example.com", store.RoleViewer); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Session(ctx, "sid-1"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after role change: %v, want ErrNotFound", err)
	}
	f.s.CreateSession(ctx, "sid-2", u.ID, `{}`)
	if err := f.s.SetPassword(ctx, "a@example.com", "another long password"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.Session(ctx, "sid-2"); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("session after password change: %v, want ErrNotFound", err)
	}
	if _, err := f.s.Authenticate(ctx, "a@example.com", "another long password"); err != nil {
		t.Errorf("new password refused: %v", err)
	}
	if err := f.s.SetRole(ctx, "nobody@example.com", store.RoleViewer); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("SetRole of unknown user: %v", err)
	}

	// Expiry sweep.
	f.s.CreateSession(ctx, "old", u.ID, `{}`)
	f.s.CreateSession(ctx, "fresh", u.ID, `{}`)
	later := time.Now().Add(time.Hour)
	f.s.SetClock(func() time.Time { return later })
	f.s.TouchSession(ctx, "fresh")
	n, err := f.s.DeleteExpiredSessions(ctx, later.Add(-30*time.Minute), later.Add(-12*time.Hour))
	if err != nil || n != 1 {
		t.Errorf("DeleteExpiredSessions = %d, %v; want 1", n, err)
	}
	if _, err := f.s.Session(ctx, "fresh"); err != nil {
		t.Errorf("fresh session swept: %v", err)
	}
}

// A database that a newer Gatehouse migrated is refused, with the versions
// named, and left as it is.
func TestOpenRefusesANewerDatabase(t *testing.T) {
	open := storetest.Opener(t)
	s, err := open()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.DB().Exec(`INSERT INTO schema_migrations (name, applied_at) VALUES ('migrations/9001_add_future.sql', ?)`, time.Now()); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = open()
	if err == nil {
		s.Close()
	}
	named := regexp.MustCompile(`migrated by a newer Gatehouse: it has 9001_add_future\.sql, and this Gatehouse knows migrations up to \d{4}_[a-z_]+\.sql`)
	if err == nil || !named.MatchString(err.Error()) {
		t.Fatalf("open = %v, want the versions named", err)
	}
}

package sqldb_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse/store"
	"gatehouse/store/sqldb"
)

// moduleIDsOf returns the ids of mods.
func moduleIDsOf(mods []store.Module) []string {
	ids := []string{}
	for _, m := range mods {
		ids = append(ids, m.ID)
	}
	return ids
}

// accountRecords returns the account's audit records about itself, oldest
// first.
func accountRecords(t *testing.T, s *sqldb.Store, accountID string) []store.AuditRecord {
	t.Helper()
	page, err := s.ListAudit(context.Background(), accountID, store.AuditQuery{ObjectID: accountID, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	recs := page.Records
	slices.Reverse(recs)
	return recs
}

func TestAddAccount(t *testing.T) {
	s := newTestStore(t)
	ctx := context.Background()
	actor := store.SystemActor

	t.Run("OK", func(t *testing.T) {
		if has, err := s.HasUsers(ctx); err != nil || has {
			t.Fatalf("HasUsers on a new database = %v, %v; want false", has, err)
		}
		a, err := s.AddAccount(ctx, actor, store.NewAccount{Name: "  Example Ltd ", Type: store.AccountOperations,
			ModuleIDs: []string{"MOD-9042", "MOD-1756", "MOD-9042"}})
		if err != nil {
			t.Fatal(err)
		}
		if !regexp.MustCompile(`^ACC-\d{4}-\d{4}$`).MatchString(a.ID) || a.Name != "Example Ltd" || a.Type != store.AccountOperations {
			t.Errorf("account = %+v", a)
		}
		mods, err := s.AccountModules(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := moduleIDsOf(mods), []string{"MOD-1756", "MOD-9042"}; !slices.Equal(got, want) {
			t.Errorf("modules = %v, want %v (catalogue order, once each)", got, want)
		}
		recs := accountRecords(t, s, a.ID)
		if len(recs) != 1 {
			t.Fatalf("audit records of the account = %d, want 1", len(recs))
		}
		r := recs[0]
		if r.Event != store.EventAccountCreated || r.ObjectType != store.ObjectTypeAccount || r.ObjectName != "Example Ltd" ||
			r.Actor.ID != actor.ID || !strings.Contains(r.Details, `"modules":["MOD-1756","MOD-9042"]`) {
			t.Errorf("audit record = %+v", r)
		}
		if res, err := s.VerifyAudit(ctx); err != nil || res.BadID != "" || res.Count != 1 {
			t.Errorf("audit verify = %+v, %v", res, err)
		}
		if _, err := s.CreateUser(ctx, store.NewUser{AccountID: a.ID, Email: "admin@example.com", Name: "Admin", Role: store.RoleAdministrator, Password: "a long enough password"}); err != nil {
			t.Fatal(err)
		}
		if has, err := s.HasUsers(ctx); err != nil || !has {
			t.Errorf("HasUsers with a user = %v, %v; want true", has, err)
		}
	})

	invalid := []struct {
		name  string
		na    store.NewAccount
		field string
	}{
		{"ErrNameRequired", store.NewAccount{Name: "  ", Type: store.AccountClient}, "name"},
		{"ErrNameTooLong", store.NewAccount{Name: strings.Repeat("é", store.MaxAccountNameLength+1), Type: store.AccountClient}, "name"},
		{"ErrNameControl", store.NewAccount{Name: "Bad\x07Name", Type: store.AccountClient}, "name"},
		{"ErrNameInvalidUTF8", store.NewAccount{Name: "Bad\xffName", Type: store.AccountClient}, "name"},
		{"ErrType", store.NewAccount{Name: "Typo Co", Type: "client"}, "type"},
		{"ErrUnknownModule", store.NewAccount{Name: "Modules Co", Type: store.AccountVendor, ModuleIDs: []string{"MOD-1756", "MOD-0000"}}, "modules"},
	}
	for _, c := range invalid {
		t.Run(c.name, func(t *testing.T) {
			before, _ := s.Accounts(ctx)
			_, err := s.AddAccount(ctx, actor, c.na)
			var ve *store.ValidationError
			if !errors.As(err, &ve) || ve.Fields[c.field] == "" {
				t.Fatalf("err = %v, want a validation error for %s", err, c.field)
			}
			if after, _ := s.Accounts(ctx); len(after) != len(before) {
				t.Errorf("a refused account was added")
			}
		})
	}
	t.Run("ErrUnknownModuleNamesTheCatalogue", func(t *testing.T) {
		_, err := s.AddAccount(ctx, actor, store.NewAccount{Name: "Modules Co", Type: store.AccountVendor, ModuleIDs: []string{"MOD-0000"}})
		if err == nil || !strings.Contains(err.Error(), `"MOD-0000" is not in the module catalogue`) || !strings.Contains(err.Error(), "MOD-1756 (Access management)") {
			t.Errorf("err = %v", err)
		}
	})
	t.Run("ErrDuplicate", func(t *testing.T) {
		_, err := s.AddAccount(ctx, actor, store.NewAccount{Name: "EXAMPLE ltd", Type: store.AccountClient})
		if !errors.Is(err, store.ErrDuplicate) || !strings.Contains(err.Error(), `"Example Ltd"`) {
			t.Errorf("err = %v, want ErrDuplicate naming the account", err)
		}
	})
}

// A module disabled for an account is taken from its live tokens, each one
// audited and put in the change log; the account's own record says what
// changed. A change that changes nothing writes nothing.
func TestChangeAccountModules(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	s := f.s
	create := func(name string, mods ...string) store.Token {
		t.Helper()
		tok, _, err := s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: name, ModuleIDs: mods})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	a := create("Holds billing and access", "MOD-1756", "MOD-2210")
	b := create("Disabled holds billing", "MOD-2210")
	if _, err := s.DisableToken(ctx, f.actor, f.acc.ID, b.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	c := create("Holds account management", "MOD-9042")
	d := create("Deleted held billing", "MOD-2210")
	if err := s.DeleteToken(ctx, f.actor, f.acc.ID, d.ID, 0); err != nil {
		t.Fatal(err)
	}
	o, _, err := s.CreateToken(ctx, f.sealer, f.actor, f.other.ID, store.NewToken{Name: "Other account's", ModuleIDs: []string{"MOD-1756"}})
	if err != nil {
		t.Fatal(err)
	}
	head, err := s.TokenChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	logged := func() []string {
		t.Helper()
		changes, err := s.TokenChangesSince(ctx, head, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, ch := range changes {
			ids = append(ids, ch.TokenID)
			head = ch.Seq
		}
		slices.Sort(ids)
		return ids
	}
	actor := store.SystemActor

	t.Run("Disable", func(t *testing.T) {
		res, err := s.ChangeAccountModules(ctx, actor, f.acc.ID, nil, []string{"MOD-2210"})
		if err != nil {
			t.Fatal(err)
		}
		if got := moduleIDsOf(res.Disabled); !slices.Equal(got, []string{"MOD-2210"}) || len(res.Enabled) != 0 {
			t.Errorf("disabled %v, enabled %v", got, res.Enabled)
		}
		if slices.Contains(moduleIDsOf(res.Modules), "MOD-2210") || len(res.Modules) != len(f.modules)-1 {
			t.Errorf("modules after = %v", moduleIDsOf(res.Modules))
		}
		var lost []string
		for _, r := range res.Tokens {
			lost = append(lost, r.ID)
		}
		want := []string{a.ID, b.ID}
		slices.Sort(want)
		if !slices.Equal(lost, want) {
			t.Errorf("tokens that lost the module = %v, want %v (the live ones that held it)", lost, want)
		}
		if got := logged(); !slices.Equal(got, want) {
			t.Errorf("change log = %v, want %v", got, want)
		}
		after, _ := s.Token(ctx, f.acc.ID, a.ID)
		if got := moduleIDsOf(after.Modules); !slices.Equal(got, []string{"MOD-1756"}) || after.Version != a.Version+1 || after.UpdatedBy.ID != actor.ID {
			t.Errorf("token a after: modules %v, version %d (was %d), updated by %s", got, after.Version, a.Version, after.UpdatedBy.ID)
		}
		auth, _ := s.TokenForAuth(ctx, a.ID)
		if auth.HasModule("MOD-2210") || !auth.HasModule("MOD-1756") {
			t.Errorf("verify's view of token a: %v", auth.Modules)
		}
		if after, _ := s.Token(ctx, f.acc.ID, b.ID); after.Status != store.StatusDisabled || len(after.Modules) != 0 {
			t.Errorf("token b after: %s, %v", after.Status, moduleIDsOf(after.Modules))
		}
		if after, _ := s.Token(ctx, f.acc.ID, c.ID); after.Version != c.Version {
			t.Errorf("token c, which did not hold the module, changed")
		}
		if auth, _ := s.TokenForAuth(ctx, o.ID); !auth.HasModule("MOD-1756") {
			t.Errorf("the other account's token changed")
		}
		recs := accountRecords(t, s, f.acc.ID)
		if len(recs) != 1 {
			t.Fatalf("account records = %d, want 1", len(recs))
		}
		var details struct {
			Changes map[string]store.Change
			Tokens  []string
		}
		if err := json.Unmarshal([]byte(recs[0].Details), &details); err != nil {
			t.Fatal(err)
		}
		if r := recs[0]; r.Event != store.EventAccountUpdated || r.ObjectType != store.ObjectTypeAccount ||
			!strings.Contains(r.Summary, "disabled MOD-2210 (Billing)") || !slices.Equal(details.Tokens, want) ||
			!strings.Contains(fmt.Sprint(details.Changes["modules"].Before), "MOD-2210") || strings.Contains(fmt.Sprint(details.Changes["modules"].After), "MOD-2210") {
			t.Errorf("account record = %+v", r)
		}
		last, err := s.LastChange(ctx, f.acc.ID, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if last.Event != store.EventTokenUpdated || !strings.Contains(last.Summary, "MOD-2210 (Billing) disabled for its account") ||
			!strings.Contains(last.Details, `"before":["MOD-1756","MOD-2210"],"after":["MOD-1756"]`) {
			t.Errorf("token a's record = %+v", last)
		}
		if res, err := s.VerifyAudit(ctx); err != nil || res.BadID != "" {
			t.Errorf("audit verify = %+v, %v", res, err)
		}
		if _, _, err := s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "x", ModuleIDs: []string{"MOD-2210"}}); err == nil {
			t.Error("a token was granted a module its account no longer has")
		}
	})

	t.Run("NothingToDo", func(t *testing.T) {
		before := len(accountRecords(t, s, f.acc.ID))
		res, err := s.ChangeAccountModules(ctx, actor, f.acc.ID, []string{"MOD-1756"}, []string{"MOD-2210"})
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Enabled)+len(res.Disabled)+len(res.Tokens) != 0 {
			t.Errorf("a change of nothing changed %+v", res)
		}
		if after := len(accountRecords(t, s, f.acc.ID)); after != before {
			t.Errorf("a change of nothing was audited")
		}
		if got := logged(); len(got) != 0 {
			t.Errorf("a change of nothing logged %v", got)
		}
	})

	t.Run("Enable", func(t *testing.T) {
		res, err := s.ChangeAccountModules(ctx, actor, f.acc.ID, []string{"MOD-2210"}, nil)
		if err != nil {
			t.Fatal(err)
		}
		if got := moduleIDsOf(res.Enabled); !slices.Equal(got, []string{"MOD-2210"}) || len(res.Tokens) != 0 {
			t.Errorf("enabled %v, tokens %v", got, res.Tokens)
		}
		// No token is granted it: no verify answer changes.
		if got := logged(); len(got) != 0 {
			t.Errorf("enabling logged %v", got)
		}
		if auth, _ := s.TokenForAuth(ctx, a.ID); auth.HasModule("MOD-2210") {
			t.Error("enabling the module again gave it back to a token")
		}
		recs := accountRecords(t, s, f.acc.ID)
		if r := recs[len(recs)-1]; r.Event != store.EventAccountUpdated || !strings.Contains(r.Summary, "enabled MOD-2210 (Billing)") {
			t.Errorf("account record = %+v", r)
		}
	})

	t.Run("ErrUnknownModule", func(t *testing.T) {
		var ve *store.ValidationError
		if _, err := s.ChangeAccountModules(ctx, actor, f.acc.ID, []string{"MOD-0000"}, nil); !errors.As(err, &ve) || ve.Fields["modules"] == "" {
			t.Errorf("err = %v", err)
		}
		if _, err := s.ChangeAccountModules(ctx, actor, f.acc.ID, []string{"MOD-1756"}, []string{"MOD-1756"}); !errors.As(err, &ve) {
			t.Errorf("enable and disable of one module: err = %v", err)
		}
	})
	t.Run("ErrNotFound", func(t *testing.T) {
		if _, err := s.ChangeAccountModules(ctx, actor, "ACC-0000-0000", nil, []string{"MOD-1756"}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("err = %v", err)
		}
	})
}

// A token being granted a module while the module is disabled for its
// account never ends up holding it: either the grant is refused, or the
// token is among those the module is taken from.
func TestDisablingAModuleWhileTokensAreGrantedIt(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const mod = "MOD-2210"
	for i := range 15 {
		var wg sync.WaitGroup
		errs := make(chan error, 4)
		for j := range 3 {
			wg.Go(func() {
				_, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID,
					store.NewToken{Name: fmt.Sprintf("Race %d %d", i, j), ModuleIDs: []string{"MOD-9042", mod}})
				var ve *store.ValidationError
				if err != nil && !errors.As(err, &ve) {
					errs <- fmt.Errorf("create: %w", err)
				}
			})
		}
		wg.Go(func() {
			if _, err := f.s.ChangeAccountModules(ctx, store.SystemActor, f.acc.ID, nil, []string{mod}); err != nil {
				errs <- fmt.Errorf("disable: %w", err)
			}
		})
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		var n int
		if err := f.s.DB().QueryRow(`SELECT COUNT(*) FROM api_token_modules tm JOIN api_tokens t ON t.id = tm.token_id
			WHERE t.account_id = ? AND t.status <> 'Deleted' AND tm.module_id = ?`, f.acc.ID, mod).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n != 0 {
			t.Fatalf("round %d: %d tokens hold %s, which their account no longer has", i, n, mod)
		}
		if _, err := f.s.ChangeAccountModules(ctx, store.SystemActor, f.acc.ID, []string{mod}, nil); err != nil {
			t.Fatal(err)
		}
	}
}

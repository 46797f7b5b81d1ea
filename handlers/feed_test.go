package handlers

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/storetest"
)

// until calls check every millisecond until it holds, and returns how long
// that took; it fails the test after limit.
func until(t *testing.T, limit time.Duration, what string, check func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !check() {
		if time.Since(start) > limit {
			t.Fatalf("%s: not after %v", what, limit)
		}
		time.Sleep(time.Millisecond)
	}
	return time.Since(start)
}

// feedCaughtUp waits until the change feed has read the log from a start
// later than now, so every change committed before the call is applied.
func (a *testApp) feedCaughtUp(t *testing.T) {
	t.Helper()
	f := a.h.feed
	mark := int64(time.Since(f.base))
	f.nudge()
	until(t, 5*time.Second, "the change feed reads the log", func() bool { return f.syncedAt.Load() > mark })
}

// Two handlers on one database stand for two replicas: a change made
// through one reaches the other's warm verify cache through the change log
// within a second (SPEC §7), typically within milliseconds.
func TestReplicaHonoursAChangeMadeOnAnother(t *testing.T) {
	open := storetest.Opener(t)
	stores := make([]*testApp, 2)
	for i := range stores {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		stores[i] = newTestAppOn(t, st)
	}
	a, b := stores[0], stores[1]
	tok, value := a.apiToken(t, a.acc.ID, "Shared", "MOD-1756", "MOD-2210")
	warm := func() {
		t.Helper()
		for range 3 {
			if r := b.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 200 {
				t.Fatalf("warm-up on b = %d %s", r.status, r.body)
			}
		}
	}
	warm()
	ctx := context.Background()
	var took []time.Duration
	for i := range 10 {
		var err error
		want := 401
		if i%2 == 0 {
			_, err = a.store.DisableToken(ctx, store.SystemActor, a.acc.ID, tok.ID, 0, "")
		} else {
			_, err = a.store.EnableToken(ctx, store.SystemActor, a.acc.ID, tok.ID, 0)
			want = 200
		}
		if err != nil {
			t.Fatal(err)
		}
		took = append(took, until(t, time.Second, "b honours the change", func() bool {
			return b.call(t, "GET", "/public/v1/auth/verify", value, "").status == want
		}))
	}
	slices.Sort(took)
	t.Logf("%s: b honoured a change made on a after %v (median), %v (max)", storetest.Engine(), took[len(took)/2], took[len(took)-1])

	// Modules and names are in the answer too.
	warm()
	if r := b.call(t, "GET", "/public/v1/auth/verify?module=MOD-2210", value, ""); r.status != 200 {
		t.Fatalf("module granted = %d", r.status)
	}
	if _, _, err := a.store.UpdateToken(ctx, store.SystemActor, a.acc.ID, tok.ID, 0, store.TokenUpdate{Name: "Renamed", ModuleIDs: []string{"MOD-1756"}}); err != nil {
		t.Fatal(err)
	}
	until(t, time.Second, "b sees the module withdrawn", func() bool {
		return b.call(t, "GET", "/public/v1/auth/verify?module=MOD-2210", value, "").status == 403
	})
	if r := b.call(t, "GET", "/public/v1/auth/verify", value, ""); !strings.Contains(r.body, `"Renamed"`) {
		t.Errorf("b's answer after the rename: %s", r.body)
	}
	if err := a.store.DeleteToken(ctx, store.SystemActor, a.acc.ID, tok.ID, 0); err != nil {
		t.Fatal(err)
	}
	until(t, time.Second, "b refuses the deleted token", func() bool {
		return b.call(t, "GET", "/public/v1/auth/verify", value, "").status == 401
	})
}

// A module disabled for an account (gatehouse account modules --disable, a
// process of its own) is taken from the account's tokens: another replica's
// warm verify cache stops granting it within a second, and the token's other
// modules stay granted.
func TestReplicaHonoursAnAccountModuleDisabledOnAnother(t *testing.T) {
	open := storetest.Opener(t)
	apps := make([]*testApp, 2)
	for i := range apps {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		apps[i] = newTestAppOn(t, st)
	}
	a, b := apps[0], apps[1]
	_, value := a.apiToken(t, a.acc.ID, "Billing robot", "MOD-1756", "MOD-2210")
	for range 3 {
		if r := b.call(t, "GET", "/public/v1/auth/verify?module=MOD-2210", value, ""); r.status != 200 {
			t.Fatalf("warm-up on b = %d %s", r.status, r.body)
		}
	}
	ch, err := a.store.ChangeAccountModules(context.Background(), store.SystemActor, a.acc.ID, nil, []string{"MOD-2210"})
	if err != nil {
		t.Fatal(err)
	}
	if len(ch.Tokens) == 0 {
		t.Fatal("no token lost the module")
	}
	took := until(t, time.Second, "b stops granting the module the account lost", func() bool {
		return b.call(t, "GET", "/public/v1/auth/verify?module=MOD-2210", value, "").status == 403
	})
	t.Logf("%s: b honoured the account's module change after %v", storetest.Engine(), took)
	r := b.call(t, "GET", "/public/v1/auth/verify?module=MOD-1756", value, "")
	if r.status != 200 || strings.Contains(r.body, "MOD-2210") {
		t.Errorf("b's answer for the token's other module = %d %s", r.status, r.body)
	}
}

// feedBreaker is a store whose change log can be made unreadable, and whose
// token reads can be made to fail as an unreachable database does.
type feedBreaker struct {
	Store
	logDown, dbDown atomic.Bool
}

var errBroken = errors.New("broken for the test: " + store.ErrUnavailable.Error())

func (s *feedBreaker) TokenChangeHead(ctx context.Context) (int64, error) {
	if s.logDown.Load() {
		return 0, errBroken
	}
	return s.Store.TokenChangeHead(ctx)
}

func (s *feedBreaker) TokenChangesSince(ctx context.Context, after int64, limit int) ([]store.TokenChange, error) {
	if s.logDown.Load() {
		return nil, errBroken
	}
	return s.Store.TokenChangesSince(ctx, after, limit)
}

func (s *feedBreaker) TokenForAuth(ctx context.Context, id string) (store.AuthToken, error) {
	if s.dbDown.Load() {
		return store.AuthToken{}, store.ErrUnavailable
	}
	return s.Store.TokenForAuth(ctx, id)
}

// A replica that cannot read the change log stops answering from its cache
// within feedMaxLag: it reads the database, refuses when the database is
// down too, and says so on /readyz; when the log is back, it is ready again
// with an empty cache.
func TestFeedFailsClosed(t *testing.T) {
	var broken *feedBreaker
	app := newTestApp(t, func(s Store) Store { broken = &feedBreaker{Store: s}; return broken })
	tok, value := app.apiToken(t, app.acc.ID, "Closed", "MOD-1756")
	app.feedCaughtUp(t) // the creation is logged: let the feed pass it first
	probe := app.client(t)
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 200 {
		t.Fatalf("warm-up = %d", r.status)
	}
	// Disable the token behind the cache's back (no change log entry, as a
	// replica whose log entry was lost would see it): the cache still
	// answers 200, which shows it is the cache that answers.
	if _, err := app.store.DB().Exec(`UPDATE api_tokens SET status = 'Disabled' WHERE id = ?`, tok.ID); err != nil {
		t.Fatal(err)
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 200 {
		t.Fatalf("cached answer = %d, want the cached 200", r.status)
	}
	if r := probe.get("/readyz"); r.StatusCode != 200 {
		t.Fatalf("readyz while current = %d %s", r.StatusCode, r.body)
	}

	broken.logDown.Store(true)
	took := until(t, 2*time.Second, "verify reads the database", func() bool {
		return app.call(t, "GET", "/public/v1/auth/verify", value, "").status == 401
	})
	if took > time.Second {
		t.Errorf("the cache answered for %v after the log became unreadable; want under a second", took)
	}
	t.Logf("fail closed %v after the change log became unreadable (feedMaxLag %v)", took, feedMaxLag)
	if r := probe.get("/readyz"); r.StatusCode != 503 || !strings.Contains(r.body, "change log") {
		t.Errorf("readyz while behind = %d %q, want 503 naming the change log", r.StatusCode, r.body)
	}
	broken.dbDown.Store(true)
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 503 {
		t.Errorf("verify with the log and the database down = %d, want 503", r.status)
	}
	broken.dbDown.Store(false)

	// Back: ready again, and the cache starts empty, since the feed does
	// not know what it missed — the stale Active entry is gone, and the
	// token is read afresh (Disabled) and cached again.
	broken.logDown.Store(false)
	until(t, 2*time.Second, "ready again", func() bool { return probe.get("/readyz").StatusCode == 200 })
	if _, ok, _ := app.h.cache.get(tok.ID); ok {
		t.Error("the entry cached before the outage survived it")
	}
	if r := app.call(t, "GET", "/public/v1/auth/verify", value, ""); r.status != 401 {
		t.Errorf("verify after recovery = %d, want 401 (the token is Disabled in the database)", r.status)
	}
	if e, ok, _ := app.h.cache.get(tok.ID); !ok || e.Status != store.StatusDisabled {
		t.Error("the token was not cached again, as it is now, once the feed was current")
	}
}

// A cached token is read again once it is older than cacheMaxAge, whatever
// the change log says.
func TestCacheEntriesHaveAMaximumAge(t *testing.T) {
	c := newAuthCache(10)
	_, _, epoch := c.get("TKN-1")
	e := newAuthEntry(store.AuthToken{ID: "TKN-1", Status: store.StatusActive})
	c.put(e, epoch)
	if _, ok, _ := c.get("TKN-1"); !ok {
		t.Fatal("a fresh entry is not served")
	}
	e.read = time.Now().Add(-cacheMaxAge - time.Second)
	if _, ok, _ := c.get("TKN-1"); ok {
		t.Error("an entry older than cacheMaxAge is served")
	}
}

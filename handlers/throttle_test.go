package handlers

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/storetest"
)

// The login throttle is kept in the database, so a password spray spread
// over several replicas counts as one: failures sent to two handler stacks
// on one database add up, and the next attempt on either must wait.
func TestLoginThrottleSharedByReplicas(t *testing.T) {
	open := storetest.Opener(t)
	var replicas []*testApp
	for range 2 {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		app := newTestAppOn(t, st)
		app.clock.freeze()
		replicas = append(replicas, app)
	}
	for i := range store.EmailFreeFailures {
		r := replicas[i%2].client(t).login("operator@example.com", "wrong")
		if r.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d, on replica %d = %d, want 401", i+1, i%2+1, r.StatusCode)
		}
	}
	for i, app := range replicas {
		r := app.client(t).login("operator@example.com", store.DemoPassword)
		if r.StatusCode != http.StatusTooManyRequests || r.Header.Get("Retry-After") == "" {
			t.Errorf("replica %d after %d failures spread over both = %d (Retry-After %q), want 429",
				i+1, store.EmailFreeFailures, r.StatusCode, r.Header.Get("Retry-After"))
		}
	}
	// Once the back-off has passed, either lets the right password in,
	// and the success clears the count for both.
	for _, app := range replicas {
		app.clock.advance(2 * time.Second)
	}
	if r := replicas[1].client(t).login("operator@example.com", store.DemoPassword); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("after the back-off = %d, want 303", r.StatusCode)
	}
	if r := replicas[0].client(t).login("operator@example.com", "wrong"); r.StatusCode != http.StatusUnauthorized {
		t.Errorf("a failure after the success = %d, want 401 (the count starts again)", r.StatusCode)
	}
}

// A spray of failures at ever new keys grows the throttle only by the keys
// of the last hour: the periodic clean-up deletes the rest. It does not
// free a key that is being made to wait, nor wipe the count of an email
// that has failed a few times.
func TestThrottleStaysBounded(t *testing.T) {
	app := newTestApp(t)
	app.clock.freeze()
	ctx := context.Background()
	st := app.store
	// An old key with many failures: only its expiry may drop it.
	for range store.EmailFreeFailures + 3 {
		app.clock.advance(store.ThrottleMax)
		if _, err := st.AttemptLogin(ctx, "email:old@example.com"); err != nil {
			t.Fatal(err)
		}
	}
	app.clock.advance(store.ThrottleForget + time.Minute)

	victim := app.client(t)
	for range store.EmailFreeFailures {
		victim.login("operator@example.com", "wrong")
	}
	if r := victim.login("operator@example.com", store.DemoPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the victim's email after %d failures = %d, want 429", store.EmailFreeFailures, r.StatusCode)
	}
	for range 3 {
		app.client(t).login("viewer@example.com", "wrong")
	}
	const spray = 300
	for i := range spray {
		if _, err := st.AttemptLogin(ctx, fmt.Sprintf("ip:198.51.100.%d", i), fmt.Sprintf("email:spray%d@example.com", i)); err != nil {
			t.Fatal(err)
		}
	}

	if n, err := st.DeleteForgottenLoginFailures(ctx); err != nil || n != 1 {
		t.Errorf("clean-up deleted %d keys, %v; want the 1 expired", n, err)
	}
	// The spray's keys, the victim's, the probed email's and the test
	// client's address: the last hour's keys and no more.
	if n := throttleKeys(t, st); n != 2*spray+3 {
		t.Errorf("the throttle holds %d keys after the clean-up, want %d", n, 2*spray+3)
	}
	if th, _ := st.LoginThrottle(ctx, "email:old@example.com"); th.Failures != 0 {
		t.Errorf("an expired key outlived the clean-up: %+v", th)
	}
	if r := victim.login("operator@example.com", store.DemoPassword); r.StatusCode != http.StatusTooManyRequests {
		t.Errorf("the throttled email was freed during the spray: %d, want 429", r.StatusCode)
	}
	if th, _ := st.LoginThrottle(ctx, store.ThrottleEmailKey("viewer@example.com")); th.Failures != 3 {
		t.Errorf("an email's 3 failures were wiped by the spray: %+v", th)
	}

	// An hour on, everything is forgotten and deleted.
	app.clock.advance(store.ThrottleForget + time.Second)
	if _, err := st.DeleteForgottenLoginFailures(ctx); err != nil {
		t.Fatal(err)
	}
	if n := throttleKeys(t, st); n != 0 {
		t.Errorf("%d keys left an hour after their last failure, want 0", n)
	}
	if r := victim.login("operator@example.com", store.DemoPassword); r.StatusCode != http.StatusSeeOther {
		t.Errorf("the victim an hour later = %d, want 303", r.StatusCode)
	}
}

func throttleKeys(t *testing.T, st *sqldb.Store) int {
	t.Helper()
	var n int
	if err := st.DB().QueryRow(`SELECT COUNT(*) FROM login_throttle`).Scan(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

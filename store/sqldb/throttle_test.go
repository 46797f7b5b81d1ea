package sqldb_test

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/storetest"
)

// clock is a settable clock for stores in tests.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func newClock() *clock { return &clock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// attempt is AttemptLogin that fails the test on an error.
func attempt(t *testing.T, s *sqldb.Store, keys ...string) time.Duration {
	t.Helper()
	wait, err := s.AttemptLogin(context.Background(), keys...)
	if err != nil {
		t.Fatal(err)
	}
	return wait
}

func failures(t *testing.T, s *sqldb.Store, key string) int {
	t.Helper()
	th, err := s.LoginThrottle(context.Background(), key)
	if err != nil {
		t.Fatal(err)
	}
	return th.Failures
}

func TestLoginThrottle(t *testing.T) {
	ctx := context.Background()
	const email, ip = "email:ada@example.com", "ip:192.0.2.7"

	t.Run("BackOff", func(t *testing.T) {
		s, c := newTestStore(t), newClock()
		s.SetClock(c.Now)
		for i := range store.EmailFreeFailures {
			if wait := attempt(t, s, ip, email); wait != 0 {
				t.Fatalf("attempt %d waits %v, want 0", i+1, wait)
			}
		}
		// The fifth failure set a 1 s wait; the refused attempt records
		// nothing.
		for range 3 {
			if wait := attempt(t, s, ip, email); wait != time.Second {
				t.Fatalf("attempt after %d failures waits %v, want 1s", store.EmailFreeFailures, wait)
			}
		}
		if n := failures(t, s, email); n != store.EmailFreeFailures {
			t.Errorf("refused attempts were counted: %d failures, want %d", n, store.EmailFreeFailures)
		}
		// Each failure past the free ones doubles the wait.
		for _, want := range []time.Duration{2 * time.Second, 4 * time.Second, 8 * time.Second} {
			c.advance(time.Minute)
			if wait := attempt(t, s, ip, email); wait != 0 {
				t.Fatalf("attempt after the wait waits %v", wait)
			}
			if wait := attempt(t, s, ip, email); wait != want {
				t.Errorf("wait = %v, want %v", wait, want)
			}
		}
		// The address has more free failures: another email from it is
		// let in.
		if wait := attempt(t, s, ip, "email:grace@example.com"); wait != 0 {
			t.Errorf("another email from the address waits %v", wait)
		}
		// Capped at five minutes.
		for range 12 {
			c.advance(store.ThrottleMax)
			attempt(t, s, email)
		}
		if wait := attempt(t, s, email); wait != store.ThrottleMax {
			t.Errorf("wait after many failures = %v, want %v", wait, store.ThrottleMax)
		}
		// Failures are forgotten an hour after the last one.
		c.advance(store.ThrottleForget + time.Second)
		if wait := attempt(t, s, email); wait != 0 {
			t.Errorf("wait an hour after the last failure = %v", wait)
		}
		if n := failures(t, s, email); n != 1 {
			t.Errorf("an hour later the count went on: %d failures, want 1", n)
		}
	})

	t.Run("IPv6Block", func(t *testing.T) {
		s, c := newTestStore(t), newClock()
		s.SetClock(c.Now)
		for i := range store.IPFreeFailures {
			// A new email and a new address of the same /64 each time.
			attempt(t, s, store.ThrottleIPKey(fmt.Sprintf("2001:db8:1:2::%x", i+1)), fmt.Sprintf("email:u%d@example.com", i))
		}
		if wait := attempt(t, s, store.ThrottleIPKey("2001:db8:1:2:ffff::1"), "email:new@example.com"); wait != time.Second {
			t.Errorf("the /64's %dth attempt waits %v, want 1s", store.IPFreeFailures+1, wait)
		}
		if wait := attempt(t, s, store.ThrottleIPKey("2001:db8:1:3::1"), "email:new@example.com"); wait != 0 {
			t.Errorf("the next /64 waits %v", wait)
		}
	})

	t.Run("SuccessForgives", func(t *testing.T) {
		s, c := newTestStore(t), newClock()
		s.SetClock(c.Now)
		for range store.EmailFreeFailures - 1 {
			attempt(t, s, ip, email)
		}
		attempt(t, s, ip, email) // the right password, as it turns out
		if err := s.ForgiveLogin(ctx, []string{email}, []string{ip}); err != nil {
			t.Fatal(err)
		}
		if n := failures(t, s, email); n != 0 {
			t.Errorf("a success left the email %d failures", n)
		}
		if n := failures(t, s, ip); n != store.EmailFreeFailures-1 {
			t.Errorf("a success left the address %d failures, want %d", n, store.EmailFreeFailures-1)
		}
		if wait := attempt(t, s, ip, email); wait != 0 {
			t.Errorf("after a success the email waits %v", wait)
		}
		// An attempt whose password could not be checked counts against
		// no one.
		if err := s.ForgiveLogin(ctx, nil, []string{ip, email}); err != nil {
			t.Fatal(err)
		}
		if a, b := failures(t, s, email), failures(t, s, ip); a != 0 || b != store.EmailFreeFailures-1 {
			t.Errorf("forgiven: email %d, address %d failures; want 0 and %d", a, b, store.EmailFreeFailures-1)
		}
		// Keys with nothing recorded are no error.
		if err := s.ForgiveLogin(ctx, []string{"email:nobody@example.com"}, []string{"ip:198.51.100.1"}); err != nil {
			t.Error(err)
		}
	})

	t.Run("Parallel", func(t *testing.T) {
		// Two stores on one database, as two replicas: of 24 attempts at
		// once only the free ones get through.
		open := storetest.Opener(t)
		var stores []*sqldb.Store
		for range 2 {
			s, err := open()
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { s.Close() })
			stores = append(stores, s)
		}
		var mu sync.Mutex
		var let int
		var wg sync.WaitGroup
		for i := range 24 {
			wg.Go(func() {
				wait, err := stores[i%2].AttemptLogin(ctx, fmt.Sprintf("ip:192.0.2.%d", i), email)
				if err != nil {
					t.Error(err)
					return
				}
				if wait == 0 {
					mu.Lock()
					let++
					mu.Unlock()
				}
			})
		}
		wg.Wait()
		if let != store.EmailFreeFailures {
			t.Errorf("%d of 24 parallel attempts let in, want %d", let, store.EmailFreeFailures)
		}
		if n := failures(t, stores[0], email); n != store.EmailFreeFailures {
			t.Errorf("%d failures recorded, want %d", n, store.EmailFreeFailures)
		}
	})

	t.Run("CleanUp", func(t *testing.T) {
		s, c := newTestStore(t), newClock()
		s.SetClock(c.Now)
		for range store.EmailFreeFailures + 3 {
			c.advance(store.ThrottleMax)
			attempt(t, s, "email:old@example.com")
		}
		c.advance(store.ThrottleForget - time.Minute)
		attempt(t, s, "email:recent@example.com")
		c.advance(2 * time.Minute)
		n, err := s.DeleteForgottenLoginFailures(ctx)
		if err != nil || n != 1 {
			t.Errorf("DeleteForgottenLoginFailures = %d, %v; want 1", n, err)
		}
		if th, err := s.LoginThrottle(ctx, "email:old@example.com"); err != nil || th.Failures != 0 {
			t.Errorf("the forgotten key is still there: %+v, %v", th, err)
		}
		if n := failures(t, s, "email:recent@example.com"); n != 1 {
			t.Errorf("the recent key has %d failures after the clean-up, want 1", n)
		}
	})
}

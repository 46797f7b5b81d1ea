package sqldb_test

import (
	"context"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/store/sqldb"
	"gatehouse/store/storetest"
)

// Processes on one database claiming the same job in the same interval: one
// gets it. After the interval, one gets it again.
func TestClaimJob(t *testing.T) {
	ctx := context.Background()
	open := storetest.Opener(t)
	c := newClock()
	var stores []*sqldb.Store
	for range 4 {
		s, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		s.SetClock(c.Now)
		stores = append(stores, s)
	}
	// claims has every store claim the job at once, each 3 times, and
	// returns how many claims succeeded.
	claims := func(name string, interval time.Duration) int {
		var n atomic.Int32
		var wg sync.WaitGroup
		for _, s := range stores {
			for range 3 {
				wg.Go(func() {
					ok, err := s.ClaimJob(ctx, name, interval)
					if err != nil {
						t.Error(err)
					}
					if ok {
						n.Add(1)
					}
				})
			}
		}
		wg.Wait()
		return int(n.Load())
	}
	const interval = 10 * time.Minute
	for _, step := range []struct {
		name    string
		advance time.Duration
		want    int
	}{
		{"first claims ever", 0, 1},
		{"same instant", 0, 0},
		{"within the interval", interval - time.Second, 0},
		{"after the interval", time.Second, 1},
		{"just after that run", time.Second, 0},
		{"long after", 5 * interval, 1},
	} {
		c.advance(step.advance)
		if got := claims("sweep-sessions", interval); got != step.want {
			t.Errorf("%s: %d of 12 claims won, want %d", step.name, got, step.want)
		}
	}
	// Jobs are claimed apart: another job is due on its own interval.
	if got := claims("log-audit-head", time.Hour); got != 1 {
		t.Errorf("another job's first claims: %d won, want 1", got)
	}
	c.advance(interval)
	if got := claims("log-audit-head", time.Hour); got != 0 {
		t.Errorf("the hourly job after 10 minutes: %d claims won, want 0", got)
	}
	if got := claims("sweep-sessions", interval); got != 1 {
		t.Errorf("the 10-minute job after 10 minutes: %d claims won, want 1", got)
	}
}

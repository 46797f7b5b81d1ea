package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/storetest"
)

// Every change that can alter a verify answer is in the change log, in the
// order made; changes that cannot (a new token, a description) are not.
func TestTokenChangeLog(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	head, err := f.s.TokenChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	a, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "A", ModuleIDs: []string{"MOD-1756"}})
	if err != nil {
		t.Fatal(err)
	}
	b, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "B"})
	if err != nil {
		t.Fatal(err)
	}
	logged := func() []string {
		t.Helper()
		changes, err := f.s.TokenChangesSince(ctx, head, 100)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for i, c := range changes {
			if c.Seq <= head || (i > 0 && c.Seq <= changes[i-1].Seq) {
				t.Errorf("seq %d after %d", c.Seq, head)
			}
			ids = append(ids, c.TokenID)
		}
		return ids
	}
	// Creating a token is logged too: a replica asked for the id before it
	// existed remembers it as absent until the log names it.
	if got := logged(); !slices.Equal(got, []string{a.ID, b.ID}) {
		t.Errorf("creating tokens logged %v, want %v", got, []string{a.ID, b.ID})
	}
	steps := []struct {
		name   string
		change func() error
		want   []string
	}{
		{"disable", func() error { _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, a.ID, 0, ""); return err }, []string{a.ID}},
		{"description only", func() error {
			_, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, b.ID, 0, store.TokenUpdate{Name: "B", Description: "new words"})
			return err
		}, nil},
		{"rename", func() error {
			_, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, b.ID, 0, store.TokenUpdate{Name: "B2", Description: "new words"})
			return err
		}, []string{b.ID}},
		{"modules", func() error {
			_, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, b.ID, 0, store.TokenUpdate{Name: "B2", Description: "new words", ModuleIDs: []string{"MOD-2210"}})
			return err
		}, []string{b.ID}},
		{"enable", func() error { _, err := f.s.EnableToken(ctx, f.actor, f.acc.ID, a.ID, 0); return err }, []string{a.ID}},
		{"refused transition", func() error {
			if _, err := f.s.EnableToken(ctx, f.actor, f.acc.ID, a.ID, 0); !errors.Is(err, store.ErrInvalidTransition) {
				return fmt.Errorf("enable of an active token: %v", err)
			}
			return nil
		}, nil},
		{"delete", func() error { return f.s.DeleteToken(ctx, f.actor, f.acc.ID, a.ID, 0) }, []string{a.ID}},
	}
	want := []string{a.ID, b.ID}
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		want = append(want, s.want...)
		if got := logged(); !slices.Equal(got, want) {
			t.Errorf("after %s the log holds %v, want %v", s.name, got, want)
		}
	}
	newHead, err := f.s.TokenChangeHead(ctx)
	if err != nil || newHead <= head {
		t.Errorf("head %d, %v; want past %d", newHead, err, head)
	}
	if changes, err := f.s.TokenChangesSince(ctx, head, 2); err != nil || len(changes) != 2 {
		t.Errorf("a limit of 2 returned %d, %v", len(changes), err)
	}

	// Pruning drops old entries only, and the head never goes back for
	// those who already follow it.
	f.s.SetClock(func() time.Time { return time.Now().Add(2 * time.Hour) })
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, b.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	n, err := f.s.PruneTokenChanges(ctx, time.Now().Add(time.Hour))
	if err != nil || n != int64(len(want)) {
		t.Errorf("pruned %d, %v; want the %d older entries", n, err, len(want))
	}
	if changes, err := f.s.TokenChangesSince(ctx, newHead, 100); err != nil || len(changes) != 1 || changes[0].TokenID != b.ID {
		t.Errorf("after pruning: %+v, %v; want the newest change", changes, err)
	}
}

// A reader that follows the log while many writers change tokens sees every
// entry: entries commit in the order of their seq, so reading "after the
// last seen" never skips one that committed late.
func TestTokenChangeLogHasNoLateEntries(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const writers, steps = 6, 30
	var ids []string
	for i := range writers {
		tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: fmt.Sprintf("W%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	start, err := f.s.TokenChangeHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	var seen []int64
	var readErr error
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		applied := start
		for {
			finished := false
			select {
			case <-done:
				finished = true
			default:
			}
			changes, err := f.s.TokenChangesSince(ctx, applied, 1000)
			if err != nil {
				readErr = err
				return
			}
			for _, c := range changes {
				seen = append(seen, c.Seq)
				applied = c.Seq
			}
			if finished {
				return
			}
		}
	}()
	errs := make(chan error, writers)
	for i, id := range ids {
		go func() {
			for j := range steps {
				// Renames: nothing but the audit chain's lock orders them
				// (a status change also locks the account's count rows).
				_, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, id, 0, store.TokenUpdate{Name: fmt.Sprintf("W%d step %d", i, j)})
				if err != nil {
					errs <- fmt.Errorf("writer %d step %d: %w", i, j, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range ids {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	close(done)
	wg.Wait()
	if readErr != nil {
		t.Fatal(readErr)
	}
	all, err := f.s.TokenChangesSince(ctx, start, 10_000)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != writers*steps {
		t.Errorf("the log holds %d entries, want %d", len(all), writers*steps)
	}
	var want []int64
	for _, c := range all {
		want = append(want, c.Seq)
	}
	if !slices.Equal(seen, want) {
		t.Errorf("the reader saw %d entries, the log holds %d: an entry committed after a later seq was read", len(seen), len(want))
	}
}

// On PostgreSQL a committed change (a creation too) wakes the watchers; a
// rolled-back one, a last-access flush and an audit-only write do not.
func TestWatchTokenChanges(t *testing.T) {
	f := newFixture(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	wakes := make(chan struct{}, 100)
	listening := make(chan struct{})
	stopped := make(chan error, 1)
	go func() {
		stopped <- f.s.WatchTokenChanges(ctx, func() { close(listening) }, func() { wakes <- struct{}{} })
	}()
	if storetest.Engine() != "postgres" {
		if err := <-stopped; !errors.Is(err, store.ErrNoWatch) {
			t.Fatalf("SQLite's watch: %v, want ErrNoWatch", err)
		}
		return
	}
	select {
	case <-listening:
	case err := <-stopped:
		t.Fatalf("watch stopped: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("the watch never started listening")
	}
	tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Watched"})
	if err != nil {
		t.Fatal(err)
	}
	// A creation wakes them (a replica may remember the id as absent).
	select {
	case <-wakes:
	case <-time.After(5 * time.Second):
		t.Fatal("the creation woke no one")
	}
	if err := f.s.RecordAccesses(ctx, []store.Access{{TokenID: tok.ID, At: time.Now(), IP: "192.0.2.7"}}); err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.UpdateToken(ctx, f.actor, f.acc.ID, tok.ID, 0, store.TokenUpdate{Name: "Watched", Description: "words"}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wakes:
		t.Fatal("woken by a change that alters no verify answer")
	case <-time.After(300 * time.Millisecond):
	}
	start := time.Now()
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	select {
	case <-wakes:
		t.Logf("woken %v after the disable returned", time.Since(start))
	case <-time.After(5 * time.Second):
		t.Fatal("the disable woke no one")
	}
	cancel()
	if err := <-stopped; err == nil {
		t.Error("the watch ended without saying why")
	}
}

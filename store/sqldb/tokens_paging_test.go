package sqldb_test

import (
	"context"
	"fmt"
	"gatehouse/store"
	"gatehouse/store/sqlite"
	"slices"
	"testing"
	"time"
)

// wantCountsInStep fails the test unless the counts table holds, for every
// account and status, exactly the number of tokens in api_tokens.
func wantCountsInStep(t *testing.T, s *sqlite.Store) {
	t.Helper()
	var bad int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM (
		SELECT account_id, status, COUNT(*) AS n FROM api_tokens GROUP BY account_id, status
		EXCEPT SELECT account_id, status, n FROM api_token_counts WHERE n != 0) AS miscounted`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	var extra int
	if err := s.DB().QueryRow(`SELECT COUNT(*) FROM api_token_counts c WHERE n != (SELECT COUNT(*) FROM api_tokens t
		WHERE t.account_id = c.account_id AND t.status = c.status)`).Scan(&extra); err != nil {
		t.Fatal(err)
	}
	if bad != 0 || extra != 0 {
		t.Errorf("api_token_counts is out of step with api_tokens: %d groups miscounted, %d rows wrong", bad, extra)
	}
}

func TestTokenCountsFollowEveryChange(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seedTokens(t, f.s, f.acc.ID, 30)
	wantCountsInStep(t, f.s)
	tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Counted"})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.other.ID, store.NewToken{Name: "Elsewhere"}); err != nil {
		t.Fatal(err)
	}
	wantCountsInStep(t, f.s)
	if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, 0, "why"); err != nil {
		t.Fatal(err)
	}
	wantCountsInStep(t, f.s)
	if _, err := f.s.EnableToken(ctx, f.actor, f.acc.ID, tok.ID, 0); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, tok.ID, 0); err != nil {
		t.Fatal(err)
	}
	wantCountsInStep(t, f.s)
	for _, c := range []struct {
		status string
		want   int
	}{{"", 30}, {store.StatusActive, 20}, {store.StatusDisabled, 10}} {
		page, err := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Status: c.status, Limit: 1})
		if err != nil {
			t.Fatal(err)
		}
		if page.Total != c.want {
			t.Errorf("status %q: total %d, want %d (the deleted token is not counted)", c.status, page.Total, c.want)
		}
	}
	// The bulk seed sets the triggers aside and counts itself.
	if err := f.s.BulkSeed(ctx, f.sealer, f.other.ID, 50, 60, nil); err != nil {
		t.Fatal(err)
	}
	wantCountsInStep(t, f.s)
}

// TestListTokensPagesFromEitherEnd checks that pages in the second half of
// the list, which are read from its end in the opposite order, are the same
// as reading the whole list from the start: for every order, direction,
// page size and filter.
func TestListTokensPagesFromEitherEnd(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seedTokens(t, f.s, f.acc.ID, 47)
	for _, order := range []store.TokenOrder{store.OrderName, store.OrderCreated, store.OrderLastAccess, store.OrderStatus} {
		for _, desc := range []bool{false, true} {
			for _, filter := range []store.TokenQuery{{}, {Status: store.StatusDisabled}, {Module: "MOD-1756"}, {Search: "Token 0002"}} {
				q := filter
				q.Order, q.Desc, q.Limit = order, desc, 1000
				all, err := f.s.ListTokens(ctx, f.acc.ID, q)
				if err != nil {
					t.Fatal(err)
				}
				want := names(all.Tokens)
				for _, size := range []int{5, 10, 7} {
					var got []string
					for offset := 0; offset < all.Total; offset += size {
						q.Offset, q.Limit = offset, size
						page, err := f.s.ListTokens(ctx, f.acc.ID, q)
						if err != nil {
							t.Fatal(err)
						}
						if page.Total != all.Total {
							t.Fatalf("total %d at offset %d, want %d", page.Total, offset, all.Total)
						}
						got = append(got, names(page.Tokens)...)
					}
					if !slices.Equal(got, want) {
						t.Errorf("%s desc=%v %+v in pages of %d:\n got %v\nwant %v", order, desc, filter, size, got, want)
					}
				}
			}
		}
	}
}

func TestRecountTokensRepairsDrift(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	seedTokens(t, f.s, f.acc.ID, 12)
	if n, err := f.s.RecountTokens(ctx); err != nil || n != 0 {
		t.Fatalf("recount of counts in step = %d, %v; want 0", n, err)
	}
	// Writes behind the triggers' back: a wrong count, a missing one, and
	// one for tokens that do not exist.
	for _, q := range []string{
		`UPDATE api_token_counts SET n = n + 5 WHERE status = 'Active'`,
		`DELETE FROM api_token_counts WHERE status = 'Disabled'`,
		`INSERT INTO api_token_counts (account_id, status, n) VALUES ('ACC-0000-0000', 'Active', 3)`,
	} {
		if _, err := f.s.DB().Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	n, err := f.s.RecountTokens(ctx)
	if err != nil || n != 3 {
		t.Errorf("recount = %d, %v; want the 3 wrong counts", n, err)
	}
	wantCountsInStep(t, f.s)
	page, err := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Limit: 5, Offset: 10})
	if err != nil || page.Total != 12 || len(page.Tokens) != 2 {
		t.Errorf("after the recount the last page has %d of %d tokens, %v; want 2 of 12", len(page.Tokens), page.Total, err)
	}
}

// Tokens enabled and disabled at once, in opposite directions, never fail
// one another: on PostgreSQL each transition touches two count rows, and
// two transactions that took them in opposite orders would deadlock.
func TestConcurrentOppositeTransitions(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	const workers = 6
	var ids []string
	for i := range workers {
		tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: fmt.Sprintf("Toggle %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		if i%2 == 1 { // half start Disabled, so the two directions run side by side
			if _, err := f.s.DisableToken(ctx, f.actor, f.acc.ID, tok.ID, 0, ""); err != nil {
				t.Fatal(err)
			}
		}
		ids = append(ids, tok.ID)
	}
	errs := make(chan error, workers)
	for i, id := range ids {
		go func() {
			for j := range 40 {
				var err error
				if (i+j)%2 == 0 {
					_, err = f.s.DisableToken(ctx, f.actor, f.acc.ID, id, 0, "")
				} else {
					_, err = f.s.EnableToken(ctx, f.actor, f.acc.ID, id, 0)
				}
				if err != nil {
					errs <- fmt.Errorf("%s, step %d: %w", id, j, err)
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
	wantCountsInStep(t, f.s)
	if res, err := f.s.VerifyAudit(ctx); err != nil || res.BadID != "" {
		t.Errorf("chain after the storm: %+v, %v", res, err)
	}
}

// Two processes flushing last access for the same tokens, each in its own
// order, never deadlock each other (PostgreSQL would kill one with 40P01).
func TestConcurrentAccessFlushes(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	var ids []string
	for i := range 8 {
		tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: fmt.Sprintf("Flushed %d", i)})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, tok.ID)
	}
	errs := make(chan error, 2)
	for w := range 2 {
		go func() {
			for j := range 60 {
				var batch []store.Access
				for k := range ids {
					id := ids[k]
					if w == 1 {
						id = ids[len(ids)-1-k] // the other process, the other way round
					}
					batch = append(batch, store.Access{TokenID: id, At: f.s.Now().Add(time.Duration(j) * time.Millisecond), IP: "192.0.2.9", UserAgent: "flush"})
				}
				if err := f.s.RecordAccesses(ctx, batch); err != nil {
					errs <- fmt.Errorf("flusher %d, batch %d: %w", w, j, err)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 2 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}

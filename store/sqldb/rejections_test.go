package sqldb_test

import (
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/storetest"
)

// Refused calls counted by several processes for one token and minute get
// one audit record, written by whichever records first; calls counted after
// their minute was recorded get a record of their own, marked late.
func TestRejectionsFromManyReplicasMakeOneRecord(t *testing.T) {
	open := storetest.Opener(t)
	var replicas [3]*fixture
	first := newFixtureOn(t, open)
	replicas[0] = &first
	for i := 1; i < len(replicas); i++ {
		s, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		f := first
		f.s = s
		replicas[i] = &f
	}
	ctx := context.Background()
	tok, _, err := first.s.CreateToken(ctx, first.sealer, first.actor, first.acc.ID, store.NewToken{Name: "Refused"})
	if err != nil {
		t.Fatal(err)
	}
	minute := time.Now().UTC().Truncate(time.Minute).Add(-10 * time.Minute)
	for i, f := range replicas {
		if err := f.s.RecordRejections(ctx, []store.Rejection{{TokenID: tok.ID, Minute: minute, Count: i + 2, Status: store.StatusDisabled, IP: "192.0.2.9"}}); err != nil {
			t.Fatal(err)
		}
	}
	// Not over (with the grace) yet: nothing.
	if n, err := first.s.RecordPendingRejections(ctx, minute.Add(time.Minute+store.RejectionGrace-time.Second)); err != nil || n != 0 {
		t.Fatalf("recorded %d, %v before the grace ended", n, err)
	}
	// Every replica records at once: one record of 2+3+4 calls.
	var wg sync.WaitGroup
	written := make([]int, len(replicas))
	for i, f := range replicas {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n, err := f.s.RecordPendingRejections(ctx, time.Now())
			if err != nil {
				t.Error(err)
			}
			written[i] = n
		}()
	}
	wg.Wait()
	records := rejectedRecords(t, first, tok.ID)
	if len(records) != 1 || records[0].Count != 9 || records[0].Late || written[0]+written[1]+written[2] != 1 {
		t.Fatalf("records %+v (written %v); want one of 9 calls", records, written)
	}
	// A replica that could not flush for a while reports late.
	if err := replicas[2].s.RecordRejections(ctx, []store.Rejection{{TokenID: tok.ID, Minute: minute, Count: 5, Status: store.StatusDisabled}}); err != nil {
		t.Fatal(err)
	}
	if n, err := replicas[1].s.RecordPendingRejections(ctx, time.Now()); err != nil || n != 1 {
		t.Fatalf("late count: recorded %d, %v; want 1", n, err)
	}
	records = rejectedRecords(t, first, tok.ID)
	if len(records) != 2 || records[1].Count != 5 || !records[1].Late || !strings.Contains(records[1].Summary, "reported late") {
		t.Errorf("after the late count: %+v", records)
	}
	if n, err := first.s.RecordPendingRejections(ctx, time.Now()); err != nil || n != 0 {
		t.Errorf("nothing left, yet recorded %d, %v", n, err)
	}
	if res, err := first.s.VerifyAudit(ctx); err != nil || res.BadID != "" {
		t.Errorf("chain: %+v, %v", res, err)
	}
}

type rejectedRecord struct {
	Count   int
	Late    bool
	Summary string
}

func rejectedRecords(t *testing.T, f fixture, tokenID string) []rejectedRecord {
	t.Helper()
	rows, err := f.s.DB().Query(`SELECT summary, details FROM audit_records WHERE object_id = ? AND event = ? ORDER BY seq`, tokenID, store.EventTokenRejected)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out []rejectedRecord
	for rows.Next() {
		var r rejectedRecord
		var details string
		if err := rows.Scan(&r.Summary, &details); err != nil {
			t.Fatal(err)
		}
		if err := json.Unmarshal([]byte(details), &r); err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

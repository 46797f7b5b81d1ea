package store

import (
	"context"
	"os"
	"strconv"
	"testing"
	"time"
)

// Temporary: profile BulkSeed at full size. Deleted before finishing.
func TestBulkProfTmp(t *testing.T) {
	if os.Getenv("BULKPROF") == "" {
		t.Skip()
	}
	tok, _ := strconv.Atoi(os.Getenv("BULKPROF_TOKENS"))
	aud, _ := strconv.Atoi(os.Getenv("BULKPROF_AUDIT"))
	f := newFixture(t)
	ctx := context.Background()
	start := time.Now()
	last := start
	err := f.s.BulkSeed(ctx, f.sealer, f.acc.ID, tok, aud, func(a, b int) {
		if time.Since(last) > 2*time.Second || (a == tok && b == tok) {
			t.Logf("%d %d %s", a, b, time.Since(start))
			last = time.Now()
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("seed %s", time.Since(start))
	t0 := time.Now()
	f.s.Close()
	t.Logf("close %s", time.Since(t0))
}

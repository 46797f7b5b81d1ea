package store

import (
	"context"
	"testing"
	"time"
)

func TestJMTmp(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	// open a second connection in the pool and keep it idle
	c1, _ := f.s.db.Conn(ctx)
	c2, _ := f.s.db.Conn(ctx)
	var n int
	c2.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens`).Scan(&n)
	c2.Close()
	t.Logf("open conns %d", f.s.db.Stats().OpenConnections)
	start := time.Now()
	var mode string
	err := c1.QueryRowContext(ctx, `PRAGMA journal_mode = TRUNCATE`).Scan(&mode)
	t.Logf("switch: %q %v %s", mode, err, time.Since(start))
	// now a reader on another connection mid-way
	c3, _ := f.s.db.Conn(ctx)
	err = c3.QueryRowContext(ctx, `SELECT count(*) FROM api_tokens`).Scan(&n)
	t.Logf("reader: %v", err)
	var m3 string
	c3.QueryRowContext(ctx, `PRAGMA journal_mode`).Scan(&m3)
	t.Logf("reader mode %q", m3)
	c3.Close()
	err = c1.QueryRowContext(ctx, `PRAGMA journal_mode = WAL`).Scan(&mode)
	t.Logf("back: %q %v", mode, err)
	c1.Close()
}

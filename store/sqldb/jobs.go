package sqldb

import (
	"context"
	"time"
)

// ClaimJob claims the named background job for one run, when no process on
// the database has run it within interval, and reports whether it did: the
// job is run once per cluster, not once per replica. The first claim of a
// job creates its row (INSERT … ON CONFLICT DO NOTHING); later ones move
// its last run to now only from at least interval ago (a conditional
// UPDATE), so of processes claiming at once exactly one changes the row —
// on PostgreSQL the others wait for its row lock and then find the
// condition false. Each statement is atomic on its own: no transaction, and
// nothing to fail halfway on either engine.
func (s *Store) ClaimJob(ctx context.Context, name string, interval time.Duration) (bool, error) {
	now := s.now()
	created, err := inserted(s.db.ExecContext(ctx, `INSERT INTO jobs (name, last_run_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING`, name, now))
	if err != nil || created {
		return created, err
	}
	res, err := s.db.ExecContext(ctx, `UPDATE jobs SET last_run_at = ? WHERE name = ? AND last_run_at <= ?`, now, name, now.Add(-interval))
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n == 1, err
}

package sqldb

import (
	"context"
	"database/sql"
	"slices"
	"strings"
	"time"

	"gatehouse/store"
)

// AttemptLogin reserves a login attempt for its throttle keys
// (store.ThrottleEmailKey, store.ThrottleIPKey). When any key must still
// wait it returns how long, and records nothing. Otherwise it records the
// attempt as a failure of every key, before the password is checked, and
// returns 0; ForgiveLogin takes the failure back when the attempt turns out
// not to be one. Check and record are one transaction holding the keys'
// rows, so that parallel attempts, in this process or in another on the
// same database, cannot all slip through.
func (s *Store) AttemptLogin(ctx context.Context, keys ...string) (time.Duration, error) {
	keys = throttleKeys(keys)
	if len(keys) == 0 {
		return 0, nil
	}
	now := s.now()
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	// Every key gets a row to lock. On PostgreSQL a failed statement aborts
	// the transaction, so the rows are created with INSERT … ON CONFLICT DO
	// NOTHING, which does not fail where a row exists. They go in in key
	// order, the order they are locked in below, so that attempts creating
	// the same new keys wait for each other instead of deadlocking.
	q := `INSERT INTO login_throttle (key, failures, last_failure_at) VALUES ` +
		strings.Repeat("(?, 0, ?), ", len(keys)-1) + `(?, 0, ?) ON CONFLICT (key) DO NOTHING`
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, now)
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		return 0, err
	}
	held, err := s.lockThrottle(ctx, tx, keys)
	if err != nil {
		return 0, err
	}
	var wait time.Duration
	for _, k := range keys {
		wait = max(wait, held[k].Wait(now))
	}
	if wait > 0 {
		return wait, nil // the rollback takes back the rows inserted above
	}
	for _, k := range keys {
		if err := s.writeThrottle(ctx, tx, k, held[k].Fail(k, now)); err != nil {
			return 0, err
		}
	}
	return 0, tx.Commit()
}

// ForgiveLogin takes back the failure AttemptLogin recorded for an attempt
// that was not one: each key in forget loses all its failures (a successful
// login clears its email's count), each key in forgiveOne loses one (a
// successful login from an address does not count against it; an attempt
// whose password could not be checked counts against no one).
func (s *Store) ForgiveLogin(ctx context.Context, forget, forgiveOne []string) error {
	keys := throttleKeys(append(slices.Clone(forget), forgiveOne...))
	if len(keys) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	held, err := s.lockThrottle(ctx, tx, keys)
	if err != nil {
		return err
	}
	for _, k := range keys {
		th, ok := held[k]
		if !ok {
			continue
		}
		keep := false
		if !slices.Contains(forget, k) {
			th, keep = th.Forgive()
		}
		if keep {
			err = s.writeThrottle(ctx, tx, k, th)
		} else {
			_, err = tx.ExecContext(ctx, `DELETE FROM login_throttle WHERE key = ?`, k)
		}
		if err != nil {
			return err
		}
	}
	return tx.Commit()
}

// DeleteForgottenLoginFailures deletes the throttle keys whose last failure
// is too old to count (store.ThrottleForget) and reports how many went: the
// periodic clean-up that bounds the table a spray of failed logins from many
// addresses at many emails would grow.
func (s *Store) DeleteForgottenLoginFailures(ctx context.Context) (int64, error) {
	res, err := s.db.ExecContext(ctx, `DELETE FROM login_throttle WHERE last_failure_at < ?`,
		store.ThrottleForgottenBefore(s.now()))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// LoginThrottle returns what is remembered of a throttle key (the zero
// Throttle when nothing is), for tests and inspection.
func (s *Store) LoginThrottle(ctx context.Context, key string) (store.Throttle, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT key, failures, last_failure_at, wait_until FROM login_throttle WHERE key = ?`, key)
	if err != nil {
		return store.Throttle{}, err
	}
	held, err := scanThrottle(rows)
	return held[key], err
}

// throttleKeys is keys sorted and without repeats: the order every
// transaction locks them in.
func throttleKeys(keys []string) []string {
	keys = slices.Clone(keys)
	slices.Sort(keys)
	return slices.Compact(keys)
}

// lockThrottle reads the rows of keys (sorted), locking them in that order
// until tx ends. A key without a row is missing from the map.
func (s *Store) lockThrottle(ctx context.Context, tx *Tx, keys []string) (map[string]store.Throttle, error) {
	args := make([]any, len(keys))
	for i, k := range keys {
		args[i] = k
	}
	rows, err := tx.QueryContext(ctx, `SELECT key, failures, last_failure_at, wait_until FROM login_throttle
		WHERE key IN (?`+strings.Repeat(", ?", len(keys)-1)+`) ORDER BY key`+s.d.ForUpdate(), args...)
	if err != nil {
		return nil, err
	}
	return scanThrottle(rows)
}

func scanThrottle(rows *Rows) (map[string]store.Throttle, error) {
	defer rows.Close()
	held := map[string]store.Throttle{}
	for rows.Next() {
		var key string
		var th store.Throttle
		var until sql.NullTime
		if err := rows.Scan(&key, &th.Failures, &th.LastFailure, &until); err != nil {
			return nil, err
		}
		th.Until = until.Time
		held[key] = th
	}
	return held, rows.Err()
}

// writeThrottle stores th as key's row. It upserts: on PostgreSQL the
// clean-up may delete a forgotten row between AttemptLogin's insert (which
// found it there) and its lock (which then finds nothing, a fresh key).
func (s *Store) writeThrottle(ctx context.Context, tx *Tx, key string, th store.Throttle) error {
	var until sql.NullTime
	if !th.Until.IsZero() {
		until = sql.NullTime{Time: th.Until, Valid: true}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO login_throttle (key, failures, last_failure_at, wait_until) VALUES (?, ?, ?, ?)
		ON CONFLICT (key) DO UPDATE SET failures = excluded.failures, last_failure_at = excluded.last_failure_at,
		wait_until = excluded.wait_until`, key, th.Failures, th.LastFailure, until)
	return err
}

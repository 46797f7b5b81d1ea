package sqldb

import (
	"context"
	"gatehouse/store"
	"slices"
	"strings"
)

// RecordAccesses stores the latest access of each token in one transaction.
// An access older than the one stored is ignored, so batches may arrive out
// of order.
func (s *Store) RecordAccesses(ctx context.Context, accesses []store.Access) error {
	if len(accesses) == 0 {
		return nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// Rows in one order (by id) on every process: two replicas flushing the
	// same tokens in opposite orders would deadlock on PostgreSQL.
	accesses = slices.SortedFunc(slices.Values(accesses), func(a, b store.Access) int { return strings.Compare(a.TokenID, b.TokenID) })
	for _, a := range accesses {
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens
			SET last_access_at = ?, last_access_ip = ?, last_access_agent = ?
			WHERE id = ? AND (last_access_at IS NULL OR last_access_at < ?)`,
			a.At.UTC(), store.CleanText(a.IP), store.CleanUserAgent(a.UserAgent), a.TokenID, a.At.UTC()); err != nil {
			return err
		}
	}
	return tx.Commit()
}

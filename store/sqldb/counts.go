package sqldb

import (
	"context"
	"fmt"
)

// RecountTokens checks the token counts that the triggers of migration 0002
// keep (api_token_counts, which the list's row count and its paging from the
// end rely on) against the tokens themselves, and rebuilds them if they
// disagree. It returns how many (account, status) counts were wrong: 0 unless
// something wrote to api_tokens behind the triggers' back. The server runs it
// at start; it reads every token once (tens of milliseconds at 100 000).
func (s *Store) RecountTokens(ctx context.Context) (int, error) {
	// The (account, status) pairs whose count is missing, wrong, or kept
	// for tokens that do not exist: the two differences of the true counts
	// and the kept ones. The tokens are read once.
	const drift = `WITH actual AS (SELECT account_id, status, COUNT(*) AS n FROM api_tokens GROUP BY account_id, status),
		kept AS (SELECT account_id, status, n FROM api_token_counts WHERE n != 0)
		SELECT COUNT(*) FROM (
			SELECT account_id, status FROM (SELECT * FROM actual EXCEPT SELECT * FROM kept) AS missing
			UNION
			SELECT account_id, status FROM (SELECT * FROM kept EXCEPT SELECT * FROM actual) AS extra) AS wrong`
	var wrong int
	if err := s.db.QueryRowContext(ctx, drift).Scan(&wrong); err != nil {
		return 0, fmt.Errorf("check token counts: %w", err)
	}
	if wrong == 0 {
		return 0, nil
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_token_counts`); err != nil {
		return 0, err
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_counts (account_id, status, n)
		SELECT account_id, status, COUNT(*) FROM api_tokens GROUP BY account_id, status`); err != nil {
		return 0, err
	}
	return wrong, tx.Commit()
}

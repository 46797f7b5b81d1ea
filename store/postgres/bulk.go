package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/stdlib"

	"gatehouse/store/sqldb"
)

// Dialect loads the bulk seed with COPY.
var _ sqldb.BulkWriter = Dialect{}

// BulkBegin sets aside, in tx, the indexes of tables that no constraint
// stands on (the list orders', the audit trail's and the trigram search
// indexes), the tables' foreign keys, and those of the named triggers enabled
// on them. Dropping and disabling are part of tx: if it rolls back, they
// come back with it. The statements it returns make the indexes again, add
// the foreign keys back, which checks every row in one pass, enable the
// triggers, and analyze the tables, so that the planner sees their new sizes
// before autovacuum gets to them.
func (Dialect) BulkBegin(ctx context.Context, tx *sqldb.Tx, tables, triggers []string) (restore []string, off map[string]bool, err error) {
	// Each row: the statement that sets a thing aside, the one that puts it
	// back, and for a trigger its name. Indexes that back a primary key or
	// unique constraint of their table stay: they check what they are
	// there to check. Only triggers enabled the ordinary way (not ALWAYS or
	// REPLICA) are disabled, which ENABLE TRIGGER sets back as they were.
	rows, err := tx.QueryContext(ctx, `SELECT 'DROP INDEX ' || i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid), ''
		FROM pg_index i
		WHERE i.indrelid = ANY (?::text[]::regclass[])
		  AND NOT EXISTS (SELECT 1 FROM pg_constraint c WHERE c.conindid = i.indexrelid AND c.conrelid = i.indrelid)
		UNION ALL
		SELECT format('ALTER TABLE %s DROP CONSTRAINT %I', conrelid::regclass, conname),
		       format('ALTER TABLE %s ADD CONSTRAINT %I %s', conrelid::regclass, conname, pg_get_constraintdef(oid)), ''
		FROM pg_constraint
		WHERE contype = 'f' AND conrelid = ANY (?::text[]::regclass[])
		UNION ALL
		SELECT format('ALTER TABLE %s DISABLE TRIGGER %I', tgrelid::regclass, tgname),
		       format('ALTER TABLE %s ENABLE TRIGGER %I', tgrelid::regclass, tgname), tgname
		FROM pg_trigger
		WHERE tgrelid = ANY (?::text[]::regclass[]) AND tgname = ANY (?::text[]) AND NOT tgisinternal AND tgenabled = 'O'`,
		tables, tables, tables, triggers)
	if err != nil {
		return nil, nil, err
	}
	defer rows.Close()
	var drop []string
	off = map[string]bool{}
	for rows.Next() {
		var d, r, trigger string
		if err := rows.Scan(&d, &r, &trigger); err != nil {
			return nil, nil, err
		}
		drop, restore = append(drop, d), append(restore, r)
		if trigger != "" {
			off[trigger] = true
		}
	}
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	rows.Close()
	for _, d := range drop {
		if _, err := tx.ExecContext(ctx, d); err != nil {
			return nil, nil, fmt.Errorf("%s: %w", d, err)
		}
	}
	return restore, off, nil
}

// BulkDone vacuums and analyzes the loaded tables once the load has
// committed: the planner learns their sizes, and the visibility map lets
// the list's counts and pages come from the indexes alone instead of
// visiting every row they count (a page filtered by date at 100 000
// tokens: tens of milliseconds without it).
func (Dialect) BulkDone(ctx context.Context, db *sqldb.DB, tables []string) error {
	names := make([]string, len(tables))
	for i, t := range tables {
		names[i] = pgx.Identifier{t}.Sanitize()
	}
	_, err := db.ExecContext(ctx, `VACUUM (ANALYZE) `+strings.Join(names, ", "))
	return err
}

// CopyRows writes rows with one COPY on conn's own pgx connection, inside
// the transaction open on it. The identity columns the rows leave out are
// numbered as they arrive.
func (Dialect) CopyRows(ctx context.Context, conn *sql.Conn, rows sqldb.BulkRows) (n int64, err error) {
	src := &copySource{rows: rows, row: make([]any, len(rows.Columns)), i: -1}
	copy(src.row, rows.Shared)
	err = conn.Raw(func(dc any) error {
		c, ok := dc.(*stdlib.Conn)
		if !ok {
			return fmt.Errorf("COPY needs a pgx connection, not %T", dc)
		}
		n, err = c.Conn().CopyFrom(ctx, pgx.Identifier{rows.Table}, rows.Columns, src)
		return err
	})
	return n, err
}

// copySource hands a batch's rows to CopyFrom one at a time, in one buffer
// that starts with the shared values: CopyFrom encodes a row before it asks
// for the next.
type copySource struct {
	rows sqldb.BulkRows
	row  []any
	i    int
}

func (s *copySource) Next() bool {
	s.i++
	return s.i < s.rows.Rows
}

func (s *copySource) Values() ([]any, error) {
	k := len(s.rows.Shared)
	w := len(s.row) - k
	if len(s.rows.Values) < (s.i+1)*w {
		return nil, fmt.Errorf("row %d of %s has too few values", s.i+1, s.rows.Table)
	}
	copy(s.row[k:], s.rows.Values[s.i*w:(s.i+1)*w])
	return s.row, nil
}

func (s *copySource) Err() error { return nil }

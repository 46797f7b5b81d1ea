package store

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"
)

// bulkNames are combined into varied token names for bulk data.
var bulkNames = [...]string{"Billing", "Reporting", "CI", "Gateway", "Partner", "Backup", "Metrics", "Helpdesk", "Sync", "Export", "Import", "Audit"}

// bulkBatch is how many tokens (and four times as many further audit
// records) the bulk seeder makes between two progress reports.
const bulkBatch = 5000

// bulkRows is how many rows one INSERT statement of the bulk seeder writes at
// most: an Exec through database/sql costs far more than one row, so the rows
// go in multi-row INSERTs, prepared once per row count.
const bulkRows = 100

// bulkTokenID and bulkAuditID make the bulk seeder's random identifiers;
// tests replace them to force collisions.
var (
	bulkTokenID = func() string { return NewID("TKN", 2) }
	bulkAuditID = func() string { return NewID("AUD", 4) }
)

// BulkSeed adds tokens tokens and about audit audit records to an account as
// fast as SQLite allows, for benchmarks and load tests. Each token gets a
// "created" record; the remaining records are "value-viewed" and "updated"
// records spread over the tokens. progress, if set, is called every
// bulkBatch tokens and every 4*bulkBatch further records.
//
// It is meant for an offline database (the seed command; the server not
// running): everything is written in one transaction on one connection,
// with multi-row INSERTs, the secondary indexes and the search index's insert
// trigger dropped and made again at the end, synchronous=OFF and, if this
// connection is the only one open, the journal switched from WAL to TRUNCATE
// for the transaction and back to WAL afterwards, so that the data is written
// once into the database file rather than into the WAL and then again by the
// checkpoint. If another connection is open the switch fails and the seed
// runs in WAL, only slower. Readers elsewhere see nothing until the commit,
// and other writers wait for it.
func (s *Store) BulkSeed(ctx context.Context, sealer *Sealer, accountID string, tokens, audit int, progress func(tokens, audit int)) (err error) {
	mods, err := s.AccountModules(ctx, accountID)
	if err != nil {
		return err
	}
	var bits []int64
	for _, m := range mods {
		var bit int64
		if err := s.db.QueryRowContext(ctx, `SELECT bit FROM modules WHERE id = ?`, m.ID).Scan(&bit); err != nil {
			return err
		}
		bits = append(bits, bit)
	}
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	// A large page cache, so that SQLite does not spill dirty pages in the
	// middle of the transaction, and statement journals and sorts in memory.
	tmpPragmas := []string{`PRAGMA cache_size = -262144`, `PRAGMA synchronous = OFF`, `PRAGMA foreign_keys = OFF`}
	if v := os.Getenv("BULKPRAGMAS"); v != "" {
		tmpPragmas = append(tmpPragmas, strings.Split(v, ";")...)
	}
	for _, p := range tmpPragmas {
		if _, err := conn.ExecContext(ctx, p); err != nil {
			return err
		}
	}
	bg := context.WithoutCancel(ctx)
	defer func() {
		t := time.Now()
		conn.ExecContext(bg, `PRAGMA synchronous = NORMAL`)
		conn.ExecContext(bg, `PRAGMA temp_store = DEFAULT`)
		conn.ExecContext(bg, `PRAGMA foreign_keys = ON`)
		conn.ExecContext(bg, `PRAGMA threads = 0`)
		conn.ExecContext(bg, `PRAGMA cache_size = -2000`)
		if os.Getenv("BULKTRACE") != "" {
			fmt.Fprintf(os.Stderr, "TRACE restore pragmas %s\n", time.Since(t))
		}
	}()
	var mode string
	if conn.QueryRowContext(ctx, `PRAGMA journal_mode = TRUNCATE`).Scan(&mode) == nil && mode == "truncate" {
		defer func() {
			var mode string
			werr := conn.QueryRowContext(bg, `PRAGMA journal_mode = WAL`).Scan(&mode)
			if werr == nil && mode != "wal" {
				werr = fmt.Errorf("journal mode is %q", mode)
			}
			if werr != nil && err == nil {
				err = fmt.Errorf("switch the database back to WAL: %w", werr)
			}
		}()
	}
	// Otherwise the database is still in WAL: another connection is open.

	now := s.now()
	return bulkTx(ctx, conn, func(tx *sql.Tx, chain *chainWriter) error {
		b := &bulkTokens{ctx: ctx, sealer: sealer, accountID: accountID, taken: map[string]bool{}}
		// The ids already taken, so that new ones never collide.
		rows, err := tx.QueryContext(ctx, `SELECT id FROM api_tokens`)
		if err != nil {
			return err
		}
		for rows.Next() {
			var id string
			if err := rows.Scan(&id); err != nil {
				rows.Close()
				return err
			}
			b.taken[id] = true
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return err
		}
		b.insert = newMultiInsert(ctx, tx, `INSERT OR IGNORE INTO api_tokens
			(id, account_id, name, description, status, secret_hash, secret_sealed, module_bits,
			 created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name,
			 last_access_at, last_access_ip, last_access_agent) VALUES `,
			`(?, ?, ?, ?, ?, ?, ?, ?, ?, 'SYSTEM', 'Gatehouse', ?, 'SYSTEM', 'Gatehouse', ?, ?, ?)`, 13)
		defer b.insert.close()
		grant := newMultiInsert(ctx, tx, `INSERT OR IGNORE INTO api_token_modules (token_id, module_id) VALUES `, `(?, ?)`, 2)
		defer grant.close()

		var ids, names []string
		made, records := 0, 0
		var grants []any
		for made < tokens {
			n := min(bulkBatch, tokens-made)
			for from := made; from < made+n; from += bulkRows {
				b.batch = b.batch[:0]
				for i := from; i < min(from+bulkRows, made+n); i++ {
					t := bulkToken{created: now.Add(-time.Duration(tokens-i) * time.Minute), status: StatusActive}
					if i%5 == 4 {
						t.status = StatusDisabled
					}
					if i%7 != 6 {
						t.access = t.created.Add(time.Duration(i%50) * time.Second)
						t.ip, t.agent = fmt.Sprintf("198.51.100.%d", i%250+1), "bulk-client/1.0"
					}
					t.name = fmt.Sprintf("%s %s %d", bulkNames[i%len(bulkNames)], bulkNames[(i/len(bulkNames))%len(bulkNames)], i+1)
					for j, m := range mods {
						if (i>>j)&1 == 1 {
							t.granted = append(t.granted, m.ID)
							t.mask |= bits[j]
						}
					}
					b.batch = append(b.batch, t)
				}
				if err := b.write(); err != nil {
					return fmt.Errorf("bulk tokens %d-%d: %w", from, from+len(b.batch)-1, err)
				}
				grants = grants[:0]
				for _, t := range b.batch {
					for _, m := range t.granted {
						grants = append(grants, t.id, m)
					}
				}
				if done, err := grant.exec(grants); err != nil {
					return err
				} else if done != int64(len(grants)/2) {
					return fmt.Errorf("%d of %d token modules written", done, len(grants)/2)
				}
				for _, t := range b.batch {
					ids, names = append(ids, t.id), append(names, t.name)
					if err := chain.append(AuditRecord{
						AccountID: accountID, OccurredAt: t.created, Event: EventTokenCreated,
						ObjectType: ObjectTypeToken, ObjectID: t.id, ObjectName: t.name, Actor: SystemActor,
						Summary: "API token " + t.id + " was created.",
						Details: detailsJSON(map[string]any{"after": map[string]any{"name": t.name, "modules": t.granted, "status": t.status}}),
					}); err != nil {
						return err
					}
				}
			}
			made += n
			records += n
			if progress != nil {
				progress(made, records)
			}
		}
		if len(ids) == 0 {
			return nil
		}
		viewer := Actor{Type: "user", ID: "USR-0000-0000", Name: "Bulk Viewer", IP: "192.0.2.50", UserAgent: "bulk/1.0"}
		for records < audit {
			n := min(bulkBatch*4, audit-records)
			for k := range n {
				i := records + k
				t := i % len(ids)
				r := AuditRecord{
					AccountID: accountID, OccurredAt: now.Add(-time.Duration(audit-i) * time.Second),
					ObjectType: ObjectTypeToken, ObjectID: ids[t], ObjectName: names[t], Actor: viewer,
				}
				if i%10 == 0 {
					r.Event, r.Summary = EventTokenUpdated, "API token "+ids[t]+" was updated (description)."
					r.Details = `{"changes":{"description":{"before":"Bulk token for load tests.","after":"Bulk token for load tests."}}}`
				} else {
					r.Event, r.Summary, r.Details = EventTokenValueViewed, "The value of API token "+ids[t]+" was shown.", `{"purpose":"show"}`
				}
				if err := chain.append(r); err != nil {
					return err
				}
			}
			records += n
			if progress != nil {
				progress(made, records)
			}
		}
		return nil
	})
}

// bulkToken is one token the bulk seeder makes.
type bulkToken struct {
	id, name, status string
	created          time.Time
	access           any // time.Time, or nil for never used
	ip, agent        string
	granted          []string
	mask             int64
}

// bulkTokens writes the bulk seeder's tokens, a batch at a time.
type bulkTokens struct {
	ctx       context.Context
	sealer    *Sealer
	accountID string
	insert    *multiInsert
	taken     map[string]bool // token ids in the table or given out
	batch     []bulkToken
	args      []any
}

// write gives the batch's tokens fresh ids, ones not in b.taken, and values
// and inserts them.
func (b *bulkTokens) write() error {
	b.args = b.args[:0]
	for k := range b.batch {
		t := &b.batch[k]
		for n := 0; ; n++ {
			if t.id = bulkTokenID(); !b.taken[t.id] {
				break
			}
			if n == 100 {
				return errors.New("could not find a free identifier")
			}
		}
		b.taken[t.id] = true
		value := NewTokenValue(t.id)
		b.args = append(b.args, t.id, b.accountID, t.name, "Bulk token for load tests.", t.status,
			HashTokenValue(value), b.sealer.Seal(t.id, value), t.mask, t.created, t.created, t.access, t.ip, t.agent)
	}
	done, err := b.insert.exec(b.args)
	if err == nil && done != int64(len(b.batch)) {
		err = fmt.Errorf("%d of %d tokens written", done, len(b.batch))
	}
	return err
}

// multiInsert inserts rows into a table with multi-row INSERT statements of
// at most bulkRows rows, each prepared once per row count.
type multiInsert struct {
	ctx   context.Context
	tx    *sql.Tx
	head  string // INSERT INTO ... VALUES
	row   string // (?, ...): one row's values
	tail  string // what follows the rows, if anything
	cols  int    // the parameters in row
	stmts map[int]*sql.Stmt
}

func newMultiInsert(ctx context.Context, tx *sql.Tx, head, row string, cols int) *multiInsert {
	return &multiInsert{ctx: ctx, tx: tx, head: head, row: row, cols: cols, stmts: map[int]*sql.Stmt{}}
}

// exec inserts the rows whose values args holds one after the other, and
// returns how many it inserted.
func (m *multiInsert) exec(args []any) (int64, error) {
	var done int64
	for len(args) > 0 {
		n := min(len(args)/m.cols, bulkRows)
		stmt, err := m.stmt(n)
		if err != nil {
			return done, err
		}
		res, err := stmt.ExecContext(m.ctx, args[:n*m.cols]...)
		if err != nil {
			return done, err
		}
		c, err := res.RowsAffected()
		if err != nil {
			return done, err
		}
		done += c
		args = args[n*m.cols:]
	}
	return done, nil
}

// stmt returns the statement for n rows.
func (m *multiInsert) stmt(n int) (*sql.Stmt, error) {
	if stmt := m.stmts[n]; stmt != nil {
		return stmt, nil
	}
	stmt, err := m.tx.PrepareContext(m.ctx, m.head+strings.Repeat(m.row+", ", n-1)+m.row+m.tail)
	if err != nil {
		return nil, err
	}
	m.stmts[n] = stmt
	return stmt, nil
}

func (m *multiInsert) close() {
	for _, s := range m.stmts {
		s.Close()
	}
}

// chainWriter appends audit records within one transaction, carrying the
// chain's head in memory instead of reading it back for every record, and
// writing the records bulkRows at a time.
type chainWriter struct {
	insert  *multiInsert // INSERT OR IGNORE of records
	taken   *multiInsert // the count of records with some ids
	ids     map[string]bool
	prev    string // the hash of the last record written
	pending []AuditRecord
	args    []any
}

// append adds r to the chain; it is written by a later flush at the latest.
func (w *chainWriter) append(r AuditRecord) error {
	r.OccurredAt = r.OccurredAt.Truncate(time.Millisecond).UTC()
	if r.Details == "" {
		r.Details = "{}"
	}
	w.pending = append(w.pending, r)
	if len(w.pending) < bulkRows {
		return nil
	}
	return w.flush()
}

// flush writes the pending records in one statement. They get fresh ids
// first: should one be taken already (or twice in the batch), all of them
// get new ids and so new hashes, chained again from the same head. With the
// ids checked beforehand, the INSERT can be an INSERT OR IGNORE, which
// unlike a plain INSERT needs no statement journal: a copy of every page it
// changes, which would cost a third of the time.
func (w *chainWriter) flush() error {
	n := len(w.pending)
	if n == 0 {
		return nil
	}
	for try := 0; ; try++ {
		if try == 10 {
			return errors.New("append audit records: could not find free identifiers")
		}
		w.args = w.args[:0]
		clear(w.ids)
		for k := range w.pending {
			id := bulkAuditID()
			w.pending[k].ID = id
			w.ids[id] = true
			w.args = append(w.args, id)
		}
		if len(w.ids) < n {
			continue
		}
		taken, err := w.taken.stmt(n)
		if err != nil {
			return err
		}
		var found int
		if err := taken.QueryRowContext(w.insert.ctx, w.args...).Scan(&found); err != nil {
			return fmt.Errorf("append audit records: %w", err)
		}
		if found == 0 {
			break
		}
	}
	prev := w.prev
	w.args = w.args[:0]
	for k := range w.pending {
		r := &w.pending[k]
		r.PrevHash = prev
		r.Hash = chainHash(prev, *r)
		prev = r.Hash
		w.args = append(w.args, r.ID, r.AccountID, r.OccurredAt.UnixMilli(), r.Event, r.ObjectType, r.ObjectID, r.ObjectName,
			r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent, r.Summary, r.Details, r.PrevHash, r.Hash)
	}
	done, err := w.insert.exec(w.args)
	if err == nil && done != int64(n) {
		// Nothing else could make a row be ignored: the values are all set.
		err = fmt.Errorf("%d of %d records written", done, n)
	}
	if err != nil {
		return fmt.Errorf("append audit records: %w", err)
	}
	w.prev = prev
	w.pending = w.pending[:0]
	return nil
}

// bulkTx runs fn in one transaction with a chainWriter started at the
// chain's current head. Inside it, the secondary indexes of the tables it
// fills and the search index's insert trigger are dropped first and made
// again at the end: building an index once, sorted, is far faster than
// keeping it up to date row by row. The transaction makes this invisible to
// readers and keeps other writers waiting until it is done.
func bulkTx(ctx context.Context, conn *sql.Conn, fn func(*sql.Tx, *chainWriter) error) error {
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	rows, err := tx.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE sql IS NOT NULL AND ((type = 'index' AND tbl_name IN ('api_tokens', 'audit_records', 'api_token_modules'))
		   OR (type = 'trigger' AND name = 'api_tokens_search_insert'))`)
	if err != nil {
		return err
	}
	var drops, ddl []string
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			rows.Close()
			return err
		}
		drops = append(drops, `DROP `+strings.ToUpper(typ)+` "`+name+`"`)
		ddl = append(ddl, sql)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, d := range drops {
		if _, err := tx.ExecContext(ctx, d); err != nil {
			return err
		}
	}
	w := &chainWriter{ids: map[string]bool{}, insert: newMultiInsert(ctx, tx, `INSERT OR IGNORE INTO audit_records
		(id, account_id, occurred_at, event, object_type, object_id, object_name,
		 actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash) VALUES `,
		`(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`, 16)}
	defer w.insert.close()
	w.taken = newMultiInsert(ctx, tx, `SELECT COUNT(*) FROM audit_records WHERE id IN (`, `?`, 1)
	w.taken.tail = `)`
	defer w.taken.close()
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1), '')`).Scan(&w.prev); err != nil {
		return err
	}
	tmpT := time.Now()
	tmpTrace := func(what string) {
		if os.Getenv("BULKTRACE") != "" {
			fmt.Fprintf(os.Stderr, "TRACE %-40.40s %s\n", what, time.Since(tmpT))
		}
		tmpT = time.Now()
	}
	if err := fn(tx, w); err != nil {
		return err
	}
	if err := w.flush(); err != nil {
		return err
	}
	tmpTrace("inserts")
	for _, sql := range ddl {
		if _, err := tx.ExecContext(ctx, sql); err != nil {
			return fmt.Errorf("rebuild %q: %w", sql, err)
		}
		tmpTrace(sql)
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens_search (api_tokens_search) VALUES ('rebuild')`); err != nil {
		return fmt.Errorf("rebuild the search index: %w", err)
	}
	tmpTrace("fts")
	defer tmpTrace("commit")
	return tx.Commit()
}

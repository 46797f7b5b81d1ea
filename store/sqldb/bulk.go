package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatehouse/store"
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

// bulkCopyRows is how many rows the bulk seeder hands a BulkWriter at once:
// each batch is a COPY statement of its own, and batches of thousands keep
// what a statement costs by itself (starting it, a round trip) small next to
// its rows.
const bulkCopyRows = 2500

// bulkTokenID and bulkAuditID make the bulk seeder's random identifiers;
// tests replace them to force collisions.
var (
	bulkTokenID = func() string { return store.NewID("TKN", 2) }
	bulkAuditID = func() string { return store.NewID("AUD", 4) }
)

// bulkTriggers are the insert triggers on the tables the bulk seeder fills
// that it sets aside for the seed: it does their work itself, once at the
// end.
var bulkTriggers = []string{"api_tokens_search_insert", "api_token_counts_insert"}

// bulkTable is a table the bulk seeder fills, with the columns of its rows
// in the order the seeder makes their values.
type bulkTable struct {
	what    string // the rows, for errors
	name    string
	columns []string
	// shared is how many leading columns may hold the same values in every
	// row of a batch; such a batch carries them once.
	shared int
}

// The tables the bulk seeder fills. The audit columns most records of a
// batch share come first.
var (
	bulkTokens = &bulkTable{what: "tokens", name: "api_tokens", columns: []string{
		"id", "account_id", "name", "description", "status", "secret_hash", "secret_sealed", "module_bits",
		"created_at", "created_by_id", "created_by_name", "updated_at", "updated_by_id", "updated_by_name",
		"last_access_at", "last_access_ip", "last_access_agent"}}
	bulkGrants = &bulkTable{what: "token modules", name: "api_token_modules", columns: []string{"token_id", "module_id"}}
	bulkAudit  = &bulkTable{what: "audit records", name: "audit_records", columns: []string{
		"account_id", "object_type", "actor_type", "actor_id", "actor_name", "ip", "user_agent",
		"id", "occurred_at", "event", "object_id", "object_name", "summary", "details", "prev_hash", "hash"}, shared: 7}
	bulkTables = []*bulkTable{bulkTokens, bulkGrants, bulkAudit}
	// bulkTableNames are their names, for the engine's BulkWriter.
	bulkTableNames = []string{bulkTokens.name, bulkGrants.name, bulkAudit.name}
)

// BulkRows is a batch of rows for one table, as the bulk seeder hands them to
// a BulkWriter.
type BulkRows struct {
	Table   string
	Columns []string
	// Shared holds the values of the first len(Shared) columns, the same in
	// every row; Values the values of the other columns, row after row.
	Shared []any
	Values []any
	Rows   int
}

// BulkWriter is implemented by a Dialect whose engine loads many rows faster
// by streaming them than with INSERT statements (PostgreSQL's COPY). BulkSeed
// writes through it when the dialect has one, and with SQLite's multi-row
// INSERTs otherwise.
type BulkWriter interface {
	// BulkBegin readies tx for loading many rows into tables. It sets aside
	// what is cheaper to make once at the end than to keep up row by row
	// (secondary indexes, foreign keys) and those of triggers that the
	// tables have, whose work the seeder does itself. It returns the
	// statements that put everything back, which the seeder runs in tx after
	// the load, and the triggers it set aside.
	BulkBegin(ctx context.Context, tx *Tx, tables, triggers []string) (restore []string, off map[string]bool, err error)
	// CopyRows writes rows into their table inside the transaction open on
	// conn and returns how many it wrote.
	CopyRows(ctx context.Context, conn *sql.Conn, rows BulkRows) (int64, error)
	// BulkDone runs after the load has committed, outside any transaction
	// (PostgreSQL's VACUUM, which index-only scans need to skip the table).
	BulkDone(ctx context.Context, db *DB, tables []string) error
}

// BulkSeed adds tokens tokens and about audit audit records to an account as
// fast as the engine allows, for benchmarks and load tests. Each token gets a
// "created" record; the remaining records are "value-viewed" and "updated"
// records spread over the tokens. progress, if set, is called every
// bulkBatch tokens and every 4*bulkBatch further records. The audit chain
// is the one appendAudit would make, record after record, in seq order.
//
// It is meant for an offline database: the seed command, with the server
// not running. Everything is written in one transaction on one connection,
// so readers elsewhere see nothing until the commit, and other writers wait
// for it. For speed:
//   - what is faster built once at the end than kept up row by row is set
//     aside first and made again at the end: the secondary indexes of the
//     tables it fills (building an index once, sorted, is far faster than
//     keeping it up to date row by row), the foreign keys (on SQLite their
//     checks are off; PostgreSQL checks each in one pass as it is added
//     back), and the insert triggers of api_tokens, whose work (SQLite's
//     search index, the token counts) is done once at the end;
//   - a second goroutine makes the rows (ids, token values and their
//     sealing, the chain's hashes) while the calling one writes them. New
//     ids are drawn until they are in neither the table nor the seed, the
//     rows satisfy the foreign keys by construction, and the number of rows
//     written is checked;
//   - on PostgreSQL (a Dialect that is a BulkWriter) the rows go in COPYs
//     of a few thousand rows. The identity columns (rid, seq) are left to
//     the tables, which number the rows as they arrive: the chain's order
//     is seq order, and rows inserted later are numbered after the seed's.
//     The tables are analyzed at the end, so that the planner knows their
//     new sizes at once;
//   - on SQLite the rows go in multi-row INSERT OR IGNOREs, which unlike
//     plain INSERTs need no statement journal (a copy of every page a
//     statement changes); nothing is ignored. synchronous is OFF, reads are
//     memory-mapped, and if this connection is the only one open (as in the
//     seed command) the journal is switched from WAL to TRUNCATE for the
//     transaction and back to WAL afterwards, so the data goes once into the
//     database file rather than into the WAL and again into the file at the
//     checkpoint; the rollback journal only keeps the pages that were there
//     before. Leaving WAL fails if another connection is open; the seed then
//     runs in WAL, only slower.
func (s *Store) BulkSeed(ctx context.Context, sealer *store.Sealer, accountID string, tokens, audit int, progress func(tokens, audit int)) (err error) {
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
	copier, copies := s.d.(BulkWriter)
	if !copies {
		// SQLite. foreign_keys only takes outside a transaction. 64 MiB of
		// page cache holds the pages that change all the time (the ends of
		// the tables, the indexes of random ids) and lets the index builds
		// sort in large runs. Larger caches cost more than they save:
		// modernc's allocator gives every freed page back to the system with
		// a system call of its own. Memory-mapped reads save the index builds
		// a system call and a copy per page.
		bg := context.WithoutCancel(ctx)
		for _, p := range [][2]string{{"synchronous", "OFF"}, {"foreign_keys", "OFF"}, {"cache_size", "-65536"}, {"mmap_size", "2147483648"}} {
			var old string
			if err := conn.QueryRowContext(ctx, `PRAGMA `+p[0]).Scan(&old); err != nil {
				return err
			}
			if _, err := conn.ExecContext(ctx, `PRAGMA `+p[0]+` = `+p[1]); err != nil {
				return err
			}
			defer conn.ExecContext(bg, `PRAGMA `+p[0]+` = `+old)
		}
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
		// Otherwise the database stays in WAL: another connection is open.
	}

	rawTx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer rawTx.Rollback()
	tx := &Tx{rawTx, s.d}
	var n int
	if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM accounts WHERE id = ?`, accountID).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return fmt.Errorf("account %s: %w", accountID, store.ErrNotFound)
	}
	var ddl []string
	var dropped map[string]bool
	if copies {
		ddl, dropped, err = copier.BulkBegin(ctx, tx, bulkTableNames, bulkTriggers)
	} else {
		ddl, dropped, err = dropBulkIndexes(ctx, tx)
	}
	if err != nil {
		return fmt.Errorf("prepare the bulk load: %w", err)
	}
	g := &bulkGen{sealer: sealer, accountID: accountID, mods: mods, bits: bits, now: s.now(), tokens: tokens, audit: audit,
		rows: bulkRows, tokenIDs: newIDSet("TKN", 2), auditIDs: newIDSet("AUD", 4), statuses: map[string]int{}}
	if err := g.tokenIDs.load(ctx, tx, `SELECT id FROM api_tokens`); err != nil {
		return err
	}
	if err := g.auditIDs.load(ctx, tx, `SELECT id FROM audit_records`); err != nil {
		return err
	}
	// The seed is the chain's one writer until it commits.
	if err := s.d.LockAuditChain(ctx, tx); err != nil {
		return fmt.Errorf("lock the audit chain: %w", err)
	}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1), '')`).Scan(&g.prev); err != nil {
		return err
	}
	var write func(op bulkOp) (int64, error)
	if copies {
		g.rows = bulkCopyRows
		write = func(op bulkOp) (int64, error) {
			rows := BulkRows{Table: op.table.name, Columns: op.table.columns, Values: op.args, Rows: op.rows}
			if op.shared {
				rows.Shared, rows.Values = op.args[:op.table.shared], op.args[op.table.shared:]
			}
			return copier.CopyRows(ctx, conn, rows)
		}
	} else {
		inserts := map[*bulkTable]*multiInsert{}
		for _, t := range bulkTables {
			inserts[t] = newMultiInsert(ctx, tx, t)
			defer inserts[t].close()
		}
		write = func(op bulkOp) (int64, error) { return inserts[op.table].exec(op.args, op.shared) }
	}

	// g makes the rows on its own goroutine; this one writes them.
	gctx, cancel := context.WithCancel(ctx)
	defer cancel()
	ops := make(chan bulkOp, 16)
	done := make(chan error, 1)
	g.ctx, g.out = gctx, ops
	go func() {
		defer close(ops)
		done <- g.run()
	}()
	for op := range ops {
		if err != nil {
			continue // until g has seen the cancellation
		}
		if op.table == nil {
			if progress != nil {
				progress(op.tokens, op.records)
			}
			continue
		}
		var written int64
		if written, err = write(op); err == nil && written != int64(op.rows) {
			err = fmt.Errorf("%d of %d rows written", written, op.rows)
		}
		if err != nil {
			err = fmt.Errorf("bulk %s: %w", op.table.what, err)
			cancel()
		}
	}
	if gerr := <-done; err == nil {
		err = gerr
	}
	if err != nil {
		return err
	}

	for _, sql := range ddl {
		if _, err := tx.ExecContext(ctx, sql); err != nil {
			return fmt.Errorf("rebuild %q: %w", sql, err)
		}
	}
	if dropped["api_tokens_search_insert"] {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens_search (api_tokens_search) VALUES ('rebuild')`); err != nil {
			return fmt.Errorf("rebuild the search index: %w", err)
		}
	}
	if dropped["api_token_counts_insert"] {
		for status, n := range g.statuses {
			if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_counts (account_id, status, n) VALUES (?, ?, ?)
				ON CONFLICT (account_id, status) DO UPDATE SET n = api_token_counts.n + excluded.n`, accountID, status, n); err != nil {
				return fmt.Errorf("count the tokens: %w", err)
			}
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if copies {
		return copier.BulkDone(ctx, s.db, bulkTableNames)
	}
	return nil
}

// dropBulkIndexes drops the secondary indexes of the tables the bulk seeder
// fills and the bulkTriggers there are. It returns the statements that make
// them again and the names of the triggers it dropped.
func dropBulkIndexes(ctx context.Context, tx *Tx) (ddl []string, dropped map[string]bool, err error) {
	rows, err := tx.QueryContext(ctx, `SELECT type, name, sql FROM sqlite_master
		WHERE sql IS NOT NULL AND ((type = 'index' AND tbl_name IN ('api_tokens', 'audit_records', 'api_token_modules'))
		   OR (type = 'trigger' AND name IN ('`+strings.Join(bulkTriggers, "', '")+`')))`)
	if err != nil {
		return nil, nil, err
	}
	var drops []string
	dropped = map[string]bool{}
	for rows.Next() {
		var typ, name, sql string
		if err := rows.Scan(&typ, &name, &sql); err != nil {
			rows.Close()
			return nil, nil, err
		}
		drops = append(drops, `DROP `+strings.ToUpper(typ)+` "`+name+`"`)
		ddl = append(ddl, sql)
		if typ == "trigger" {
			dropped[name] = true
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return nil, nil, err
	}
	for _, d := range drops {
		if _, err := tx.ExecContext(ctx, d); err != nil {
			return nil, nil, err
		}
	}
	return ddl, dropped, nil
}

// bulkOp is one step for the bulk seeder's writer: rows to write, or (with
// table nil) a progress report.
type bulkOp struct {
	table           *bulkTable
	args            []any // the rows' values, one row after the other
	shared          bool  // args starts with the table's shared values
	rows            int
	tokens, records int // made so far, for a progress report
}

// bulkGen makes the rows of a bulk seed, in the order they are to be written,
// and sends them to the writer.
type bulkGen struct {
	ctx       context.Context
	out       chan<- bulkOp
	sealer    *store.Sealer
	accountID string
	mods      []store.Module
	bits      []int64 // the modules' bits
	now       time.Time
	tokens    int
	audit     int
	rows      int // rows per batch sent to the writer

	tokenIDs, auditIDs *idSet // the ids in the tables or given out
	prev               string // the hash of the chain's last record
	pending            []store.AuditRecord
	statuses           map[string]int // how many tokens were made in each status
}

func (g *bulkGen) send(op bulkOp) error {
	select {
	case g.out <- op:
		return nil
	case <-g.ctx.Done():
		return g.ctx.Err()
	}
}

func (g *bulkGen) run() error {
	var ids, names []string
	var created []store.AuditRecord
	made, records := 0, 0
	for made < g.tokens {
		n := min(bulkBatch, g.tokens-made)
		for from := made; from < made+n; from += g.rows {
			to := min(from+g.rows, made+n)
			tokenArgs := make([]any, 0, len(bulkTokens.columns)*(to-from))
			var grantArgs []any
			created = created[:0]
			for i := from; i < to; i++ {
				id, err := g.tokenIDs.fresh(bulkTokenID)
				if err != nil {
					return err
				}
				createdAt := g.now.Add(-time.Duration(g.tokens-i) * time.Minute)
				status := store.StatusActive
				if i%5 == 4 {
					status = store.StatusDisabled
				}
				g.statuses[status]++
				var access any
				ip, agent := "", ""
				if i%7 != 6 {
					access = createdAt.Add(time.Duration(i%50) * time.Second)
					ip, agent = fmt.Sprintf("198.51.100.%d", i%250+1), "bulk-client/1.0"
				}
				name := fmt.Sprintf("%s %s %d", bulkNames[i%len(bulkNames)], bulkNames[(i/len(bulkNames))%len(bulkNames)], i+1)
				var granted []string
				var mask int64
				for j, m := range g.mods {
					if (i>>j)&1 == 1 {
						granted = append(granted, m.ID)
						grantArgs = append(grantArgs, id, m.ID)
						mask |= g.bits[j]
					}
				}
				value := store.NewTokenValue(id)
				tokenArgs = append(tokenArgs, id, g.accountID, name, "Bulk token for load tests.", status,
					store.HashTokenValue(value), g.sealer.Seal(id, value), mask, createdAt, store.SystemActor.ID, store.SystemActor.Name,
					createdAt, store.SystemActor.ID, store.SystemActor.Name, access, ip, agent)
				ids, names = append(ids, id), append(names, name)
				created = append(created, store.AuditRecord{
					AccountID: g.accountID, OccurredAt: createdAt, Event: store.EventTokenCreated,
					ObjectType: store.ObjectTypeToken, ObjectID: id, ObjectName: name, Actor: store.SystemActor,
					Summary: "API token " + id + " was created.",
					Details: detailsJSON(map[string]any{"after": map[string]any{"name": name, "modules": granted, "status": status}}),
				})
			}
			if err := g.send(bulkOp{table: bulkTokens, args: tokenArgs, rows: to - from}); err != nil {
				return err
			}
			if err := g.send(bulkOp{table: bulkGrants, args: grantArgs, rows: len(grantArgs) / 2}); err != nil {
				return err
			}
			for _, r := range created {
				if err := g.append(r); err != nil {
					return err
				}
			}
		}
		made += n
		records += n
		if err := g.send(bulkOp{tokens: made, records: records}); err != nil {
			return err
		}
	}
	if len(ids) == 0 {
		return g.flush()
	}
	viewer := store.Actor{Type: "user", ID: "USR-0000-0000", Name: "Bulk Viewer", IP: "192.0.2.50", UserAgent: "bulk/1.0"}
	for records < g.audit {
		n := min(bulkBatch*4, g.audit-records)
		for k := range n {
			i := records + k
			t := i % len(ids)
			r := store.AuditRecord{
				AccountID: g.accountID, OccurredAt: g.now.Add(-time.Duration(g.audit-i) * time.Second),
				ObjectType: store.ObjectTypeToken, ObjectID: ids[t], ObjectName: names[t], Actor: viewer,
			}
			if i%10 == 0 {
				r.Event, r.Summary = store.EventTokenUpdated, "API token "+ids[t]+" was updated (description)."
				r.Details = `{"changes":{"description":{"before":"Bulk token for load tests.","after":"Bulk token for load tests."}}}`
			} else {
				r.Event, r.Summary, r.Details = store.EventTokenValueViewed, "The value of API token "+ids[t]+" was shown.", `{"purpose":"show"}`
			}
			if err := g.append(r); err != nil {
				return err
			}
		}
		records += n
		if err := g.flush(); err != nil {
			return err
		}
		if err := g.send(bulkOp{tokens: made, records: records}); err != nil {
			return err
		}
	}
	return g.flush()
}

// append adds r to the end of the audit chain, as appendAudit would; a later
// flush sends it to the writer.
func (g *bulkGen) append(r store.AuditRecord) error {
	r.OccurredAt = r.OccurredAt.Truncate(time.Millisecond).UTC()
	if r.Details == "" {
		r.Details = "{}"
	}
	g.pending = append(g.pending, r)
	if len(g.pending) < g.rows {
		return nil
	}
	return g.flush()
}

// flush gives the pending records their ids and hashes and sends them to the
// writer.
func (g *bulkGen) flush() error {
	if len(g.pending) == 0 {
		return nil
	}
	for i := range g.pending {
		g.pending[i] = g.pending[i].Normalized()
	}
	first := g.pending[0]
	shared := true
	for _, r := range g.pending {
		shared = shared && r.AccountID == first.AccountID && r.ObjectType == first.ObjectType && r.Actor == first.Actor
	}
	var args []any
	if shared {
		args = make([]any, 0, 7+9*len(g.pending))
		args = append(args, first.AccountID, first.ObjectType, first.Actor.Type, first.Actor.ID, first.Actor.Name, first.Actor.IP, first.Actor.UserAgent)
	} else {
		args = make([]any, 0, 16*len(g.pending))
	}
	for _, r := range g.pending {
		var err error
		if r.ID, err = g.auditIDs.fresh(bulkAuditID); err != nil {
			return err
		}
		r.PrevHash = g.prev
		r.Hash = store.ChainHash(g.prev, r)
		g.prev = r.Hash
		if !shared {
			args = append(args, r.AccountID, r.ObjectType, r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent)
		}
		args = append(args, r.ID, r.OccurredAt.UnixMilli(), r.Event, r.ObjectID, r.ObjectName, r.Summary, r.Details, r.PrevHash, r.Hash)
	}
	op := bulkOp{table: bulkAudit, args: args, shared: shared, rows: len(g.pending)}
	g.pending = g.pending[:0]
	return g.send(op)
}

// idSet is a set of identifiers. Those of NewID's form for the set's prefix
// and groups are kept as numbers: a million of them take a fraction of the
// memory of strings, and none of the garbage collector's time.
type idSet struct {
	prefix string // "AUD-"
	size   int    // the length of an id of NewID's form
	nums   map[uint64]struct{}
	others map[string]struct{}
}

func newIDSet(prefix string, groups int) *idSet {
	return &idSet{prefix: prefix + "-", size: len(prefix) + 5*groups,
		nums: map[uint64]struct{}{}, others: map[string]struct{}{}}
}

// num is the number id's digits make, ok false if id is not of NewID's form.
func (s *idSet) num(id string) (n uint64, ok bool) {
	if len(id) != s.size || !strings.HasPrefix(id, s.prefix) {
		return 0, false
	}
	for i := len(s.prefix); i < len(id); i++ {
		c := id[i]
		if (i-len(s.prefix))%5 == 4 {
			if c != '-' {
				return 0, false
			}
			continue
		}
		if c < '0' || c > '9' {
			return 0, false
		}
		n = n*10 + uint64(c-'0')
	}
	return n, true
}

// add adds id to the set and reports whether it was not in it yet.
func (s *idSet) add(id string) bool {
	if n, ok := s.num(id); ok {
		if _, found := s.nums[n]; found {
			return false
		}
		s.nums[n] = struct{}{}
		return true
	}
	if _, found := s.others[id]; found {
		return false
	}
	s.others[id] = struct{}{}
	return true
}

// fresh returns an id made by newID that was not in the set yet, and adds
// it.
func (s *idSet) fresh(newID func() string) (string, error) {
	for range 100 {
		if id := newID(); s.add(id) {
			return id, nil
		}
	}
	return "", errors.New("could not find a free identifier")
}

// load adds the ids query selects.
func (s *idSet) load(ctx context.Context, tx *Tx, query string) error {
	rows, err := tx.QueryContext(ctx, query)
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return err
		}
		s.add(id)
	}
	return rows.Err()
}

// multiInsert inserts rows into a table with multi-row INSERT statements of
// at most bulkRows rows, each prepared once per row count. Rows whose first
// values are the same can share them: those are bound once per statement.
type multiInsert struct {
	ctx       context.Context
	tx        *Tx
	head      string // INSERT INTO ... VALUES
	row       string // (?, ...): a row's values
	cols      int    // the parameters of row
	sharedRow string // row with ?1 to ?shared for the shared values
	shared    int
	stmts     map[int]*sql.Stmt // by row count, negative for shared values
	buf       []any
}

func newMultiInsert(ctx context.Context, tx *Tx, t *bulkTable) *multiInsert {
	cols := len(t.columns)
	m := &multiInsert{ctx: ctx, tx: tx, cols: cols, shared: t.shared, stmts: map[int]*sql.Stmt{},
		head: `INSERT OR IGNORE INTO ` + t.name + ` (` + strings.Join(t.columns, ", ") + `) VALUES `,
		row:  `(` + strings.Repeat(`?, `, cols-1) + `?)`}
	if t.shared > 0 {
		numbered := make([]string, cols)
		for i := range numbered {
			numbered[i] = "?"
			if i < t.shared {
				numbered[i] = fmt.Sprintf("?%d", i+1)
			}
		}
		m.sharedRow = `(` + strings.Join(numbered, ", ") + `)`
	}
	return m
}

// exec inserts the rows whose values args holds one after the other, after
// the values they share if shared, and returns how many it inserted.
func (m *multiInsert) exec(args []any, shared bool) (int64, error) {
	var common []any
	row, cols, key := m.row, m.cols, 1
	if shared {
		common, args = args[:m.shared], args[m.shared:]
		row, cols, key = m.sharedRow, m.cols-m.shared, -1
	}
	var done int64
	for len(args) > 0 {
		n := min(len(args)/cols, bulkRows)
		stmt := m.stmts[key*n]
		if stmt == nil {
			var err error
			if stmt, err = m.tx.PrepareContext(m.ctx, m.head+strings.Repeat(row+", ", n-1)+row); err != nil {
				return done, err
			}
			m.stmts[key*n] = stmt
		}
		m.buf = append(append(m.buf[:0], common...), args[:n*cols]...)
		res, err := stmt.ExecContext(m.ctx, m.buf...)
		if err != nil {
			return done, err
		}
		c, err := res.RowsAffected()
		if err != nil {
			return done, err
		}
		done += c
		args = args[n*cols:]
	}
	clear(m.buf)
	return done, nil
}

func (m *multiInsert) close() {
	for _, s := range m.stmts {
		s.Close()
	}
}

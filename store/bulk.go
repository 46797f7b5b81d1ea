package store

import (
	"context"
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// bulkNames are combined into varied token names for bulk data.
var bulkNames = [...]string{"Billing", "Reporting", "CI", "Gateway", "Partner", "Backup", "Metrics", "Helpdesk", "Sync", "Export", "Import", "Audit"}

// bulkBatch is how many rows one transaction of the bulk seeder writes: big
// enough to be fast, small enough not to hold the write lock for long.
const bulkBatch = 5000

// BulkSeed adds tokens tokens and about audit audit records to an account as
// fast as SQLite allows, for benchmarks and load tests: prepared statements,
// batches of bulkBatch rows per transaction, and the audit chain carried in
// memory within a batch (each batch re-reads the chain's head, so a server
// writing meanwhile never forks it). Each token gets a "created" record; the
// remaining records are "value-viewed" and "updated" records spread over the
// tokens. progress, if set, is called after each batch.
func (s *Store) BulkSeed(ctx context.Context, sealer *Sealer, accountID string, tokens, audit int, progress func(tokens, audit int)) error {
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
	// One connection with a large page cache: without it SQLite spills dirty
	// pages to the log in the middle of every batch.
	conn, err := s.db.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, `PRAGMA cache_size = -262144`); err != nil {
		return err
	}
	if _, err := conn.ExecContext(ctx, `PRAGMA synchronous = OFF`); err != nil {
		return err
	}
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = NORMAL`)
	defer conn.ExecContext(context.WithoutCancel(ctx), `PRAGMA cache_size = -2000`)
	now := s.now()
	var ids, names []string
	made, records := 0, 0
	return bulkTx(ctx, conn, func(tx *sql.Tx, chain *chainWriter) error {
		for made < tokens {
			n := min(bulkBatch, tokens-made)
			err := func() error {
				insert, err := tx.PrepareContext(ctx, `INSERT INTO api_tokens
				(id, account_id, name, description, status, secret_hash, secret_sealed, module_bits,
				 created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name,
				 last_access_at, last_access_ip, last_access_agent)
				VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 'SYSTEM', 'Gatehouse', ?, 'SYSTEM', 'Gatehouse', ?, ?, ?)`)
				if err != nil {
					return err
				}
				defer insert.Close()
				grant, err := tx.PrepareContext(ctx, `INSERT INTO api_token_modules (token_id, module_id) VALUES (?, ?)`)
				if err != nil {
					return err
				}
				defer grant.Close()
				for i := made; i < made+n; i++ {
					created := now.Add(-time.Duration(tokens-i) * time.Minute)
					status := StatusActive
					if i%5 == 4 {
						status = StatusDisabled
					}
					var access any
					ip, agent := "", ""
					if i%7 != 6 {
						access = created.Add(time.Duration(i%50) * time.Second)
						ip, agent = fmt.Sprintf("198.51.100.%d", i%250+1), "bulk-client/1.0"
					}
					name := fmt.Sprintf("%s %s %d", bulkNames[i%len(bulkNames)], bulkNames[(i/len(bulkNames))%len(bulkNames)], i+1)
					var granted []string
					var mask int64
					for j, m := range mods {
						if (i>>j)&1 == 1 {
							granted = append(granted, m.ID)
							mask |= bits[j]
						}
					}
					var value string
					id, err := insertWithID(func() string { return NewID("TKN", 2) }, func(id string) error {
						value = NewTokenValue(id)
						_, err := insert.ExecContext(ctx, id, accountID, name, "Bulk token for load tests.", status,
							HashTokenValue(value), sealer.Seal(id, value), mask, created, created, access, ip, agent)
						return err
					})
					if err != nil {
						return fmt.Errorf("bulk token %d: %w", i, err)
					}
					for _, m := range granted {
						if _, err := grant.ExecContext(ctx, id, m); err != nil {
							return err
						}
					}
					ids, names = append(ids, id), append(names, name)
					if err := chain.append(AuditRecord{
						AccountID: accountID, OccurredAt: created, Event: EventTokenCreated,
						ObjectType: ObjectTypeToken, ObjectID: id, ObjectName: name, Actor: SystemActor,
						Summary: "API token " + id + " was created.",
						Details: detailsJSON(map[string]any{"after": map[string]any{"name": name, "modules": granted, "status": status}}),
					}); err != nil {
						return err
					}
				}
				return nil
			}()
			if err != nil {
				return err
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
			err := func() error {
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
				return nil
			}()
			if err != nil {
				return err
			}
			records += n
			if progress != nil {
				progress(made, records)
			}
		}
		return nil
	})
}

// chainWriter appends audit records within one transaction, carrying the
// chain's head in memory instead of reading it back for every record.
type chainWriter struct {
	ctx  context.Context
	stmt *sql.Stmt
	prev string
}

func (w *chainWriter) append(r AuditRecord) error {
	r.OccurredAt = r.OccurredAt.Truncate(time.Millisecond).UTC()
	if r.Details == "" {
		r.Details = "{}"
	}
	r.PrevHash = w.prev
	for try := 0; ; try++ {
		r.ID = NewID("AUD", 4)
		r.Hash = chainHash(w.prev, r)
		_, err := w.stmt.ExecContext(w.ctx, r.ID, r.AccountID, r.OccurredAt.UnixMilli(), r.Event, r.ObjectType, r.ObjectID, r.ObjectName,
			r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent, r.Summary, r.Details, r.PrevHash, r.Hash)
		if err == nil {
			break
		}
		if !isUniqueViolation(err) || try == 10 {
			return fmt.Errorf("append audit record: %w", err)
		}
	}
	w.prev = r.Hash
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
	w := &chainWriter{ctx: ctx}
	if err := tx.QueryRowContext(ctx, `SELECT COALESCE((SELECT hash FROM audit_records ORDER BY seq DESC LIMIT 1), '')`).Scan(&w.prev); err != nil {
		return err
	}
	if w.stmt, err = tx.PrepareContext(ctx, `INSERT INTO audit_records
		(id, account_id, occurred_at, event, object_type, object_id, object_name,
		 actor_type, actor_id, actor_name, ip, user_agent, summary, details, prev_hash, hash)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`); err != nil {
		return err
	}
	defer w.stmt.Close()
	if err := fn(tx, w); err != nil {
		return err
	}
	for _, sql := range ddl {
		if _, err := tx.ExecContext(ctx, sql); err != nil {
			return fmt.Errorf("rebuild %q: %w", sql, err)
		}
	}
	if _, err := tx.ExecContext(ctx, `INSERT INTO api_tokens_search (api_tokens_search) VALUES ('rebuild')`); err != nil {
		return fmt.Errorf("rebuild the search index: %w", err)
	}
	return tx.Commit()
}

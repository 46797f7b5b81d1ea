package sqldb

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"gatehouse/store"
	"slices"
	"strings"
	"time"
)

// checkNewToken adds to errs (store.ValidateToken's messages) one for a
// module not enabled for the account, and returns them all as a
// ValidationError, or nil when there are none.
//
// The account's rows of the modules are locked, in id order, until the
// token is written, against a module being disabled for the account at the
// same time (ChangeAccountModules, which takes them in the same order): if
// the disable came first, the module is not enabled here; if this came
// first, the disable waits, then finds the token and takes the module from
// it. Either way no token keeps a module its account lacks.
func (s *Store) checkNewToken(ctx context.Context, tx *Tx, accountID string, nt store.NewToken, errs map[string]string) error {
	byID := slices.Sorted(slices.Values(nt.ModuleIDs))
	missing := map[string]bool{}
	for _, m := range byID {
		var id string
		err := tx.QueryRowContext(ctx, `SELECT module_id FROM account_modules WHERE account_id = ? AND module_id = ?`+s.d.ForUpdate(),
			accountID, m).Scan(&id)
		if errors.Is(err, sql.ErrNoRows) {
			missing[m] = true
		} else if err != nil {
			return err
		}
	}
	for _, m := range nt.ModuleIDs {
		if missing[m] {
			errs["modules"] = fmt.Sprintf("Module %s is not enabled for this account.", m)
		}
	}
	if len(errs) > 0 {
		return &store.ValidationError{Fields: errs}
	}
	return nil
}

// CreateToken adds an Active token to the account and returns it with its
// value, which is shown once here and otherwise kept only hashed and sealed.
func (s *Store) CreateToken(ctx context.Context, sealer *store.Sealer, actor store.Actor, accountID string, nt store.NewToken) (store.Token, string, error) {
	// The logo is decoded before the transaction, which on SQLite holds
	// the write lock.
	logoType, errs := store.ValidateToken(&nt)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Token{}, "", err
	}
	defer tx.Rollback()
	if err := s.checkNewToken(ctx, tx, accountID, nt, errs); err != nil {
		return store.Token{}, "", err
	}
	now := s.now()
	var value string
	id, err := insertWithID(func() string { return store.NewID("TKN", 2) }, func(id string) (bool, error) {
		value = store.NewTokenValue(id)
		return inserted(tx.ExecContext(ctx, `INSERT INTO api_tokens
			(id, account_id, name, description, status, secret_hash, secret_sealed, logo_type,
			 created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name)
			VALUES (?, ?, ?, ?, 'Active', ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`,
			id, accountID, nt.Name, nt.Description, store.HashTokenValue(value), sealer.Seal(id, value), logoType,
			now, actor.ID, actor.Name, now, actor.ID, actor.Name))
	})
	if err != nil {
		return store.Token{}, "", fmt.Errorf("insert token: %w", err)
	}
	if nt.DraftID != "" {
		res, err := tx.ExecContext(ctx, `UPDATE token_drafts SET token_id = ?, updated_at = ?
			WHERE id = ? AND user_id = ? AND token_id IS NULL`, id, now, nt.DraftID, actor.ID)
		if err != nil {
			return store.Token{}, "", err
		}
		if n, err := res.RowsAffected(); err != nil {
			return store.Token{}, "", err
		} else if n != 1 {
			return store.Token{}, "", store.ErrConflict
		}
	}
	if logoType != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_logos (token_id, content_type, data) VALUES (?, ?, ?)`,
			id, logoType, nt.Logo); err != nil {
			return store.Token{}, "", err
		}
	}
	if err := setTokenModules(ctx, tx, id, nt.ModuleIDs); err != nil {
		return store.Token{}, "", err
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: store.EventTokenCreated,
		ObjectType: store.ObjectTypeToken, ObjectID: id, ObjectName: nt.Name, Actor: actor,
		Summary: fmt.Sprintf("API token %s was created.", id),
		Details: detailsJSON(map[string]any{"after": map[string]any{
			"name": nt.Name, "description": nt.Description, "modules": nt.ModuleIDs, "status": store.StatusActive, "logo": logoType != "",
		}}),
	}); err != nil {
		return store.Token{}, "", err
	}
	t, err := s.token(ctx, tx, accountID, id)
	if err != nil {
		return store.Token{}, "", err
	}
	// Logged: a replica that was asked for this id before it existed
	// remembers it as absent until the change log says otherwise.
	return t, value, s.commitTokenChange(ctx, tx, id, true)
}

// setTokenModules replaces a token's granted modules and keeps its
// module_bits in step with them.
func setTokenModules(ctx context.Context, tx *Tx, tokenID string, moduleIDs []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_token_modules WHERE token_id = ?`, tokenID); err != nil {
		return err
	}
	for _, m := range moduleIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_modules (token_id, module_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, tokenID, m); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET module_bits = (
		SELECT CAST(COALESCE(SUM(m.bit), 0) AS BIGINT) FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = ?)
		WHERE id = ?`, tokenID, tokenID)
	return err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *Row
}

const tokenColumns = `t.id, t.account_id, a.name, t.name, t.description, t.status, COALESCE(t.logo_type, ''),
	t.created_at, t.created_by_id, t.created_by_name, t.updated_at, t.updated_by_id, t.updated_by_name,
	t.last_access_at, COALESCE(t.last_access_ip, ''), COALESCE(t.last_access_agent, ''),
	t.disabled_at, COALESCE(t.disabled_by_id, ''), COALESCE(t.disabled_by_name, ''), COALESCE(t.disabled_reason, ''),
	t.version, t.module_bits`

func (s *Store) scanToken(row interface{ Scan(...any) error }) (store.Token, error) {
	var t store.Token
	var lastAccess, disabled sql.NullTime
	var bits int64
	err := row.Scan(&t.ID, &t.AccountID, &t.AccountName, &t.Name, &t.Description, &t.Status, &t.LogoType,
		&t.CreatedAt, &t.CreatedBy.ID, &t.CreatedBy.Name, &t.UpdatedAt, &t.UpdatedBy.ID, &t.UpdatedBy.Name,
		&lastAccess, &t.LastAccessIP, &t.LastAccessAgent,
		&disabled, &t.DisabledBy.ID, &t.DisabledBy.Name, &t.DisabledReason, &t.Version, &bits)
	t.LastAccessAt, t.DisabledAt = lastAccess.Time, disabled.Time
	t.Modules = s.modulesOf(bits)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Token{}, store.ErrNotFound
	}
	return t, err
}

// Token returns a live (not deleted) token of the account with its modules.
// Another account's token, a deleted one and an unknown id are all ErrNotFound.
func (s *Store) Token(ctx context.Context, accountID, id string) (store.Token, error) {
	return s.token(ctx, s.db, accountID, id)
}

func (s *Store) token(ctx context.Context, q querier, accountID, id string) (store.Token, error) {
	return s.scanToken(q.QueryRowContext(ctx, `SELECT `+tokenColumns+`
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.id = ? AND t.account_id = ? AND t.status != 'Deleted'`, id, accountID))
}

// TokenStatuses returns the status of each of ids that is a token of the
// account, deleted ones included: where an audit grid links a record (a
// live token's page, a deleted one's audit trail). It reads at most
// len(ids) rows by primary key.
func (s *Store) TokenStatuses(ctx context.Context, accountID string, ids []string) (map[string]string, error) {
	statuses := make(map[string]string, len(ids))
	if len(ids) == 0 {
		return statuses, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	// Only the ids are in the condition, and the account is checked here:
	// given the account too, SQLite chose the account's list index and
	// walked all of its tokens (20 ms at 100 000) instead of looking up
	// len(ids) primary keys.
	rows, err := s.db.QueryContext(ctx, `SELECT id, account_id, status FROM api_tokens
		WHERE id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id, account, status string
		if err := rows.Scan(&id, &account, &status); err != nil {
			return nil, err
		}
		if account == accountID {
			statuses[id] = status
		}
	}
	return statuses, rows.Err()
}

// DeletedToken returns a deleted token of the account: which it was, and
// who deleted it when. A live token, another account's and an unknown id
// are ErrNotFound. Where the row does not say who deleted it (bulk data),
// the token's newest deleted audit record does.
func (s *Store) DeletedToken(ctx context.Context, accountID, id string) (store.DeletedToken, error) {
	var t store.DeletedToken
	var at sql.NullTime
	var byID, byName sql.NullString
	err := s.db.QueryRowContext(ctx, `SELECT t.id, t.account_id, a.name, t.name, t.deleted_at, t.deleted_by_id, t.deleted_by_name
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.id = ? AND t.account_id = ? AND t.status = 'Deleted'`, id, accountID).Scan(
		&t.ID, &t.AccountID, &t.AccountName, &t.Name, &at, &byID, &byName)
	if errors.Is(err, sql.ErrNoRows) {
		return store.DeletedToken{}, store.ErrNotFound
	} else if err != nil {
		return store.DeletedToken{}, err
	}
	if at.Valid {
		t.DeletedAt, t.DeletedBy = at.Time.UTC(), store.ActorRef{ID: byID.String, Name: byName.String}
		return t, nil
	}
	var ms int64
	err = s.db.QueryRowContext(ctx, `SELECT occurred_at, actor_id, actor_name FROM audit_records
		WHERE account_id = ? AND object_id = ? AND event = ? ORDER BY occurred_at DESC, seq DESC LIMIT 1`,
		accountID, id, store.EventTokenDeleted).Scan(&ms, &t.DeletedBy.ID, &t.DeletedBy.Name)
	switch {
	case err == nil:
		t.DeletedAt = time.UnixMilli(ms).UTC()
	case !errors.Is(err, sql.ErrNoRows):
		return store.DeletedToken{}, err
	}
	return t, nil
}

// TokensNamed returns, ordered by name and id, up to limit tokens of the
// account whose name starts with prefix, deleted ones included. Case is
// ignored for ASCII letters, as the list's name order ignores it. Each half
// is a range on an index of (account_id, folded name): the list's for live
// tokens, api_tokens_deleted_by_name for deleted ones; so a prefix costs
// the tokens it matches, never a scan of the account's.
func (s *Store) TokensNamed(ctx context.Context, accountID, prefix string, limit int) ([]store.TokenMatch, error) {
	if prefix == "" || limit <= 0 {
		return nil, nil
	}
	// Every name that starts with the folded prefix sorts at or after it
	// and before it followed by the last code point, which no name holds.
	low := foldASCII(prefix)
	high := low + "\U0010FFFF"
	name := s.d.NoCase("name")
	var out []store.TokenMatch
	for _, status := range []string{`status != 'Deleted'`, `status = 'Deleted'`} {
		rows, err := s.db.QueryContext(ctx, `SELECT id, name, status FROM api_tokens
			WHERE account_id = ? AND `+status+` AND `+name+` >= ? AND `+name+` < ?
			ORDER BY `+name+`, id LIMIT ?`, accountID, low, high, limit)
		if err != nil {
			return nil, err
		}
		for rows.Next() {
			var m store.TokenMatch
			if err := rows.Scan(&m.ID, &m.Name, &m.Status); err != nil {
				rows.Close()
				return nil, err
			}
			out = append(out, m)
		}
		err = rows.Err()
		rows.Close()
		if err != nil {
			return nil, err
		}
	}
	slices.SortFunc(out, func(a, b store.TokenMatch) int {
		return cmp.Or(strings.Compare(foldASCII(a.Name), foldASCII(b.Name)), strings.Compare(a.ID, b.ID))
	})
	return out[:min(len(out), limit)], nil
}

// foldASCII lowers ASCII letters only, as SQLite's NOCASE and PostgreSQL's
// lower() under the "C" collation do.
func foldASCII(s string) string {
	return strings.Map(func(r rune) rune {
		if 'A' <= r && r <= 'Z' {
			return r + ('a' - 'A')
		}
		return r
	}, s)
}

// readCatalogue reads the module catalogue in its order.
func readCatalogue(ctx context.Context, db *DB) ([]catalogued, error) {
	rows, err := db.QueryContext(ctx, `SELECT id, name, description, bit FROM modules ORDER BY position, id`)
	if err != nil {
		return nil, fmt.Errorf("read the module catalogue: %w", err)
	}
	defer rows.Close()
	var out []catalogued
	for rows.Next() {
		var m catalogued
		if err := rows.Scan(&m.ID, &m.Name, &m.Description, &m.bit); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

// modulesOf returns the modules whose bits are set in bits (a token's
// module_bits, kept in step with its api_token_modules rows in the same
// transaction), in catalogue order, without a query.
func (s *Store) modulesOf(bits int64) []store.Module {
	var out []store.Module
	for _, m := range s.catalogue {
		if bits&m.bit != 0 {
			out = append(out, m.Module)
		}
	}
	return out
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// ListTokens returns one page of the account's live tokens. The page's ids
// are found first (from the covering index where no search is given), and only
// those rows are read in full.
func (s *Store) ListTokens(ctx context.Context, accountID string, q store.TokenQuery) (store.TokenPage, error) {
	where := []string{"t.account_id = ?", "t.status != 'Deleted'"}
	args := []any{accountID}
	if q.Status != "" {
		where = append(where, "t.status = ?")
		args = append(args, q.Status)
	}
	if q.Module != "" {
		where = append(where, "t.module_bits & (SELECT m.bit FROM modules m WHERE m.id = ?) != 0")
		args = append(args, q.Module)
	}
	if q.Search != "" {
		cond, sargs := s.d.Search(q.Search)
		where = append(where, cond)
		args = append(args, sargs...)
	}
	if q.Filter != nil {
		sql, fargs, err := renderFilter(s.d, store.TokenSchema, tokenSQL, *q.Filter)
		if err != nil {
			return store.TokenPage{}, err
		}
		where = append(where, sql)
		args = append(args, fargs...)
	}
	cond := strings.Join(where, " AND ")

	var page store.TokenPage
	if q.Search == "" && q.Module == "" && q.Filter == nil {
		// Only the status narrows the list: the counts table knows.
		err := s.db.QueryRowContext(ctx, `SELECT CAST(COALESCE(SUM(n), 0) AS BIGINT) FROM api_token_counts
			WHERE account_id = ? AND status != 'Deleted' AND (? = '' OR status = ?)`,
			accountID, q.Status, q.Status).Scan(&page.Total)
		if err != nil {
			return store.TokenPage{}, fmt.Errorf("count tokens: %w", err)
		}
	} else if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens t WHERE `+cond, args...).Scan(&page.Total); err != nil {
		return store.TokenPage{}, fmt.Errorf("count tokens: %w", err)
	}
	if page.Total == 0 || q.Offset >= page.Total {
		return page, nil
	}

	limit := q.Limit
	if limit <= 0 {
		limit = 10
	}
	// A page in the second half of the list is read from its end, in the
	// opposite order, so that no page skips more than half of the rows.
	offset := q.Offset
	reverse := q.Offset > page.Total/2
	if reverse {
		n := min(limit, page.Total-q.Offset)
		offset, limit = page.Total-q.Offset-n, n
	}
	orderBy, err := orderSQL(s.d, store.TokenSchema, tokenSQL, s.tokenOrder, q.SortKeys(), "t.id", reverse)
	if err != nil {
		return store.TokenPage{}, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+`
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.id IN (SELECT t.id FROM api_tokens t WHERE `+cond+` ORDER BY `+orderBy+` LIMIT ? OFFSET ?)
		ORDER BY `+orderBy, append(args, limit, offset)...)
	if err != nil {
		return store.TokenPage{}, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		t, err := s.scanToken(rows)
		if err != nil {
			return store.TokenPage{}, err
		}
		page.Tokens = append(page.Tokens, t)
	}
	if err := rows.Err(); err != nil {
		return store.TokenPage{}, err
	}
	if reverse {
		slices.Reverse(page.Tokens)
	}
	return page, nil
}

// transition moves a token from one of the allowed statuses to another, checks
// the caller's version, and writes the audit record, all in one transaction.
func (s *Store) transition(ctx context.Context, actor store.Actor, accountID, id string, version int64,
	action store.Action, summary string, extra map[string]any, set string, setArgs ...any) (store.Token, error) {
	to, event := store.Transitions[action].To, store.Transitions[action].Event
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Token{}, err
	}
	defer tx.Rollback()
	cur, err := s.token(ctx, tx, accountID, id)
	if err != nil {
		return store.Token{}, err
	}
	if version != 0 && cur.Version != version {
		return cur, store.ErrConflict
	}
	if !action.Applies(cur.Status) {
		return cur, store.ErrInvalidTransition
	}
	now := s.now()
	args := append([]any{to, now, actor.ID, actor.Name}, setArgs...)
	args = append(args, id, accountID, cur.Version)
	res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET status = ?, updated_at = ?, updated_by_id = ?, updated_by_name = ?,
		version = version + 1`+set+` WHERE id = ? AND account_id = ? AND version = ?`, args...)
	if err != nil {
		return store.Token{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cur, store.ErrConflict
	}
	details := map[string]any{"changes": map[string]store.Change{"status": {Before: cur.Status, After: to}}}
	for k, v := range extra {
		details[k] = v
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: event,
		ObjectType: store.ObjectTypeToken, ObjectID: id, ObjectName: cur.Name, Actor: actor,
		Summary: summary, Details: detailsJSON(details),
	}); err != nil {
		return store.Token{}, err
	}
	var t store.Token
	if to != store.StatusDeleted {
		if t, err = s.token(ctx, tx, accountID, id); err != nil {
			return store.Token{}, err
		}
	}
	return t, s.commitTokenChange(ctx, tx, id, true)
}

// DisableToken moves an Active token to Disabled. version 0 skips the
// optimistic concurrency check.
func (s *Store) DisableToken(ctx context.Context, actor store.Actor, accountID, id string, version int64, reason string) (store.Token, error) {
	reason = store.CleanText(reason) // the handlers refuse invalid text; the store never stores it
	extra := map[string]any{}
	if reason != "" {
		extra["reason"] = reason
	}
	return s.transition(ctx, actor, accountID, id, version, store.ActionDisable, fmt.Sprintf("API token %s was disabled.", id), extra,
		`, disabled_at = ?, disabled_by_id = ?, disabled_by_name = ?, disabled_reason = NULLIF(?, '')`,
		s.now(), actor.ID, actor.Name, reason)
}

// EnableToken moves a Disabled token back to Active.
func (s *Store) EnableToken(ctx context.Context, actor store.Actor, accountID, id string, version int64) (store.Token, error) {
	return s.transition(ctx, actor, accountID, id, version, store.ActionEnable, fmt.Sprintf("API token %s was enabled.", id), nil,
		`, disabled_at = NULL, disabled_by_id = NULL, disabled_by_name = NULL, disabled_reason = NULL`)
}

// DeleteToken moves an Active or Disabled token to Deleted, for good.
func (s *Store) DeleteToken(ctx context.Context, actor store.Actor, accountID, id string, version int64) error {
	_, err := s.transition(ctx, actor, accountID, id, version, store.ActionDelete, fmt.Sprintf("API token %s was deleted.", id), nil,
		`, deleted_at = ?, deleted_by_id = ?, deleted_by_name = ?`, s.now(), actor.ID, actor.Name)
	return err
}

// RevealToken opens a token's sealed value for an administrator and records
// the viewing in the audit trail, in one transaction: a value is never handed
// out without its audit record. purpose is "show" or "copy".
func (s *Store) RevealToken(ctx context.Context, sealer *store.Sealer, actor store.Actor, accountID, id, purpose string) (string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return "", err
	}
	defer tx.Rollback()
	var name string
	var sealed []byte
	err = tx.QueryRowContext(ctx, `SELECT name, secret_sealed FROM api_tokens WHERE id = ? AND account_id = ? AND status != 'Deleted'`,
		id, accountID).Scan(&name, &sealed)
	if errors.Is(err, sql.ErrNoRows) {
		return "", store.ErrNotFound
	}
	if err != nil {
		return "", err
	}
	value, err := sealer.Open(id, sealed)
	if err != nil {
		return "", fmt.Errorf("token %s: %w", id, err)
	}
	verb := "shown"
	if purpose == "copy" {
		verb = "copied"
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: accountID, Event: store.EventTokenValueViewed,
		ObjectType: store.ObjectTypeToken, ObjectID: id, ObjectName: name, Actor: actor,
		Summary: fmt.Sprintf("The value of API token %s was %s.", id, verb),
		Details: detailsJSON(map[string]any{"purpose": purpose}),
	}); err != nil {
		return "", err
	}
	return value, tx.Commit()
}

// UpdateToken applies an edit made against version and records what changed,
// before and after, in the same transaction. An edit that changes nothing
// writes nothing and reports changed=false.
func (s *Store) UpdateToken(ctx context.Context, actor store.Actor, accountID, id string, version int64, u store.TokenUpdate) (t store.Token, changed bool, err error) {
	// The logo is decoded before the transaction, which on SQLite holds
	// the write lock.
	nt := store.NewToken{Name: u.Name, Description: u.Description, ModuleIDs: u.ModuleIDs, Logo: u.Logo}
	logoType, errs := store.ValidateToken(&nt)
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Token{}, false, err
	}
	defer tx.Rollback()
	cur, err := s.token(ctx, tx, accountID, id)
	if err != nil {
		return store.Token{}, false, err
	}
	if err := s.checkNewToken(ctx, tx, accountID, nt, errs); err != nil {
		return cur, false, err
	}
	if version != 0 && cur.Version != version {
		return cur, false, store.ErrConflict
	}
	changes := map[string]store.Change{}
	if cur.Name != nt.Name {
		changes["name"] = store.Change{Before: cur.Name, After: nt.Name}
	}
	if cur.Description != nt.Description {
		changes["description"] = store.Change{Before: cur.Description, After: nt.Description}
	}
	before := make([]string, len(cur.Modules))
	for i, m := range cur.Modules {
		before[i] = m.ID
	}
	after, err := canonicalModules(ctx, tx, nt.ModuleIDs)
	if err != nil {
		return store.Token{}, false, err
	}
	if strings.Join(before, ",") != strings.Join(after, ",") {
		changes["modules"] = store.Change{Before: before, After: after}
	}
	newLogoType := cur.LogoType
	switch {
	case logoType != "":
		newLogoType = logoType
		changes["logo"] = store.Change{Before: cur.LogoType != "", After: true}
	case u.RemoveLogo && cur.LogoType != "":
		newLogoType = ""
		changes["logo"] = store.Change{Before: true, After: false}
	}
	if len(changes) == 0 {
		return cur, false, nil
	}
	now := s.now()
	res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET name = ?, description = ?, logo_type = NULLIF(?, ''),
		updated_at = ?, updated_by_id = ?, updated_by_name = ?, version = version + 1
		WHERE id = ? AND account_id = ? AND version = ?`,
		nt.Name, nt.Description, newLogoType, now, actor.ID, actor.Name, id, accountID, cur.Version)
	if err != nil {
		return store.Token{}, false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cur, false, store.ErrConflict
	}
	if _, ok := changes["modules"]; ok {
		if err := setTokenModules(ctx, tx, id, after); err != nil {
			return store.Token{}, false, err
		}
	}
	switch {
	case logoType != "":
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_logos (token_id, content_type, data) VALUES (?, ?, ?)
			ON CONFLICT (token_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data`, id, logoType, nt.Logo); err != nil {
			return store.Token{}, false, err
		}
	case newLogoType == "":
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_token_logos WHERE token_id = ?`, id); err != nil {
			return store.Token{}, false, err
		}
	}
	fields := make([]string, 0, len(changes))
	for _, f := range []string{"name", "description", "modules", "logo"} {
		if _, ok := changes[f]; ok {
			fields = append(fields, f)
		}
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: store.EventTokenUpdated,
		ObjectType: store.ObjectTypeToken, ObjectID: id, ObjectName: nt.Name, Actor: actor,
		Summary: fmt.Sprintf("API token %s was updated (%s).", id, strings.Join(fields, ", ")),
		Details: detailsJSON(map[string]any{"changes": changes}),
	}); err != nil {
		return store.Token{}, false, err
	}
	if t, err = s.token(ctx, tx, accountID, id); err != nil {
		return store.Token{}, false, err
	}
	// Only the name and the modules are in a verify answer.
	_, renamed := changes["name"]
	_, regranted := changes["modules"]
	return t, true, s.commitTokenChange(ctx, tx, id, renamed || regranted)
}

// canonicalModules returns module ids deduplicated in catalogue order.
func canonicalModules(ctx context.Context, q querier, ids []string) ([]string, error) {
	if len(ids) == 0 {
		return []string{}, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT id FROM modules WHERE id IN (`+placeholders(len(ids))+`) ORDER BY position`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		out = append(out, id)
	}
	return out, rows.Err()
}

// LastChange returns the latest record of a change to the token (not a
// viewing or a rejected call): who last changed it, and how.
func (s *Store) LastChange(ctx context.Context, accountID, tokenID string) (store.AuditRecord, error) {
	return scanAudit(s.db.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_records
		WHERE account_id = ? AND object_id = ? AND event NOT IN (?, ?)
		ORDER BY occurred_at DESC, seq DESC LIMIT 1`, accountID, tokenID, store.EventTokenValueViewed, store.EventTokenRejected))
}

// TokenLogo returns the logo of a live token of the account.
func (s *Store) TokenLogo(ctx context.Context, accountID, id string) (string, []byte, error) {
	var ct string
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT l.content_type, l.data FROM api_token_logos l
		JOIN api_tokens t ON t.id = l.token_id
		WHERE t.id = ? AND t.account_id = ? AND t.status != 'Deleted'`, id, accountID).Scan(&ct, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, store.ErrNotFound
	}
	return ct, data, err
}

package store

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Token statuses of SPEC §2.4.
const (
	StatusActive   = "Active"
	StatusDisabled = "Disabled"
	StatusDeleted  = "Deleted"
)

// Limits of the token fields.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
	MaxLogoBytes         = 5 << 20
)

// ActorRef names who did something, as recorded at the time.
type ActorRef struct {
	ID   string
	Name string
}

// Token is an API token as the console and the API show it. The value is
// never part of it.
type Token struct {
	ID              string
	AccountID       string
	AccountName     string
	Name            string
	Description     string
	Status          string
	LogoType        string
	Modules         []Module
	CreatedAt       time.Time
	CreatedBy       ActorRef
	UpdatedAt       time.Time
	UpdatedBy       ActorRef
	LastAccessAt    sql.NullTime
	LastAccessIP    string
	LastAccessAgent string
	DisabledAt      sql.NullTime
	DisabledBy      ActorRef
	DisabledReason  string
	Version         int64
}

// NewToken holds the fields of a token being added.
type NewToken struct {
	Name        string
	Description string
	ModuleIDs   []string
	Logo        []byte
}

// ValidateName checks a token name against SPEC §2.4 and returns the message
// for the field, or "".
func ValidateName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "Name contains invalid characters."
	case strings.TrimSpace(name) == "":
		return "Name is required."
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Sprintf("Name must be at most %d characters (it has %d).", MaxNameLength, utf8.RuneCountInString(name))
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" -.'\"", r) {
			return fmt.Sprintf("Name may contain letters, digits, spaces, hyphens, periods, apostrophes and quotation marks, not %q.", r)
		}
	}
	return ""
}

// ValidateDescription checks a token description and returns the message for
// the field, or "".
func ValidateDescription(d string) string {
	switch {
	case !utf8.ValidString(d):
		return "Description contains invalid characters."
	case utf8.RuneCountInString(d) > MaxDescriptionLength:
		return fmt.Sprintf("Description must be at most %d characters (it has %d).", MaxDescriptionLength, utf8.RuneCountInString(d))
	}
	for _, r := range d {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return "Description contains control characters."
		}
	}
	return ""
}

// LogoType returns the content type of a PNG or JPEG logo judged by its bytes,
// or a message saying why the logo is refused.
func LogoType(b []byte) (string, string) {
	if len(b) > MaxLogoBytes {
		return "", "Logo must be at most 5 MB."
	}
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "image/png", ""
	case http.DetectContentType(b) == "image/jpeg":
		return "image/jpeg", ""
	}
	return "", "Logo must be a PNG or JPEG image."
}

func (s *Store) validateNewToken(ctx context.Context, tx *sql.Tx, accountID string, nt *NewToken) (string, error) {
	errs := map[string]string{}
	nt.Name = strings.TrimSpace(nt.Name)
	if m := ValidateName(nt.Name); m != "" {
		errs["name"] = m
	}
	if m := ValidateDescription(nt.Description); m != "" {
		errs["description"] = m
	}
	var logoType string
	if len(nt.Logo) > 0 {
		var m string
		if logoType, m = LogoType(nt.Logo); m != "" {
			errs["logo"] = m
		}
	}
	seen := map[string]bool{}
	unique := nt.ModuleIDs[:0:0]
	for _, m := range nt.ModuleIDs {
		if !seen[m] {
			seen[m] = true
			unique = append(unique, m)
		}
	}
	nt.ModuleIDs = unique
	for _, m := range nt.ModuleIDs {
		var n int
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM account_modules WHERE account_id = ? AND module_id = ?`,
			accountID, m).Scan(&n); err != nil {
			return "", err
		}
		if n == 0 {
			errs["modules"] = fmt.Sprintf("Module %s is not enabled for this account.", m)
		}
	}
	if len(errs) > 0 {
		return "", &ValidationError{Fields: errs}
	}
	return logoType, nil
}

// CreateToken adds an Active token to the account and returns it with its
// value, which is shown once here and otherwise kept only hashed and sealed.
func (s *Store) CreateToken(ctx context.Context, sealer *Sealer, actor Actor, accountID string, nt NewToken) (Token, string, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, "", err
	}
	defer tx.Rollback()
	logoType, err := s.validateNewToken(ctx, tx, accountID, &nt)
	if err != nil {
		return Token{}, "", err
	}
	now := s.now()
	var value string
	id, err := insertWithID(func() string { return NewID("TKN", 2) }, func(id string) error {
		value = NewTokenValue(id)
		_, err := tx.ExecContext(ctx, `INSERT INTO api_tokens
			(id, account_id, name, description, status, secret_hash, secret_sealed, logo_type,
			 created_at, created_by_id, created_by_name, updated_at, updated_by_id, updated_by_name)
			VALUES (?, ?, ?, ?, 'Active', ?, ?, NULLIF(?, ''), ?, ?, ?, ?, ?, ?)`,
			id, accountID, nt.Name, nt.Description, HashTokenValue(value), sealer.Seal(id, value), logoType,
			now, actor.ID, actor.Name, now, actor.ID, actor.Name)
		return err
	})
	if err != nil {
		return Token{}, "", fmt.Errorf("insert token: %w", err)
	}
	if logoType != "" {
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_logos (token_id, content_type, data) VALUES (?, ?, ?)`,
			id, logoType, nt.Logo); err != nil {
			return Token{}, "", err
		}
	}
	if err := setTokenModules(ctx, tx, id, nt.ModuleIDs); err != nil {
		return Token{}, "", err
	}
	if _, err := s.appendAudit(ctx, tx, AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: EventTokenCreated,
		ObjectType: ObjectTypeToken, ObjectID: id, ObjectName: nt.Name, Actor: actor,
		Summary: fmt.Sprintf("API token %s was created.", id),
		Details: detailsJSON(map[string]any{"after": map[string]any{
			"name": nt.Name, "description": nt.Description, "modules": nt.ModuleIDs, "status": StatusActive, "logo": logoType != "",
		}}),
	}); err != nil {
		return Token{}, "", err
	}
	t, err := s.token(ctx, tx, accountID, id)
	if err != nil {
		return Token{}, "", err
	}
	return t, value, tx.Commit()
}

// setTokenModules replaces a token's granted modules and keeps its
// module_bits in step with them.
func setTokenModules(ctx context.Context, tx *sql.Tx, tokenID string, moduleIDs []string) error {
	if _, err := tx.ExecContext(ctx, `DELETE FROM api_token_modules WHERE token_id = ?`, tokenID); err != nil {
		return err
	}
	for _, m := range moduleIDs {
		if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO api_token_modules (token_id, module_id) VALUES (?, ?)`, tokenID, m); err != nil {
			return err
		}
	}
	_, err := tx.ExecContext(ctx, `UPDATE api_tokens SET module_bits = (
		SELECT COALESCE(SUM(m.bit), 0) FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = ?)
		WHERE id = ?`, tokenID, tokenID)
	return err
}

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

const tokenColumns = `t.id, t.account_id, a.name, t.name, t.description, t.status, COALESCE(t.logo_type, ''),
	t.created_at, t.created_by_id, t.created_by_name, t.updated_at, t.updated_by_id, t.updated_by_name,
	t.last_access_at, COALESCE(t.last_access_ip, ''), COALESCE(t.last_access_agent, ''),
	t.disabled_at, COALESCE(t.disabled_by_id, ''), COALESCE(t.disabled_by_name, ''), COALESCE(t.disabled_reason, ''),
	t.version`

func scanToken(row interface{ Scan(...any) error }) (Token, error) {
	var t Token
	err := row.Scan(&t.ID, &t.AccountID, &t.AccountName, &t.Name, &t.Description, &t.Status, &t.LogoType,
		&t.CreatedAt, &t.CreatedBy.ID, &t.CreatedBy.Name, &t.UpdatedAt, &t.UpdatedBy.ID, &t.UpdatedBy.Name,
		&t.LastAccessAt, &t.LastAccessIP, &t.LastAccessAgent,
		&t.DisabledAt, &t.DisabledBy.ID, &t.DisabledBy.Name, &t.DisabledReason, &t.Version)
	if errors.Is(err, sql.ErrNoRows) {
		return Token{}, ErrNotFound
	}
	return t, err
}

// Token returns a live (not deleted) token of the account with its modules.
// Another account's token, a deleted one and an unknown id are all ErrNotFound.
func (s *Store) Token(ctx context.Context, accountID, id string) (Token, error) {
	return s.token(ctx, s.db, accountID, id)
}

func (s *Store) token(ctx context.Context, q querier, accountID, id string) (Token, error) {
	t, err := scanToken(q.QueryRowContext(ctx, `SELECT `+tokenColumns+`
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.id = ? AND t.account_id = ? AND t.status != 'Deleted'`, id, accountID))
	if err != nil {
		return Token{}, err
	}
	mods, err := tokenModules(ctx, q, []string{id})
	if err != nil {
		return Token{}, err
	}
	t.Modules = mods[id]
	return t, nil
}

// LiveTokens reports which of ids are tokens of the account that are not
// deleted: the ones an audit grid can link to. It reads at most len(ids)
// rows by primary key.
func (s *Store) LiveTokens(ctx context.Context, accountID string, ids []string) (map[string]bool, error) {
	live := make(map[string]bool, len(ids))
	if len(ids) == 0 {
		return live, nil
	}
	args := make([]any, 0, len(ids)+1)
	args = append(args, accountID)
	for _, id := range ids {
		args = append(args, id)
	}
	rows, err := s.db.QueryContext(ctx, `SELECT id FROM api_tokens
		WHERE account_id = ? AND status != 'Deleted' AND id IN (`+placeholders(len(ids))+`)`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return nil, err
		}
		live[id] = true
	}
	return live, rows.Err()
}

// tokenModules returns the granted modules of each token, in catalogue order.
func tokenModules(ctx context.Context, q querier, ids []string) (map[string][]Module, error) {
	out := make(map[string][]Module, len(ids))
	if len(ids) == 0 {
		return out, nil
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT tm.token_id, m.id, m.name, m.description
		FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id
		WHERE tm.token_id IN (`+placeholders(len(ids))+`) ORDER BY m.position`, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	for rows.Next() {
		var tokenID string
		var m Module
		if err := rows.Scan(&tokenID, &m.ID, &m.Name, &m.Description); err != nil {
			return nil, err
		}
		out[tokenID] = append(out[tokenID], m)
	}
	return out, rows.Err()
}

func placeholders(n int) string {
	return strings.TrimSuffix(strings.Repeat("?, ", n), ", ")
}

// TokenOrder is a sort key of the token list.
type TokenOrder string

// The list's sort keys.
const (
	OrderName       TokenOrder = "name"
	OrderCreated    TokenOrder = "created"
	OrderLastAccess TokenOrder = "lastAccess"
	OrderStatus     TokenOrder = "status"
)

// consoleOrder maps the console's sort keys to field paths: status sorts
// by name within each status.
var consoleOrder = map[TokenOrder][]string{
	OrderName:       {"name"},
	OrderCreated:    {"audit.created.at"},
	OrderLastAccess: {"lastAccessAt"},
	OrderStatus:     {"status", "name"},
}

// ValidTokenOrder reports whether o is a known sort key.
func ValidTokenOrder(o TokenOrder) bool {
	_, ok := consoleOrder[o]
	return ok
}

// TokenQuery selects a page of an account's live tokens.
type TokenQuery struct {
	Search string // matched against name, id and description
	Status string // "" for any live status
	Module string // "" for any
	Order  TokenOrder
	Desc   bool
	Offset int
	Limit  int
	Filter *Filter   // an RQL condition from the API
	Sort   []SortKey // the API's order; when set, Order and Desc are ignored
}

// sortKeys is the query's order as field paths.
func (q TokenQuery) sortKeys() []SortKey {
	if len(q.Sort) > 0 {
		return q.Sort
	}
	paths, ok := consoleOrder[q.Order]
	if !ok {
		paths = consoleOrder[OrderCreated]
	}
	keys := make([]SortKey, len(paths))
	for i, p := range paths {
		keys[i] = SortKey{Field: p, Desc: q.Desc}
	}
	return keys
}

// TokenPage is one page of tokens and the number of tokens matching in all.
type TokenPage struct {
	Tokens []Token
	Total  int
}

func escapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// ListTokens returns one page of the account's live tokens. The page's ids
// are found first (from the covering index where no search is given), and only
// those rows are read in full.
func (s *Store) ListTokens(ctx context.Context, accountID string, q TokenQuery) (TokenPage, error) {
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
		if utf8.RuneCountInString(q.Search) >= 3 {
			// The trigram index finds substrings of three or more characters.
			where = append(where, "t.rid IN (SELECT rowid FROM api_tokens_search WHERE api_tokens_search MATCH ?)")
			args = append(args, `"`+strings.ReplaceAll(q.Search, `"`, `""`)+`"`)
		} else {
			where = append(where, `(t.name LIKE ? ESCAPE '\' OR t.id LIKE ? ESCAPE '\' OR t.description LIKE ? ESCAPE '\')`)
			p := escapeLike(q.Search)
			args = append(args, p, p, p)
		}
	}
	if q.Filter != nil {
		sql, fargs, err := renderFilter(TokenSchema, tokenSQL, *q.Filter)
		if err != nil {
			return TokenPage{}, err
		}
		where = append(where, sql)
		args = append(args, fargs...)
	}
	cond := strings.Join(where, " AND ")

	var page TokenPage
	if q.Search == "" && q.Module == "" && q.Filter == nil {
		// Only the status narrows the list: the counts table knows.
		err := s.db.QueryRowContext(ctx, `SELECT COALESCE(SUM(n), 0) FROM api_token_counts
			WHERE account_id = ? AND status != 'Deleted' AND (? = '' OR status = ?)`,
			accountID, q.Status, q.Status).Scan(&page.Total)
		if err != nil {
			return TokenPage{}, fmt.Errorf("count tokens: %w", err)
		}
	} else if err := s.db.QueryRowContext(ctx, `SELECT COUNT(*) FROM api_tokens t WHERE `+cond, args...).Scan(&page.Total); err != nil {
		return TokenPage{}, fmt.Errorf("count tokens: %w", err)
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
	orderBy, err := orderSQL(TokenSchema, tokenSQL, s.tokenOrder, q.sortKeys(), "t.id", reverse)
	if err != nil {
		return TokenPage{}, err
	}
	rows, err := s.db.QueryContext(ctx, `SELECT `+tokenColumns+`
		FROM api_tokens t JOIN accounts a ON a.id = t.account_id
		WHERE t.id IN (SELECT t.id FROM api_tokens t WHERE `+cond+` ORDER BY `+orderBy+` LIMIT ? OFFSET ?)
		ORDER BY `+orderBy, append(args, limit, offset)...)
	if err != nil {
		return TokenPage{}, fmt.Errorf("list tokens: %w", err)
	}
	defer rows.Close()
	var ids []string
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return TokenPage{}, err
		}
		page.Tokens = append(page.Tokens, t)
		ids = append(ids, t.ID)
	}
	if err := rows.Err(); err != nil {
		return TokenPage{}, err
	}
	if reverse {
		slices.Reverse(page.Tokens)
		slices.Reverse(ids)
	}
	mods, err := tokenModules(ctx, s.db, ids)
	if err != nil {
		return TokenPage{}, err
	}
	for i := range page.Tokens {
		page.Tokens[i].Modules = mods[page.Tokens[i].ID]
	}
	return page, nil
}

// transition moves a token from one of the allowed statuses to another, checks
// the caller's version, and writes the audit record, all in one transaction.
func (s *Store) transition(ctx context.Context, actor Actor, accountID, id string, version int64,
	from, to, event, summary string, extra map[string]any, set string, setArgs ...any) (Token, error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, err
	}
	defer tx.Rollback()
	cur, err := s.token(ctx, tx, accountID, id)
	if err != nil {
		return Token{}, err
	}
	if version != 0 && cur.Version != version {
		return cur, ErrConflict
	}
	if !strings.Contains(from, cur.Status) {
		return cur, ErrInvalidTransition
	}
	now := s.now()
	args := append([]any{to, now, actor.ID, actor.Name}, setArgs...)
	args = append(args, id, accountID, cur.Version)
	res, err := tx.ExecContext(ctx, `UPDATE api_tokens SET status = ?, updated_at = ?, updated_by_id = ?, updated_by_name = ?,
		version = version + 1`+set+` WHERE id = ? AND account_id = ? AND version = ?`, args...)
	if err != nil {
		return Token{}, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cur, ErrConflict
	}
	details := map[string]any{"changes": map[string]Change{"status": {Before: cur.Status, After: to}}}
	for k, v := range extra {
		details[k] = v
	}
	if _, err := s.appendAudit(ctx, tx, AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: event,
		ObjectType: ObjectTypeToken, ObjectID: id, ObjectName: cur.Name, Actor: actor,
		Summary: summary, Details: detailsJSON(details),
	}); err != nil {
		return Token{}, err
	}
	var t Token
	if to != StatusDeleted {
		if t, err = s.token(ctx, tx, accountID, id); err != nil {
			return Token{}, err
		}
	}
	return t, s.commitTokenChange(tx, id)
}

// DisableToken moves an Active token to Disabled. version 0 skips the
// optimistic concurrency check.
func (s *Store) DisableToken(ctx context.Context, actor Actor, accountID, id string, version int64, reason string) (Token, error) {
	extra := map[string]any{}
	if reason != "" {
		extra["reason"] = reason
	}
	return s.transition(ctx, actor, accountID, id, version, StatusActive, StatusDisabled, EventTokenDisabled,
		fmt.Sprintf("API token %s was disabled.", id), extra,
		`, disabled_at = ?, disabled_by_id = ?, disabled_by_name = ?, disabled_reason = NULLIF(?, '')`,
		s.now(), actor.ID, actor.Name, reason)
}

// EnableToken moves a Disabled token back to Active.
func (s *Store) EnableToken(ctx context.Context, actor Actor, accountID, id string, version int64) (Token, error) {
	return s.transition(ctx, actor, accountID, id, version, StatusDisabled, StatusActive, EventTokenEnabled,
		fmt.Sprintf("API token %s was enabled.", id), nil,
		`, disabled_at = NULL, disabled_by_id = NULL, disabled_by_name = NULL, disabled_reason = NULL`)
}

// DeleteToken moves an Active or Disabled token to Deleted, for good.
func (s *Store) DeleteToken(ctx context.Context, actor Actor, accountID, id string, version int64) error {
	_, err := s.transition(ctx, actor, accountID, id, version, StatusActive+"|"+StatusDisabled, StatusDeleted, EventTokenDeleted,
		fmt.Sprintf("API token %s was deleted.", id), nil,
		`, deleted_at = ?, deleted_by_id = ?, deleted_by_name = ?`, s.now(), actor.ID, actor.Name)
	return err
}

// RevealToken opens a token's sealed value for an administrator and records
// the viewing in the audit trail, in one transaction: a value is never handed
// out without its audit record. purpose is "show" or "copy".
func (s *Store) RevealToken(ctx context.Context, sealer *Sealer, actor Actor, accountID, id, purpose string) (string, error) {
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
		return "", ErrNotFound
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
	if _, err := s.appendAudit(ctx, tx, AuditRecord{
		AccountID: accountID, Event: EventTokenValueViewed,
		ObjectType: ObjectTypeToken, ObjectID: id, ObjectName: name, Actor: actor,
		Summary: fmt.Sprintf("The value of API token %s was %s.", id, verb),
		Details: detailsJSON(map[string]any{"purpose": purpose}),
	}); err != nil {
		return "", err
	}
	return value, tx.Commit()
}

// TokenUpdate is an edit of a token's general fields and modules.
type TokenUpdate struct {
	Name        string
	Description string
	ModuleIDs   []string
	Logo        []byte // a new logo; nil keeps the current one
	RemoveLogo  bool
}

// UpdateToken applies an edit made against version and records what changed,
// before and after, in the same transaction. An edit that changes nothing
// writes nothing and reports changed=false.
func (s *Store) UpdateToken(ctx context.Context, actor Actor, accountID, id string, version int64, u TokenUpdate) (t Token, changed bool, err error) {
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return Token{}, false, err
	}
	defer tx.Rollback()
	cur, err := s.token(ctx, tx, accountID, id)
	if err != nil {
		return Token{}, false, err
	}
	nt := NewToken{Name: u.Name, Description: u.Description, ModuleIDs: u.ModuleIDs, Logo: u.Logo}
	logoType, err := s.validateNewToken(ctx, tx, accountID, &nt)
	if err != nil {
		return cur, false, err
	}
	if version != 0 && cur.Version != version {
		return cur, false, ErrConflict
	}
	changes := map[string]Change{}
	if cur.Name != nt.Name {
		changes["name"] = Change{cur.Name, nt.Name}
	}
	if cur.Description != nt.Description {
		changes["description"] = Change{cur.Description, nt.Description}
	}
	before := make([]string, len(cur.Modules))
	for i, m := range cur.Modules {
		before[i] = m.ID
	}
	after := canonicalModules(ctx, tx, nt.ModuleIDs)
	if strings.Join(before, ",") != strings.Join(after, ",") {
		changes["modules"] = Change{before, after}
	}
	newLogoType := cur.LogoType
	switch {
	case logoType != "":
		newLogoType = logoType
		changes["logo"] = Change{cur.LogoType != "", true}
	case u.RemoveLogo && cur.LogoType != "":
		newLogoType = ""
		changes["logo"] = Change{true, false}
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
		return Token{}, false, err
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return cur, false, ErrConflict
	}
	if _, ok := changes["modules"]; ok {
		if err := setTokenModules(ctx, tx, id, after); err != nil {
			return Token{}, false, err
		}
	}
	switch {
	case logoType != "":
		if _, err := tx.ExecContext(ctx, `INSERT INTO api_token_logos (token_id, content_type, data) VALUES (?, ?, ?)
			ON CONFLICT (token_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data`, id, logoType, nt.Logo); err != nil {
			return Token{}, false, err
		}
	case newLogoType == "":
		if _, err := tx.ExecContext(ctx, `DELETE FROM api_token_logos WHERE token_id = ?`, id); err != nil {
			return Token{}, false, err
		}
	}
	fields := make([]string, 0, len(changes))
	for _, f := range []string{"name", "description", "modules", "logo"} {
		if _, ok := changes[f]; ok {
			fields = append(fields, f)
		}
	}
	if _, err := s.appendAudit(ctx, tx, AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: EventTokenUpdated,
		ObjectType: ObjectTypeToken, ObjectID: id, ObjectName: nt.Name, Actor: actor,
		Summary: fmt.Sprintf("API token %s was updated (%s).", id, strings.Join(fields, ", ")),
		Details: detailsJSON(map[string]any{"changes": changes}),
	}); err != nil {
		return Token{}, false, err
	}
	if t, err = s.token(ctx, tx, accountID, id); err != nil {
		return Token{}, false, err
	}
	return t, true, s.commitTokenChange(tx, id)
}

// canonicalModules returns module ids deduplicated in catalogue order.
func canonicalModules(ctx context.Context, q querier, ids []string) []string {
	if len(ids) == 0 {
		return []string{}
	}
	args := make([]any, len(ids))
	for i, id := range ids {
		args[i] = id
	}
	rows, err := q.QueryContext(ctx, `SELECT id FROM modules WHERE id IN (`+placeholders(len(ids))+`) ORDER BY position`, args...)
	if err != nil {
		return ids
	}
	defer rows.Close()
	out := []string{}
	for rows.Next() {
		var id string
		if rows.Scan(&id) == nil {
			out = append(out, id)
		}
	}
	return out
}

// LastChange returns the latest record of a change to the token (not a
// viewing or a rejected call): who last changed it, and how.
func (s *Store) LastChange(ctx context.Context, accountID, tokenID string) (AuditRecord, error) {
	return scanAudit(s.db.QueryRowContext(ctx, `SELECT `+auditColumns+` FROM audit_records
		WHERE account_id = ? AND object_id = ? AND event NOT IN (?, ?)
		ORDER BY occurred_at DESC, seq DESC LIMIT 1`, accountID, tokenID, EventTokenValueViewed, EventTokenRejected))
}

// TokenLogo returns the logo of a live token of the account.
func (s *Store) TokenLogo(ctx context.Context, accountID, id string) (string, []byte, error) {
	var ct string
	var data []byte
	err := s.db.QueryRowContext(ctx, `SELECT l.content_type, l.data FROM api_token_logos l
		JOIN api_tokens t ON t.id = l.token_id
		WHERE t.id = ? AND t.account_id = ? AND t.status != 'Deleted'`, id, accountID).Scan(&ct, &data)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil, ErrNotFound
	}
	return ct, data, err
}

package sqldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"

	"gatehouse/store"
)

// CreateAccount adds an account with the given enabled modules, without an
// audit record: it makes the demo's and the bulk seed's accounts, whose
// histories are made up. Accounts that people add (the command line) go
// through AddAccount.
func (s *Store) CreateAccount(ctx context.Context, name, typ string, moduleIDs []string) (store.Account, error) {
	na := store.NewAccount{Name: name, Type: typ, ModuleIDs: moduleIDs}
	if err := s.validateNewAccount(&na); err != nil {
		return store.Account{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Account{}, err
	}
	defer tx.Rollback()
	a, err := s.insertAccount(ctx, tx, na)
	if err != nil {
		return store.Account{}, err
	}
	return a, tx.Commit()
}

// AddAccount adds an account with its enabled modules and records it in the
// account's audit trail, in one transaction. A name another account already
// has (ignoring case) is refused with store.ErrDuplicate, so that running
// the first steps of an installation twice does not make a second account.
func (s *Store) AddAccount(ctx context.Context, actor store.Actor, na store.NewAccount) (store.Account, error) {
	if err := s.validateNewAccount(&na); err != nil {
		return store.Account{}, err
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.Account{}, err
	}
	defer tx.Rollback()
	// The audit chain's lock, taken first, also keeps two adds of one name
	// on different processes from both passing the check below.
	if err := s.d.LockAuditChain(ctx, tx); err != nil {
		return store.Account{}, fmt.Errorf("lock the audit chain: %w", err)
	}
	var other, otherName string
	err = tx.QueryRowContext(ctx, `SELECT id, name FROM accounts WHERE lower(name) = lower(?) ORDER BY id LIMIT 1`, na.Name).Scan(&other, &otherName)
	switch {
	case err == nil:
		return store.Account{}, fmt.Errorf("an account named %q (%s) %w", otherName, other, store.ErrDuplicate)
	case !errors.Is(err, sql.ErrNoRows):
		return store.Account{}, err
	}
	a, err := s.insertAccount(ctx, tx, na)
	if err != nil {
		return store.Account{}, err
	}
	modules := s.catalogueModules(na.ModuleIDs)
	ids := make([]string, len(modules))
	for i, m := range modules {
		ids[i] = m.ID
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: a.ID, OccurredAt: a.CreatedAt, Event: store.EventAccountCreated,
		ObjectType: store.ObjectTypeAccount, ObjectID: a.ID, ObjectName: a.Name, Actor: actor,
		Summary: fmt.Sprintf("Account %s was created.", a.ID),
		Details: detailsJSON(map[string]any{"after": map[string]any{"name": a.Name, "type": a.Type, "modules": ids}}),
	}); err != nil {
		return store.Account{}, err
	}
	return a, tx.Commit()
}

// validateNewAccount checks na with the domain's rules and its modules
// against the catalogue.
func (s *Store) validateNewAccount(na *store.NewAccount) error {
	errs := store.ValidateNewAccount(na)
	if m := s.unknownModules(na.ModuleIDs); m != "" {
		errs["modules"] = m
	}
	if len(errs) > 0 {
		return &store.ValidationError{Fields: errs}
	}
	return nil
}

func (s *Store) insertAccount(ctx context.Context, tx *Tx, na store.NewAccount) (store.Account, error) {
	a := store.Account{Name: na.Name, Type: na.Type, CreatedAt: s.now()}
	var err error
	a.ID, err = insertWithID(func() string { return store.NewID("ACC", 2) }, func(id string) (bool, error) {
		return inserted(tx.ExecContext(ctx, `INSERT INTO accounts (id, name, type, created_at) VALUES (?, ?, ?, ?)
			ON CONFLICT (id) DO NOTHING`, id, a.Name, a.Type, a.CreatedAt))
	})
	if err != nil {
		return store.Account{}, fmt.Errorf("insert account: %w", err)
	}
	for _, m := range na.ModuleIDs {
		if _, err := tx.ExecContext(ctx, `INSERT INTO account_modules (account_id, module_id) VALUES (?, ?)`, a.ID, m); err != nil {
			return store.Account{}, fmt.Errorf("enable module %s: %w", m, err)
		}
	}
	return a, nil
}

// unknownModules returns the message for module ids that are not in the
// catalogue, naming what is, or "" when all are.
func (s *Store) unknownModules(ids []string) string {
	var unknown []string
	for _, id := range ids {
		if !slices.ContainsFunc(s.catalogue, func(c catalogued) bool { return c.ID == id }) {
			unknown = append(unknown, fmt.Sprintf("%q", id))
		}
	}
	if len(unknown) == 0 {
		return ""
	}
	known := make([]string, len(s.catalogue))
	for i, c := range s.catalogue {
		known[i] = c.ID + " (" + c.Name + ")"
	}
	verb := "is"
	if len(unknown) > 1 {
		verb = "are"
	}
	return fmt.Sprintf("%s %s not in the module catalogue, which has %s", strings.Join(unknown, ", "), verb, strings.Join(known, ", "))
}

// catalogueModules returns the catalogue's entries for ids, in catalogue
// order; ids not in it are left out.
func (s *Store) catalogueModules(ids []string) []store.Module {
	out := []store.Module{}
	for _, c := range s.catalogue {
		if slices.Contains(ids, c.ID) {
			out = append(out, c.Module)
		}
	}
	return out
}

// ChangeAccountModules enables and disables modules for an account, in one
// transaction with its audit records. A token holds only modules its
// account has (SPEC §2.2), so a module disabled for the account is taken
// from every live token of it that holds it: each such token is updated,
// gets an audit record of its own, and goes into the change log, so that
// every process's verify answers drop the module within a second. (Enabling
// a module grants it to no token: no verify answer changes.) A module asked
// for that is already so changes nothing and is in neither list of the
// result; a change that changes nothing writes nothing.
func (s *Store) ChangeAccountModules(ctx context.Context, actor store.Actor, accountID string, enable, disable []string) (store.AccountModulesChange, error) {
	errs := map[string]string{}
	if m := s.unknownModules(slices.Concat(enable, disable)); m != "" {
		errs["modules"] = m
	}
	for _, id := range enable {
		if slices.Contains(disable, id) {
			errs["modules"] = fmt.Sprintf("%s is both to be enabled and disabled", id)
		}
	}
	if len(errs) > 0 {
		return store.AccountModulesChange{}, &store.ValidationError{Fields: errs}
	}
	tx, err := s.db.BeginTx(ctx, nil)
	if err != nil {
		return store.AccountModulesChange{}, err
	}
	defer tx.Rollback()
	var res store.AccountModulesChange
	a := &res.Account
	err = tx.QueryRowContext(ctx, `SELECT id, name, type, created_at FROM accounts WHERE id = ?`, accountID).
		Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.AccountModulesChange{}, store.ErrNotFound
	}
	if err != nil {
		return store.AccountModulesChange{}, err
	}
	// Rows of account_modules are changed one by one in id order: a token
	// being granted modules locks the rows it checks in the same order
	// (checkNewToken), so the two wait for each other instead of
	// deadlocking, and a token never gets a module disabled meanwhile.
	// Whether a row changed is what the statement did, not what was read
	// before it, so two changes made at once each report their own.
	var disabledBits int64
	for _, c := range s.catalogueModulesByID(disable) {
		r, err := tx.ExecContext(ctx, `DELETE FROM account_modules WHERE account_id = ? AND module_id = ?`, accountID, c.ID)
		if changed, err := rowsChanged(r, err); err != nil {
			return store.AccountModulesChange{}, err
		} else if changed {
			res.Disabled = append(res.Disabled, c.Module)
			disabledBits |= c.bit
		}
	}
	for _, c := range s.catalogueModulesByID(enable) {
		r, err := tx.ExecContext(ctx, `INSERT INTO account_modules (account_id, module_id) VALUES (?, ?) ON CONFLICT DO NOTHING`, accountID, c.ID)
		if changed, err := rowsChanged(r, err); err != nil {
			return store.AccountModulesChange{}, err
		} else if changed {
			res.Enabled = append(res.Enabled, c.Module)
		}
	}
	res.Enabled, res.Disabled = s.inCatalogueOrder(res.Enabled), s.inCatalogueOrder(res.Disabled)
	after, err := s.accountModules(ctx, tx, accountID)
	if err != nil {
		return store.AccountModulesChange{}, err
	}
	res.Modules = after
	if len(res.Enabled) == 0 && len(res.Disabled) == 0 {
		return res, nil
	}

	// The live tokens that hold a disabled module, locked.
	type holder struct {
		id, name string
		bits     int64
	}
	var holders []holder
	if disabledBits != 0 {
		rows, err := tx.QueryContext(ctx, `SELECT id, name, module_bits FROM api_tokens
			WHERE account_id = ? AND status <> ? AND (module_bits & ?) <> 0 ORDER BY id`+s.d.ForUpdate(),
			accountID, store.StatusDeleted, disabledBits)
		if err != nil {
			return store.AccountModulesChange{}, err
		}
		for rows.Next() {
			var h holder
			if err := rows.Scan(&h.id, &h.name, &h.bits); err != nil {
				rows.Close()
				return store.AccountModulesChange{}, err
			}
			holders = append(holders, h)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return store.AccountModulesChange{}, err
		}
	}

	now := s.now()
	enabled := moduleIDs(res.Enabled)
	before := s.inCatalogueOrder(slices.Concat(
		slices.DeleteFunc(slices.Clone(after), func(m store.Module) bool { return slices.Contains(enabled, m.ID) }),
		res.Disabled))
	var parts []string
	if len(res.Enabled) > 0 {
		parts = append(parts, "enabled "+moduleList(res.Enabled))
	}
	if len(res.Disabled) > 0 {
		parts = append(parts, "disabled "+moduleList(res.Disabled))
	}
	summary := fmt.Sprintf("Modules of account %s were changed: %s.", accountID, strings.Join(parts, "; "))
	tokenIDs := make([]string, len(holders))
	for i, h := range holders {
		tokenIDs[i] = h.id
	}
	switch len(holders) {
	case 0:
	case 1:
		summary += " 1 API token lost a disabled module."
	default:
		summary += fmt.Sprintf(" %d API tokens lost a disabled module.", len(holders))
	}
	details := map[string]any{"changes": map[string]store.Change{"modules": {Before: moduleIDs(before), After: moduleIDs(after)}}}
	if len(holders) > 0 {
		details["tokens"] = tokenIDs
	}
	if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
		AccountID: accountID, OccurredAt: now, Event: store.EventAccountUpdated,
		ObjectType: store.ObjectTypeAccount, ObjectID: accountID, ObjectName: a.Name, Actor: actor,
		Summary: summary, Details: detailsJSON(details),
	}); err != nil {
		return store.AccountModulesChange{}, err
	}
	for _, h := range holders {
		held := s.modulesOf(h.bits)
		kept := s.modulesOf(h.bits &^ disabledBits)
		lost := s.modulesOf(h.bits & disabledBits)
		if err := setTokenModules(ctx, tx, h.id, moduleIDs(kept)); err != nil {
			return store.AccountModulesChange{}, err
		}
		if _, err := tx.ExecContext(ctx, `UPDATE api_tokens SET updated_at = ?, updated_by_id = ?, updated_by_name = ?,
			version = version + 1 WHERE id = ?`, now, actor.ID, actor.Name, h.id); err != nil {
			return store.AccountModulesChange{}, err
		}
		if _, err := s.appendAudit(ctx, tx, store.AuditRecord{
			AccountID: accountID, OccurredAt: now, Event: store.EventTokenUpdated,
			ObjectType: store.ObjectTypeToken, ObjectID: h.id, ObjectName: h.name, Actor: actor,
			Summary: fmt.Sprintf("API token %s was updated (modules): %s disabled for its account.", h.id, moduleList(lost)),
			Details: detailsJSON(map[string]any{
				"changes": map[string]store.Change{"modules": {Before: moduleIDs(held), After: moduleIDs(kept)}},
				"reason":  fmt.Sprintf("%s disabled for account %s", moduleList(lost), accountID),
			}),
		}); err != nil {
			return store.AccountModulesChange{}, err
		}
		res.Tokens = append(res.Tokens, store.TokenRef{ID: h.id, Name: h.name})
	}
	return res, s.commitTokenChanges(ctx, tx, tokenIDs)
}

// rowsChanged reports whether a statement wrote a row.
func rowsChanged(res sql.Result, err error) (bool, error) {
	if err != nil {
		return false, err
	}
	n, err := res.RowsAffected()
	return n > 0, err
}

// catalogueModulesByID returns the catalogue's entries for ids, ordered by
// id (the order rows of account_modules are locked in).
func (s *Store) catalogueModulesByID(ids []string) []catalogued {
	var out []catalogued
	for _, c := range s.catalogue {
		if slices.Contains(ids, c.ID) {
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b catalogued) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// inCatalogueOrder sorts modules as the catalogue lists them.
func (s *Store) inCatalogueOrder(mods []store.Module) []store.Module {
	pos := func(id string) int {
		return slices.IndexFunc(s.catalogue, func(c catalogued) bool { return c.ID == id })
	}
	slices.SortFunc(mods, func(a, b store.Module) int { return pos(a.ID) - pos(b.ID) })
	return mods
}

func moduleIDs(mods []store.Module) []string {
	ids := make([]string, len(mods))
	for i, m := range mods {
		ids[i] = m.ID
	}
	return ids
}

// moduleList names modules for a summary: "MOD-1756 (Access management)".
func moduleList(mods []store.Module) string {
	parts := make([]string, len(mods))
	for i, m := range mods {
		parts[i] = m.ID + " (" + m.Name + ")"
	}
	return strings.Join(parts, ", ")
}

// Account returns the account with the given id.
func (s *Store) Account(ctx context.Context, id string) (store.Account, error) {
	var a store.Account
	err := s.db.QueryRowContext(ctx, `SELECT id, name, type, created_at FROM accounts WHERE id = ?`, id).
		Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt)
	if errors.Is(err, sql.ErrNoRows) {
		return store.Account{}, store.ErrNotFound
	}
	return a, err
}

// Accounts returns every account, oldest first.
func (s *Store) Accounts(ctx context.Context) ([]store.Account, error) {
	rows, err := s.db.QueryContext(ctx, `SELECT id, name, type, created_at FROM accounts ORDER BY created_at, id`)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Account
	for rows.Next() {
		var a store.Account
		if err := rows.Scan(&a.ID, &a.Name, &a.Type, &a.CreatedAt); err != nil {
			return nil, err
		}
		out = append(out, a)
	}
	return out, rows.Err()
}

// Modules returns the whole module catalogue in its display order.
func (s *Store) Modules(ctx context.Context) ([]store.Module, error) {
	return s.queryModules(ctx, s.db, `SELECT id, name, description FROM modules ORDER BY position`)
}

// AccountModules returns the modules enabled for an account, in catalogue order.
func (s *Store) AccountModules(ctx context.Context, accountID string) ([]store.Module, error) {
	return s.accountModules(ctx, s.db, accountID)
}

func (s *Store) accountModules(ctx context.Context, q querier, accountID string) ([]store.Module, error) {
	return s.queryModules(ctx, q, `SELECT m.id, m.name, m.description
		FROM account_modules am JOIN modules m ON m.id = am.module_id
		WHERE am.account_id = ? ORDER BY m.position`, accountID)
}

func (s *Store) queryModules(ctx context.Context, q querier, query string, args ...any) ([]store.Module, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []store.Module
	for rows.Next() {
		var m store.Module
		if err := rows.Scan(&m.ID, &m.Name, &m.Description); err != nil {
			return nil, err
		}
		out = append(out, m)
	}
	return out, rows.Err()
}

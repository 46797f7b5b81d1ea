package sqldb

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"time"

	"gatehouse/store"
)

// sqlField is how the engine reads one field path of a Schema.
type sqlField struct {
	expr   string // the SQL expression compared and ordered
	millis bool   // a time held as milliseconds since the epoch
	noCase bool   // compared (gt, lt, …) and ordered ignoring case
	// bits: a module id compared through the token's module_bits, which the
	// list indexes carry, instead of a subquery.
	bits bool
}

// sqlSchema maps a Schema's fields to SQL, and its collections to the EXISTS
// subquery that finds their members.
type sqlSchema struct {
	fields      map[string]sqlField
	collections map[string]sqlCollection
}

type sqlCollection struct {
	exists string // EXISTS (… AND %s): the members' condition goes in %s
	schema *sqlSchema
}

// tokenIconSQL is the icon's URL path, as the API shows it ("" without a logo).
const tokenIconSQL = `CASE WHEN t.logo_type IS NULL THEN '' ELSE '/public/v1/accounts/api-tokens/' || t.id || '/icon' END`

var tokenSQL = &sqlSchema{
	fields: map[string]sqlField{
		"id":                    {expr: "t.id"},
		"name":                  {expr: "t.name", noCase: true},
		"description":           {expr: "t.description"},
		"status":                {expr: "t.status"},
		"lastAccessAt":          {expr: "t.last_access_at"},
		"icon":                  {expr: tokenIconSQL},
		"account.id":            {expr: "t.account_id"},
		"account.name":          {expr: "(SELECT a2.name FROM accounts a2 WHERE a2.id = t.account_id)"},
		"modules.id":            {expr: "(SELECT MIN(tm.module_id) FROM api_token_modules tm WHERE tm.token_id = t.id)", bits: true},
		"modules.name":          {expr: "(SELECT MIN(m.name) FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = t.id)"},
		"audit.created.at":      {expr: "t.created_at"},
		"audit.created.by.id":   {expr: "t.created_by_id"},
		"audit.created.by.name": {expr: "t.created_by_name"},
		"audit.updated.at":      {expr: "t.updated_at"},
		"audit.updated.by.id":   {expr: "t.updated_by_id"},
		"audit.updated.by.name": {expr: "t.updated_by_name"},
	},
	collections: map[string]sqlCollection{
		"modules": {
			exists: "EXISTS (SELECT 1 FROM api_token_modules tm JOIN modules m ON m.id = tm.module_id WHERE tm.token_id = t.id AND %s)",
			schema: &sqlSchema{fields: map[string]sqlField{"id": {expr: "m.id"}, "name": {expr: "m.name"}}},
		},
	},
}

var auditSQL = &sqlSchema{
	fields: map[string]sqlField{
		"id":          {expr: "id"},
		"timestamp":   {expr: "occurred_at", millis: true},
		"event":       {expr: "event"},
		"object.id":   {expr: "object_id"},
		"object.type": {expr: "object_type"},
		"object.name": {expr: "object_name"},
		"actor.id":    {expr: "actor_id"},
		"actor.type":  {expr: "actor_type"},
		"actor.name":  {expr: "actor_name"},
		"summary":     {expr: "summary"},
	},
}

// filterSQL renders a filter that schema.Check accepted as a condition with
// ? placeholders. Every condition it writes is true or false, never NULL, so
// not() is always the exact complement.
type filterSQL struct {
	d    Dialect
	b    strings.Builder
	args []any
}

func renderFilter(d Dialect, schema *store.Schema, sqls *sqlSchema, f store.Filter) (string, []any, error) {
	if err := schema.Check(f); err != nil {
		return "", nil, err
	}
	r := filterSQL{d: d}
	if err := r.filter(schema, sqls, f); err != nil {
		return "", nil, err
	}
	return r.b.String(), r.args, nil
}

func (r *filterSQL) filter(schema *store.Schema, sqls *sqlSchema, f store.Filter) error {
	switch f.Op {
	case "and", "or":
		r.b.WriteByte('(')
		for i, a := range f.Args {
			if i > 0 {
				r.b.WriteString(" " + strings.ToUpper(f.Op) + " ")
			}
			if err := r.filter(schema, sqls, a); err != nil {
				return err
			}
		}
		r.b.WriteByte(')')
		return nil
	case "not":
		r.b.WriteString("NOT ")
		return r.filter(schema, sqls, f.Args[0])
	case "any":
		return r.any(schema, sqls, f.Field, f.Args[0])
	}
	info, _ := schema.Field(f.Field)
	if info.Collection != "" {
		return r.member(schema, sqls, info, f)
	}
	field, ok := sqls.fields[f.Field]
	if !ok {
		return fmt.Errorf("filter: no SQL for field %q", f.Field)
	}
	return r.compare(info, field, f)
}

// any renders a condition on the members of a collection.
func (r *filterSQL) any(schema *store.Schema, sqls *sqlSchema, collection string, cond store.Filter) error {
	c, ok := sqls.collections[collection]
	if !ok {
		return fmt.Errorf("filter: no SQL for collection %q", collection)
	}
	inner := filterSQL{d: r.d}
	if err := inner.filter(schema.Collection(collection), c.schema, cond); err != nil {
		return err
	}
	r.b.WriteString(fmt.Sprintf(c.exists, inner.b.String()))
	r.args = append(r.args, inner.args...)
	return nil
}

// member renders a comparison of a collection's field (modules.id): true when
// any member matches; ne and out when none does; null() and empty() match
// an empty collection.
func (r *filterSQL) member(schema *store.Schema, sqls *sqlSchema, info store.FieldInfo, f store.Filter) error {
	negate := f.Op == "ne" || f.Op == "out"
	positive := f
	positive.Field = strings.TrimPrefix(f.Field, info.Collection+".")
	switch f.Op {
	case "ne":
		positive.Op = "eq"
	case "out":
		positive.Op = "in"
	}
	var plain []store.Value
	empty := false
	for _, v := range f.Values {
		if v.Kind == store.ValueText {
			plain = append(plain, v)
		} else {
			empty = true
		}
	}
	var parts []string
	if len(plain) > 0 {
		positive.Values = plain
		sub := filterSQL{d: r.d}
		if field := sqls.fields[f.Field]; field.bits && (positive.Op == "eq" || positive.Op == "in") {
			sub.b.WriteString("t.module_bits & (SELECT CAST(COALESCE(SUM(mb.bit), 0) AS BIGINT) FROM modules mb WHERE mb.id IN (" + placeholders(len(plain)) + ")) != 0")
			for _, v := range plain {
				sub.args = append(sub.args, v.Text)
			}
		} else if err := sub.any(schema, sqls, info.Collection, positive); err != nil {
			return err
		}
		parts = append(parts, sub.b.String())
		r.args = append(r.args, sub.args...)
	}
	if empty {
		parts = append(parts, "NOT "+fmt.Sprintf(sqls.collections[info.Collection].exists, "1 = 1"))
	}
	cond := strings.Join(parts, " OR ")
	if len(parts) > 1 {
		cond = "(" + cond + ")"
	}
	if negate {
		cond = "NOT " + cond
	}
	r.b.WriteString(cond)
	return nil
}

// compare renders a comparison of a scalar field.
func (r *filterSQL) compare(info store.FieldInfo, field sqlField, f store.Filter) error {
	col := field.expr
	// A nullable column is guarded so that the condition is never NULL.
	guard := func(cond string) string {
		if info.Nullable {
			return "(" + col + " IS NOT NULL AND " + cond + ")"
		}
		return cond
	}
	isEmpty := func(v store.Value) string {
		if v.Kind == store.ValueEmpty && info.Type == store.FieldText {
			return "(" + col + " IS NULL OR " + col + " = '')"
		}
		return col + " IS NULL"
	}
	switch f.Op {
	case "in", "out":
		var parts []string
		var plain []store.Value
		for _, v := range f.Values {
			if v.Kind == store.ValueText {
				plain = append(plain, v)
			} else {
				parts = append(parts, isEmpty(v))
			}
		}
		if len(plain) > 0 {
			if info.Type == store.FieldTime {
				var spans []string
				for _, v := range plain {
					spans = append(spans, r.timeSpan(field, v.Text))
				}
				parts = append(parts, guard("("+strings.Join(spans, " OR ")+")"))
			} else {
				parts = append(parts, guard(col+" IN ("+placeholders(len(plain))+")"))
				for _, v := range plain {
					r.args = append(r.args, v.Text)
				}
			}
		}
		cond := "(" + strings.Join(parts, " OR ") + ")"
		if f.Op == "out" {
			cond = "NOT " + cond
		}
		r.b.WriteString(cond)
		return nil
	}
	v := f.Values[0]
	if v.Kind != store.ValueText {
		cond := isEmpty(v)
		if f.Op == "ne" {
			cond = "NOT " + cond
		}
		r.b.WriteString(cond)
		return nil
	}
	if info.Type == store.FieldTime {
		from, to, _ := store.ParseTimeValue(v.Text)
		var cond string
		switch f.Op {
		case "eq", "ne":
			cond = r.timeSpan(field, v.Text)
		case "gt":
			cond = col + " >= ?"
			r.args = append(r.args, timeArg(field, to))
		case "ge":
			cond = col + " >= ?"
			r.args = append(r.args, timeArg(field, from))
		case "lt":
			cond = col + " < ?"
			r.args = append(r.args, timeArg(field, from))
		case "le":
			cond = col + " < ?"
			r.args = append(r.args, timeArg(field, to))
		}
		cond = guard(cond)
		if f.Op == "ne" {
			cond = "NOT " + cond
		}
		r.b.WriteString(cond)
		return nil
	}
	var cond string
	switch f.Op {
	case "eq", "ne":
		cond = col + " = ?"
		r.args = append(r.args, v.Text)
	case "gt", "ge", "lt", "le":
		// Compared as they sort: names ignore case in both.
		param := "?"
		if field.noCase {
			col, param = r.d.NoCase(col), r.d.NoCase("?")
		}
		cond = col + " " + map[string]string{"gt": ">", "ge": ">=", "lt": "<", "le": "<="}[f.Op] + " " + param
		r.args = append(r.args, v.Text)
	case "like", "ilike":
		var arg any
		cond, arg = r.d.Like(col, v.Text, f.Op == "ilike")
		r.args = append(r.args, arg)
	}
	cond = guard(cond)
	if f.Op == "ne" {
		cond = "NOT " + cond
	}
	r.b.WriteString(cond)
	return nil
}

// timeSpan renders "the field falls inside the span the value names".
func (r *filterSQL) timeSpan(field sqlField, v string) string {
	from, to, _ := store.ParseTimeValue(v)
	r.args = append(r.args, timeArg(field, from), timeArg(field, to))
	return "(" + field.expr + " >= ? AND " + field.expr + " < ?)"
}

// lastTime is the latest time a text column holds in order: the year 10000
// would sort before the year 2026 as text.
var lastTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)

// timeArg is a bound of a span as the column holds it. Milliseconds round
// up: a whole millisecond m is at or after t exactly when m ≥ ⌈t⌉.
func timeArg(field sqlField, t time.Time) any {
	if field.millis {
		ms := t.UnixMilli()
		if time.UnixMilli(ms).Before(t) {
			ms++
		}
		return ms
	}
	if t.After(lastTime) {
		return lastTime
	}
	return t.UTC()
}

// EscapeLike is a LIKE pattern (with ESCAPE '\') that finds s anywhere.
func EscapeLike(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
	return "%" + r.Replace(s) + "%"
}

// LikePattern turns an RQL pattern (* for any run of characters, \* for a
// star itself, \\ for a backslash) into a LIKE pattern with SQL's own
// wildcards escaped.
func LikePattern(p string) string {
	return rqlPattern(p, "%", "*", map[byte]string{'\\': `\\`, '%': `\%`, '_': `\_`})
}

// GlobPattern turns an RQL pattern into a GLOB pattern: GLOB's ? and [ are
// matched literally, and a literal star is the class [*].
func GlobPattern(p string) string {
	return rqlPattern(p, "*", "[*]", map[byte]string{'?': `[?]`, '[': `[[]`})
}

func rqlPattern(p, wildcard, star string, quote map[byte]string) string {
	var b strings.Builder
	for i := 0; i < len(p); i++ {
		c := p[i]
		switch {
		case c == '*':
			b.WriteString(wildcard)
			continue
		case c == '\\' && i+1 < len(p) && (p[i+1] == '*' || p[i+1] == '\\'):
			i++
			if p[i] == '*' {
				b.WriteString(star)
				continue
			}
			c = '\\'
		}
		if q, ok := quote[c]; ok {
			b.WriteString(q)
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// orderSQL renders sort keys as ORDER BY terms, the last one the tiebreaker
// column in the first key's direction, flipping every direction when
// reverse is set. NULLs sort first ascending and last descending, on every
// engine.
func orderSQL(d Dialect, schema *store.Schema, sqls *sqlSchema, overrides map[string]string, keys []store.SortKey, tiebreak string, reverse bool) (string, error) {
	terms := make([]string, 0, len(keys)+1)
	for _, k := range keys {
		info, ok := schema.Field(k.Field)
		field, ok2 := sqls.fields[k.Field]
		if !ok || !ok2 {
			return "", &store.QueryError{Param: "order", Msg: fmt.Sprintf("cannot order by %q", k.Field)}
		}
		expr := field.expr
		if field.noCase {
			expr = d.NoCase(expr)
		}
		if o, ok := overrides[k.Field]; ok {
			expr = o
		}
		terms = append(terms, expr+direction(k.Desc != reverse, info.Nullable || info.Collection != ""))
	}
	desc := len(keys) > 0 && keys[0].Desc
	terms = append(terms, tiebreak+direction(desc != reverse, false))
	return strings.Join(terms, ", "), nil
}

func direction(desc, nullable bool) string {
	switch {
	case desc && nullable:
		return " DESC NULLS LAST"
	case desc:
		return " DESC"
	case nullable:
		return " ASC NULLS FIRST"
	}
	return " ASC"
}

// IsASCII reports whether s is all ASCII.
func IsASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// moduleOrderSQL builds the order expressions of modules.id and modules.name
// from the catalogue: a token sorts by its first module (by id or by name),
// found in the module_bits the list indexes carry instead of a subquery per
// row.
func moduleOrderSQL(catalogue []catalogued) map[string]string {
	out := map[string]string{}
	if len(catalogue) == 0 {
		return out
	}
	for path, key := range map[string]func(catalogued) string{
		"modules.id":   func(m catalogued) string { return m.ID },
		"modules.name": func(m catalogued) string { return m.Name },
	} {
		sorted := slices.Clone(catalogue)
		slices.SortStableFunc(sorted, func(a, b catalogued) int {
			return cmp.Or(strings.Compare(key(a), key(b)), strings.Compare(a.ID, b.ID))
		})
		var b strings.Builder
		b.WriteString("CASE")
		for rank, m := range sorted {
			fmt.Fprintf(&b, " WHEN t.module_bits & %d != 0 THEN %d", m.bit, rank)
		}
		b.WriteString(" END")
		out[path] = b.String()
	}
	return out
}

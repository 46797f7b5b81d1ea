package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// Filter is a parsed RQL condition (SPEC §4.2): a comparison of a field with
// values (eq ne gt ge lt le like ilike in out), a combination of conditions
// (and or not), or any(collection, condition). The API parses it once, Check
// validates it against a Schema, and the engine renders it.
type Filter struct {
	Op     string
	Field  string   // the field path; for any, the collection
	Values []Value  // a comparison's values
	Args   []Filter // and, or, not, any
	Pos    int      // where the term starts in the query (0-based), for messages
}

// ValueKind tells a plain value from null() and empty().
type ValueKind uint8

// The kinds of value.
const (
	ValueText  ValueKind = iota // a literal, bare or quoted
	ValueNull                   // null()
	ValueEmpty                  // empty(): "" or no value at all
)

// Value is one value of a comparison.
type Value struct {
	Kind ValueKind
	Text string
	Pos  int
}

// Text makes a literal value.
func Text(s string) Value { return Value{Kind: ValueText, Text: s} }

// QueryError is a filter, order or select the API refuses: what is wrong and
// where in the query it was found.
type QueryError struct {
	Param string // filter, order or select
	Pos   int    // 0-based offset in the query string
	Msg   string
}

func (e *QueryError) Error() string {
	return fmt.Sprintf("%s (at character %d)", e.Msg, e.Pos+1)
}

// Limits of a filter: they bound the SQL a query can make.
const (
	MaxFilterDepth  = 16
	MaxFilterValues = 100 // in one in() or out()
	MaxFilterTerms  = 200 // comparisons and combinations in one query
)

// FieldType is the kind of values a field holds.
type FieldType uint8

// The field types.
const (
	FieldText FieldType = iota
	FieldTime
)

// FieldInfo describes one field path of a list's objects.
type FieldInfo struct {
	Path     string
	Type     FieldType
	Enum     []string // the values eq, ne, in and out accept, when restricted
	Nullable bool
	// Collection names the collection a field belongs to (modules.id belongs to
	// modules): comparing it asks whether any member matches.
	Collection string
}

// Schema is the set of fields a list can be filtered and ordered by.
type Schema struct {
	Name        string
	fields      map[string]FieldInfo
	paths       []string // in documentation order
	collections map[string]*Schema
	aliases     map[string]string // old order names
}

func newSchema(name string, fields []FieldInfo, aliases map[string]string) *Schema {
	s := &Schema{Name: name, fields: map[string]FieldInfo{}, collections: map[string]*Schema{}, aliases: aliases}
	members := map[string][]FieldInfo{}
	for _, f := range fields {
		s.fields[f.Path] = f
		s.paths = append(s.paths, f.Path)
		if f.Collection != "" {
			m := f
			m.Path, m.Collection = strings.TrimPrefix(f.Path, f.Collection+"."), ""
			members[f.Collection] = append(members[f.Collection], m)
		}
	}
	for c, ms := range members {
		s.collections[c] = newSchema(c, ms, nil)
	}
	return s
}

// Fields lists the schema's field paths.
func (s *Schema) Fields() []string { return slices.Clone(s.paths) }

// Collection returns the schema of a collection's members (modules), or nil.
func (s *Schema) Collection(name string) *Schema { return s.collections[name] }

// Field returns a field's description.
func (s *Schema) Field(path string) (FieldInfo, bool) {
	f, ok := s.fields[path]
	return f, ok
}

// TokenSchema is what the token list can be filtered and ordered by.
var TokenSchema = newSchema("API tokens", []FieldInfo{
	{Path: "id"},
	{Path: "name"},
	{Path: "description"},
	{Path: "status", Enum: []string{StatusActive, StatusDisabled}},
	{Path: "lastAccessAt", Type: FieldTime, Nullable: true},
	{Path: "icon"},
	{Path: "account.id"},
	{Path: "account.name"},
	{Path: "modules.id", Collection: "modules"},
	{Path: "modules.name", Collection: "modules"},
	{Path: "audit.created.at", Type: FieldTime},
	{Path: "audit.created.by.id"},
	{Path: "audit.created.by.name"},
	{Path: "audit.updated.at", Type: FieldTime},
	{Path: "audit.updated.by.id"},
	{Path: "audit.updated.by.name"},
}, map[string]string{"created": "audit.created.at", "lastAccess": "lastAccessAt", "updated": "audit.updated.at"})

// AuditSchema is what the audit-record list can be filtered and ordered by.
var AuditSchema = newSchema("audit records", []FieldInfo{
	{Path: "id"},
	{Path: "timestamp", Type: FieldTime},
	{Path: "event"},
	{Path: "object.id"},
	{Path: "object.type"},
	{Path: "object.name"},
	{Path: "actor.id"},
	{Path: "actor.type", Enum: []string{"user", "token", "system"}},
	{Path: "actor.name"},
	{Path: "summary"},
}, nil)

// Comparison and combination operators.
var (
	compareOps = []string{"eq", "ne", "gt", "ge", "lt", "le", "like", "ilike", "in", "out"}
	logicOps   = []string{"and", "or", "not", "any"}
)

// IsOperator reports whether name is an RQL operator.
func IsOperator(name string) bool {
	return slices.Contains(compareOps, name) || slices.Contains(logicOps, name)
}

// Operators lists the RQL operators, for messages.
func Operators() string { return strings.Join(append(slices.Clone(compareOps), logicOps...), " ") }

// SortKey orders a list by one field.
type SortKey struct {
	Field string
	Desc  bool
}

// ParseSort reads an order parameter: field paths separated by commas, each
// with - in front for descending (or + for ascending). A QueryError's
// position is an offset in v.
func (s *Schema) ParseSort(v string) ([]SortKey, error) {
	var keys []SortKey
	off := 0
	for _, part := range strings.Split(v, ",") {
		at := off
		off += len(part) + 1
		k := SortKey{Field: part}
		switch {
		case strings.HasPrefix(part, "-"):
			k = SortKey{Field: part[1:], Desc: true}
		case strings.HasPrefix(part, "+"):
			k.Field = part[1:]
		}
		if alias, ok := s.aliases[k.Field]; ok {
			k.Field = alias
		}
		if k.Field == "" {
			return nil, &QueryError{"order", at, "order takes field paths separated by commas, such as order=-audit.created.at,name"}
		}
		if _, ok := s.fields[k.Field]; !ok {
			return nil, &QueryError{"order", at, fmt.Sprintf("cannot order by %q; %s can be ordered by %s, with - in front for descending",
				truncate(k.Field, 40), s.Name, strings.Join(s.paths, ", "))}
		}
		if slices.ContainsFunc(keys, func(o SortKey) bool { return o.Field == k.Field }) {
			return nil, &QueryError{"order", at, fmt.Sprintf("%s appears twice in order", k.Field)}
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// Check validates f against the schema: known operators and fields, the right
// number and type of values, and the limits. It returns a *QueryError naming
// the first problem and where it is.
func (s *Schema) Check(f Filter) error {
	terms := 0
	return s.check(f, 0, &terms)
}

func (s *Schema) check(f Filter, depth int, terms *int) error {
	if depth >= MaxFilterDepth {
		return &QueryError{"filter", f.Pos, fmt.Sprintf("the filter nests more than %d levels deep", MaxFilterDepth)}
	}
	if *terms++; *terms > MaxFilterTerms {
		return &QueryError{"filter", f.Pos, fmt.Sprintf("the filter has more than %d terms", MaxFilterTerms)}
	}
	switch f.Op {
	case "and", "or":
		if len(f.Args) == 0 {
			return &QueryError{"filter", f.Pos, f.Op + "() needs at least one condition"}
		}
		for _, a := range f.Args {
			if err := s.check(a, depth+1, terms); err != nil {
				return err
			}
		}
		return nil
	case "not":
		if len(f.Args) != 1 {
			return &QueryError{"filter", f.Pos, "not() takes exactly one condition"}
		}
		return s.check(f.Args[0], depth+1, terms)
	case "any":
		c, ok := s.collections[f.Field]
		if !ok {
			return &QueryError{"filter", f.Pos, fmt.Sprintf("any() takes a collection and a condition on its members; %s have %s",
				s.Name, collectionNames(s))}
		}
		if len(f.Args) != 1 {
			return &QueryError{"filter", f.Pos, "any() takes a collection and one condition"}
		}
		return c.check(f.Args[0], depth+1, terms)
	}
	if !slices.Contains(compareOps, f.Op) {
		return &QueryError{"filter", f.Pos, fmt.Sprintf("unknown operator %q; the operators are %s", truncate(f.Op, 20), Operators())}
	}
	field, ok := s.fields[f.Field]
	if !ok {
		return &QueryError{"filter", f.Pos, fmt.Sprintf("unknown field %q; %s can be filtered by %s", truncate(f.Field, 40), s.Name, strings.Join(s.paths, ", "))}
	}
	switch f.Op {
	case "in", "out":
		if len(f.Values) == 0 {
			return &QueryError{"filter", f.Pos, f.Op + "() takes a field and a list of values, such as " + f.Op + "(status,(Active,Disabled))"}
		}
		if len(f.Values) > MaxFilterValues {
			return &QueryError{"filter", f.Values[MaxFilterValues].Pos, fmt.Sprintf("%s() takes at most %d values", f.Op, MaxFilterValues)}
		}
	default:
		if len(f.Values) != 1 {
			return &QueryError{"filter", f.Pos, fmt.Sprintf("%s() takes a field and one value, such as %s(%s,…)", f.Op, f.Op, f.Field)}
		}
	}
	for _, v := range f.Values {
		if err := checkValue(f, field, v); err != nil {
			return err
		}
	}
	return nil
}

func collectionNames(s *Schema) string {
	if len(s.collections) == 0 {
		return "no collections"
	}
	names := make([]string, 0, len(s.collections))
	for n := range s.collections {
		names = append(names, n)
	}
	slices.Sort(names)
	return "only " + strings.Join(names, ", ")
}

func checkValue(f Filter, field FieldInfo, v Value) error {
	bad := func(format string, args ...any) error {
		return &QueryError{"filter", v.Pos, fmt.Sprintf(format, args...)}
	}
	if v.Kind != ValueText {
		switch f.Op {
		case "eq", "ne", "in", "out":
			return nil
		}
		return bad("%s() cannot compare with null() or empty(); use eq(%s,null()) or ne(%s,null())", f.Op, f.Field, f.Field)
	}
	if !utf8.ValidString(v.Text) {
		return bad("a value is not valid UTF-8")
	}
	if field.Type == FieldTime {
		if f.Op == "like" || f.Op == "ilike" {
			return bad("%s is a date-time: compare it with eq, ne, gt, ge, lt or le", f.Field)
		}
		if _, _, err := ParseTimeValue(v.Text); err != nil {
			return bad("%s is a date-time: %q is neither a date (2026-01-01) nor an RFC 3339 date-time (2026-01-01T10:00:00Z)", f.Field, truncate(v.Text, 40))
		}
	}
	if field.Enum != nil && (f.Op == "eq" || f.Op == "ne" || f.Op == "in" || f.Op == "out") && !slices.Contains(field.Enum, v.Text) {
		return bad("%s is one of %s, not %q", f.Field, strings.Join(field.Enum, ", "), truncate(v.Text, 40))
	}
	return nil
}

// ParseTimeValue reads a date-time value of a filter as the span of time it
// names, to the precision it is written in: a date (2026-01-01) is that whole
// day in UTC, a date-time the second (or millisecond, …) it names. eq matches
// anything inside the span, gt what follows it, le what does not.
func ParseTimeValue(s string) (from, to time.Time, err error) {
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, t.AddDate(0, 0, 1), nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return time.Time{}, time.Time{}, err
	}
	if t.UTC().Year() > 9999 {
		return time.Time{}, time.Time{}, fmt.Errorf("%s is after the year 9999", s)
	}
	step := time.Second
	if i := strings.IndexAny(s, ".,"); i >= 0 {
		digits := 0
		for _, c := range s[i+1:] {
			if c < '0' || c > '9' {
				break
			}
			digits++
		}
		for range min(digits, 9) {
			step /= 10
		}
	}
	return t.UTC(), t.UTC().Add(step), nil
}

// String writes f back as RQL, in a canonical form that parses to the same
// filter: values single-quoted, with quotes doubled, backslashes escaped and
// what a URL cannot carry percent-encoded.
func (f Filter) String() string {
	var b strings.Builder
	f.write(&b)
	return b.String()
}

func (f Filter) write(b *strings.Builder) {
	b.WriteString(f.Op)
	b.WriteByte('(')
	switch f.Op {
	case "and", "or", "not":
		for i, a := range f.Args {
			if i > 0 {
				b.WriteByte(',')
			}
			a.write(b)
		}
	case "any":
		b.WriteString(f.Field)
		for _, a := range f.Args {
			b.WriteByte(',')
			a.write(b)
		}
	default:
		b.WriteString(f.Field)
		b.WriteByte(',')
		list := f.Op == "in" || f.Op == "out"
		if list {
			b.WriteByte('(')
		}
		for i, v := range f.Values {
			if i > 0 {
				b.WriteByte(',')
			}
			v.write(b)
		}
		if list {
			b.WriteByte(')')
		}
	}
	b.WriteByte(')')
}

func (v Value) write(b *strings.Builder) {
	switch v.Kind {
	case ValueNull:
		b.WriteString("null()")
		return
	case ValueEmpty:
		b.WriteString("empty()")
		return
	}
	const hex = "0123456789ABCDEF"
	b.WriteByte('\'')
	for i := 0; i < len(v.Text); i++ {
		c := v.Text[i]
		switch {
		case c == '\'':
			b.WriteString("''")
		case c == '\\':
			b.WriteString(`\\`)
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', strings.IndexByte("-_.~*()!,:;=@$+/?|&", c) >= 0:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hex[c>>4])
			b.WriteByte(hex[c&15])
		}
	}
	b.WriteByte('\'')
}

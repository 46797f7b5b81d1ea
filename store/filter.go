package store

import (
	"fmt"
	"slices"
	"strings"
)

// Filter is a parsed RQL condition: a comparison of a field with values
// (eq, ne, like, ilike, in, out) or a combination of filters (and, or, not).
type Filter struct {
	Op     string
	Field  string
	Values []string
	Args   []Filter
}

// filterField maps an API field to its SQL: a column, or for a set-valued
// field a subquery yielding the ids that hold the value.
type filterField struct {
	column string // compared directly
	member string // "t.id IN (…)" subquery with one ? for the value
}

var tokenFilterFields = map[string]filterField{
	"id":          {column: "t.id"},
	"name":        {column: "t.name"},
	"description": {column: "t.description"},
	"status":      {column: "t.status"},
	"modules.id":  {member: "t.id IN (SELECT tm.token_id FROM api_token_modules tm WHERE tm.module_id = ?)"},
}

var auditFilterFields = map[string]filterField{
	"id":          {column: "id"},
	"event":       {column: "event"},
	"object.id":   {column: "object_id"},
	"object.type": {column: "object_type"},
	"object.name": {column: "object_name"},
	"actor.id":    {column: "actor_id"},
	"actor.type":  {column: "actor_type"},
	"actor.name":  {column: "actor_name"},
}

// maxFilterDepth and maxFilterTerms bound the SQL a filter can make.
const (
	maxFilterDepth  = 8
	maxFilterTerms  = 64
	maxFilterValues = 500
)

func filterError(format string, args ...any) error {
	return &ValidationError{Fields: map[string]string{"filter": fmt.Sprintf(format, args...)}}
}

// likePattern turns an RQL pattern (* for any run of characters) into a LIKE
// pattern with SQL's own wildcards escaped.
func likePattern(p string) string {
	r := strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`, `*`, `%`)
	return r.Replace(p)
}

// sql renders f with placeholders, against the given fields.
func (f Filter) sql(fields map[string]filterField, depth int, terms *int) (string, []any, error) {
	if depth > maxFilterDepth {
		return "", nil, filterError("the filter nests more than %d levels", maxFilterDepth)
	}
	if *terms++; *terms > maxFilterTerms {
		return "", nil, filterError("the filter has more than %d terms", maxFilterTerms)
	}
	if *terms += len(f.Values); *terms > maxFilterValues {
		return "", nil, filterError("the filter has more than %d values", maxFilterValues)
	}
	switch f.Op {
	case "and", "or":
		if len(f.Args) == 0 {
			return "", nil, filterError("%s() needs at least one condition", f.Op)
		}
		var parts []string
		var args []any
		for _, a := range f.Args {
			s, as, err := a.sql(fields, depth+1, terms)
			if err != nil {
				return "", nil, err
			}
			parts = append(parts, s)
			args = append(args, as...)
		}
		return "(" + strings.Join(parts, " "+strings.ToUpper(f.Op)+" ") + ")", args, nil
	case "not":
		if len(f.Args) != 1 {
			return "", nil, filterError("not() takes exactly one condition")
		}
		s, args, err := f.Args[0].sql(fields, depth+1, terms)
		return "NOT " + s, args, err
	}
	field, ok := fields[f.Field]
	if !ok {
		known := make([]string, 0, len(fields))
		for k := range fields {
			known = append(known, k)
		}
		return "", nil, filterError("unknown field %q; filter on one of %s", f.Field, strings.Join(sorted(known), ", "))
	}
	switch f.Op {
	case "eq", "ne", "like", "ilike":
		if len(f.Values) != 1 {
			return "", nil, filterError("%s() takes a field and one value", f.Op)
		}
	case "in", "out":
		if len(f.Values) == 0 {
			return "", nil, filterError("%s() takes a field and a list of values", f.Op)
		}
	default:
		return "", nil, filterError("unknown operator %q", f.Op)
	}
	if field.member != "" {
		if f.Op == "like" || f.Op == "ilike" {
			return "", nil, filterError("%s cannot be matched with %s(); use eq() or in()", f.Field, f.Op)
		}
		var parts []string
		var args []any
		for _, v := range f.Values {
			parts = append(parts, field.member)
			args = append(args, v)
		}
		joined := "(" + strings.Join(parts, " OR ") + ")"
		if f.Op == "ne" || f.Op == "out" {
			joined = "NOT " + joined
		}
		return joined, args, nil
	}
	switch f.Op {
	case "eq":
		return field.column + " = ?", []any{f.Values[0]}, nil
	case "ne":
		return field.column + " != ?", []any{f.Values[0]}, nil
	case "like", "ilike":
		return field.column + ` LIKE ? ESCAPE '\'`, []any{likePattern(f.Values[0])}, nil
	}
	args := make([]any, len(f.Values))
	for i, v := range f.Values {
		args[i] = v
	}
	not := ""
	if f.Op == "out" {
		not = "NOT "
	}
	return field.column + " " + not + "IN (" + placeholders(len(f.Values)) + ")", args, nil
}

func sorted(s []string) []string {
	slices.Sort(s)
	return s
}

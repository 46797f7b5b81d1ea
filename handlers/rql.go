package handlers

import (
	"fmt"
	"net/url"
	"strings"
	"unicode/utf8"

	"gatehouse/store"
)

// RQL, the subset the API understands: eq(f,v) ne(f,v) like(f,pat)
// ilike(f,pat) in(f,(v1,v2)) out(f,(v1,v2)) and(…) or(…) not(…). Values
// are percent-decoded after the structure is parsed, so %2C and %28 put
// commas and parentheses into a value.

// maxRQLLength bounds a filter expression.
const maxRQLLength = 2000

var rqlOperators = map[string]bool{
	"eq": true, "ne": true, "like": true, "ilike": true, "in": true, "out": true,
	"and": true, "or": true, "not": true,
}

type rqlParser struct {
	s   string
	pos int
}

// rqlError is a parse error with the position it was found at.
type rqlError struct {
	pos int
	msg string
}

func (e *rqlError) Error() string { return fmt.Sprintf("%s at character %d", e.msg, e.pos+1) }

// parseRQL parses one RQL expression (still percent-encoded).
func parseRQL(s string) (store.Filter, error) {
	if len(s) > maxRQLLength {
		return store.Filter{}, &rqlError{maxRQLLength, fmt.Sprintf("the filter is longer than %d characters", maxRQLLength)}
	}
	p := &rqlParser{s: s}
	f, err := p.expr(0)
	if err != nil {
		return store.Filter{}, err
	}
	if p.pos != len(p.s) {
		return store.Filter{}, &rqlError{p.pos, "unexpected text after the expression"}
	}
	return f, nil
}

func (p *rqlParser) peek() byte {
	if p.pos < len(p.s) {
		return p.s[p.pos]
	}
	return 0
}

// word reads up to the next , ( or ) and percent-decodes it.
func (p *rqlParser) word() (string, error) {
	start := p.pos
	for p.pos < len(p.s) && !strings.ContainsRune(",()", rune(p.s[p.pos])) {
		p.pos++
	}
	w, err := url.PathUnescape(strings.ReplaceAll(p.s[start:p.pos], "+", "%20"))
	if err != nil {
		return "", &rqlError{start, "a value is not properly percent-encoded"}
	}
	if !utf8.ValidString(w) {
		return "", &rqlError{start, "a value is not valid UTF-8"}
	}
	return w, nil
}

func (p *rqlParser) expect(c byte) error {
	if p.peek() != c {
		if p.pos >= len(p.s) {
			return &rqlError{p.pos, fmt.Sprintf("expected %q but the filter ended", c)}
		}
		return &rqlError{p.pos, fmt.Sprintf("expected %q, found %q", c, p.s[p.pos])}
	}
	p.pos++
	return nil
}

func (p *rqlParser) expr(depth int) (store.Filter, error) {
	if depth > 8 {
		return store.Filter{}, &rqlError{p.pos, "the filter nests too deeply"}
	}
	start := p.pos
	op, err := p.word()
	if err != nil {
		return store.Filter{}, err
	}
	if !rqlOperators[op] {
		if op == "" {
			return store.Filter{}, &rqlError{start, "expected an operator such as eq("}
		}
		return store.Filter{}, &rqlError{start, fmt.Sprintf("unknown operator %q", op)}
	}
	if err := p.expect('('); err != nil {
		return store.Filter{}, err
	}
	f := store.Filter{Op: op}
	switch op {
	case "and", "or", "not":
		for {
			arg, err := p.expr(depth + 1)
			if err != nil {
				return store.Filter{}, err
			}
			f.Args = append(f.Args, arg)
			if p.peek() != ',' {
				break
			}
			p.pos++
		}
	default:
		if f.Field, err = p.word(); err != nil {
			return store.Filter{}, err
		}
		if f.Field == "" {
			return store.Filter{}, &rqlError{p.pos, "expected a field name"}
		}
		if err := p.expect(','); err != nil {
			return store.Filter{}, err
		}
		if p.peek() == '(' { // a list: in(f,(a,b))
			p.pos++
			for {
				v, err := p.word()
				if err != nil {
					return store.Filter{}, err
				}
				f.Values = append(f.Values, v)
				if p.peek() != ',' {
					break
				}
				p.pos++
			}
			if err := p.expect(')'); err != nil {
				return store.Filter{}, err
			}
		} else {
			for {
				v, err := p.word()
				if err != nil {
					return store.Filter{}, err
				}
				f.Values = append(f.Values, v)
				if p.peek() != ',' {
					break
				}
				p.pos++
			}
		}
	}
	if err := p.expect(')'); err != nil {
		return store.Filter{}, err
	}
	return f, nil
}

// isRQL tells an RQL term of a query string from a key=value parameter: a
// term with a parenthesis before any equals sign is a call, and a call of an
// unknown operator is an error, not a parameter to ignore.
func isRQL(term string) bool {
	i := strings.IndexByte(term, '(')
	eq := strings.IndexByte(term, '=')
	return i >= 0 && (eq < 0 || eq > i)
}

// rqlFromQuery collects the RQL terms of a raw query string (several are
// and-ed together) and returns the remaining key=value parameters.
func rqlFromQuery(raw string) (*store.Filter, url.Values, error) {
	var filters []store.Filter
	rest := []string{}
	for _, term := range strings.Split(raw, "&") {
		if term == "" {
			continue
		}
		if isRQL(term) {
			f, err := parseRQL(term)
			if err != nil {
				return nil, nil, err
			}
			filters = append(filters, f)
			continue
		}
		rest = append(rest, term)
	}
	params, err := url.ParseQuery(strings.Join(rest, "&"))
	if err != nil {
		return nil, nil, &rqlError{0, "the query string is malformed"}
	}
	switch len(filters) {
	case 0:
		return nil, params, nil
	case 1:
		return &filters[0], params, nil
	}
	return &store.Filter{Op: "and", Args: filters}, params, nil
}

package handlers

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"gatehouse/store"
)

// The query string of a list endpoint is RQL as the platform's clients send it
// (SPEC §4.2): terms separated by & or , (and) or by | or ; (or), each a call
// such as eq(status,'Active'), a parenthesised group, or a short form
// field=value or field=op=value; beside them the parameters limit=, offset=,
// order= and select= (or select(…)), separated from the rest by &.
//
// Values are bare, 'single' or "double" quoted (a quote inside doubled or
// backslash-escaped), null() or empty(). The structure is read before values
// are percent-decoded: a percent-encoded comma, parenthesis, &, |, ; or = is
// part of a value, while quotes count whether percent-encoded or not (many
// HTTP clients encode them). + is a plus sign, not a space.

// maxQueryLength bounds the query string of a list.
const maxQueryLength = 8000

// qchar is one byte of the query after percent-decoding, with where it came
// from and whether it was percent-encoded.
type qchar struct {
	c   byte
	esc bool
	pos int
}

type rqlParser struct {
	in  []qchar
	i   int
	end int // the raw length, for errors at the end
}

func rqlErr(pos int, format string, args ...any) error {
	return &store.QueryError{Param: "filter", Pos: pos, Msg: fmt.Sprintf(format, args...)}
}

func newRQLParser(raw string) (*rqlParser, error) {
	if len(raw) > maxQueryLength {
		return nil, rqlErr(maxQueryLength, "the query string is longer than %d characters", maxQueryLength)
	}
	p := &rqlParser{in: make([]qchar, 0, len(raw)), end: len(raw)}
	for i := 0; i < len(raw); i++ {
		if raw[i] != '%' {
			p.in = append(p.in, qchar{raw[i], false, i})
			continue
		}
		if i+2 >= len(raw) || unhex(raw[i+1]) < 0 || unhex(raw[i+2]) < 0 {
			return nil, rqlErr(i, "%% must be followed by two hexadecimal digits (write %%25 for a %% sign)")
		}
		p.in = append(p.in, qchar{byte(unhex(raw[i+1])<<4 | unhex(raw[i+2])), true, i})
		i += 2
	}
	return p, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c - 'a' + 10)
	case c >= 'A' && c <= 'F':
		return int(c - 'A' + 10)
	}
	return -1
}

func (p *rqlParser) eof() bool { return p.i >= len(p.in) }

// pos is where the parser stands in the raw query.
func (p *rqlParser) pos() int {
	if p.eof() {
		return p.end
	}
	return p.in[p.i].pos
}

// is reports whether the next character is the structural character c (sent
// as is, not percent-encoded).
func (p *rqlParser) is(c byte) bool {
	return !p.eof() && p.in[p.i].c == c && !p.in[p.i].esc
}

func (p *rqlParser) isAny(cs string) bool {
	return !p.eof() && !p.in[p.i].esc && strings.IndexByte(cs, p.in[p.i].c) >= 0
}

func isQuote(c byte) bool { return c == '\'' || c == '"' }

// found describes the next character for a message.
func (p *rqlParser) found() string {
	if p.eof() {
		return "the end of the query"
	}
	q := p.in[p.i]
	if q.esc && strings.IndexByte("(),&|;=", q.c) >= 0 {
		return fmt.Sprintf("%s sent percent-encoded (%%%02X), which makes it part of a value", strconv.Quote(string(q.c)), q.c)
	}
	return strconv.Quote(string(q.c))
}

func (p *rqlParser) expect(c byte, what string) error {
	if !p.is(c) {
		return rqlErr(p.pos(), "expected %s %s, found %s", strconv.Quote(string(c)), what, p.found())
	}
	p.i++
	return nil
}

// word reads a name (an operator, a field path, a parameter): everything up
// to the next structural character or quote.
func (p *rqlParser) word() string {
	var b []byte
	for !p.eof() && !p.isAny("(),&|;=") && !isQuote(p.in[p.i].c) {
		b = append(b, p.in[p.i].c)
		p.i++
	}
	return string(b)
}

// peekWord returns the word ahead without moving.
func (p *rqlParser) peekWord() string {
	save := p.i
	w := p.word()
	p.i = save
	return w
}

// rawValue reads the text of a parameter (limit=, order=, …) up to the next &.
// It returns, beside the decoded text, where each of its bytes stands in the
// raw query, for messages.
func (p *rqlParser) rawValue(stop func() bool) (string, []int, error) {
	start := p.pos()
	var b []byte
	var at []int
	for !p.eof() && !stop() {
		b = append(b, p.in[p.i].c)
		at = append(at, p.in[p.i].pos)
		p.i++
	}
	at = append(at, p.pos())
	if !utf8.Valid(b) {
		return "", at, rqlErr(start, "the value is not valid UTF-8")
	}
	return string(b), at, nil
}

// rawPos maps a QueryError about a decoded value back to the raw query.
func rawPos(err error, at []int) error {
	if qe, ok := err.(*store.QueryError); ok && qe.Pos >= 0 && qe.Pos < len(at) {
		qe.Pos = at[qe.Pos]
	}
	return err
}

// value reads one value: quoted, null(), empty() or bare.
func (p *rqlParser) value() (store.Value, error) {
	start := p.pos()
	if !p.eof() && isQuote(p.in[p.i].c) {
		return p.quoted()
	}
	var b []byte
	for !p.eof() && !p.isAny("(),&|;") {
		b = append(b, p.in[p.i].c)
		p.i++
	}
	w := string(b)
	if p.is('(') {
		if (w == "null" || w == "empty") && p.i+1 < len(p.in) && p.in[p.i+1].c == ')' && !p.in[p.i+1].esc {
			p.i += 2
			if w == "null" {
				return store.Value{Kind: store.ValueNull, Pos: start}, nil
			}
			return store.Value{Kind: store.ValueEmpty, Pos: start}, nil
		}
		return store.Value{}, rqlErr(p.pos(), "a value cannot hold a parenthesis unless it is quoted ('a(b)') or percent-encoded (%%28)")
	}
	if w == "" {
		return store.Value{}, rqlErr(start, "expected a value, found %s (write empty() for an empty string)", p.found())
	}
	if !utf8.ValidString(w) {
		return store.Value{}, rqlErr(start, "a value is not valid UTF-8")
	}
	return store.Value{Kind: store.ValueText, Text: w, Pos: start}, nil
}

// quoted reads a 'single' or "double" quoted value.
func (p *rqlParser) quoted() (store.Value, error) {
	start := p.pos()
	q := p.in[p.i].c
	p.i++
	var b []byte
	for {
		if p.eof() {
			return store.Value{}, rqlErr(start, "the quote opened here is never closed")
		}
		c := p.in[p.i].c
		switch {
		case c == '\\':
			// \' \" and \\ escape; before anything else the backslash stays,
			// so that like(name,'\*') can ask for a star itself.
			p.i++
			if p.eof() {
				return store.Value{}, rqlErr(start, "the quote opened here is never closed")
			}
			if n := p.in[p.i].c; n != '\'' && n != '"' && n != '\\' {
				b = append(b, '\\')
			}
			b = append(b, p.in[p.i].c)
		case c == q && p.i+1 < len(p.in) && p.in[p.i+1].c == q:
			b = append(b, q)
			p.i++
		case c == q:
			p.i++
			if !p.eof() && !p.isAny("),&|;") {
				return store.Value{}, rqlErr(p.pos(), "unexpected %s after a quoted value", p.found())
			}
			if !utf8.Valid(b) {
				return store.Value{}, rqlErr(start, "a value is not valid UTF-8")
			}
			return store.Value{Kind: store.ValueText, Text: string(b), Pos: start}, nil
		default:
			b = append(b, c)
		}
		p.i++
	}
}

// list reads (v1,v2,…) or, without parentheses, v1,v2,… up to the closing
// parenthesis of the call.
func (p *rqlParser) list() ([]store.Value, error) {
	paren := p.is('(')
	if paren {
		p.i++
	}
	var vs []store.Value
	for {
		v, err := p.value()
		if err != nil {
			return nil, err
		}
		if len(vs) == store.MaxFilterValues {
			return nil, rqlErr(v.Pos, "a list takes at most %d values", store.MaxFilterValues)
		}
		vs = append(vs, v)
		if !p.is(',') {
			break
		}
		p.i++
	}
	if paren {
		if err := p.expect(')', "to close the list"); err != nil {
			return nil, err
		}
	}
	return vs, nil
}

// expr reads one condition: a call, a group or a short form.
func (p *rqlParser) expr(depth int) (store.Filter, error) {
	start := p.pos()
	if depth >= store.MaxFilterDepth {
		return store.Filter{}, rqlErr(start, "the filter nests more than %d levels deep", store.MaxFilterDepth)
	}
	if p.is('(') {
		p.i++
		f, err := p.conditions(depth+1, ')')
		if err != nil {
			return store.Filter{}, err
		}
		return f, p.expect(')', "to close the group")
	}
	w := p.word()
	switch {
	case w == "":
		return store.Filter{}, rqlErr(start, "expected a condition such as eq(status,Active), found %s", p.found())
	case p.is('('):
		return p.call(w, start, depth)
	case p.is('='):
		return p.short(w, start)
	}
	return store.Filter{}, rqlErr(p.pos(), "expected ( or = after %q, found %s", truncate(w, 40), p.found())
}

// conditions reads conditions separated by , or & (and) or by | or ; (or),
// up to the character stop (0 for the end of the query); mixing and with or
// needs parentheses.
func (p *rqlParser) conditions(depth int, stop byte) (store.Filter, error) {
	var args []store.Filter
	op, opPos := "", 0
	for {
		f, err := p.expr(depth)
		if err != nil {
			return store.Filter{}, err
		}
		args = append(args, f)
		if p.eof() || p.is(stop) {
			break
		}
		sepPos, sep := p.pos(), p.in[p.i].c
		if !p.isAny(",&|;") {
			return store.Filter{}, rqlErr(sepPos, "expected , & | ; or ) after a condition, found %s", p.found())
		}
		p.i++
		if err := conjoin(&op, &opPos, sep, sepPos); err != nil {
			return store.Filter{}, err
		}
	}
	if len(args) == 1 {
		return args[0], nil
	}
	return store.Filter{Op: op, Args: args, Pos: args[0].Pos}, nil
}

// conjoin records that the separator sep (at sepPos) joins two conditions of
// a level whose conjunction so far is op (set at opPos): , and & mean and,
// | and ; mean or, and one level takes one of them.
func conjoin(op *string, opPos *int, sep byte, sepPos int) error {
	kind := "and"
	if sep == '|' || sep == ';' {
		kind = "or"
	}
	if *op != "" && *op != kind {
		return rqlErr(sepPos, "and (, &) and or (| ;) are mixed here without parentheses (the other one is at character %d): group them, as in (a|b)&c", *opPos+1)
	}
	*op, *opPos = kind, sepPos
	return nil
}

// call reads name(…) after its name.
func (p *rqlParser) call(name string, start, depth int) (store.Filter, error) {
	p.i++ // (
	f := store.Filter{Op: name, Pos: start}
	switch name {
	case "and", "or", "not":
		for !p.is(')') {
			a, err := p.expr(depth + 1)
			if err != nil {
				return store.Filter{}, err
			}
			f.Args = append(f.Args, a)
			if !p.is(',') {
				break
			}
			p.i++
		}
	case "any":
		if f.Field = p.word(); f.Field == "" {
			return store.Filter{}, rqlErr(p.pos(), "any() takes a collection, such as any(modules,eq(id,MOD-1756))")
		}
		if err := p.expect(',', "after the collection"); err != nil {
			return store.Filter{}, err
		}
		a, err := p.expr(depth + 1)
		if err != nil {
			return store.Filter{}, err
		}
		f.Args = []store.Filter{a}
	case "select":
		return store.Filter{}, rqlErr(start, "select belongs at the top level of the query, separated from the filter by &")
	case "order", "limit", "offset", "sort":
		return store.Filter{}, rqlErr(start, "%s( is not an operator: write the parameter as %s=… at the top level, separated from the filter by &", name, strings.Replace(name, "sort", "order", 1))
	default:
		if !store.IsOperator(name) {
			return store.Filter{}, rqlErr(start, "unknown operator %q; the operators are %s", truncate(name, 20), store.Operators())
		}
		fieldPos := p.pos()
		if f.Field = p.word(); f.Field == "" {
			return store.Filter{}, rqlErr(fieldPos, "expected a field name after %s(, found %s", name, p.found())
		}
		if err := p.expect(',', "after the field "+truncate(f.Field, 40)); err != nil {
			return store.Filter{}, err
		}
		if name == "in" || name == "out" {
			vs, err := p.list()
			if err != nil {
				return store.Filter{}, err
			}
			f.Values = vs
		} else {
			v, err := p.value()
			if err != nil {
				return store.Filter{}, err
			}
			f.Values = []store.Value{v}
			if p.is(',') {
				return store.Filter{}, rqlErr(p.pos(), "%s() takes one value; quote a value that holds a comma ('a,b')", name)
			}
		}
	}
	return f, p.expect(')', "to close "+name+"(")
}

// short reads field=value or field=op=value after the field.
func (p *rqlParser) short(field string, start int) (store.Filter, error) {
	if slices.Contains(listParams, field) {
		return store.Filter{}, rqlErr(start, "%s= belongs at the top level of the query, separated from the filter by &", field)
	}
	p.i++ // =
	f := store.Filter{Op: "eq", Field: field, Pos: start}
	if w := p.peekWord(); w != "" && store.IsOperator(w) && !slices.Contains([]string{"and", "or", "not", "any"}, w) {
		save := p.i
		p.word()
		if p.is('=') {
			p.i++
			f.Op = w
		} else {
			p.i = save
		}
	}
	if (f.Op == "in" || f.Op == "out") && p.is('(') {
		// A list needs its parentheses here: after field=in=a, a comma
		// starts the next condition.
		vs, err := p.list()
		f.Values = vs
		return f, err
	}
	v, err := p.value()
	f.Values = []store.Value{v}
	return f, err
}

// apiQuery is what a list endpoint reads from its query string.
type apiQuery struct {
	filter        *store.Filter
	sort          []store.SortKey
	sel           *selection
	offset, limit int
	seen          map[string]bool // the parameters given
}

// listParams are the parameters a list takes beside its filter.
var listParams = []string{"limit", "offset", "order", "select"}

// parseAPIQuery reads a list endpoint's raw query string against the
// schema of its objects and the fields its JSON shows.
func parseAPIQuery(raw string, schema *store.Schema, shape *jsonShape) (apiQuery, error) {
	lq := apiQuery{limit: defaultAPILimit}
	p, err := newRQLParser(raw)
	if err != nil {
		return lq, err
	}
	var filters []store.Filter
	seen := map[string]bool{}
	lq.seen = seen
	op, opPos := "", 0
	sep := byte(0) // the separator before the current term
	sepPos := 0
	for !p.eof() {
		if p.is('&') { // empty terms (a&&b, a trailing &) are nothing
			if sep != 0 && sep != '&' {
				return lq, rqlErr(sepPos, "expected a condition after %s", strconv.Quote(string(sep)))
			}
			sep, sepPos = '&', p.pos()
			p.i++
			continue
		}
		start := p.pos()
		w := p.peekWord()
		save := p.i
		p.word()
		isParam := slices.Contains(listParams, w) && (p.is('=') || (w == "select" && p.is('(')))
		p.i = save
		if isParam {
			if sep != 0 && sep != '&' {
				return lq, rqlErr(sepPos, "%s= must be separated from the filter by &", w)
			}
			if seen[w] {
				return lq, &store.QueryError{Param: w, Pos: start, Msg: w + " is given twice"}
			}
			seen[w] = true
			if err := p.param(w, &lq, schema, shape); err != nil {
				return lq, err
			}
			sep = 0
			if !p.eof() {
				sep, sepPos = '&', p.pos()
				p.i++
			}
			continue
		}
		f, err := p.expr(0)
		if err != nil {
			return lq, err
		}
		if len(filters) > 0 {
			if err := conjoin(&op, &opPos, sep, sepPos); err != nil {
				return lq, err
			}
		}
		filters = append(filters, f)
		sep = 0
		if p.eof() {
			break
		}
		if !p.isAny(",&|;") {
			return lq, rqlErr(p.pos(), "expected , & | or ; after a condition, found %s", p.found())
		}
		sep, sepPos = p.in[p.i].c, p.pos()
		p.i++
		if p.eof() && sep != '&' {
			return lq, rqlErr(sepPos, "expected a condition after %s", strconv.Quote(string(sep)))
		}
	}
	switch len(filters) {
	case 0:
	case 1:
		lq.filter = &filters[0]
	default:
		lq.filter = &store.Filter{Op: op, Args: filters, Pos: filters[0].Pos}
	}
	if lq.filter != nil {
		if err := schema.Check(*lq.filter); err != nil {
			return lq, withParams(err)
		}
	}
	return lq, nil
}

// withParams adds the list's other parameters to a message about an unknown
// field: the term may have been meant as one (status=Active is a filter, foo=1
// neither a filter nor a parameter).
func withParams(err error) error {
	qe, ok := err.(*store.QueryError)
	if !ok || !strings.HasPrefix(qe.Msg, "unknown field") {
		return err
	}
	return &store.QueryError{Param: qe.Param, Pos: qe.Pos, Msg: qe.Msg + "; the other parameters are " + strings.Join(listParams, ", ")}
}

// param reads limit=, offset=, order=, select= or select(…).
func (p *rqlParser) param(name string, lq *apiQuery, schema *store.Schema, shape *jsonShape) error {
	p.word()
	if p.is('(') { // select(…)
		p.i++
		v, at, err := p.rawValue(func() bool { return p.is(')') })
		if err != nil {
			return &store.QueryError{Param: "select", Pos: at[0], Msg: err.(*store.QueryError).Msg}
		}
		if err := p.expect(')', "to close select("); err != nil {
			return &store.QueryError{Param: "select", Pos: err.(*store.QueryError).Pos, Msg: err.(*store.QueryError).Msg}
		}
		if !p.eof() && !p.is('&') {
			return &store.QueryError{Param: "select", Pos: p.pos(), Msg: "expected & after select(…), found " + p.found()}
		}
		sel, err := shape.parseSelect(v)
		lq.sel = sel
		return rawPos(err, at)
	}
	p.i++ // =
	v, pos, err := p.rawValue(func() bool { return p.is('&') })
	at := pos[0]
	if err != nil {
		return &store.QueryError{Param: name, Pos: at, Msg: err.(*store.QueryError).Msg}
	}
	switch name {
	case "limit":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > maxAPILimit {
			return &store.QueryError{Param: "limit", Pos: at, Msg: fmt.Sprintf("limit must be a whole number from 0 to %d", maxAPILimit)}
		}
		lq.limit = n
	case "offset":
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return &store.QueryError{Param: "offset", Pos: at, Msg: "offset must be a whole number from 0"}
		}
		lq.offset = n
	case "order":
		keys, err := schema.ParseSort(v)
		if err != nil {
			return rawPos(err, pos)
		}
		lq.sort = keys
	case "select":
		sel, err := shape.parseSelect(v)
		if err != nil {
			return rawPos(err, pos)
		}
		lq.sel = sel
	}
	return nil
}

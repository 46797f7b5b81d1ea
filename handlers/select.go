package handlers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
)

// jsonShape is the tree of fields an API object shows, for select=: its leaf
// paths in the order the JSON has them.
type jsonShape struct {
	name  string
	nodes []string // every path, leaves and the objects holding them, in order
}

func newJSONShape(name string, leaves ...string) *jsonShape {
	s := &jsonShape{name: name}
	for _, l := range leaves {
		parts := strings.Split(l, ".")
		for i := range parts {
			p := strings.Join(parts[:i+1], ".")
			if !slices.Contains(s.nodes, p) {
				s.nodes = append(s.nodes, p)
			}
		}
	}
	return s
}

// The shapes of the API's objects (SPEC §4).
var (
	tokenShape = newJSONShape("API tokens", "id", "href", "name", "description", "icon", "status", "lastAccessAt",
		"account.id", "account.name", "modules.id", "modules.name",
		"audit.created.at", "audit.created.by.id", "audit.created.by.name",
		"audit.updated.at", "audit.updated.by.id", "audit.updated.by.name")
	auditShape = newJSONShape("audit records", "id", "timestamp", "event", "object.type", "object.id", "object.name",
		"actor.type", "actor.id", "actor.name", "details", "summary", "ip", "userAgent", "hash")
)

// selection is a parsed select: the fields named alone (only those are
// shown), the fields with - (left out). id is always shown.
type selection struct {
	only    []string
	exclude []string
	omitted []string // what the response leaves out, for $meta.omitted
}

// parseSelect reads select's value: field paths separated by commas, each
// alone or with + (shown) or - (left out). A QueryError's position is an
// offset in v.
func (s *jsonShape) parseSelect(v string) (*selection, error) {
	sel := &selection{}
	bare := false // a field named without a sign narrows the response
	off := 0
	for _, part := range strings.Split(v, ",") {
		at := off
		off += len(part) + 1
		path, sign := part, byte(0)
		if part != "" && (part[0] == '-' || part[0] == '+') {
			path, sign = part[1:], part[0]
		}
		if path == "" {
			return nil, &store.QueryError{Param: "select", Pos: at, Msg: "select takes field paths separated by commas, such as select=-audit or select=id,name"}
		}
		if !slices.Contains(s.nodes, path) {
			return nil, &store.QueryError{Param: "select", Pos: at, Msg: fmt.Sprintf("unknown field %q; %s show %s", truncate(path, 40), s.name, strings.Join(s.nodes, ", "))}
		}
		bare = bare || sign == 0
		if sign == '-' {
			if path == "id" {
				return nil, &store.QueryError{Param: "select", Pos: at, Msg: "id is always shown and cannot be left out"}
			}
			sel.exclude = append(sel.exclude, path)
		} else {
			sel.only = append(sel.only, path)
		}
	}
	for _, e := range sel.exclude {
		for _, o := range sel.only {
			if under(o, e) {
				return nil, &store.QueryError{Param: "select", Pos: 0, Msg: fmt.Sprintf("%s is selected, but -%s leaves it out", o, e)}
			}
		}
	}
	// An object whose fields are all left out is left out itself.
	for i := len(s.nodes) - 1; i >= 0; i-- {
		n, children := s.nodes[i], 0
		excluded := 0
		for _, c := range s.nodes {
			if strings.HasPrefix(c, n+".") && !strings.Contains(c[len(n)+1:], ".") {
				children++
				if slices.ContainsFunc(sel.exclude, func(e string) bool { return under(c, e) }) {
					excluded++
				}
			}
		}
		if children > 0 && children == excluded && !slices.Contains(sel.exclude, n) {
			if n == "id" {
				continue
			}
			sel.exclude = append(sel.exclude, n)
		}
	}
	// +field alone changes nothing (every field is shown by default); a field
	// named without a sign narrows the response to the fields so named.
	if !bare {
		sel.only = nil
	}
	for _, n := range s.nodes {
		parent := n[:max(strings.LastIndexByte(n, '.'), 0)]
		if !sel.keep(n) && (parent == "" || sel.keep(parent)) {
			sel.omitted = append(sel.omitted, n)
		}
	}
	return sel, nil
}

func under(path, root string) bool { return path == root || strings.HasPrefix(path, root+".") }

// keep reports whether the field at path is shown.
func (sel *selection) keep(path string) bool {
	for _, e := range sel.exclude {
		if under(path, e) {
			return false
		}
	}
	if len(sel.only) == 0 || path == "id" {
		return true
	}
	for _, o := range sel.only {
		if under(path, o) || under(o, path) {
			return true
		}
	}
	return false
}

// apply encodes v with only the selected fields, and $meta.omitted listing
// the others.
func (sel *selection) apply(v any) (json.RawMessage, error) {
	b, err := json.Marshal(v)
	if err != nil {
		return nil, err
	}
	if sel == nil {
		return b, nil
	}
	out, err := sel.prune(b, "")
	if err != nil || len(sel.omitted) == 0 {
		return out, err
	}
	meta, err := json.Marshal(map[string]any{"omitted": sel.omitted})
	if err != nil {
		return nil, err
	}
	// {"$meta":…,<the fields>}
	var buf bytes.Buffer
	buf.WriteString(`{"$meta":`)
	buf.Write(meta)
	if len(out) > 2 {
		buf.WriteByte(',')
		buf.Write(out[1:])
	} else {
		buf.WriteByte('}')
	}
	return buf.Bytes(), nil
}

// writeSelected answers 200 with v, trimmed to the selection when there is
// one.
func writeSelected(c echo.Context, sel *selection, v any) error {
	if sel == nil {
		return c.JSON(http.StatusOK, v)
	}
	b, err := sel.apply(v)
	if err != nil {
		return err
	}
	return c.JSONBlob(http.StatusOK, append(b, '\n'))
}

// prune copies the JSON value raw (found at path) without the fields the
// selection leaves out, keeping the order of the rest.
func (sel *selection) prune(raw json.RawMessage, path string) (json.RawMessage, error) {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return raw, nil
	}
	switch raw[0] {
	case '{':
		var fields []struct {
			key string
			val json.RawMessage
		}
		dec := json.NewDecoder(bytes.NewReader(raw))
		if _, err := dec.Token(); err != nil {
			return nil, err
		}
		for dec.More() {
			tk, err := dec.Token()
			if err != nil {
				return nil, err
			}
			var val json.RawMessage
			if err := dec.Decode(&val); err != nil {
				return nil, err
			}
			key, _ := tk.(string)
			fields = append(fields, struct {
				key string
				val json.RawMessage
			}{key, val})
		}
		var buf bytes.Buffer
		buf.WriteByte('{')
		n := 0
		for _, f := range fields {
			p := f.key
			if path != "" {
				p = path + "." + f.key
			}
			if !sel.keep(p) {
				continue
			}
			val := f.val
			if p != "details" { // free-form: selected or left out whole
				var err error
				if val, err = sel.prune(val, p); err != nil {
					return nil, err
				}
			}
			if n > 0 {
				buf.WriteByte(',')
			}
			n++
			k, _ := json.Marshal(f.key)
			buf.Write(k)
			buf.WriteByte(':')
			buf.Write(val)
		}
		buf.WriteByte('}')
		return buf.Bytes(), nil
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(raw, &items); err != nil {
			return nil, err
		}
		var buf bytes.Buffer
		buf.WriteByte('[')
		for i, it := range items {
			if i > 0 {
				buf.WriteByte(',')
			}
			pruned, err := sel.prune(it, path)
			if err != nil {
				return nil, err
			}
			buf.Write(pruned)
		}
		buf.WriteByte(']')
		return buf.Bytes(), nil
	}
	return raw, nil
}

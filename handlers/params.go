package handlers

import (
	"fmt"
	"net/url"
	"slices"
	"strings"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
)

// onlyParams refuses, with a 400 naming it, a query parameter the endpoint
// does not take: a client that sends one expects it to do something, and an
// API that ignores it answers a different question than was asked.
func onlyParams(names ...string) echo.MiddlewareFunc {
	takes := "takes no query parameters"
	if len(names) > 0 {
		takes = "takes only " + strings.Join(names, ", ")
	}
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			raw := c.Request().URL.RawQuery
			if raw == "" {
				return next(c)
			}
			pos := 0
			for _, term := range strings.Split(raw, "&") {
				at := pos
				pos += len(term) + 1
				if term == "" {
					continue
				}
				key, _, _ := strings.Cut(term, "=")
				if k, err := url.QueryUnescape(key); err == nil {
					key = k
				}
				if i := strings.IndexByte(key, '('); i >= 0 {
					key = key[:i] // select(…)
				}
				if !slices.Contains(names, key) {
					return &store.ValidationError{Fields: map[string]string{"query": (&store.QueryError{Pos: at,
						Msg: fmt.Sprintf("unknown query parameter %q: this endpoint %s", truncate(key, 40), takes)}).Error()}}
				}
			}
			return next(c)
		}
	}
}

// selectOnly reads the query of an endpoint that shows one object: select=
// or select(…), nothing else.
func selectOnly(c echo.Context, schema *store.Schema, shape *jsonShape) (*selection, error) {
	raw := c.Request().URL.RawQuery
	if raw == "" {
		return nil, nil
	}
	onlySelect := &store.ValidationError{Fields: map[string]string{"query": "this endpoint shows one object and takes only select"}}
	lq, err := parseAPIQuery(raw, schema, shape)
	if qe, ok := err.(*store.QueryError); ok && qe.Param != "select" {
		return nil, onlySelect
	} else if err != nil {
		return nil, queryError(err)
	}
	if lq.filter != nil || lq.sort != nil || lq.seen["limit"] || lq.seen["offset"] {
		return nil, onlySelect
	}
	return lq.sel, nil
}

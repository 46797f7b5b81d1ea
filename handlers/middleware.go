package handlers

import (
	"context"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
)

// contentSecurityPolicy allows nothing but this origin's own files: no inline
// script, no framing, no external request of any kind.
const contentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// securityHeaders sets the headers of SPEC §5 on every response.
// The header values are shared, read-only slices: setting them costs no
// allocation per request.
var (
	pageHeaders = [][2]string{
		{"Content-Security-Policy", contentSecurityPolicy},
		{"X-Content-Type-Options", "nosniff"},
		{"X-Frame-Options", "DENY"},
		{"Referrer-Policy", "same-origin"},
		{"Cross-Origin-Opener-Policy", "same-origin"},
	}
	// The public API answers JSON to programs: nothing in it may be framed,
	// run or cached.
	apiHeaders = [][2]string{
		{"Content-Security-Policy", "default-src 'none'; frame-ancestors 'none'"},
		{"X-Content-Type-Options", "nosniff"},
		{"Cache-Control", "no-store"},
	}
	pageHeaderValues = headerValues(pageHeaders)
	apiHeaderValues  = headerValues(apiHeaders)
	hstsValue        = []string{"max-age=63072000; includeSubDomains"}
)

func headerValues(hs [][2]string) [][]string {
	out := make([][]string, len(hs))
	for i, h := range hs {
		out[i] = []string{h[1]}
	}
	return out
}

func (h *Handler) securityHeaders(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		hd := c.Response().Header()
		names, values := pageHeaders, pageHeaderValues
		if strings.HasPrefix(c.Request().URL.Path, "/public/") {
			names, values = apiHeaders, apiHeaderValues
		}
		for i, h := range names {
			hd[h[0]] = values[i]
		}
		if h.tls {
			hd["Strict-Transport-Security"] = hstsValue
		}
		return next(c)
	}
}

func requestID(c echo.Context) string {
	return c.Response().Header().Get(echo.HeaderXRequestID)
}

// logRequests writes one structured line per request. It logs the path, never
// the query or headers, so nothing secret can reach the log through it.
func (h *Handler) logRequests(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		start := time.Now()
		err := next(c)
		if err != nil {
			c.Error(err)
		}
		status := c.Response().Status
		level := slog.LevelInfo
		switch {
		case status == http.StatusServiceUnavailable:
			level = slog.LevelWarn // the database is away: no fault of ours
		case status >= 500:
			level = slog.LevelError
		}
		h.log.LogAttrs(c.Request().Context(), level, "request",
			slog.String("request_id", requestID(c)),
			slog.String("method", c.Request().Method),
			slog.String("path", c.Request().URL.Path),
			slog.Int("status", status),
			slog.Int64("bytes", c.Response().Size),
			slog.String("duration", time.Since(start).Round(time.Microsecond).String()),
			slog.String("ip", c.RealIP()),
		)
		return nil
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// healthz answers liveness probes.
func (h *Handler) healthz(c echo.Context) error {
	return c.String(http.StatusOK, "ok\n")
}

// readyTimeout bounds the database check of a readiness probe, so that a
// server that does not answer makes the probe fail rather than hang.
const readyTimeout = 2 * time.Second

// readyz answers readiness probes: ready when the database answers and the
// verify cache is current with the change log (a replica that is behind
// still answers, from the database, but should get no traffic). It asks the
// database each time, so it answers 200 again as soon as the database is
// back.
func (h *Handler) readyz(c echo.Context) error {
	ctx, cancel := context.WithTimeout(c.Request().Context(), readyTimeout)
	defer cancel()
	if err := h.store.Ping(ctx); err != nil {
		c.Response().Header().Set("Retry-After", unavailableRetryAfter)
		return c.String(http.StatusServiceUnavailable, "database unavailable\n")
	}
	if !h.feed.current() {
		c.Response().Header().Set("Retry-After", unavailableRetryAfter)
		return c.String(http.StatusServiceUnavailable, "token change log not current (last read "+h.feed.lag().Round(time.Millisecond).String()+" ago)\n")
	}
	return c.String(http.StatusOK, "ready\n")
}

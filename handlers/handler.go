// Package handlers is Gatehouse's HTTP layer: it parses requests, calls the
// store, and renders views or problem details.
package handlers

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/a-h/templ"
	"github.com/labstack/echo/v4"

	"gatehouse/static"
	"gatehouse/store"
	"gatehouse/views"
)

// Deps is what the handlers need from the program.
type Deps struct {
	Store  Store
	Sealer *store.Sealer
	Logger *slog.Logger
	// PublicURL is the base URL clients use, such as https://gatehouse.example.
	PublicURL string
	// TLS says the console is served over HTTPS (directly or behind a proxy):
	// cookies get the Secure flag and responses carry HSTS.
	TLS bool
}

// Handler serves the console.
type Handler struct {
	store    Store
	sealer   *store.Sealer
	log      *slog.Logger
	sessions *SessionStore
	tls      bool
	public   string
	cache    *authCache
	feed     *changeFeed
	tracker  *accessTracker
	// hashSlots bounds how many password checks (19 MiB of argon2 each) run
	// at once.
	hashSlots chan struct{}
}

// New returns a Handler for the given dependencies.
func New(d Deps) *Handler {
	if d.Logger == nil {
		d.Logger = slog.Default()
	}
	d.Logger = slog.New(redactingHandler{d.Logger.Handler()})
	h := &Handler{
		store:     d.Store,
		sealer:    d.Sealer,
		log:       d.Logger,
		sessions:  NewSessionStore(d.Store, d.TLS),
		tls:       d.TLS,
		public:    strings.TrimSuffix(d.PublicURL, "/"),
		cache:     newAuthCache(200_000),
		tracker:   newAccessTracker(),
		hashSlots: make(chan struct{}, runtime.NumCPU()),
	}
	h.feed = newChangeFeed(d.Store, h.cache, d.Logger)
	d.Store.OnTokenChange(h.cache.drop)
	return h
}

// RunFeed follows the store's change log until ctx ends, keeping the verify
// cache in step with what other processes change. Until it has read the log
// once, and whenever it falls behind, verifications read the database.
func (h *Handler) RunFeed(ctx context.Context) { h.feed.Run(ctx) }

// render writes a component with the status, buffered so that a component
// that fails midway never sends half a page.
func (h *Handler) render(c echo.Context, status int, comp templ.Component) error {
	var buf bytes.Buffer
	if err := comp.Render(c.Request().Context(), &buf); err != nil {
		return fmt.Errorf("render: %w", err)
	}
	return c.HTMLBlob(status, buf.Bytes())
}

// chrome fills what every console page shows around its content.
func (h *Handler) chrome(c echo.Context, title, nav string) views.Chrome {
	ch := views.Chrome{
		Title:  title,
		CSRF:   csrfToken(c),
		CSSURL: static.URL("app.css"),
		JSURL:  static.URL("app.js"),
		Nav:    nav,
	}
	if u, ok := currentUser(c); ok {
		ch.User = &views.CurrentUser{
			Name: u.Name, Initials: initials(u.Name), Role: u.Role,
			AccountName: u.AccountName, AccountType: u.AccountType, AccountID: u.AccountID,
		}
		ch.Flash, ch.Notice, ch.Warning = h.popFlash(c)
	}
	return ch
}

// httpStatus maps an error to the status and the message a user may see.
func httpStatus(err error) (int, string) {
	var he *echo.HTTPError
	var ve *store.ValidationError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		msg := http.StatusText(he.Code)
		if s, ok := he.Message.(string); ok && s != "" {
			msg = s
		}
		if he.Code == http.StatusNotFound && msg == "Not Found" {
			msg = "There is nothing at this address. It may have been deleted, or the link may be wrong."
		}
		return he.Code, msg
	case errors.Is(err, store.ErrNotFound):
		return http.StatusNotFound, "There is nothing at this address. It may have been deleted, or the link may be wrong."
	case errors.Is(err, store.ErrConflict):
		return http.StatusConflict, "This was changed by someone else meanwhile. Reload the page and try again."
	case errors.Is(err, store.ErrInvalidTransition):
		return http.StatusConflict, "This action does not apply to the token in its current state."
	case errors.As(err, &ve):
		return http.StatusBadRequest, ve.Error()
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, fmt.Sprintf("The request is too large (the limit is %d bytes).", mbe.Limit)
	case errors.Is(err, context.Canceled):
		return 499, "The request was cancelled."
	case errors.Is(err, store.ErrUnavailable):
		return http.StatusServiceUnavailable, unavailableMessage
	}
	return http.StatusInternalServerError, "Something went wrong on our side."
}

// unavailableMessage is what a user or a client is told while the database
// cannot be reached: that it is not their request, and that it will pass.
const unavailableMessage = "The database is unavailable at the moment, so Gatehouse cannot answer this request. Nothing is wrong with it: please try again in a moment."

// unavailableRetryAfter is the Retry-After, in seconds, of an answer given
// while the database cannot be reached.
const unavailableRetryAfter = "5"

var errorHeadings = map[int]string{
	http.StatusBadRequest:            "This request cannot be handled",
	http.StatusUnauthorized:          "Please log in",
	http.StatusForbidden:             "You cannot do this",
	http.StatusNotFound:              "Page not found",
	http.StatusMethodNotAllowed:      "This action is not available here",
	http.StatusConflict:              "This changed meanwhile",
	http.StatusRequestEntityTooLarge: "Too large",
	http.StatusTooManyRequests:       "Too many requests",
	http.StatusServiceUnavailable:    "The database is unavailable",
}

// HandleError is echo's HTTPErrorHandler: it renders every error as the error
// page, with a generic message and a logged request id for a 500. While the
// database cannot be reached (store.ErrUnavailable) the answer is a 503 with
// Retry-After, which says so and offers to try again.
func (h *Handler) HandleError(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := httpStatus(err)
	reqID := c.Response().Header().Get(echo.HeaderXRequestID)
	unavailable := errors.Is(err, store.ErrUnavailable)
	switch {
	case unavailable:
		// Not a fault of Gatehouse's: a warning, with the driver's reason
		// (which names the server, never its URL or password).
		h.log.Warn("database unavailable", "request_id", reqID, "method", c.Request().Method,
			"path", c.Request().URL.Path, "error", err)
		c.Response().Header().Set("Retry-After", unavailableRetryAfter)
	case status >= 500:
		h.log.Error("request failed", "request_id", reqID, "method", c.Request().Method,
			"path", c.Request().URL.Path, "error", err)
		msg = "Something went wrong on our side. It has been logged with request id " + reqID + "; please try again."
	}
	if status == 499 {
		return
	}
	if strings.HasPrefix(c.Request().URL.Path, "/public/") {
		var ve *store.ValidationError
		var fields map[string]string
		detail := msg
		if errors.As(err, &ve) {
			fields = ve.Fields
			detail = "The request has invalid fields."
		}
		if err := writeProblem(c, status, detail, fields); err != nil {
			h.log.Error("write problem", "request_id", reqID, "error", err)
		}
		return
	}
	heading := errorHeadings[status]
	if heading == "" {
		heading = http.StatusText(status)
	}
	if status >= 500 && !unavailable {
		heading = "Something went wrong"
	}
	m := views.ErrorPage{Chrome: h.chrome(c, heading, ""), Status: status, Heading: heading, Message: msg}
	if status < 500 && m.User != nil {
		m.BackURL = "/settings/api-tokens"
	}
	if unavailable {
		// The same page again is what to try; a form sent while the
		// database was down is found again from the list.
		if c.Request().Method == http.MethodGet {
			m.RetryURL = c.Request().URL.RequestURI()
		}
		m.BackURL = "/settings/api-tokens"
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if c.Request().Method == http.MethodHead {
		c.NoContent(status)
		return
	}
	if err := h.render(c, status, views.ErrorView(m)); err != nil {
		h.log.Error("render error page", "request_id", reqID, "error", err)
		c.String(status, msg)
	}
}

// formatDateTime turns an instant into the console's date-over-time form.
func formatDateTime(t time.Time) views.DateTime { return views.DateTimeOf(t) }

package handlers

import (
	"errors"
	"net/http"
	"net/url"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/gorilla/sessions"
	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/views"
)

const (
	ctxUser    = "gatehouse.user"
	ctxSession = "gatehouse.session"
)

// loginFailed is the one message for every wrong email or password.
const loginFailed = "The email or password is not correct."

// currentUser returns the logged-in user of the request, if any.
func currentUser(c echo.Context) (store.User, bool) {
	u, ok := c.Get(ctxUser).(store.User)
	return u, ok
}

func (h *Handler) session(c echo.Context) (*sessions.Session, error) {
	if s, ok := c.Get(ctxSession).(*sessions.Session); ok {
		return s, nil
	}
	s, err := h.sessions.Get(c.Request(), SessionCookie)
	if err != nil {
		return nil, err
	}
	c.Set(ctxSession, s)
	return s, nil
}

// loadUser is middleware that puts the session's user, if any, into the
// context and keeps the session's last-seen time fresh.
func (h *Handler) loadUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := h.session(c)
		if err != nil {
			return err
		}
		id, _ := sess.Values[keyUserID].(string)
		if id == "" {
			return next(c)
		}
		// The session's row brought its user along; a session that changed
		// users since it was read asks again.
		u, ok := sess.Values[keyUser].(store.User)
		if !ok || u.ID != id {
			if u, err = h.store.User(c.Request().Context(), id); errors.Is(err, store.ErrNotFound) {
				return next(c)
			} else if err != nil {
				return err
			}
		}
		c.Set(ctxUser, u)
		if seen, ok := sess.Values[keyLastSeen].(time.Time); ok && h.store.Now().Sub(seen) > sessionTouchEvery {
			if err := h.store.TouchSession(c.Request().Context(), sess.ID); err != nil {
				return err
			}
		}
		return next(c)
	}
}

// requireUser sends visitors without a session to the login page, keeping
// where they were going.
func (h *Handler) requireUser(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if _, ok := currentUser(c); ok {
			c.Response().Header().Set("Cache-Control", "no-store")
			return next(c)
		}
		target := "/login"
		if c.Request().Method == http.MethodGet {
			target += "?next=" + url.QueryEscape(c.Request().URL.RequestURI())
		}
		return c.Redirect(http.StatusSeeOther, target)
	}
}

// safeNext keeps a post-login destination only when it is a path on this
// site, so the login form cannot be used to send people elsewhere.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") ||
		!utf8.ValidString(next) || strings.ContainsFunc(next, unicode.IsControl) || len(next) > 2000 {
		return ""
	}
	return next
}

func (h *Handler) showLogin(c echo.Context) error {
	if _, ok := currentUser(c); ok {
		return c.Redirect(http.StatusSeeOther, "/settings/api-tokens")
	}
	return h.renderLogin(c, http.StatusOK, views.Login{
		Next:      safeNext(c.QueryParam("next")),
		LoggedOut: c.QueryParam("logged_out") == "1",
	})
}

func (h *Handler) renderLogin(c echo.Context, status int, m views.Login) error {
	m.Chrome = h.chrome(c, "Log in", "")
	m.User = nil
	c.Response().Header().Set("Cache-Control", "no-store")
	return h.render(c, status, views.LoginView(m))
}

func (h *Handler) login(c echo.Context) error {
	email := strings.TrimSpace(c.FormValue("email"))
	password := c.FormValue("password")
	m := views.Login{Email: email, Next: safeNext(c.FormValue("next"))}
	if !utf8.ValidString(email) || len(email) > 320 || strings.ContainsFunc(email, unicode.IsControl) {
		m.Email = ""
		m.Error, m.ErrorField = "Enter the email address you log in with.", "email"
		return h.renderLogin(c, http.StatusBadRequest, m)
	}
	if email == "" || password == "" {
		m.Error, m.ErrorField = "Enter your email and password.", "password"
		if email == "" {
			m.ErrorField = "email"
		}
		return h.renderLogin(c, http.StatusBadRequest, m)
	}
	// A wrong email or password marks the password: it is the field to type
	// again (the email is kept), and which of the two was wrong is not said.
	if len(password) > 1024 {
		m.Error, m.ErrorField = loginFailed, "password"
		return h.renderLogin(c, http.StatusUnauthorized, m)
	}
	ctx := c.Request().Context()
	// The throttle is in the database, so that every replica counts the
	// same failures; a database that cannot answer it is a 503 like any
	// other page's.
	ipKey, emailKey := store.ThrottleIPKey(c.RealIP()), store.ThrottleEmailKey(email)
	wait, err := h.store.AttemptLogin(ctx, ipKey, emailKey)
	if err != nil {
		return err
	}
	if wait > 0 {
		secs := int(wait.Round(time.Second) / time.Second)
		if secs < 1 {
			secs = 1
		}
		c.Response().Header().Set("Retry-After", itoa(secs))
		m.Error = "Too many failed attempts."
		m.RetryAfter = secs
		return h.renderLogin(c, http.StatusTooManyRequests, m)
	}
	// The attempt was counted as a failure before the password is checked,
	// so that parallel attempts cannot all pass the throttle; a success
	// takes it back.
	select {
	case h.hashSlots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	u, err := h.store.Authenticate(ctx, email, password)
	<-h.hashSlots
	if errors.Is(err, store.ErrNotFound) {
		h.log.Info("login failed", "request_id", requestID(c), "ip", c.RealIP())
		m.Error, m.ErrorField = loginFailed, "password"
		return h.renderLogin(c, http.StatusUnauthorized, m)
	}
	if errors.Is(err, store.ErrUnavailable) {
		// The password was never checked: the try counts against no one,
		// or people retrying through an outage would find themselves
		// throttled when it ends. (If the database is still away, the
		// recorded failure stands, forgotten within the hour like any.)
		if ferr := h.store.ForgiveLogin(ctx, nil, []string{ipKey, emailKey}); ferr != nil {
			h.log.Warn("forgive a login attempt", "request_id", requestID(c), "error", ferr)
		}
	}
	if err != nil {
		return err
	}
	if err := h.store.ForgiveLogin(ctx, []string{emailKey}, []string{ipKey}); err != nil {
		return err
	}

	// A new session at login: whatever session the browser had is ended, so
	// an id planted before login is worthless after it.
	old, err := h.session(c)
	if err != nil {
		return err
	}
	if old.ID != "" {
		if err := h.store.DeleteSession(ctx, old.ID); err != nil {
			return err
		}
	}
	sess := sessions.NewSession(h.sessions, SessionCookie)
	opts := h.sessions.options
	sess.Options = &opts
	sess.IsNew = true
	sess.Values[keyUserID] = u.ID
	if sess.Values[keyCSRF], err = newCSRFSecret(); err != nil {
		return err
	}
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	if err := h.newCSRF(c); err != nil {
		return err
	}
	h.log.Info("login", "request_id", requestID(c), "user_id", u.ID)
	next := m.Next
	if next == "" || strings.HasPrefix(next, "/login") {
		next = "/settings/api-tokens"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

func (h *Handler) logout(c echo.Context) error {
	sess, err := h.session(c)
	if err != nil {
		return err
	}
	sess.Options.MaxAge = -1
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return err
	}
	if err := h.newCSRF(c); err != nil {
		return err
	}
	if u, ok := currentUser(c); ok {
		h.log.Info("logout", "request_id", requestID(c), "user_id", u.ID)
	}
	return c.Redirect(http.StatusSeeOther, "/login?logged_out=1")
}

// setFlash keeps a one-time message for the next page the user sees.
func (h *Handler) setFlash(c echo.Context, msg string) error {
	sess, err := h.session(c)
	if err != nil {
		return err
	}
	sess.Values[keyFlash] = msg
	return h.sessions.Save(c.Request(), c.Response(), sess)
}

// setWarning keeps a one-time warning for the next page the user sees.
func (h *Handler) setWarning(c echo.Context, msg string) error {
	sess, err := h.session(c)
	if err != nil {
		return err
	}
	sess.Values[keyWarning] = msg
	return h.sessions.Save(c.Request(), c.Response(), sess)
}

// setNotice keeps a one-time neutral notice for the next page the user
// sees: news that is neither a success nor a problem ("Nothing was
// changed").
func (h *Handler) setNotice(c echo.Context, msg string) error {
	sess, err := h.session(c)
	if err != nil {
		return err
	}
	sess.Values[keyNotice] = msg
	return h.sessions.Save(c.Request(), c.Response(), sess)
}

// popFlash returns and forgets the session's one-time messages.
func (h *Handler) popFlash(c echo.Context) (flash, notice, warning string) {
	sess, err := h.session(c)
	if err != nil {
		return "", "", ""
	}
	flash, _ = sess.Values[keyFlash].(string)
	notice, _ = sess.Values[keyNotice].(string)
	warning, _ = sess.Values[keyWarning].(string)
	if flash == "" && notice == "" && warning == "" {
		return "", "", ""
	}
	delete(sess.Values, keyFlash)
	delete(sess.Values, keyNotice)
	delete(sess.Values, keyWarning)
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		h.log.Error("save session", "request_id", requestID(c), "error", err)
	}
	return flash, notice, warning
}

// initials returns up to two capital letters from a name, for avatars.
func initials(name string) string {
	var out []rune
	for _, w := range strings.Fields(name) {
		for _, r := range w {
			if unicode.IsLetter(r) || unicode.IsDigit(r) {
				out = append(out, unicode.ToUpper(r))
				break
			}
		}
		if len(out) == 2 {
			break
		}
	}
	if len(out) == 0 {
		return "?"
	}
	return string(out)
}

// roleRefused is the one answer to a request the user's role does not
// allow, on every page: it names the role and what it may not do, and who
// to ask.
func roleRefused(u store.User, what string) error {
	return echo.NewHTTPError(http.StatusForbidden,
		"Your role ("+u.Role+") may not "+what+". Ask an administrator of your account if you need this done.")
}

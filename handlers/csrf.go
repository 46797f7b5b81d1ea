package handlers

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"
)

// CSRFCookie is the cookie holding the CSRF token; forms send it back in the
// _csrf field (or scripts in the X-CSRF-Token header).
const CSRFCookie = "gatehouse_csrf"

const ctxCSRF = "gatehouse.csrf"

func csrfToken(c echo.Context) string {
	s, _ := c.Get(ctxCSRF).(string)
	return s
}

// csrf is middleware that requires every state-changing request to come from
// this site's own pages: the browser's Sec-Fetch-Site must not say another
// site sent it, and the request must carry the CSRF token in its body or the
// X-CSRF-Token header (never the query string, which is logged and kept in
// histories). Both checks apply; one does not excuse the other.
//
// A logged-in request's token is a secret kept in its server-side session
// (made at login), so a cookie planted by another site is worth nothing.
// Before login there is no session: the login form's token is the CSRF
// cookie's, and login makes a new session with a new secret.
func (h *Handler) csrf(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		sess, err := h.session(c)
		if err != nil {
			return err
		}
		if uid, _ := sess.Values[keyUserID].(string); uid != "" && sess.ID != "" {
			secret, _ := sess.Values[keyCSRF].(string)
			if len(secret) != csrfLen {
				// A session from before tokens were kept in it gets one.
				if secret, err = newCSRFSecret(); err != nil {
					return err
				}
				sess.Values[keyCSRF] = secret
				if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
					return err
				}
			}
			c.Set(ctxCSRF, secret)
		} else if ck, err := c.Cookie(CSRFCookie); err == nil && len(ck.Value) == csrfLen {
			c.Set(ctxCSRF, ck.Value)
		} else if err := h.newCSRF(c); err != nil {
			return err
		}
		token := csrfToken(c)
		switch c.Request().Method {
		case http.MethodGet, http.MethodHead, http.MethodOptions:
			return next(c)
		}
		switch c.Request().Header.Get("Sec-Fetch-Site") {
		case "", "same-origin", "none":
		default:
			return echo.NewHTTPError(http.StatusForbidden, "This request came from another site and was refused.")
		}
		r := c.Request()
		if _, inQuery := r.URL.Query()["_csrf"]; inQuery {
			return echo.NewHTTPError(http.StatusForbidden,
				"The form's security token was sent in the address, where it could be logged, so nothing was changed. Go back, reload the page and try again.")
		}
		if err := parseForm(r); err != nil {
			return err
		}
		// A state-changing request's values come from its body only: the
		// handlers' FormValue must not take ids, versions or a password
		// from the address, which is logged and kept in histories.
		r.Form = r.PostForm
		sent := r.Header.Get("X-CSRF-Token")
		if sent == "" {
			sent = r.PostFormValue("_csrf")
		}
		if subtle.ConstantTimeCompare([]byte(sent), []byte(token)) != 1 {
			return echo.NewHTTPError(http.StatusForbidden,
				"This form has expired or did not come from Gatehouse, so nothing was changed. Go back, reload the page and try again.")
		}
		return next(c)
	}
}

// csrfLen is the length of a CSRF token: 32 random bytes, base64url.
const csrfLen = 43

func newCSRFSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// newCSRF gives the browser a new CSRF token. Login and logout call it, so
// that a token seen before either (planted by another site, say, or read
// off a shared machine) is worthless after it; forms still open in other tabs
// then say they have expired.
func (h *Handler) newCSRF(c echo.Context) error {
	token, err := newCSRFSecret()
	if err != nil {
		return err
	}
	c.SetCookie(&http.Cookie{
		Name: CSRFCookie, Value: token, Path: "/",
		HttpOnly: true, Secure: h.tls, SameSite: http.SameSiteLaxMode,
	})
	c.Set(ctxCSRF, token)
	return nil
}

// parseForm reads a form body, so that a body over the limit is a 413 and a
// malformed one a 400, not an empty CSRF field.
func parseForm(r *http.Request) error {
	var err error
	if strings.HasPrefix(r.Header.Get("Content-Type"), "multipart/form-data") {
		err = r.ParseMultipartForm(32 << 20)
	} else {
		err = r.ParseForm()
	}
	if err != nil {
		return formError(err)
	}
	return nil
}

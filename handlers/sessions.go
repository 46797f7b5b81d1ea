package handlers

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/gorilla/sessions"

	"gatehouse/store"
)

// Session lifetimes of SPEC §5.
const (
	SessionIdleTimeout     = 30 * time.Minute
	SessionAbsoluteTimeout = 12 * time.Hour
	// sessionTouchEvery bounds how often a busy session's last-seen time is
	// written: at most once a minute, not on every request.
	sessionTouchEvery = time.Minute
)

// SessionCookie is the name of the session cookie.
const SessionCookie = "gatehouse_session"

const (
	keyUserID   = "user_id"
	keyFlash    = "flash"
	keyWarning  = "warning"
	keyNotice   = "notice"
	keyReveal   = "reveal"     // a one-time grant to show a token's value: see grantReveal
	keyCSRF     = "csrf"       // the session's CSRF secret, made at login
	keyLastSeen = "_last_seen" // loaded from the row, never written to it
	keyUser     = "_user"      // the store.User read with the row, never written
)

// SessionStore is a gorilla/sessions Store over the database: the cookie
// holds only an opaque random id, so a session can be ended on the server.
type SessionStore struct {
	store   SessionStorage
	options sessions.Options
}

// NewSessionStore returns a SessionStore whose cookies are HttpOnly,
// SameSite=Lax, and Secure when secure is set.
func NewSessionStore(st SessionStorage, secure bool) *SessionStore {
	return &SessionStore{store: st, options: sessions.Options{
		Path:     "/",
		MaxAge:   int(SessionAbsoluteTimeout / time.Second),
		HttpOnly: true,
		Secure:   secure,
		SameSite: http.SameSiteLaxMode,
	}}
}

// Get returns the request's session, cached for the rest of the request.
func (s *SessionStore) Get(r *http.Request, name string) (*sessions.Session, error) {
	return sessions.GetRegistry(r).Get(s, name)
}

// New loads the session named by the request's cookie, or returns a fresh one
// when there is no cookie or the session is unknown or expired.
func (s *SessionStore) New(r *http.Request, name string) (*sessions.Session, error) {
	sess := sessions.NewSession(s, name)
	opts := s.options
	sess.Options = &opts
	sess.IsNew = true
	ck, err := r.Cookie(name)
	if err != nil || ck.Value == "" || len(ck.Value) > 128 {
		return sess, nil
	}
	rec, err := s.store.Session(r.Context(), ck.Value)
	if errors.Is(err, store.ErrNotFound) {
		return sess, nil
	}
	if err != nil {
		return sess, err
	}
	now := s.store.Now()
	if now.Sub(rec.LastSeenAt) > SessionIdleTimeout || now.Sub(rec.CreatedAt) > SessionAbsoluteTimeout {
		return sess, s.store.DeleteSession(r.Context(), ck.Value)
	}
	var values map[string]any
	if err := json.Unmarshal([]byte(rec.Data), &values); err != nil {
		return sess, nil
	}
	for k, v := range values {
		sess.Values[k] = v
	}
	if rec.UserID != "" {
		sess.Values[keyUserID] = rec.UserID
	}
	if rec.User.ID != "" {
		sess.Values[keyUser] = rec.User
	}
	sess.Values[keyLastSeen] = rec.LastSeenAt
	sess.ID = ck.Value
	sess.IsNew = false
	return sess, nil
}

// Save writes the session to the database and sets its cookie; a session
// whose MaxAge is negative is deleted and its cookie cleared.
func (s *SessionStore) Save(r *http.Request, w http.ResponseWriter, sess *sessions.Session) error {
	if sess.Options.MaxAge < 0 {
		if sess.ID != "" {
			if err := s.store.DeleteSession(r.Context(), sess.ID); err != nil {
				return err
			}
		}
		http.SetCookie(w, sessions.NewCookie(sess.Name(), "", sess.Options))
		return nil
	}
	values := map[string]any{}
	userID := ""
	for k, v := range sess.Values {
		key, ok := k.(string)
		if !ok {
			return fmt.Errorf("session key %v is not a string", k)
		}
		switch {
		case key == keyUserID:
			userID, _ = v.(string)
		case strings.HasPrefix(key, "_"):
		default:
			values[key] = v
		}
	}
	data, err := json.Marshal(values)
	if err != nil {
		return fmt.Errorf("encode session: %w", err)
	}
	if sess.ID == "" {
		id, err := newSessionID()
		if err != nil {
			return err
		}
		if err := s.store.CreateSession(r.Context(), id, userID, string(data)); err != nil {
			return err
		}
		sess.ID = id
	} else if err := s.store.UpdateSession(r.Context(), sess.ID, userID, string(data)); err != nil {
		return err
	}
	http.SetCookie(w, sessions.NewCookie(sess.Name(), sess.ID, sess.Options))
	return nil
}

func newSessionID() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

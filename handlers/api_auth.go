package handlers

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
)

const ctxToken = "gatehouse.token"

// authCache keeps the tokens API calls authenticate with, so that a call
// costs no database read. The store tells it of every change to a token
// (before and after the commit) and it drops the token then; a fill that
// raced with a change is discarded, so a disabled token is refused from the
// first request after the disable commits.
//
// It also remembers, as briefly and under the same rules, the ids the
// database does not have, so that verifying an unknown id costs what a
// known id with a wrong secret costs (a lookup and a hash compare) and the
// time taken does not tell a prober which ids exist. Creating a token adds
// it to the change log like any other change, which drops such an entry on
// every replica.
type authCache struct {
	mu      sync.RWMutex
	tokens  map[string]*authEntry
	absent  map[string]time.Time // ids not in the database, and when that was read
	epoch   uint64               // bumped by every drop
	maxSize int                  // of each map
}

// authEntry is a cached token with the gateway answer prepared, so that a
// verification encodes nothing.
type authEntry struct {
	store.AuthToken
	verifyBody []byte      // the JSON body of /auth/verify
	headers    [3][]string // X-Gatehouse-Token-Id, -Account-Id, -Modules
	read       time.Time   // when it was read from the database
	absent     bool        // absentEntry: the id is not in the database
}

// absentEntry answers for an id the database does not have. Its hash is
// random, so no value matches it; the caller compares anyway, so that the
// call does the work a wrong secret does.
var absentEntry = func() *authEntry {
	e := &authEntry{absent: true, AuthToken: store.AuthToken{Hash: make([]byte, sha256.Size)}}
	if _, err := rand.Read(e.Hash); err != nil {
		panic(err)
	}
	return e
}()

func newAuthEntry(t store.AuthToken) *authEntry {
	e := &authEntry{AuthToken: t, read: time.Now()}
	ids := make([]string, len(t.Modules))
	mods := make([]apiRef, len(t.Modules))
	for i, m := range t.Modules {
		ids[i] = m.ID
		mods[i] = apiRef{m.ID, m.Name}
	}
	e.headers = [3][]string{{t.ID}, {t.AccountID}, {strings.Join(ids, ",")}}
	e.verifyBody, _ = json.Marshal(struct {
		Token   apiRef   `json:"token"`
		Account apiRef   `json:"account"`
		Modules []apiRef `json:"modules"`
	}{apiRef{t.ID, t.Name}, apiRef{t.AccountID, t.AccountName}, mods})
	return e
}

func newAuthCache(maxSize int) *authCache {
	return &authCache{tokens: map[string]*authEntry{}, absent: map[string]time.Time{}, maxSize: maxSize}
}

// get returns the cached token (absentEntry for an id known to be absent),
// unless it was read more than cacheMaxAge ago, and the epoch to fill it
// with.
func (c *authCache) get(id string) (*authEntry, bool, uint64) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	t, ok := c.tokens[id]
	if !ok {
		var read time.Time
		if read, ok = c.absent[id]; ok {
			t = absentEntry
			if time.Since(read) > cacheMaxAge {
				return nil, false, c.epoch
			}
		}
	} else if time.Since(t.read) > cacheMaxAge {
		return nil, false, c.epoch
	}
	return t, ok, c.epoch
}

// putAbsent remembers that the database has no token id, unless a drop
// happened since epoch was read. Its map is bounded apart from the tokens',
// so probing many ids cannot push real tokens out.
func (c *authCache) putAbsent(id string, read time.Time, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	makeRoom(c.absent, c.maxSize)
	c.absent[id] = read
}

// put stores t unless a drop happened since epoch was read.
func (c *authCache) put(t *authEntry, epoch uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.epoch != epoch {
		return
	}
	makeRoom(c.tokens, c.maxSize)
	c.tokens[t.ID] = t
}

// makeRoom drops an arbitrary entry of a full map, so one more fits within
// max.
func makeRoom[V any](m map[string]V, max int) {
	if len(m) < max {
		return
	}
	for k := range m {
		delete(m, k)
		return
	}
}

func (c *authCache) drop(id string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	delete(c.tokens, id)
	delete(c.absent, id)
	c.epoch++
}

// clear drops every token.
func (c *authCache) clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.tokens)
	clear(c.absent)
	c.epoch++
}

// accessTracker gathers the last access of each token in memory; it is
// written to the database in batches (SPEC §4: no write per request).
type accessTracker struct {
	mu       sync.Mutex
	accesses map[string]store.Access
	rejected map[rejectKey]*store.Rejection
}

type rejectKey struct {
	id     string
	minute int64
}

func newAccessTracker() *accessTracker {
	return &accessTracker{accesses: map[string]store.Access{}, rejected: map[rejectKey]*store.Rejection{}}
}

func (a *accessTracker) access(id string, at time.Time, ip, ua string) {
	a.mu.Lock()
	a.accesses[id] = store.Access{TokenID: id, At: at, IP: ip, UserAgent: ua}
	a.mu.Unlock()
}

func (a *accessTracker) reject(id, status string, at time.Time, ip, ua string) {
	minute := at.Truncate(time.Minute)
	k := rejectKey{id, minute.Unix()}
	a.mu.Lock()
	defer a.mu.Unlock()
	r, ok := a.rejected[k]
	if !ok {
		r = &store.Rejection{TokenID: id, Minute: minute, Status: status}
		a.rejected[k] = r
	}
	r.Count++
	r.IP, r.UserAgent = ip, ua
}

// take empties the tracker. Rejections of the current minute stay unless all
// is set (at shutdown), so that each token gets one record per minute.
func (a *accessTracker) take(now time.Time, all bool) ([]store.Access, []store.Rejection) {
	a.mu.Lock()
	defer a.mu.Unlock()
	accesses := make([]store.Access, 0, len(a.accesses))
	for _, v := range a.accesses {
		accesses = append(accesses, v)
	}
	clear(a.accesses)
	var rejections []store.Rejection
	current := now.Truncate(time.Minute).Unix()
	for k, r := range a.rejected {
		if all || k.minute < current {
			rejections = append(rejections, *r)
			delete(a.rejected, k)
		}
	}
	return accesses, rejections
}

// putBack returns what a failed flush took, so that the next flush writes
// it; newer accesses win over the ones put back.
func (a *accessTracker) putBack(accesses []store.Access, rejections []store.Rejection) {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, v := range accesses {
		if cur, ok := a.accesses[v.TokenID]; !ok || cur.At.Before(v.At) {
			a.accesses[v.TokenID] = v
		}
	}
	for _, r := range rejections {
		k := rejectKey{r.TokenID, r.Minute.Unix()}
		if cur, ok := a.rejected[k]; ok {
			cur.Count += r.Count
		} else {
			r := r
			a.rejected[k] = &r
		}
	}
}

// FlushInterval is how often last access and rejected calls reach the
// database.
const FlushInterval = 5 * time.Second

// Flush writes what the tracker gathered; all includes the current minute's
// rejections (for shutdown). Refused calls are added to counts that every
// replica shares; the minutes that are over get one audit record per token.
func (h *Handler) Flush(ctx context.Context, all bool) error {
	accesses, rejections := h.tracker.take(h.store.Now(), all)
	err := h.store.RecordAccesses(ctx, accesses)
	if err != nil {
		h.tracker.putBack(accesses, nil)
	}
	if rerr := h.store.RecordRejections(ctx, rejections); rerr != nil {
		h.tracker.putBack(nil, rejections)
		if err == nil {
			err = rerr
		}
	}
	// The minutes every replica has flushed get their records, written by
	// whichever replica comes first.
	if _, rerr := h.store.RecordPendingRejections(ctx, h.store.Now()); rerr != nil && err == nil {
		err = rerr
	}
	return err
}

// flushTimeout bounds one periodic flush: a database that stops answering
// midway (a lost network rather than a refused connection) must not hold the
// flusher for good. The batch of a flush that fails, for this or any other
// reason, is kept for the next.
const flushTimeout = 30 * time.Second

// RunFlusher flushes every FlushInterval until ctx ends. A flush that fails
// keeps what it took and is logged; the next tick tries again, so last
// access gathered while the database is down reaches it once it is back. The
// program flushes once more, with all set, after the server has finished its
// requests.
func (h *Handler) RunFlusher(ctx context.Context) {
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			// Not cancelled with ctx: a flush under way at shutdown ends.
			fctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), flushTimeout)
			err := h.Flush(fctx, false)
			cancel()
			switch {
			case errors.Is(err, store.ErrUnavailable):
				h.log.Warn("flush last access: database unavailable; kept for the next flush", "error", err)
			case err != nil:
				h.log.Error("flush last access; kept for the next flush", "error", err)
			}
		}
	}
}

// errAuthFailed is the one answer for a missing, malformed, unknown or
// deleted token.
var errAuthFailed = echo.NewHTTPError(http.StatusUnauthorized, "Authentication failed.")

// authenticate is middleware for the public API: it checks the bearer token
// (form and checksum first, then the hash in constant time), refuses
// disabled and deleted tokens, and records the access.
func (h *Handler) authenticate(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		e, err := h.authorize(c)
		if err != nil {
			return err
		}
		c.Set(ctxToken, e)
		return next(c)
	}
}

// authorize checks the call's bearer token and records the access; the
// gateway endpoint calls it directly, to spare the context an entry.
func (h *Handler) authorize(c echo.Context) (*authEntry, error) {
	auth := c.Request().Header.Get("Authorization")
	scheme, value, ok := strings.Cut(auth, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse"`)
		return nil, errAuthFailed
	}
	value = strings.TrimSpace(value)
	id, err := store.ParseTokenValue(value)
	if err != nil {
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		return nil, errAuthFailed
	}
	t, err := h.authToken(c.Request().Context(), id)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256([]byte(value))
	if subtle.ConstantTimeCompare(t.Hash, sum[:]) != 1 || t.absent {
		return nil, errAuthFailed
	}
	now := h.store.Now()
	switch t.Status {
	case store.StatusActive:
	case store.StatusDisabled:
		h.tracker.reject(t.ID, t.Status, now, c.RealIP(), c.Request().UserAgent())
		c.Response().Header().Set("WWW-Authenticate", `Bearer realm="gatehouse", error="invalid_token"`)
		return nil, echo.NewHTTPError(http.StatusUnauthorized, "The API token "+t.ID+" is disabled. An administrator of the account can enable it again.")
	default:
		h.tracker.reject(t.ID, t.Status, now, c.RealIP(), c.Request().UserAgent())
		return nil, errAuthFailed
	}
	h.tracker.access(t.ID, now, c.RealIP(), c.Request().UserAgent())
	return t, nil
}

// authToken returns the token from the cache, or from the database when it
// is not cached or the cache cannot show it is current (the change feed is
// behind: fail closed). An id the database does not have is absentEntry.
func (h *Handler) authToken(ctx context.Context, id string) (*authEntry, error) {
	current := h.feed.current()
	e, ok, epoch := h.cache.get(id)
	if ok && current {
		return e, nil
	}
	// The epoch is read before the database: if the token changes while it
	// is read, put discards what was read.
	read := time.Now()
	t, err := h.store.TokenForAuth(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		if current {
			h.cache.putAbsent(id, read, epoch)
		}
		return absentEntry, nil
	}
	if err != nil {
		return nil, err
	}
	e = newAuthEntry(t)
	if current {
		h.cache.put(e, epoch)
	}
	return e, nil
}

// callerEntry is the cache entry of the token that authenticated the call.
func callerEntry(c echo.Context) *authEntry {
	e, _ := c.Get(ctxToken).(*authEntry)
	if e == nil {
		return &authEntry{}
	}
	return e
}

// callerToken is the token that authenticated the API call.
func callerToken(c echo.Context) store.AuthToken { return callerEntry(c).AuthToken }

// requireModule refuses API calls whose token lacks the module.
func requireModule(module, name string) echo.MiddlewareFunc {
	return func(next echo.HandlerFunc) echo.HandlerFunc {
		return func(c echo.Context) error {
			if !callerToken(c).HasModule(module) {
				return echo.NewHTTPError(http.StatusForbidden, "This API token is not granted the "+name+" module ("+module+"), which this endpoint needs.")
			}
			return next(c)
		}
	}
}

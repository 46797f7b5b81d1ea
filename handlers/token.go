package handlers

import (
	"crypto/subtle"
	"errors"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/views"
)

var tokenIDPattern = regexp.MustCompile(`^TKN-\d{4}-\d{4}$`)

// tokenTabs are the tabs of the details page, in order.
var tokenTabs = []struct{ slug, label string }{
	{"general", "General"},
	{"modules", "Modules"},
	{"details", "Details"},
	{"audit", "Audit trail"},
}

func canReveal(u store.User) bool { return u.Role == store.RoleAdministrator }
func canEdit(u store.User) bool   { return u.Role == store.RoleAdministrator }
func canToggle(u store.User) bool {
	return u.Role == store.RoleAdministrator || u.Role == store.RoleOperator
}

// loadToken returns the token named in the path, of the user's own account.
// A malformed id, an unknown one, a deleted one and another account's are
// all the same 404.
func (h *Handler) loadToken(c echo.Context) (store.Token, error) {
	id := c.Param("id")
	if !tokenIDPattern.MatchString(id) {
		return store.Token{}, store.ErrNotFound
	}
	u, _ := currentUser(c)
	return h.store.Token(c.Request().Context(), u.AccountID, id)
}

// backToList is the list URL the details page's back arrow returns to: the
// list query the user came with, normalised so that only list parameters
// survive.
func (h *Handler) backToList(c echo.Context) (string, string) {
	raw := c.QueryParam("list")
	if raw == "" {
		return "/settings/api-tokens", ""
	}
	v, err := url.ParseQuery(raw)
	if err != nil {
		return "/settings/api-tokens", ""
	}
	u, _ := currentUser(c)
	q, err := parseListQuery(v, u.AccountModules)
	if err != nil {
		return "/settings/api-tokens", ""
	}
	return q.url(), q.values().Encode()
}

func (h *Handler) showToken(c echo.Context) error {
	tab := c.Param("tab")
	if tab == "" {
		tab = "general"
	}
	known := false
	for _, t := range tokenTabs {
		known = known || t.slug == tab
	}
	if !known {
		return store.ErrNotFound
	}
	m, err := h.tokenPage(c, tab)
	if errors.Is(err, store.ErrNotFound) {
		return h.showDeletedToken(c, tab)
	} else if err != nil {
		return err
	}
	status := http.StatusOK
	if tab == "general" {
		if m.Value, err = h.grantedValue(c, m.ID); err != nil {
			return err
		}
		if c.QueryParam("shown") != "" && m.Value == "" && m.CanReveal {
			m.Notice = shownOnce
		}
	}
	if tab == "audit" {
		if status, err = h.fillAuditGrid(c, &m.Audit, "/settings/api-tokens/"+m.ID+"/audit", m.ID); err != nil {
			return err
		}
		if list := c.QueryParam("list"); list != "" {
			m.Audit.Hidden = append(m.Audit.Hidden, views.Option{Value: "list", Label: list})
		}
	}
	return h.render(c, status, views.TokenView(m))
}

// showDeletedToken serves what is left of a deleted token of the account:
// its Audit trail tab, read-only, under a banner saying who deleted it and
// when. Its other tabs lead there; anything else about it stays a 404, as do
// other accounts' tokens and unknown ids.
func (h *Handler) showDeletedToken(c echo.Context, tab string) error {
	id := c.Param("id")
	if !tokenIDPattern.MatchString(id) {
		return store.ErrNotFound
	}
	u, _ := currentUser(c)
	t, err := h.store.DeletedToken(c.Request().Context(), u.AccountID, id)
	if err != nil {
		return err
	}
	backURL, listQ := h.backToList(c)
	suffix := ""
	if listQ != "" {
		suffix = "?" + url.Values{"list": {listQ}}.Encode()
	}
	auditURL := "/settings/api-tokens/" + t.ID + "/audit"
	if tab != "audit" {
		return c.Redirect(http.StatusSeeOther, auditURL+suffix)
	}
	m := views.TokenPage{
		Chrome:      h.chrome(c, t.Name+" · API tokens", "api-tokens"),
		ID:          t.ID,
		Name:        t.Name,
		Status:      store.StatusDeleted,
		Avatar:      views.Avatar{Initials: initials(t.Name), Color: avatarColor(t.ID)},
		BackURL:     backURL,
		Tab:         "audit",
		Tabs:        []views.Tab{{Label: "Audit trail", URL: auditURL + suffix, Current: true}},
		AccountName: t.AccountName,
		AccountID:   t.AccountID,
		Deleted:     true,
		DeletedAt:   formatDateTime(t.DeletedAt),
		TrailURL:    withQuery("/settings/audit-trail", url.Values{"object": {t.ID}}),
	}
	if t.DeletedBy.Name != "" {
		m.DeletedBy = actorLabel(t.DeletedBy)
	}
	status, err := h.fillAuditGrid(c, &m.Audit, auditURL, t.ID)
	if err != nil {
		return err
	}
	if list := c.QueryParam("list"); list != "" {
		m.Audit.Hidden = append(m.Audit.Hidden, views.Option{Value: "list", Label: list})
	}
	return h.render(c, status, views.TokenView(m))
}

// tokenPage builds the details page model for a tab.
func (h *Handler) tokenPage(c echo.Context, tab string) (views.TokenPage, error) {
	t, err := h.loadToken(c)
	if err != nil {
		return views.TokenPage{}, err
	}
	u, _ := currentUser(c)
	backURL, listQ := h.backToList(c)
	suffix := ""
	if listQ != "" {
		suffix = "?" + url.Values{"list": {listQ}}.Encode()
	}
	m := views.TokenPage{
		Chrome:      h.chrome(c, t.Name+" · API tokens", "api-tokens"),
		ID:          t.ID,
		Name:        t.Name,
		Status:      t.Status,
		Avatar:      views.Avatar{Initials: initials(t.Name), Color: avatarColor(t.ID)},
		BackURL:     backURL,
		Tab:         tab,
		AccountName: t.AccountName,
		AccountID:   t.AccountID,
		CanEdit:     canEdit(u),
		Description: t.Description,
		APIEndpoint: h.public + "/public/v1",
		MaskedValue: maskedValue(t.ID),
		CanReveal:   canReveal(u),
		RevealURL:   "/settings/api-tokens/" + t.ID + "/reveal",
		Created:     formatDateTime(t.CreatedAt),
		CreatedBy:   actorLabel(t.CreatedBy),
		Updated:     formatDateTime(t.UpdatedAt),
		UpdatedBy:   actorLabel(t.UpdatedBy),
		Disabled:    t.Status == store.StatusDisabled,
	}
	here := "/settings/api-tokens/" + t.ID + suffix
	m.EditURL = "/settings/api-tokens/" + t.ID + "/edit"
	if suffix != "" {
		// Save and Cancel come back here, with the way back to the list.
		m.EditURL += "?" + url.Values{"return": {here}}.Encode()
	}
	for _, a := range rowActions(u, t.ID, t.Status, here) {
		if a.Label != "Edit" { // the header has its own Edit button
			m.Actions = append(m.Actions, a)
		}
	}
	for _, tt := range tokenTabs {
		m.Tabs = append(m.Tabs, views.Tab{Label: tt.label, URL: "/settings/api-tokens/" + t.ID + "/" + tt.slug + suffix, Current: tt.slug == tab})
	}
	if t.LogoType != "" {
		m.Avatar.LogoURL = logoURL(t)
	}
	if !t.LastAccessAt.IsZero() {
		m.LastAccess = formatDateTime(t.LastAccessAt)
		m.LastAccessIP, m.LastAccessAgent = t.LastAccessIP, t.LastAccessAgent
	}
	if !t.DisabledAt.IsZero() {
		m.DisabledAt = formatDateTime(t.DisabledAt)
		m.DisabledBy = actorLabel(t.DisabledBy)
		m.DisabledReason = t.DisabledReason
	}
	for _, mod := range t.Modules {
		m.Modules = append(m.Modules, views.ModuleItem{ID: mod.ID, Name: mod.Name, Description: mod.Description})
	}
	return m, nil
}

func actorLabel(a store.ActorRef) string {
	if a.ID == "" {
		return a.Name
	}
	return a.Name + " (" + a.ID + ")"
}

// revealToken hands an administrator the token's value. A script asking
// for JSON gets {"value": …}, and the value-viewed audit record is written
// now. A plain form post (Show without JavaScript) is answered with a
// redirect to the page that shows the value (post-redirect-get), carrying a
// one-time grant kept in the session, never the value: that page records
// the Show when it uses the grant, and its Reload shows the value masked.
func (h *Handler) revealToken(c echo.Context) error {
	u, _ := currentUser(c)
	if !canReveal(u) {
		return roleRefused(u, "show or copy the values of API tokens")
	}
	if !tokenIDPattern.MatchString(c.Param("id")) {
		return store.ErrNotFound
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	if !strings.Contains(c.Request().Header.Get("Accept"), "application/json") {
		t, err := h.loadToken(c)
		if err != nil {
			return err
		}
		grant, err := h.grantReveal(c, t.ID)
		if err != nil {
			return err
		}
		page := "/settings/api-tokens/" + t.ID + "/general"
		if c.FormValue("from") == "created" {
			page = "/settings/api-tokens/" + t.ID + "/created"
		}
		return c.Redirect(http.StatusSeeOther, page+"?"+url.Values{"shown": {grant}}.Encode())
	}
	purpose := "show"
	if c.FormValue("purpose") == "copy" {
		purpose = "copy"
	}
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	value, err := h.store.RevealToken(c.Request().Context(), h.sealer, actor, u.AccountID, c.Param("id"), purpose)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]string{"value": value})
}

// revealGrantTTL bounds the time between Show and the page that shows the
// value: the browser follows the redirect at once.
const revealGrantTTL = 2 * time.Minute

// shownOnce is the notice of a page asked again for a value it showed.
const shownOnce = "The value was shown once, when you pressed Show, and is hidden again. Press Show to see it again; each Show is recorded in the audit trail."

// grantReveal keeps in the session a grant to show token id's value once,
// replacing any earlier one, and returns the grant's id for the URL.
func (h *Handler) grantReveal(c echo.Context, id string) (string, error) {
	sess, err := h.session(c)
	if err != nil {
		return "", err
	}
	grant := newDraftID()
	sess.Values[keyReveal] = grant + " " + id + " " + strconv.FormatInt(h.store.Now().Add(revealGrantTTL).Unix(), 10)
	return grant, h.sessions.Save(c.Request(), c.Response(), sess)
}

// grantedValue returns token id's value when the request names (?shown=)
// the session's grant for it, which it uses up, writing the value-viewed
// audit record; otherwise "".
func (h *Handler) grantedValue(c echo.Context, id string) (string, error) {
	grant := c.QueryParam("shown")
	u, _ := currentUser(c)
	if grant == "" || !canReveal(u) {
		return "", nil
	}
	sess, err := h.session(c)
	if err != nil {
		return "", err
	}
	raw, _ := sess.Values[keyReveal].(string)
	parts := strings.Fields(raw)
	if len(parts) != 3 || subtle.ConstantTimeCompare([]byte(parts[0]), []byte(grant)) != 1 || parts[1] != id {
		return "", nil
	}
	delete(sess.Values, keyReveal)
	if err := h.sessions.Save(c.Request(), c.Response(), sess); err != nil {
		return "", err
	}
	if until, err := strconv.ParseInt(parts[2], 10, 64); err != nil || h.store.Now().Unix() > until {
		return "", nil
	}
	c.Response().Header().Set("Cache-Control", "no-store")
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	return h.store.RevealToken(c.Request().Context(), h.sealer, actor, u.AccountID, id, "show")
}

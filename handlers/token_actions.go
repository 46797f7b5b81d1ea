package handlers

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/views"
)

// tokenAction describes Enable, Disable and Delete.
type tokenAction struct {
	name, verb, title, done string
	allowed                 func(store.User) bool
	action                  store.Action // its edge of the state machine
}

var tokenActions = map[string]tokenAction{
	"disable": {"disable", "Disable", "Disable API token", "disabled", canToggle, store.ActionDisable},
	"enable":  {"enable", "Enable", "Enable API token", "enabled", canToggle, store.ActionEnable},
	"delete":  {"delete", "Delete", "Delete API token", "deleted", canEdit, store.ActionDelete},
}

// maxReasonLength bounds the optional disable reason.
const maxReasonLength = 500

// rowActions is the ••• menu of a token for a user: Disable or Enable, a
// divider, Edit, Delete — each only where the role allows it (SPEC §3.2).
func rowActions(u store.User, id, status, returnTo string) []views.RowAction {
	q := ""
	if returnTo != "" {
		q = "?" + url.Values{"return": {returnTo}}.Encode()
	}
	base := "/settings/api-tokens/" + id
	var out []views.RowAction
	if canToggle(u) {
		if store.ActionDisable.Applies(status) {
			out = append(out, views.RowAction{Label: "Disable", URL: base + "/disable" + q, Dialog: true, Toggle: true})
		} else {
			out = append(out, views.RowAction{Label: "Enable", URL: base + "/enable" + q, Dialog: true, Toggle: true})
		}
	}
	if canEdit(u) {
		out = append(out, views.RowAction{Label: "Edit", URL: base + "/edit" + q})
		out = append(out, views.RowAction{Label: "Delete", URL: base + "/delete" + q, Danger: true, Dialog: true})
	}
	return out
}

func actionFor(c echo.Context) (tokenAction, error) {
	name := c.Request().URL.Path[strings.LastIndexByte(c.Request().URL.Path, '/')+1:]
	a, ok := tokenActions[name]
	if !ok {
		return tokenAction{}, store.ErrNotFound
	}
	u, _ := currentUser(c)
	if !a.allowed(u) {
		return tokenAction{}, roleRefused(u, a.name+" API tokens")
	}
	return a, nil
}

func applies(a tokenAction, status string) bool { return a.action.Applies(status) }

// notApplicable says why an action does not apply to a token's status.
func notApplicable(a tokenAction, t store.Token) string {
	return fmt.Sprintf("API token %s is already %s, so there is nothing to %s.", t.ID, t.Status, a.name)
}

func (h *Handler) confirmPage(c echo.Context, a tokenAction, t store.Token, returnTo string) views.ConfirmPage {
	m := views.ConfirmPage{
		Chrome:     h.chrome(c, a.title, "api-tokens"),
		Action:     a.name,
		Title:      a.title,
		Verb:       a.verb,
		ID:         t.ID,
		Name:       t.Name,
		Status:     t.Status,
		Version:    t.Version,
		CanConfirm: applies(a, t.Status),
		ReturnTo:   returnTo,
		CancelURL:  returnTo,
	}
	if m.CancelURL == "" {
		m.CancelURL = "/settings/api-tokens/" + t.ID
	}
	if !t.LastAccessAt.IsZero() {
		m.LastAccess = formatDateTime(t.LastAccessAt)
	}
	for _, mod := range t.Modules {
		m.Modules = append(m.Modules, views.ModuleItem{ID: mod.ID, Name: mod.Name})
	}
	if !m.CanConfirm {
		m.Problem = notApplicable(a, t)
	}
	return m
}

// confirmAction is the confirmation page (GET …/{id}/disable|enable|delete),
// which app.js also shows as a dialog.
func (h *Handler) confirmAction(c echo.Context) error {
	a, err := actionFor(c)
	if err != nil {
		return err
	}
	t, err := h.loadToken(c)
	if err != nil {
		return err
	}
	m := h.confirmPage(c, a, t, safeBack(c.QueryParam("return")))
	status := http.StatusOK
	if !m.CanConfirm {
		status = http.StatusConflict
	}
	return h.render(c, status, views.ConfirmView(m))
}

// applyAction carries out a confirmed Enable, Disable or Delete. The form
// carries the version the user saw; if the token changed since, nothing is
// applied and the page says who changed what.
func (h *Handler) applyAction(c echo.Context) error {
	a, err := actionFor(c)
	if err != nil {
		return err
	}
	t, err := h.loadToken(c)
	if err != nil {
		return h.goneMeanwhile(c, err)
	}
	u, _ := currentUser(c)
	returnTo := safeBack(c.FormValue("return"))
	version, err := strconv.ParseInt(c.FormValue("version"), 10, 64)
	if err != nil || version < 1 {
		return echo.NewHTTPError(http.StatusBadRequest, "The confirmation lacks the token's version. Go back, reload the page and try again.")
	}
	reason := strings.TrimSpace(c.FormValue("reason"))
	if a.name == "disable" {
		if msg := validateReason(reason); msg != "" {
			m := h.confirmPage(c, a, t, returnTo)
			m.Version, m.Reason, m.ReasonError = version, reason, msg
			return h.render(c, http.StatusBadRequest, views.ConfirmView(m))
		}
	}
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	ctx := c.Request().Context()
	switch a.name {
	case "disable":
		_, err = h.store.DisableToken(ctx, actor, u.AccountID, t.ID, version, reason)
	case "enable":
		_, err = h.store.EnableToken(ctx, actor, u.AccountID, t.ID, version)
	case "delete":
		err = h.store.DeleteToken(ctx, actor, u.AccountID, t.ID, version)
	}
	switch {
	case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalidTransition):
		// Show the token as it is now, with what happened meanwhile.
		cur, lerr := h.store.Token(ctx, u.AccountID, t.ID)
		if lerr != nil {
			return lerr
		}
		m := h.confirmPage(c, a, cur, returnTo)
		m.Reason = reason
		if errors.Is(err, store.ErrConflict) {
			m.Problem = h.staleMessage(c, cur) + " Nothing was applied."
			if m.CanConfirm {
				m.Problem += " Confirm again to " + a.name + " it as it is now."
			} else {
				m.Problem += " " + notApplicable(a, cur)
			}
		}
		return h.render(c, http.StatusConflict, views.ConfirmView(m))
	case err != nil:
		return err
	}
	if err := h.setFlash(c, fmt.Sprintf("API token %s was %s.", t.ID, a.done)); err != nil {
		return err
	}
	next := returnTo
	if a.name == "delete" && strings.HasPrefix(next, "/settings/api-tokens/"+t.ID) {
		// The token's page is gone: the list it was opened from.
		next = h.listOf(c, next)
	}
	if next == "" {
		next = "/settings/api-tokens"
	}
	return c.Redirect(http.StatusSeeOther, next)
}

// listOf returns the list a token's page (path, with its query) was opened
// from, as its list parameter keeps it: the list as the user left it.
func (h *Handler) listOf(c echo.Context, path string) string {
	pu, err := url.Parse(path)
	if err != nil {
		return ""
	}
	v, err := url.ParseQuery(pu.Query().Get("list"))
	if err != nil {
		return ""
	}
	u, _ := currentUser(c)
	q, err := parseListQuery(v, u.AccountModules)
	if err != nil {
		return ""
	}
	return q.url()
}

func validateReason(reason string) string {
	switch {
	case !utf8.ValidString(reason):
		return "The reason contains invalid characters."
	case utf8.RuneCountInString(reason) > maxReasonLength:
		return fmt.Sprintf("The reason must be at most %d characters (it has %d).", maxReasonLength, utf8.RuneCountInString(reason))
	}
	if m := store.ValidateDescription(reason); m != "" {
		return "The reason contains control characters."
	}
	return ""
}

// goneMeanwhile answers a form posted for a token that was deleted after the
// form was opened: it says who deleted it and when, on the list, instead of a
// bare 404. Any other error passes through.
func (h *Handler) goneMeanwhile(c echo.Context, err error) error {
	id := c.Param("id")
	if !errors.Is(err, store.ErrNotFound) || !tokenIDPattern.MatchString(id) {
		return err
	}
	u, _ := currentUser(c)
	rec, lerr := h.store.LastChange(c.Request().Context(), u.AccountID, id)
	if lerr != nil || rec.Event != store.EventTokenDeleted {
		return err
	}
	msg := fmt.Sprintf("API token %s was deleted by %s at %s, after you opened the page. Nothing was applied.",
		id, rec.Actor.Name, views.TimeMark(rec.OccurredAt))
	if werr := h.setWarning(c, msg); werr != nil {
		return werr
	}
	return c.Redirect(http.StatusSeeOther, "/settings/api-tokens")
}

// staleMessage says who last changed a token, how and when.
func (h *Handler) staleMessage(c echo.Context, t store.Token) string {
	u, _ := currentUser(c)
	rec, err := h.store.LastChange(c.Request().Context(), u.AccountID, t.ID)
	if err != nil {
		return "This API token was changed after you opened this page."
	}
	ago := h.store.Now().Sub(rec.OccurredAt).Round(time.Second)
	what := shortEvent(rec.Event) + " it"
	if rec.Event == store.EventTokenUpdated {
		what = "edited it"
		if fields := summaryFields(rec.Summary); len(fields) > 0 {
			what = "edited its " + joinAnd(fields)
		}
	}
	return fmt.Sprintf("This API token changed after you opened this page: %s %s at %s (%s ago).",
		rec.Actor.Name, what, views.TimeMark(rec.OccurredAt), ago)
}

// summaryFields returns the fields an update's summary names in brackets
// ("API token TKN-… was updated (name, modules)."), in its order.
func summaryFields(summary string) []string {
	i := strings.IndexByte(summary, '(')
	j := strings.IndexByte(summary, ')')
	if i < 0 || j < i {
		return nil
	}
	var out []string
	for f := range strings.SplitSeq(summary[i+1:j], ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

// joinAnd joins words as a sentence lists them: "a", "a and b", "a, b and c".
func joinAnd(words []string) string {
	if len(words) < 2 {
		return strings.Join(words, "")
	}
	return strings.Join(words[:len(words)-1], ", ") + " and " + words[len(words)-1]
}

// bulkAction parses the action of a bulk request and checks the role.
func bulkAction(c echo.Context) (tokenAction, error) {
	a, ok := tokenActions[c.FormValue("action")]
	if !ok {
		return tokenAction{}, echo.NewHTTPError(http.StatusBadRequest, "Choose Disable, Enable or Delete for the selected tokens.")
	}
	u, _ := currentUser(c)
	if !a.allowed(u) {
		return tokenAction{}, roleRefused(u, a.name+" API tokens")
	}
	return a, nil
}

const maxBulk = 100

// confirmBulk lists the selected tokens with what will happen to each.
func (h *Handler) confirmBulk(c echo.Context) error {
	a, err := bulkAction(c)
	if err != nil {
		return err
	}
	ids := c.QueryParams()["ids"]
	returnTo := safeBack(c.QueryParam("return"))
	if returnTo == "" {
		returnTo = "/settings/api-tokens"
	}
	if len(ids) == 0 {
		if err := h.setWarning(c, "Select one or more API tokens first."); err != nil {
			return err
		}
		return c.Redirect(http.StatusSeeOther, returnTo)
	}
	if len(ids) > maxBulk {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("Select at most %d tokens at a time.", maxBulk))
	}
	m, err := h.bulkPage(c, a, ids, returnTo)
	if err != nil {
		return err
	}
	return h.render(c, http.StatusOK, views.BulkConfirmView(m))
}

// bulkPage is the confirmation of a bulk action on the tokens ids, each as
// it is now.
func (h *Handler) bulkPage(c echo.Context, a tokenAction, ids []string, returnTo string) (views.BulkConfirmPage, error) {
	u, _ := currentUser(c)
	m := views.BulkConfirmPage{
		Chrome:    h.chrome(c, a.title+"s", "api-tokens"),
		Action:    a.name,
		Verb:      a.verb,
		ReturnTo:  returnTo,
		CancelURL: returnTo,
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id] {
			continue
		}
		seen[id] = true
		it := views.BulkItem{ID: id}
		t, err := h.store.Token(c.Request().Context(), u.AccountID, id)
		switch {
		case !tokenIDPattern.MatchString(id), errors.Is(err, store.ErrNotFound):
			it.Name, it.Problem = "Unknown token", "not in this account"
			if !tokenIDPattern.MatchString(id) {
				it.ID = truncate(id, 20)
			} else {
				m.Stale = true // deleted since the list was shown
			}
		case err != nil:
			return m, err
		default:
			it.Name, it.Status, it.Version = t.Name, t.Status, t.Version
			if !applies(a, t.Status) {
				it.Problem = "already " + t.Status
			}
		}
		if it.Problem == "" {
			m.Applies++
		}
		m.Items = append(m.Items, it)
	}
	// The title says what will happen, not what was selected.
	n := len(m.Items)
	switch m.Applies {
	case n:
		m.Title = fmt.Sprintf("%s %d API %s", a.verb, n, plural(n, "token", "tokens"))
	case 0:
		m.Title = fmt.Sprintf("No selected API token can be %s", a.done)
	default:
		m.Title = fmt.Sprintf("%s %d of %d selected API tokens", a.verb, m.Applies, n)
	}
	return m, nil
}

// applyBulk carries out a confirmed bulk action token by token, each in its
// own transaction with its own version check, and reports every token it
// could not change. A bulk Disable takes a reason, checked as the single
// Disable's and recorded with each token.
func (h *Handler) applyBulk(c echo.Context) error {
	a, err := bulkAction(c)
	if err != nil {
		return err
	}
	form, err := c.FormParams()
	if err != nil {
		return err
	}
	ids, versions := form["ids"], form["versions"]
	if len(ids) != len(versions) || len(ids) > maxBulk {
		return echo.NewHTTPError(http.StatusBadRequest, "The confirmation is incomplete. Go back, reload the page and try again.")
	}
	returnTo := safeBack(c.FormValue("return"))
	if returnTo == "" {
		returnTo = "/settings/api-tokens"
	}
	reason := ""
	if a.name == "disable" {
		reason = strings.TrimSpace(c.FormValue("reason"))
		if msg := validateReason(reason); msg != "" {
			// The confirmation again, with the versions it was confirmed
			// with: a token changed meanwhile is still reported as such.
			m, err := h.bulkPage(c, a, ids, returnTo)
			if err != nil {
				return err
			}
			for i := range m.Items {
				if j := slices.Index(ids, m.Items[i].ID); j >= 0 && m.Items[i].Problem == "" {
					if v, err := strconv.ParseInt(versions[j], 10, 64); err == nil {
						m.Items[i].Version = v
					}
				}
			}
			m.Reason, m.ReasonError = reason, msg
			return h.render(c, http.StatusBadRequest, views.BulkConfirmView(m))
		}
	}
	u, _ := currentUser(c)
	actor := store.UserActor(u, c.RealIP(), c.Request().UserAgent())
	ctx := c.Request().Context()
	var done []string
	var problems []string
	for i, id := range ids {
		version, perr := strconv.ParseInt(versions[i], 10, 64)
		if perr != nil || version < 1 || !tokenIDPattern.MatchString(id) {
			problems = append(problems, truncate(id, 20)+" (malformed)")
			continue
		}
		switch a.name {
		case "disable":
			_, err = h.store.DisableToken(ctx, actor, u.AccountID, id, version, reason)
		case "enable":
			_, err = h.store.EnableToken(ctx, actor, u.AccountID, id, version)
		case "delete":
			err = h.store.DeleteToken(ctx, actor, u.AccountID, id, version)
		}
		switch {
		case err == nil:
			done = append(done, id)
		case errors.Is(err, store.ErrNotFound):
			problems = append(problems, id+" (no longer exists)")
		case errors.Is(err, store.ErrConflict), errors.Is(err, store.ErrInvalidTransition):
			problems = append(problems, id+" (changed by someone else meanwhile)")
		default:
			return err
		}
	}
	msg := ""
	if len(done) > 0 {
		msg = fmt.Sprintf("%d API %s %s %s: %s.", len(done), plural(len(done), "token", "tokens"),
			plural(len(done), "was", "were"), a.done, strings.Join(done, ", "))
	}
	if err := h.setFlash(c, msg); err != nil {
		return err
	}
	if len(problems) > 0 {
		if err := h.setWarning(c, fmt.Sprintf("Left as %s: %s.", plural(len(problems), "it was", "they were"), strings.Join(problems, ", "))); err != nil {
			return err
		}
	}
	return c.Redirect(http.StatusSeeOther, returnTo)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

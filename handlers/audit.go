package handlers

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/views"
)

const auditPageSize = 25

var auditIDPattern = regexp.MustCompile(`^AUD-\d{4}-\d{4}-\d{4}-\d{4}$`)

// shortEvent is an event name without its platform prefix: "disabled" for
// a token's, "account-updated" for an account's own.
func shortEvent(e string) string {
	if s, ok := strings.CutPrefix(e, "platform.accounts.api-token."); ok {
		return s
	}
	return strings.ReplaceAll(strings.TrimPrefix(e, "platform.accounts."), ".", "-")
}

var (
	accountIDPattern = regexp.MustCompile(`^ACC-\d{4}-\d{4}$`)
	userIDPattern    = regexp.MustCompile(`^USR-\d{4}-\d{4}$`)
)

// maxObjectMatches bounds how many tokens a name in the object filter may
// stand for: past it the name is too short to narrow the trail, and the
// records of that many tokens are no longer one index range each.
const maxObjectMatches = 100

// auditFilter is the filter part of an audit grid's query.
type auditFilter struct {
	Event    string // short name
	From, To string // YYYY-MM-DD as typed
	Object   string // as typed: an id or the start of a token's name
	Actor    string // a user's or token's id, "token" or "system"
	query    store.AuditQuery
	// matches are the tokens a name in the object filter found; none is
	// set when the filter can match no record (a name no token has).
	matches []store.TokenMatch
	none    bool
	users   []store.User // the account's, for the actor filter
	errors  map[string]string
}

// invalid reports whether a filter could not be read: the grid then lists
// nothing and says why, and an export refuses.
func (f auditFilter) invalid() bool { return len(f.errors) > 0 }

// parseAuditFilter reads event, from and to, and on the account's trail
// (objectID "") object and actor too; objectID limits the filter to one
// object's records (a token's Audit trail tab). An unknown event falls back
// to every event; a date that is not a date, a range that ends before it
// starts, an object that is neither an id nor the start of a name (or the
// start of too many), and an actor who is not one are errors for their
// field.
func (h *Handler) parseAuditFilter(c echo.Context, objectID string) (auditFilter, error) {
	v := c.QueryParams()
	f := auditFilter{From: v.Get("from"), To: v.Get("to"), errors: map[string]string{}}
	f.query.ObjectID = objectID
	for _, e := range store.AuditEvents {
		if v.Get("event") == shortEvent(e) {
			f.Event, f.query.Event = shortEvent(e), e
		}
	}
	parse := func(field, s string) time.Time {
		if s == "" {
			return time.Time{}
		}
		t, err := time.Parse("2006-01-02", s)
		if err != nil || t.Year() < 1970 || t.Year() > 9999 {
			label := map[string]string{"from": "From", "to": "To"}[field]
			f.errors[field] = fmt.Sprintf("%s: %q is not a date. Pick one, or type it as YYYY-MM-DD.", label, truncate(s, 40))
			return time.Time{}
		}
		return t
	}
	f.query.From = parse("from", f.From)
	if to := parse("to", f.To); !to.IsZero() {
		f.query.To = to.AddDate(0, 0, 1) // the whole day of "to"
	}
	if !f.query.From.IsZero() && !f.query.To.IsZero() && !f.query.From.Before(f.query.To) {
		f.errors["to"] = "The end date must not be before the start date."
	}
	if objectID != "" {
		return f, nil
	}
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	if err := h.parseObjectFilter(ctx, &f, u.AccountID, v.Get("object")); err != nil {
		return f, err
	}
	var err error
	if f.users, err = h.store.AccountUsers(ctx, u.AccountID); err != nil {
		return f, err
	}
	f.parseActorFilter(v.Get("actor"))
	return f, nil
}

// parseObjectFilter reads the object filter: a token's or the account's id
// (in any case), or else the start of token names, ignoring case, which
// stands for the tokens of the account, deleted ones included, whose name
// starts with it.
func (h *Handler) parseObjectFilter(ctx context.Context, f *auditFilter, accountID, raw string) error {
	f.Object = store.CleanText(raw)
	s := strings.TrimSpace(raw)
	if s == "" {
		return nil
	}
	if id := strings.ToUpper(s); tokenIDPattern.MatchString(id) || accountIDPattern.MatchString(id) {
		f.query.ObjectID = id
		return nil
	}
	if store.ValidateName(s) != "" {
		if utf8.RuneCountInString(s) > store.MaxNameLength {
			f.errors["object"] = fmt.Sprintf("Object: a token's name has at most %d characters.", store.MaxNameLength)
		} else {
			f.errors["object"] = fmt.Sprintf("Object: %q is neither an API token id (TKN-1234-5678) nor the start of a token's name, which holds only letters, digits, spaces and - . ' \".", truncate(store.CleanText(s), 40))
		}
		return nil
	}
	matches, err := h.store.TokensNamed(ctx, accountID, s, maxObjectMatches+1)
	if err != nil {
		return err
	}
	switch {
	case len(matches) > maxObjectMatches:
		f.errors["object"] = fmt.Sprintf("Object: %q matches more than %d API tokens. Type more of the name, or the token's id.", truncate(s, 40), maxObjectMatches)
	case len(matches) == 0:
		f.none = true
	default:
		f.matches = matches
		for _, m := range matches {
			f.query.ObjectIDs = append(f.query.ObjectIDs, m.ID)
		}
	}
	return nil
}

// parseActorFilter reads the actor filter: a user of the account, a token
// by its id, "token" for any API token, or "system" for the command line.
func (f *auditFilter) parseActorFilter(raw string) {
	s := strings.TrimSpace(raw)
	id := strings.ToUpper(s)
	switch {
	case s == "":
	case strings.EqualFold(s, "token"):
		f.Actor, f.query.ActorType = "token", "token"
	case strings.EqualFold(s, "system") || id == store.SystemActor.ID:
		f.Actor, f.query.ActorType = "system", "system"
	case tokenIDPattern.MatchString(id):
		f.Actor, f.query.ActorID = id, id
	case userIDPattern.MatchString(id) && slices.ContainsFunc(f.users, func(u store.User) bool { return u.ID == id }):
		f.Actor, f.query.ActorID = id, id
	default:
		f.Actor = store.CleanText(raw)
		f.errors["actor"] = fmt.Sprintf("Actor: %q is not a user of this account, an API token id, \"token\" or \"system\". Pick one from the list.", truncate(f.Actor, 40))
	}
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// values encodes the filter for links, as it was given: a link to a page
// with a filter that cannot be read leads to the same message.
func (f auditFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"event": f.Event, "from": f.From, "to": f.To, "object": strings.TrimSpace(f.Object), "actor": f.Actor} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

func withQuery(path string, v url.Values) string {
	if enc := v.Encode(); enc != "" {
		return path + "?" + enc
	}
	return path
}

// fillAuditGrid builds the audit grid for the request's filters and page;
// objectID limits it to one object's records. The status is 400 when a
// filter could not be read: the grid then shows the filters as given, the
// message, and no record.
func (h *Handler) fillAuditGrid(c echo.Context, g *views.AuditGrid, action, objectID string) (int, error) {
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	params := c.QueryParams()
	f, err := h.parseAuditFilter(c, objectID)
	if err != nil {
		return 0, err
	}
	q := f.query
	q.Limit = auditPageSize
	if b := params.Get("before"); store.ValidAuditCursor(b) {
		q.Before = b
	} else if a := params.Get("after"); store.ValidAuditCursor(a) {
		q.After = a
	}
	var page store.AuditPage
	if !f.invalid() && !f.none {
		if page, err = h.store.ListAudit(ctx, u.AccountID, q); err != nil {
			return 0, err
		}
	}
	// Links keep the page's other parameters (the token page's list query).
	keep := url.Values{}
	if list := params.Get("list"); list != "" {
		keep.Set("list", list)
	}
	link := func(extra url.Values) string {
		v := f.values()
		for k, vs := range keep {
			v[k] = vs
		}
		for k, vs := range extra {
			v[k] = vs
		}
		return withQuery(action, v)
	}
	cursor := url.Values{}
	if q.Before != "" {
		cursor.Set("before", q.Before)
	}
	if q.After != "" {
		cursor.Set("after", q.After)
	}
	here := link(cursor) // this very page, for the records' back links

	*g = views.AuditGrid{
		Action:     action,
		ShowObject: objectID == "",
		Object:     f.Object,
		From:       f.From,
		To:         f.To,
		Errors:     f.errors,
		Invalid:    f.invalid(),
		Filtered:   len(f.values()) > 0,
		ClearURL:   withQuery(action, keep),
		NewestURL:  link(nil),
		Total:      formatCount(page.Total, page.TotalCapped) + " " + plural(page.Total, "record", "records"),
	}
	if page.Older != "" {
		g.OlderURL = link(url.Values{"before": {page.Older}})
	}
	if page.Newer != "" {
		g.NewerURL = link(url.Values{"after": {page.Newer}})
	}
	if !f.invalid() {
		export := f.values()
		if objectID != "" {
			export.Set("object", objectID)
		}
		g.ExportCSV = withQuery("/settings/audit-trail/export.csv", export)
		g.ExportJSON = withQuery("/settings/audit-trail/export.json", export)
	}
	g.Events = []views.Option{{Value: "", Label: "All events", Selected: f.Event == ""}}
	for _, e := range store.AuditEvents {
		s := shortEvent(e)
		g.Events = append(g.Events, views.Option{Value: s, Label: eventLabel(s), Selected: f.Event == s})
	}
	if g.ShowObject {
		g.Actors = actorOptions(f)
		g.ObjectNote = objectNote(f)
	}
	// The account grid links the tokens of the account: a live one's page,
	// a deleted one's audit trail. The lookup is one query for the page,
	// not one per row.
	var statuses map[string]string
	if g.ShowObject {
		var ids []string
		for _, r := range page.Records {
			if r.ObjectType == store.ObjectTypeToken {
				ids = append(ids, r.ObjectID)
			}
		}
		if statuses, err = h.store.TokenStatuses(ctx, u.AccountID, ids); err != nil {
			return 0, err
		}
	}
	for _, r := range page.Records {
		objectURL := ""
		if r.ObjectType == store.ObjectTypeToken {
			objectURL = tokenURL(r.ObjectID, statuses[r.ObjectID])
		}
		g.Rows = append(g.Rows, views.AuditRow{
			ID: r.ID, When: formatDateTime(r.OccurredAt), Event: shortEvent(r.Event),
			ActorName: r.Actor.Name, ActorID: r.Actor.ID, IP: r.Actor.IP, UserAgent: r.Actor.UserAgent,
			Summary: r.Summary, Reason: auditReason(r), ObjectType: r.ObjectType, ObjectID: r.ObjectID, ObjectName: r.ObjectName,
			ObjectURL: objectURL, URL: withQuery("/settings/audit-trail/"+r.ID, url.Values{"back": {here}}),
		})
	}
	if f.invalid() {
		return http.StatusBadRequest, nil
	}
	return http.StatusOK, nil
}

// tokenURL is where a record links its token: a live token's page, a
// deleted one's audit trail (all that is left of it), or nowhere for a token
// that is not the account's.
func tokenURL(id, status string) string {
	switch status {
	case "":
		return ""
	case store.StatusDeleted:
		return "/settings/api-tokens/" + id + "/audit"
	}
	return "/settings/api-tokens/" + id
}

// actorOptions are the choices of the actor filter: anyone, each user of
// the account, any API token (and the one given, if one was), the system.
func actorOptions(f auditFilter) []views.Option {
	opts := []views.Option{{Value: "", Label: "Anyone", Selected: f.Actor == ""}}
	for _, u := range f.users {
		opts = append(opts, views.Option{Value: u.ID, Label: u.Name, Selected: f.Actor == u.ID})
	}
	opts = append(opts, views.Option{Value: "token", Label: "Any API token", Selected: f.Actor == "token"})
	if tokenIDPattern.MatchString(f.Actor) {
		opts = append(opts, views.Option{Value: f.Actor, Label: "API token " + f.Actor, Selected: true})
	}
	opts = append(opts, views.Option{Value: "system", Label: "System (command line)", Selected: f.Actor == "system"})
	if f.errors["actor"] != "" {
		// Kept as given, so that the form shows what was asked for.
		opts = append(opts, views.Option{Value: f.Actor, Label: truncate(f.Actor, 40), Selected: true})
	}
	return opts
}

// objectNote says which tokens a name in the object filter stands for.
func objectNote(f auditFilter) string {
	switch {
	case f.none:
		return fmt.Sprintf("No API token's name starts with %q.", truncate(strings.TrimSpace(f.Object), 40))
	case len(f.matches) == 0:
		return ""
	}
	names := make([]string, len(f.matches))
	for i, m := range f.matches {
		names[i] = m.Name + " (" + m.ID
		if m.Status == store.StatusDeleted {
			names[i] += ", deleted"
		}
		names[i] += ")"
	}
	return fmt.Sprintf("%q matches %d %s: %s.", truncate(strings.TrimSpace(f.Object), 40), len(f.matches),
		plural(len(f.matches), "API token", "API tokens"), strings.Join(names, ", "))
}

// auditReason returns the reason a Disable gave, for the grid, or "". Only a
// disable record can carry one, and only those are parsed.
func auditReason(r store.AuditRecord) string {
	if r.Event != store.EventTokenDisabled || !strings.Contains(r.Details, `"reason"`) {
		return ""
	}
	var d struct {
		Reason string `json:"reason"`
	}
	if json.Unmarshal([]byte(r.Details), &d) != nil {
		return ""
	}
	return d.Reason
}

func eventLabel(short string) string {
	switch short {
	case "value-viewed":
		return "Value viewed"
	case "account-created":
		return "Account created"
	case "account-updated":
		return "Account updated"
	}
	return strings.ToUpper(short[:1]) + short[1:]
}

// formatCount writes 12345 as "12,345", and a capped count with a "+".
func formatCount(n int, capped bool) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	if capped {
		s += "+"
	}
	return s
}

func (h *Handler) auditTrail(c echo.Context) error {
	m := views.AuditTrailPage{Chrome: h.chrome(c, "Audit trail", "audit-trail")}
	status, err := h.fillAuditGrid(c, &m.Audit, "/settings/audit-trail", "")
	if err != nil {
		return err
	}
	return h.render(c, status, views.AuditTrailView(m))
}

// safeBack keeps a back link only when it leads into the console.
func safeBack(s string) string {
	if strings.HasPrefix(s, "/settings/") && safeNext(s) != "" {
		return s
	}
	return ""
}

func (h *Handler) showAuditRecord(c echo.Context) error {
	id := c.Param("rid")
	if !auditIDPattern.MatchString(id) {
		return store.ErrNotFound
	}
	u, _ := currentUser(c)
	ctx := c.Request().Context()
	r, err := h.store.AuditRecordByID(ctx, u.AccountID, id)
	if err != nil {
		return err
	}
	var pretty bytes.Buffer
	if err := json.Indent(&pretty, []byte(r.Details), "", "  "); err != nil {
		pretty.Reset()
		pretty.WriteString(r.Details)
	}
	m := views.AuditRecordPage{
		Chrome:     h.chrome(c, "Audit record "+r.ID, "audit-trail"),
		BackURL:    safeBack(c.QueryParam("back")),
		ID:         r.ID,
		When:       formatDateTime(r.OccurredAt),
		Millis:     r.OccurredAt.Format("2006-01-02T15:04:05.000Z07:00"),
		Event:      r.Event,
		ObjectType: r.ObjectType,
		ObjectID:   r.ObjectID,
		ObjectName: r.ObjectName,
		ActorType:  r.Actor.Type,
		ActorID:    r.Actor.ID,
		ActorName:  r.Actor.Name,
		IP:         r.Actor.IP,
		UserAgent:  r.Actor.UserAgent,
		Summary:    r.Summary,
		Details:    pretty.String(),
		Hash:       r.Hash,
		PrevHash:   r.PrevHash,
	}
	if m.BackURL == "" {
		m.BackURL = "/settings/audit-trail"
	}
	if r.ObjectType == store.ObjectTypeToken {
		statuses, err := h.store.TokenStatuses(ctx, u.AccountID, []string{r.ObjectID})
		if err != nil {
			return err
		}
		m.ObjectURL = tokenURL(r.ObjectID, statuses[r.ObjectID])
	}
	return h.render(c, http.StatusOK, views.AuditRecordView(m))
}

// exportRecord is a record as the JSON export writes it.
type exportRecord struct {
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Event     string          `json:"event"`
	Object    exportRef       `json:"object"`
	Actor     exportRef       `json:"actor"`
	IP        string          `json:"ip"`
	UserAgent string          `json:"userAgent"`
	Summary   string          `json:"summary"`
	Details   json.RawMessage `json:"details"`
	Hash      string          `json:"hash"`
	PrevHash  string          `json:"prevHash"`
}

type exportRef struct {
	Type string `json:"type"`
	ID   string `json:"id"`
	Name string `json:"name"`
}

// csvSafe defuses cells that a spreadsheet would run as a formula.
func csvSafe(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// exportAudit streams the filtered records as CSV or JSON, row by row, so
// that any number of records goes out in constant memory.
func (h *Handler) exportAudit(c echo.Context) error {
	format := strings.TrimPrefix(path.Ext(c.Request().URL.Path), ".")
	u, _ := currentUser(c)
	f, err := h.parseAuditFilter(c, "")
	if err != nil {
		return err
	}
	if f.invalid() {
		var msgs []string
		for _, field := range []string{"object", "actor", "from", "to"} {
			if msg := f.errors[field]; msg != "" {
				msgs = append(msgs, msg)
			}
		}
		return echo.NewHTTPError(http.StatusBadRequest, strings.Join(msgs, " "))
	}
	name := "audit-trail"
	if f.query.ObjectID != "" {
		name += "-" + f.query.ObjectID
	}
	name += "-" + h.store.Now().Format("20060102-150405") + "." + format
	res := c.Response()
	res.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	res.Header().Set("Cache-Control", "no-store")
	if format == "csv" {
		res.Header().Set(echo.HeaderContentType, "text/csv; charset=utf-8")
	} else {
		res.Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
	}
	res.WriteHeader(http.StatusOK)

	buf := bufio.NewWriterSize(res, 32<<10)
	n := 0
	flushEvery := func() error {
		n++
		if n%500 == 0 {
			if err := buf.Flush(); err != nil {
				return err
			}
			res.Flush()
		}
		return nil
	}
	each := h.store.EachAudit
	if f.none {
		each = func(context.Context, string, store.AuditQuery, func(store.AuditRecord) error) error { return nil }
	}
	if format == "csv" {
		w := csv.NewWriter(buf)
		w.Write([]string{"id", "timestamp", "event", "object_type", "object_id", "object_name",
			"actor_type", "actor_id", "actor_name", "ip", "user_agent", "summary", "details", "hash", "prev_hash"})
		err = each(c.Request().Context(), u.AccountID, f.query, func(r store.AuditRecord) error {
			w.Write([]string{r.ID, r.OccurredAt.Format("2006-01-02T15:04:05.000Z07:00"), r.Event,
				r.ObjectType, r.ObjectID, csvSafe(r.ObjectName), r.Actor.Type, r.Actor.ID, csvSafe(r.Actor.Name),
				r.Actor.IP, csvSafe(r.Actor.UserAgent), csvSafe(r.Summary), r.Details, r.Hash, r.PrevHash})
			w.Flush()
			if err := w.Error(); err != nil {
				return err
			}
			return flushEvery()
		})
	} else {
		buf.WriteString("[")
		enc := json.NewEncoder(buf)
		err = each(c.Request().Context(), u.AccountID, f.query, func(r store.AuditRecord) error {
			if n > 0 {
				buf.WriteString(",")
			}
			buf.WriteString("\n")
			if err := enc.Encode(exportRecord{
				ID: r.ID, Timestamp: r.OccurredAt.Format("2006-01-02T15:04:05.000Z07:00"), Event: r.Event,
				Object: exportRef{Type: r.ObjectType, ID: r.ObjectID, Name: r.ObjectName},
				Actor:  exportRef{Type: r.Actor.Type, ID: r.Actor.ID, Name: r.Actor.Name},
				IP:     r.Actor.IP, UserAgent: r.Actor.UserAgent, Summary: r.Summary,
				Details: json.RawMessage(r.Details), Hash: r.Hash, PrevHash: r.PrevHash,
			}); err != nil {
				return err
			}
			return flushEvery()
		})
		if err == nil {
			buf.WriteString("]\n")
		}
	}
	if err != nil {
		// The status is sent; all that can be done is to stop and log.
		h.log.Error("audit export", "request_id", requestID(c), "error", err)
		return nil
	}
	return buf.Flush()
}

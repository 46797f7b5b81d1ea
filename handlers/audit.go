package handlers

import (
	"bufio"
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"time"

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

// auditFilter is the filter part of an audit grid's query.
type auditFilter struct {
	Event    string // short name
	From, To string // YYYY-MM-DD as typed
	query    store.AuditQuery
	errors   map[string]string
}

// parseAuditFilter reads event, from and to. An unknown event falls back to
// every event; a date that is not a date is an error for its field.
func parseAuditFilter(v url.Values, objectID string) auditFilter {
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
		f.query.To = time.Time{}
	}
	return f
}

func truncate(s string, n int) string {
	if r := []rune(s); len(r) > n {
		return string(r[:n]) + "…"
	}
	return s
}

// values encodes the filter for links.
func (f auditFilter) values() url.Values {
	v := url.Values{}
	if f.Event != "" {
		v.Set("event", f.Event)
	}
	if f.From != "" && f.errors["from"] == "" {
		v.Set("from", f.From)
	}
	if f.To != "" && f.errors["to"] == "" {
		v.Set("to", f.To)
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
// filter could not be read (the grid still shows, with the message).
func (h *Handler) fillAuditGrid(c echo.Context, g *views.AuditGrid, action, objectID string) (int, error) {
	u, _ := currentUser(c)
	params := c.QueryParams()
	f := parseAuditFilter(params, objectID)
	q := f.query
	q.Limit = auditPageSize
	if b := params.Get("before"); store.ValidAuditCursor(b) {
		q.Before = b
	} else if a := params.Get("after"); store.ValidAuditCursor(a) {
		q.After = a
	}
	page, err := h.store.ListAudit(c.Request().Context(), u.AccountID, q)
	if err != nil {
		return 0, err
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
		From:       f.From,
		To:         f.To,
		Errors:     f.errors,
		Filtered:   f.Event != "" || f.From != "" || f.To != "",
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
	export := f.values()
	if objectID != "" {
		export.Set("object", objectID)
	}
	g.ExportCSV = withQuery("/settings/audit-trail/export.csv", export)
	g.ExportJSON = withQuery("/settings/audit-trail/export.json", export)
	g.Events = []views.Option{{Value: "", Label: "All events", Selected: f.Event == ""}}
	for _, e := range store.AuditEvents {
		s := shortEvent(e)
		g.Events = append(g.Events, views.Option{Value: s, Label: eventLabel(s), Selected: f.Event == s})
	}
	// The account grid links the tokens that still exist; the lookup is one
	// query for the page, not one per row.
	var live map[string]bool
	if g.ShowObject {
		var ids []string
		for _, r := range page.Records {
			if r.ObjectType == store.ObjectTypeToken {
				ids = append(ids, r.ObjectID)
			}
		}
		if live, err = h.store.LiveTokens(c.Request().Context(), u.AccountID, ids); err != nil {
			return 0, err
		}
	}
	for _, r := range page.Records {
		objectURL := ""
		if live[r.ObjectID] && r.ObjectType == store.ObjectTypeToken {
			objectURL = "/settings/api-tokens/" + r.ObjectID
		}
		g.Rows = append(g.Rows, views.AuditRow{
			ID: r.ID, When: formatDateTime(r.OccurredAt), Event: shortEvent(r.Event),
			ActorName: r.Actor.Name, ActorID: r.Actor.ID, IP: r.Actor.IP, UserAgent: r.Actor.UserAgent,
			Summary: r.Summary, Reason: auditReason(r), ObjectType: r.ObjectType, ObjectID: r.ObjectID, ObjectName: r.ObjectName,
			ObjectURL: objectURL, URL: withQuery("/settings/audit-trail/"+r.ID, url.Values{"back": {here}}),
		})
	}
	if len(f.errors) > 0 {
		return http.StatusBadRequest, nil
	}
	return http.StatusOK, nil
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
		if _, err := h.store.Token(ctx, u.AccountID, r.ObjectID); err == nil {
			m.ObjectURL = "/settings/api-tokens/" + r.ObjectID
		} else if !errors.Is(err, store.ErrNotFound) {
			return err
		}
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
	objectID := c.QueryParam("object")
	if objectID != "" && !tokenIDPattern.MatchString(objectID) {
		return echo.NewHTTPError(http.StatusBadRequest, "The object filter must be an API token id such as TKN-1234-5678.")
	}
	f := parseAuditFilter(c.QueryParams(), objectID)
	for _, msg := range f.errors {
		return echo.NewHTTPError(http.StatusBadRequest, msg)
	}
	name := "audit-trail"
	if objectID != "" {
		name += "-" + objectID
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
	var err error
	if format == "csv" {
		w := csv.NewWriter(buf)
		w.Write([]string{"id", "timestamp", "event", "object_type", "object_id", "object_name",
			"actor_type", "actor_id", "actor_name", "ip", "user_agent", "summary", "details", "hash", "prev_hash"})
		err = h.store.EachAudit(c.Request().Context(), u.AccountID, f.query, func(r store.AuditRecord) error {
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
		err = h.store.EachAudit(c.Request().Context(), u.AccountID, f.query, func(r store.AuditRecord) error {
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

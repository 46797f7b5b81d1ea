package handlers

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
)

var jsonContentType = []string{echo.MIMEApplicationJSON}

// AccessManagement is the module the api-tokens endpoints need.
const AccessManagement = "MOD-1756"

// Problem is an RFC 9457 problem details body.
type Problem struct {
	Type    string              `json:"type"`
	Title   string              `json:"title"`
	Status  int                 `json:"status"`
	Detail  string              `json:"detail,omitempty"`
	TraceID string              `json:"traceId"`
	Errors  map[string][]string `json:"errors,omitempty"`
}

// problemTitle is the title of a problem with the status: the status text,
// except where the platform words it otherwise.
func problemTitle(status int) string {
	if status == http.StatusUnauthorized {
		return "Authentication Failed"
	}
	return http.StatusText(status)
}

// writeProblem answers an API error as application/problem+json.
func writeProblem(c echo.Context, status int, detail string, fields map[string]string) error {
	p := Problem{Type: "about:blank", Title: problemTitle(status), Status: status, Detail: detail, TraceID: requestID(c)}
	if len(fields) > 0 {
		p.Errors = map[string][]string{}
		for k, v := range fields {
			p.Errors[k] = []string{v}
		}
	}
	b, err := json.Marshal(p)
	if err != nil {
		return err
	}
	return c.Blob(status, "application/problem+json", b)
}

// apiRef is an {id, name} pair.
type apiRef struct {
	ID   string `json:"id"`
	Name string `json:"name"`
}

// apiTimeLayout is the platform's form of an instant: UTC, milliseconds.
const apiTimeLayout = "2006-01-02T15:04:05.000Z"

// apiTime is an instant as the API writes it, 2024-03-15T10:00:00.000Z,
// whatever the location and precision of the time it holds.
type apiTime time.Time

func (t apiTime) String() string { return time.Time(t).UTC().Format(apiTimeLayout) }

// MarshalJSON writes the instant in the platform's form.
func (t apiTime) MarshalJSON() ([]byte, error) {
	return []byte(`"` + t.String() + `"`), nil
}

// UnmarshalJSON reads any RFC 3339 instant, so that API answers decode back.
func (t *apiTime) UnmarshalJSON(b []byte) error {
	var tt time.Time
	if err := tt.UnmarshalJSON(b); err != nil {
		return err
	}
	*t = apiTime(tt)
	return nil
}

type apiEvent struct {
	At apiTime `json:"at"`
	By apiRef  `json:"by"`
}

// apiToken is a token as the API shows it (the platform's field names).
type apiToken struct {
	ID           string   `json:"id"`
	Href         string   `json:"href"`
	Name         string   `json:"name"`
	Description  string   `json:"description"`
	Icon         string   `json:"icon"` // the logo's URL path, "" without one
	Status       string   `json:"status"`
	LastAccessAt *apiTime `json:"lastAccessAt"`
	Account      apiRef   `json:"account"`
	Modules      []apiRef `json:"modules"`
	Audit        struct {
		Created apiEvent `json:"created"`
		Updated apiEvent `json:"updated"`
	} `json:"audit"`
	Token string `json:"token,omitempty"` // the value, in the 201 of POST only
}

// apiTokenHref is the URL path of a token in the API.
func apiTokenHref(id string) string { return "/public/v1/accounts/api-tokens/" + id }

// apiIconPath is the URL path of a token's logo in the API.
func apiIconPath(id string) string { return apiTokenHref(id) + "/icon" }

func toAPIToken(t store.Token) apiToken {
	a := apiToken{
		ID: t.ID, Href: apiTokenHref(t.ID), Name: t.Name, Description: t.Description,
		Status: t.Status, Account: apiRef{t.AccountID, t.AccountName}, Modules: []apiRef{},
	}
	if t.LogoType != "" {
		a.Icon = apiIconPath(t.ID)
	}
	if !t.LastAccessAt.IsZero() {
		at := apiTime(t.LastAccessAt)
		a.LastAccessAt = &at
	}
	for _, m := range t.Modules {
		a.Modules = append(a.Modules, apiRef{m.ID, m.Name})
	}
	a.Audit.Created = apiEvent{apiTime(t.CreatedAt), apiRef{t.CreatedBy.ID, t.CreatedBy.Name}}
	a.Audit.Updated = apiEvent{apiTime(t.UpdatedAt), apiRef{t.UpdatedBy.ID, t.UpdatedBy.Name}}
	return a
}

type pagination struct {
	Offset int `json:"offset"`
	Limit  int `json:"limit"`
	Total  int `json:"total"`
}

type listEnvelope struct {
	Meta struct {
		Pagination pagination `json:"pagination"`
	} `json:"$meta"`
	Data any `json:"data"`
}

func etag(version int64) string { return `"v` + strconv.FormatInt(version, 10) + `"` }

// ifMatch returns the version an If-Match header names: 0 when absent, or
// an error for a header that names no version of ours.
func ifMatch(c echo.Context) (int64, error) {
	h := strings.TrimSpace(c.Request().Header.Get("If-Match"))
	if h == "" || h == "*" {
		return 0, nil
	}
	h = strings.TrimPrefix(h, "W/")
	v, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimPrefix(h, `"v`), `"`), 10, 64)
	if err != nil || v < 1 || !strings.HasPrefix(h, `"v`) {
		return -1, nil // matches no version: 412
	}
	return v, nil
}

// apiActor is the calling token as the audit trail records it.
func apiActor(c echo.Context) store.Actor {
	t := callerToken(c)
	return store.Actor{Type: "token", ID: t.ID, Name: t.Name, IP: c.RealIP(), UserAgent: c.Request().UserAgent()}
}

// Paging limits of the list endpoints.
const (
	defaultAPILimit = 10
	maxAPILimit     = 1000
)

// queryError answers a refused query as a 400 naming the parameter.
func queryError(err error) error {
	if qe, ok := err.(*store.QueryError); ok {
		return &store.ValidationError{Fields: map[string]string{qe.Param: qe.Error()}}
	}
	return err
}

func (h *Handler) apiListTokens(c echo.Context) error {
	lq, err := parseAPIQuery(c.Request().URL.RawQuery, store.TokenSchema, tokenShape)
	if err != nil {
		return queryError(err)
	}
	q := store.TokenQuery{Order: store.OrderCreated, Offset: lq.offset, Limit: max(lq.limit, 1), Filter: lq.filter, Sort: lq.sort}
	page, err := h.store.ListTokens(c.Request().Context(), callerToken(c).AccountID, q)
	if err != nil {
		return queryError(err)
	}
	if lq.limit == 0 {
		page.Tokens = nil
	}
	data := make([]json.RawMessage, 0, len(page.Tokens))
	for _, t := range page.Tokens {
		b, err := lq.sel.apply(toAPIToken(t))
		if err != nil {
			return err
		}
		data = append(data, b)
	}
	var env listEnvelope
	env.Meta.Pagination = pagination{Offset: lq.offset, Limit: lq.limit, Total: page.Total}
	env.Data = data
	return c.JSON(http.StatusOK, env)
}

func (h *Handler) apiLoadToken(c echo.Context) (store.Token, error) {
	id := c.Param("id")
	if !tokenIDPattern.MatchString(id) {
		return store.Token{}, store.ErrNotFound
	}
	return h.store.Token(c.Request().Context(), callerToken(c).AccountID, id)
}

func (h *Handler) apiGetToken(c echo.Context) error {
	sel, err := selectOnly(c, store.TokenSchema, tokenShape)
	if err != nil {
		return err
	}
	t, err := h.apiLoadToken(c)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(t.Version))
	if c.Request().Header.Get("If-None-Match") == etag(t.Version) {
		return c.NoContent(http.StatusNotModified)
	}
	return writeSelected(c, sel, toAPIToken(t))
}

// tokenInput is the body of POST and PUT. Besides the fields a client sets
// (name, description, icon, account.id, modules[].id), it accepts the
// read-only fields of a token as GET shows it and ignores them, so that a
// client can GET a token, change a field and PUT the body back. Any other
// field is a 400 (readJSON refuses unknown fields); so is the value
// (`token`), which is never an input.
type tokenInput struct {
	Name        *string `json:"name"`
	Description *string `json:"description"`
	Icon        *string `json:"icon"`
	Account     *struct {
		ID   *string         `json:"id"`
		Name json.RawMessage `json:"name"` // read-only
	} `json:"account"`
	Modules []struct {
		ID   string          `json:"id"`
		Name json.RawMessage `json:"name"` // read-only
	} `json:"modules"`

	// Read-only: accepted and ignored.
	ID           json.RawMessage `json:"id"`
	Href         json.RawMessage `json:"href"`
	Status       json.RawMessage `json:"status"`
	LastAccessAt json.RawMessage `json:"lastAccessAt"`
	Audit        json.RawMessage `json:"audit"`
	Meta         json.RawMessage `json:"$meta"`
}

// readJSON decodes a JSON body strictly: sent as application/json, valid
// UTF-8, one object, no unknown fields and no key twice in an object (which
// decoders resolve differently: one keeps the first, another the last).
func readJSON(c echo.Context, v any) error {
	if err := requireJSONType(c.Request().Header.Get("Content-Type")); err != nil {
		return err
	}
	body, err := io.ReadAll(c.Request().Body)
	if err != nil {
		return err
	}
	if !utf8.Valid(body) {
		return &store.ValidationError{Fields: map[string]string{"body": "is not valid UTF-8"}}
	}
	if err := checkDuplicateKeys(body); err != nil {
		return err
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &store.ValidationError{Fields: map[string]string{"body": "is not the expected JSON: " + strings.TrimPrefix(err.Error(), "json: ")}}
	}
	if dec.More() {
		return &store.ValidationError{Fields: map[string]string{"body": "has more than one JSON value"}}
	}
	return nil
}

// requireJSONType refuses a body whose Content-Type is not application/json
// (UTF-8, the only charset JSON has) with 415: a form or text/plain body is
// not read as JSON, whatever it holds.
func requireJSONType(ct string) error {
	mt, params, err := mime.ParseMediaType(ct)
	if err == nil && mt == echo.MIMEApplicationJSON {
		if cs, ok := params["charset"]; !ok || strings.EqualFold(cs, "utf-8") {
			return nil
		}
	}
	shown := ct
	if shown == "" {
		shown = "none"
	} else if len(shown) > 100 || !utf8.ValidString(shown) {
		shown = "another"
	} else {
		shown = strconv.Quote(shown)
	}
	return echo.NewHTTPError(http.StatusUnsupportedMediaType,
		"The body must be JSON sent with Content-Type: application/json; this request's Content-Type is "+shown+".")
}

// maxJSONDepth bounds how deeply a body's objects and arrays may nest: no
// body the API takes nests more than four levels.
const maxJSONDepth = 32

// checkDuplicateKeys refuses a JSON text in which an object has a key twice,
// or that nests deeper than maxJSONDepth. Keys that differ only in case count
// as the same, folded as encoding/json matches field names (Unicode simple
// folding: "ſ" is "s"), so that "name" and "Name" cannot be one field read
// twice. Malformed JSON is left for the decoder to describe.
func checkDuplicateKeys(body []byte) error {
	type level struct {
		parent    *level
		keys      map[string]bool // nil in an array
		expectKey bool
		lastKey   string
		index     int
	}
	// path names a level for a message: "account", "modules[1]".
	path := func(l *level) string {
		var parts []string
		for ; l != nil && l.parent != nil; l = l.parent {
			if l.parent.keys != nil {
				parts = append(parts, "."+l.parent.lastKey)
			} else {
				parts = append(parts, fmt.Sprintf("[%d]", l.parent.index))
			}
		}
		slices.Reverse(parts)
		if len(parts) == 0 {
			return "the body"
		}
		return strings.TrimPrefix(strings.Join(parts, ""), ".")
	}
	var top *level
	depth := 0
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil // the end, or malformed: the decoder says which
		}
		if k, isKey := tok.(string); isKey && top != nil && top.expectKey {
			folded := foldKey(k)
			if top.keys[folded] {
				return &store.ValidationError{Fields: map[string]string{"body": fmt.Sprintf("has the key %q more than once in %s; send each key once.", k, path(top))}}
			}
			top.keys[folded], top.expectKey, top.lastKey = true, false, k
			continue
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			if depth++; depth > maxJSONDepth {
				return &store.ValidationError{Fields: map[string]string{"body": fmt.Sprintf("nests deeper than %d levels.", maxJSONDepth)}}
			}
			l := &level{parent: top}
			if tok == json.Delim('{') {
				l.keys, l.expectKey = map[string]bool{}, true
			}
			top = l
			continue
		case json.Delim('}'), json.Delim(']'):
			depth--
			if top = top.parent; top == nil {
				continue
			}
		}
		// A value was read in top.
		if top == nil {
			continue
		}
		if top.keys != nil {
			top.expectKey = true
		} else {
			top.index++
		}
	}
}

// foldKey folds a key as encoding/json matches field names: each rune to
// the smallest rune of its Unicode simple-folding orbit.
func foldKey(k string) string {
	var b strings.Builder
	for _, r := range k {
		min := r
		for f := unicode.SimpleFold(r); f != r; f = unicode.SimpleFold(f) {
			if f < min {
				min = f
			}
		}
		b.WriteRune(min)
	}
	return b.String()
}

func (in tokenInput) moduleIDs() []string {
	ids := make([]string, 0, len(in.Modules))
	for _, m := range in.Modules {
		ids = append(ids, m.ID)
	}
	return ids
}

// checkAccount refuses a body whose account is not the calling token's: a
// token manages the tokens of its own account only. Whatever the id looks
// like, the answer is the same 403, and the id sent is not repeated.
func (in tokenInput) checkAccount(c echo.Context) error {
	if in.Account == nil {
		return nil
	}
	if in.Account.ID == nil {
		return &store.ValidationError{Fields: map[string]string{"account.id": "Give the account's id, or leave account out."}}
	}
	own := callerToken(c).AccountID
	if *in.Account.ID != own {
		return echo.NewHTTPError(http.StatusForbidden, "This API token belongs to account "+own+" and can only manage the API tokens of that account.")
	}
	return nil
}

// maxIconChars bounds an icon data: URL before it is decoded: the base64 of
// the largest logo, and its prefix.
const maxIconChars = (store.MaxLogoBytes+2)/3*4 + len("data:image/jpeg;base64,")

// iconLogo reads the icon of a POST or PUT body as a change of the logo:
// keep (nil or, on PUT, the token's own icon path sent back), remove (""),
// or a new logo from a data:image/png or data:image/jpeg base64 URL, checked
// and re-encoded exactly as an uploaded logo in the console is
// (store.NormalizeLogo). own is the token's icon path, "" on POST.
func iconLogo(icon *string, own string) (logo []byte, remove bool, err error) {
	if icon == nil || (own != "" && *icon == own) {
		return nil, false, nil
	}
	if *icon == "" {
		return nil, true, nil
	}
	bad := func(msg string) error {
		return &store.ValidationError{Fields: map[string]string{"icon": msg}}
	}
	meta, data, ok := strings.Cut(*icon, ",")
	if !ok || !(strings.EqualFold(meta, "data:image/png;base64") || strings.EqualFold(meta, "data:image/jpeg;base64")) {
		if own != "" {
			return nil, false, bad(`The icon must be a data:image/png;base64,… or data:image/jpeg;base64,… URL, "" to remove the logo, or ` + own + " to keep it.")
		}
		return nil, false, bad(`The icon must be a data:image/png;base64,… or data:image/jpeg;base64,… URL, or "" for no logo.`)
	}
	if data == "" {
		return nil, false, bad("The icon's data: URL holds no image.")
	}
	if len(*icon) > maxIconChars {
		return nil, false, bad("Logo must be at most 5 MB.")
	}
	raw, derr := base64.StdEncoding.DecodeString(data)
	if derr != nil {
		return nil, false, bad("The icon's data: URL is not valid base64.")
	}
	logo, _, msg := store.NormalizeLogo(raw)
	if msg != "" {
		return nil, false, bad(msg)
	}
	return logo, false, nil
}

func (h *Handler) apiCreateToken(c echo.Context) error {
	var in tokenInput
	if err := readJSON(c, &in); err != nil {
		return err
	}
	if err := in.checkAccount(c); err != nil {
		return err
	}
	if in.Name == nil {
		return &store.ValidationError{Fields: map[string]string{"name": "Name is required."}}
	}
	desc := ""
	if in.Description != nil {
		desc = *in.Description
	}
	logo, _, err := iconLogo(in.Icon, "")
	if err != nil {
		return err
	}
	t, value, err := h.store.CreateToken(c.Request().Context(), h.sealer, apiActor(c), callerToken(c).AccountID,
		store.NewToken{Name: *in.Name, Description: desc, ModuleIDs: in.moduleIDs(), Logo: logo})
	if err != nil {
		return err
	}
	out := toAPIToken(t)
	out.Token = value
	c.Response().Header().Set("Location", out.Href)
	c.Response().Header().Set("ETag", etag(t.Version))
	return c.JSON(http.StatusCreated, out)
}

func (h *Handler) apiUpdateToken(c echo.Context) error {
	cur, err := h.apiLoadToken(c)
	if err != nil {
		return err
	}
	version, _ := ifMatch(c)
	if version != 0 && version != cur.Version {
		return echo.NewHTTPError(http.StatusPreconditionFailed, "The token has changed since the ETag in If-Match; GET it again.")
	}
	var in tokenInput
	if err := readJSON(c, &in); err != nil {
		return err
	}
	if err := in.checkAccount(c); err != nil {
		return err
	}
	// PUT replaces what it names; what it leaves out stays as it is.
	u := store.TokenUpdate{Name: cur.Name, Description: cur.Description}
	for _, m := range cur.Modules {
		u.ModuleIDs = append(u.ModuleIDs, m.ID)
	}
	if in.Name != nil {
		u.Name = *in.Name
	}
	if in.Description != nil {
		u.Description = *in.Description
	}
	if in.Modules != nil {
		u.ModuleIDs = in.moduleIDs()
	}
	if u.Logo, u.RemoveLogo, err = iconLogo(in.Icon, apiIconPath(cur.ID)); err != nil {
		return err
	}
	t, _, err := h.store.UpdateToken(c.Request().Context(), apiActor(c), callerToken(c).AccountID, cur.ID, cur.Version, u)
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(t.Version))
	return c.JSON(http.StatusOK, toAPIToken(t))
}

// apiTokenIcon serves a token's logo (the path its icon field names): the
// image as it was re-encoded on the way in, with its content type; 404 when
// the token has none.
func (h *Handler) apiTokenIcon(c echo.Context) error {
	id := c.Param("id")
	if !tokenIDPattern.MatchString(id) {
		return store.ErrNotFound
	}
	ct, data, err := h.store.TokenLogo(c.Request().Context(), callerToken(c).AccountID, id)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	tag := `"` + hex.EncodeToString(sum[:12]) + `"`
	hd := c.Response().Header()
	hd.Set("ETag", tag)
	hd.Set("Cache-Control", "private, no-cache")
	if c.Request().Header.Get("If-None-Match") == tag {
		return c.NoContent(http.StatusNotModified)
	}
	return c.Blob(http.StatusOK, ct, data)
}

func (h *Handler) apiDeleteToken(c echo.Context) error {
	cur, err := h.apiLoadToken(c)
	if err != nil {
		return err
	}
	version, _ := ifMatch(c)
	if version != 0 && version != cur.Version {
		return echo.NewHTTPError(http.StatusPreconditionFailed, "The token has changed since the ETag in If-Match; GET it again.")
	}
	if err := h.store.DeleteToken(c.Request().Context(), apiActor(c), callerToken(c).AccountID, cur.ID, cur.Version); err != nil {
		return err
	}
	return c.NoContent(http.StatusNoContent)
}

func (h *Handler) apiTransition(c echo.Context) error {
	cur, err := h.apiLoadToken(c)
	if err != nil {
		return err
	}
	version, _ := ifMatch(c)
	if version != 0 && version != cur.Version {
		return echo.NewHTTPError(http.StatusPreconditionFailed, "The token has changed since the ETag in If-Match; GET it again.")
	}
	action := c.Request().URL.Path[strings.LastIndexByte(c.Request().URL.Path, '/')+1:]
	var t store.Token
	switch action {
	case "disable":
		var in struct {
			Reason string `json:"reason"`
		}
		if c.Request().ContentLength != 0 {
			if err := readJSON(c, &in); err != nil {
				return err
			}
		}
		if msg := validateReason(in.Reason); msg != "" {
			return &store.ValidationError{Fields: map[string]string{"reason": msg}}
		}
		t, err = h.store.DisableToken(c.Request().Context(), apiActor(c), callerToken(c).AccountID, cur.ID, cur.Version, strings.TrimSpace(in.Reason))
	default:
		t, err = h.store.EnableToken(c.Request().Context(), apiActor(c), callerToken(c).AccountID, cur.ID, cur.Version)
	}
	if errors.Is(err, store.ErrInvalidTransition) {
		return echo.NewHTTPError(http.StatusBadRequest, fmt.Sprintf("The token is already %s, so there is nothing to %s.", cur.Status, action))
	}
	if err != nil {
		return err
	}
	c.Response().Header().Set("ETag", etag(t.Version))
	return c.JSON(http.StatusOK, toAPIToken(t))
}

// apiAuditRecord is an audit record as the API shows it.
type apiAuditRecord struct {
	ID        string          `json:"id"`
	Timestamp string          `json:"timestamp"`
	Event     string          `json:"event"`
	Object    exportRef       `json:"object"`
	Actor     exportRef       `json:"actor"`
	Details   json.RawMessage `json:"details"`
	Summary   string          `json:"summary"`
	IP        string          `json:"ip"`
	UserAgent string          `json:"userAgent"`
	Hash      string          `json:"hash"`
}

func (h *Handler) apiAuditRecords(c echo.Context) error {
	lq, err := parseAPIQuery(c.Request().URL.RawQuery, store.AuditSchema, auditShape)
	if err != nil {
		return queryError(err)
	}
	recs, total, err := h.store.ListAuditOffset(c.Request().Context(), callerToken(c).AccountID,
		store.AuditOffsetQuery{Filter: lq.filter, Sort: lq.sort, Offset: lq.offset, Limit: lq.limit})
	if err != nil {
		return queryError(err)
	}
	data := make([]json.RawMessage, 0, len(recs))
	for _, r := range recs {
		b, err := lq.sel.apply(toAPIAuditRecord(r))
		if err != nil {
			return err
		}
		data = append(data, b)
	}
	var env listEnvelope
	env.Meta.Pagination = pagination{Offset: lq.offset, Limit: lq.limit, Total: total}
	env.Data = data
	return c.JSON(http.StatusOK, env)
}

// toAPIAuditRecord is a record as the API shows it, alone or in a list.
func toAPIAuditRecord(r store.AuditRecord) apiAuditRecord {
	return apiAuditRecord{
		ID: r.ID, Timestamp: apiTime(r.OccurredAt).String(), Event: r.Event,
		Object:  exportRef{Type: r.ObjectType, ID: r.ObjectID, Name: r.ObjectName},
		Actor:   exportRef{Type: r.Actor.Type, ID: r.Actor.ID, Name: r.Actor.Name},
		Details: json.RawMessage(r.Details), Summary: r.Summary, IP: r.Actor.IP, UserAgent: r.Actor.UserAgent, Hash: r.Hash,
	}
}

// apiAuditRecord answers one record of the calling token's account; another
// account's record is a 404, as an unknown one.
func (h *Handler) apiAuditRecord(c echo.Context) error {
	id := c.Param("id")
	if !auditIDPattern.MatchString(id) {
		return store.ErrNotFound
	}
	sel, err := selectOnly(c, store.AuditSchema, auditShape)
	if err != nil {
		return err
	}
	r, err := h.store.AuditRecordByID(c.Request().Context(), callerToken(c).AccountID, id)
	if err != nil {
		return err
	}
	return writeSelected(c, sel, toAPIAuditRecord(r))
}

// verify answers API gateways: 200 with the token, its account and modules
// (also as X-Gatehouse-* headers) for a valid token, 403 when the module
// asked for (?module= or X-Gatehouse-Module) is not granted.
func (h *Handler) verify(c echo.Context) error {
	e, err := h.authorize(c)
	if err != nil {
		return err
	}
	module := ""
	if c.Request().URL.RawQuery != "" {
		module = c.QueryParam("module")
	}
	if module == "" {
		module = c.Request().Header.Get("X-Gatehouse-Module")
	}
	if module != "" && !e.HasModule(module) {
		return echo.NewHTTPError(http.StatusForbidden, "This API token is not granted the module "+truncate(module, 20)+".")
	}
	hd := c.Response().Header()
	hd["X-Gatehouse-Token-Id"] = e.headers[0]
	hd["X-Gatehouse-Account-Id"] = e.headers[1]
	hd["X-Gatehouse-Modules"] = e.headers[2]
	hd[echo.HeaderContentType] = jsonContentType
	c.Response().WriteHeader(http.StatusOK)
	_, err = c.Response().Write(e.verifyBody)
	return err
}

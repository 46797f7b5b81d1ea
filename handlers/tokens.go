package handlers

import (
	"errors"
	"hash/fnv"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/labstack/echo/v4"

	"gatehouse/store"
	"gatehouse/views"
)

// The list's paging choices (SPEC §3.2).
var pageSizes = []int{5, 10, 25, 50, 100}

const (
	defaultPageSize = 10
	defaultOrder    = "-created"
	maxSearchLength = 200
)

// listQuery is the state of the list page, all of it in the URL.
type listQuery struct {
	Search string
	Status string
	Module string
	Order  string // a sort key, "-" in front for descending
	Page   int
	Size   int
	// adjusted is set when the URL's page or size was not one the list
	// shows (not a number, out of range, or not written as the list writes
	// it), and Page and Size hold the nearest that is.
	adjusted bool
}

// values encodes the query, leaving out what equals the default so URLs stay
// short.
func (q listQuery) values() url.Values {
	v := url.Values{}
	if q.Search != "" {
		v.Set("q", q.Search)
	}
	if q.Status != "" {
		v.Set("status", q.Status)
	}
	if q.Module != "" {
		v.Set("module", q.Module)
	}
	if q.Order != defaultOrder {
		v.Set("order", q.Order)
	}
	if q.Page > 1 {
		v.Set("page", strconv.Itoa(q.Page))
	}
	if q.Size != defaultPageSize {
		v.Set("size", strconv.Itoa(q.Size))
	}
	return v
}

func (q listQuery) url() string {
	if enc := q.values().Encode(); enc != "" {
		return "/settings/api-tokens?" + enc
	}
	return "/settings/api-tokens"
}

// maxPage bounds the page number read from a URL; a larger one is past the
// end of any list.
const maxPage = 1_000_000

// parseListQuery reads the list state from the URL. Unknown or malformed
// values fall back to their defaults; only a search that is not text at all
// is refused. A page or size the list does not show is replaced by the
// nearest it does, and the query marked adjusted: a size that is a number
// becomes the nearest allowed one (the smaller on a tie), keeping the first
// row asked for in view; one that is not, the default; a page that is not a
// positive number, the first. Whether the page is past the end is for the
// caller to find out.
func parseListQuery(v url.Values, modules []store.Module) (listQuery, error) {
	q := listQuery{Order: defaultOrder, Page: 1, Size: defaultPageSize}
	search := strings.TrimSpace(v.Get("q"))
	if !utf8.ValidString(search) {
		return q, echo.NewHTTPError(http.StatusBadRequest, "The search text is not valid UTF-8. Change the search and try again.")
	}
	if strings.ContainsFunc(search, unicode.IsControl) {
		return q, echo.NewHTTPError(http.StatusBadRequest, "The search text contains control characters. Change the search and try again.")
	}
	if utf8.RuneCountInString(search) > maxSearchLength {
		search = string([]rune(search)[:maxSearchLength])
	}
	q.Search = search
	for _, s := range []string{store.StatusActive, store.StatusDisabled} {
		if strings.EqualFold(v.Get("status"), s) {
			q.Status = s
		}
	}
	for _, m := range modules {
		if strings.EqualFold(v.Get("module"), m.ID) {
			q.Module = m.ID
		}
	}
	if o := v.Get("order"); store.ValidTokenOrder(store.TokenOrder(strings.TrimPrefix(o, "-"))) {
		q.Order = o
	}
	size, sizeNumber, sizeOK := pagingNumber(v, "size", defaultPageSize)
	page, _, pageOK := pagingNumber(v, "page", 1)
	q.adjusted = !sizeOK || !pageOK
	if sizeOK {
		q.Size = size
	} else if sizeNumber {
		// A number, not an allowed size: the nearest one, on the page
		// that holds the first row asked for.
		q.Size = nearestPageSize(size)
		if pageOK {
			first := int64(page-1)*int64(min(max(size, 1), maxPage)) + 1
			page = int(min((first-1)/int64(q.Size)+1, maxPage))
		}
	}
	q.Page = max(page, 1)
	return q, nil
}

// pagingNumber reads page or size. ok is true when the parameter is absent
// (n is then def) or written as the list writes a value it shows;
// otherwise number says whether it holds a number at all, and n is that
// number, bounded by ±maxPage.
func pagingNumber(v url.Values, name string, def int) (n int, number, ok bool) {
	raw, given := v[name]
	if !given {
		return def, true, true
	}
	s := ""
	if len(raw) > 0 {
		s = raw[0]
	}
	n, err := strconv.Atoi(s)
	if err != nil && !errors.Is(err, strconv.ErrRange) { // out of range: bounded below
		return 0, false, false
	}
	n = min(max(n, -maxPage), maxPage)
	ok = s == strconv.Itoa(n) && n >= 1 && len(raw) == 1
	if name == "size" && !slices.Contains(pageSizes, n) {
		ok = false
	}
	return n, true, ok
}

// nearestPageSize is the allowed page size nearest n, the smaller on a tie.
func nearestPageSize(n int) int {
	best := pageSizes[0]
	for _, s := range pageSizes {
		if abs(n-s) < abs(n-best) {
			best = s
		}
	}
	return best
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// pagingURL is the list's URL with the query as given, but for page and
// size, written as the list writes them.
func pagingURL(v url.Values, page, size int) string {
	out := url.Values{}
	for k, vs := range v {
		if k != "page" && k != "size" {
			out[k] = vs
		}
	}
	if page > 1 {
		out.Set("page", strconv.Itoa(page))
	}
	if size != defaultPageSize {
		out.Set("size", strconv.Itoa(size))
	}
	return withQuery("/settings/api-tokens", out)
}

func (h *Handler) listTokens(c echo.Context) error {
	ctx := c.Request().Context()
	u, _ := currentUser(c)
	modules := u.AccountModules
	q, err := parseListQuery(c.QueryParams(), modules)
	if err != nil {
		return err
	}
	sq := store.TokenQuery{
		Search: q.Search, Status: q.Status, Module: q.Module,
		Order: store.TokenOrder(strings.TrimPrefix(q.Order, "-")), Desc: strings.HasPrefix(q.Order, "-"),
		Offset: (q.Page - 1) * q.Size, Limit: q.Size,
	}
	page, err := h.store.ListTokens(ctx, u.AccountID, sq)
	if err != nil {
		return err
	}
	pages := max(1, (page.Total+q.Size-1)/q.Size)
	if q.adjusted || q.Page > pages {
		// A page past the end (a bookmark from when there were more
		// tokens) goes to the last one, a page or size the list does not
		// show to the nearest it does: the URL says what the page shows.
		return c.Redirect(http.StatusSeeOther, pagingURL(c.QueryParams(), min(q.Page, pages), q.Size))
	}

	m := views.TokenList{
		Chrome: h.chrome(c, "API tokens", "api-tokens"),
		Search: q.Search,
		Order:  q.Order,
		Size:   q.Size,
		Total:  page.Total,
		Page:   q.Page,
		Pages:  pages,
	}
	if q.Order == defaultOrder {
		m.Order = ""
	}
	if q.Size == defaultPageSize {
		m.Size = 0
	}
	m.Filtered = q.Search != "" || q.Status != "" || q.Module != ""
	if page.Total == 0 && !m.Filtered {
		m.NoTokensYet = true
	}
	if page.Total > 0 {
		m.From = (q.Page-1)*q.Size + 1
		m.To = m.From + len(page.Tokens) - 1
	}
	m.ClearURL = listQuery{Order: q.Order, Page: 1, Size: q.Size}.url()
	if q.Page > 1 {
		prev := q
		prev.Page--
		m.PrevURL = prev.url()
	}
	if q.Page < pages {
		next := q
		next.Page++
		m.NextURL = next.url()
	}
	m.Statuses = []views.Option{{Value: "", Label: "All statuses", Selected: q.Status == ""}}
	for _, s := range []string{store.StatusActive, store.StatusDisabled} {
		m.Statuses = append(m.Statuses, views.Option{Value: s, Label: s, Selected: q.Status == s})
	}
	m.Modules = []views.Option{{Value: "", Label: "All modules", Selected: q.Module == ""}}
	for _, mod := range modules {
		m.Modules = append(m.Modules, views.Option{Value: mod.ID, Label: mod.Name, Selected: q.Module == mod.ID})
	}
	for _, s := range pageSizes {
		m.Sizes = append(m.Sizes, views.Option{Value: strconv.Itoa(s), Label: strconv.Itoa(s), Selected: q.Size == s})
	}
	m.Headers = sortHeaders(q)
	m.CanAdd = canEdit(u)
	m.ReturnTo = q.url()
	if canToggle(u) {
		m.BulkActions = []views.Option{{Value: "disable", Label: "Disable"}, {Value: "enable", Label: "Enable"}}
	}
	if canEdit(u) {
		m.BulkActions = append(m.BulkActions, views.Option{Value: "delete", Label: "Delete"})
	}
	back := q.values().Encode()
	for _, t := range page.Tokens {
		r := tokenRow(t)
		if back != "" {
			r.URL += "?" + url.Values{"list": {back}}.Encode()
		}
		r.Actions = rowActions(u, t.ID, t.Status, m.ReturnTo)
		m.Rows = append(m.Rows, r)
	}
	return h.render(c, http.StatusOK, views.TokenListView(m))
}

// sortHeaders builds the column headers; a sortable header links to the list
// sorted by its column, flipping the direction when it is already in force.
func sortHeaders(q listQuery) []views.SortHeader {
	cols := []struct {
		label string
		key   store.TokenOrder
		first string // the direction of a first click
	}{
		{"API token", store.OrderName, ""},
		{"Modules", "", ""},
		{"Created by", "", ""},
		{"Date created", store.OrderCreated, "-"},
		{"Last access", store.OrderLastAccess, "-"},
		{"Status", store.OrderStatus, ""},
	}
	cur := strings.TrimPrefix(q.Order, "-")
	desc := strings.HasPrefix(q.Order, "-")
	out := make([]views.SortHeader, 0, len(cols))
	for _, col := range cols {
		h := views.SortHeader{Label: col.label}
		if col.key == "" {
			out = append(out, h)
			continue
		}
		target := q
		target.Page = 1
		target.Order = col.first + string(col.key)
		if cur == string(col.key) {
			if desc {
				h.Sort = "descending"
				target.Order = string(col.key)
			} else {
				h.Sort = "ascending"
				target.Order = "-" + string(col.key)
			}
		}
		h.URL = target.url()
		out = append(out, h)
	}
	return out
}

func tokenRow(t store.Token) views.TokenRow {
	r := views.TokenRow{
		ID:            t.ID,
		Name:          t.Name,
		URL:           "/settings/api-tokens/" + t.ID,
		Avatar:        views.Avatar{Initials: initials(t.Name), Color: avatarColor(t.ID)},
		ModuleCount:   len(t.Modules),
		CreatedByName: t.CreatedBy.Name,
		CreatedByID:   t.CreatedBy.ID,
		Created:       formatDateTime(t.CreatedAt),
		Status:        t.Status,
	}
	if !t.LastAccessAt.IsZero() {
		r.LastAccess = formatDateTime(t.LastAccessAt)
	}
	if t.LogoType != "" {
		r.Avatar.LogoURL = logoURL(t)
	}
	names := make([]string, len(t.Modules))
	for i, m := range t.Modules {
		names[i] = m.Name
	}
	r.ModuleNames = strings.Join(names, ", ")
	if len(t.Modules) == 1 {
		r.ModuleName, r.ModuleID = t.Modules[0].Name, t.Modules[0].ID
	}
	return r
}

// avatarColor picks one of eight avatar colours, stable for an id.
func avatarColor(id string) int {
	f := fnv.New32a()
	f.Write([]byte(id))
	return int(f.Sum32() % 8)
}

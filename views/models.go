// Package views renders Gatehouse's pages with templ. Every page takes one
// view model made of plain values; views never reach the store.
package views

// Chrome is what every page of the console shows around its content.
type Chrome struct {
	Title   string // the page's own title, before " · Gatehouse"
	CSRF    string
	CSSURL  string
	JSURL   string
	User    *CurrentUser // nil on pages shown before login
	Nav     string       // the active navigation item: "api-tokens" or "audit-trail"
	Flash   string       // a one-time success message
	Warning string       // a one-time warning message
}

// CurrentUser is the logged-in user as the top bar shows them.
type CurrentUser struct {
	Name        string
	Initials    string
	Role        string
	AccountName string
	AccountType string
	AccountID   string
}

// DateTime is an instant as the console shows it: date above time.
// A zero value renders as an em dash.
type DateTime struct {
	ISO  string // for <time datetime>
	Date string // 15 Apr 2023
	Time string // 12:34
}

// Avatar is an initials badge or a logo.
type Avatar struct {
	Initials string
	Color    int    // 0–7, picks the background
	LogoURL  string // when set, shown instead of the initials
}

// Login is the sign-in page.
type Login struct {
	Chrome
	Email      string
	Error      string
	Next       string
	LoggedOut  bool
	RetryAfter int // seconds, when throttled
}

// ErrorPage is the page of a 4xx or 5xx response.
type ErrorPage struct {
	Chrome
	Status  int
	Heading string
	Message string
	BackURL string
}

// Option is one choice of a select element.
type Option struct {
	Value    string
	Label    string
	Selected bool
}

// SortHeader is a column header that sorts the list when clicked.
type SortHeader struct {
	Label string
	URL   string
	Sort  string // "ascending", "descending" or "" for aria-sort
}

// TokenRow is one row of the API tokens list.
type TokenRow struct {
	ID            string
	Name          string
	URL           string
	Avatar        Avatar
	ModuleCount   int
	ModuleName    string // the only module, when there is one
	ModuleID      string
	ModuleNames   string // all modules, for the tooltip of "+N"
	CreatedByName string
	CreatedByID   string
	Created       DateTime
	LastAccess    DateTime
	Status        string
}

// TokenList is the Settings > API tokens page.
type TokenList struct {
	Chrome
	Rows        []TokenRow
	Search      string
	Statuses    []Option
	Modules     []Option
	Sizes       []Option
	Headers     []SortHeader
	Order       string // the order query value, carried by the forms
	Size        int
	Total       int
	From, To    int
	Page, Pages int
	PrevURL     string
	NextURL     string
	ClearURL    string
	Filtered    bool // a search or filter is in force
	NoTokensYet bool // the account has no live tokens at all
}

// Tab is one tab of a tabbed page.
type Tab struct {
	Label   string
	URL     string
	Current bool
}

// ModuleItem is a granted module as the Modules tab lists it.
type ModuleItem struct {
	ID          string
	Name        string
	Description string
}

// TokenPage is the details page of one token, whichever tab is open.
type TokenPage struct {
	Chrome
	ID          string
	Name        string
	Status      string
	Avatar      Avatar
	BackURL     string // the list, with the query it had
	Tab         string // general, modules, details or audit
	Tabs        []Tab
	AccountName string
	AccountID   string
	LastAccess  DateTime
	CanEdit     bool // administrators: Edit, Delete
	CanToggle   bool // administrators and operators: Enable / Disable

	// General
	Description string
	APIEndpoint string
	MaskedValue string
	CanReveal   bool
	RevealURL   string
	Value       string // set only in the response to a Show

	// Modules
	Modules []ModuleItem

	// Details
	Created         DateTime
	CreatedBy       string
	Updated         DateTime
	UpdatedBy       string
	LastAccessIP    string
	LastAccessAgent string
	Disabled        bool
	DisabledAt      DateTime
	DisabledBy      string
	DisabledReason  string

	// Audit trail
	Audit AuditGrid
}

// AuditRow is one record in an audit grid.
type AuditRow struct {
	ID         string
	When       DateTime
	Event      string // short: created, disabled, …
	ActorName  string
	ActorID    string
	IP         string
	UserAgent  string
	Summary    string
	ObjectType string
	ObjectID   string
	ObjectName string
	URL        string // the record's own page
}

// AuditGrid is the filterable, pageable table of audit records shown on a
// token's Audit trail tab and on the account's Audit trail page.
type AuditGrid struct {
	Action     string // where the filter form submits
	Hidden     []Option
	ShowObject bool // the account-wide grid has Object columns
	Rows       []AuditRow
	Events     []Option
	From       string
	To         string
	Errors     map[string]string
	Total      string // "37" or "10,000+"
	NewerURL   string
	OlderURL   string
	NewestURL  string
	ExportCSV  string
	ExportJSON string
	Filtered   bool
	ClearURL   string
}

// AuditTrailPage is the account's whole audit trail.
type AuditTrailPage struct {
	Chrome
	Audit AuditGrid
}

// AuditRecordPage shows one audit record with all its fields.
type AuditRecordPage struct {
	Chrome
	BackURL    string
	ID         string
	When       DateTime
	Millis     string
	Event      string
	ObjectType string
	ObjectID   string
	ObjectName string
	ObjectURL  string // the token's page, while it exists
	ActorType  string
	ActorID    string
	ActorName  string
	IP         string
	UserAgent  string
	Summary    string
	Details    string // indented JSON
	Hash       string
	PrevHash   string
}

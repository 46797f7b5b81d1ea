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
	Notice  string       // a one-time neutral notice
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
	ErrorField string // "email" or "password": the field Error is about ("" for neither)
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
	// RetryURL, when set, is offered as "Try again": the same request may
	// well succeed in a moment (the database was unavailable).
	RetryURL string
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
	Actions       []RowAction // the ••• menu; empty for viewers
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
	CanAdd      bool
	BulkActions []Option // Value: action, Label: button text
	ReturnTo    string   // this list view, for actions to come back to
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
	CanEdit     bool   // administrators: Edit, Delete
	EditURL     string // the Edit form, coming back here

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
	Actions         []RowAction
	DisabledAt      DateTime
	DisabledBy      string
	DisabledReason  string

	// Audit trail
	Audit AuditGrid

	// Deleted: only the Audit trail tab is left, read-only, under a banner
	// saying who deleted the token and when (either may be unknown).
	Deleted   bool
	DeletedAt DateTime
	DeletedBy string
	TrailURL  string // the account's trail filtered by the token
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
	Reason     string // the reason a Disable gave, if any
	ObjectType string
	ObjectID   string
	ObjectName string
	ObjectURL  string // the token's page, or a deleted token's audit trail
	URL        string // the record's own page
}

// AuditGrid is the filterable, pageable table of audit records shown on a
// token's Audit trail tab and on the account's Audit trail page.
type AuditGrid struct {
	Action     string // where the filter form submits
	Hidden     []Option
	ShowObject bool // the account-wide grid has Object columns, and object and actor filters
	Rows       []AuditRow
	Events     []Option
	Actors     []Option
	Object     string // an id or the start of a token's name, as typed
	ObjectNote string // which tokens the name in Object stands for
	From       string
	To         string
	Errors     map[string]string // by field: object, actor, from, to
	Invalid    bool              // a filter could not be read: no records, no export
	Total      string            // "1 record", "37 records" or "10,000+ records"
	NewerURL   string
	OlderURL   string
	NewestURL  string
	ExportCSV  string // "" when there is nothing to export
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
	ObjectURL  string // the token's page, or a deleted token's audit trail
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

// RowAction is one item of a token's action menu.
type RowAction struct {
	Label  string
	URL    string
	Danger bool
	Dialog bool // opens the confirmation as a dialog when JavaScript runs
	// Toggle marks Enable or Disable, the menu's first group: a divider
	// sets it apart from the items after it (SPEC §3.2).
	Toggle bool
}

// ConfirmPage asks to confirm Enable, Disable or Delete of one token: the
// page without JavaScript, the dialog's content with it.
type ConfirmPage struct {
	Chrome
	Action      string // disable, enable or delete
	Title       string // "Disable API token"
	Verb        string // "Disable"
	ID          string
	Name        string
	Status      string
	LastAccess  DateTime
	Modules     []ModuleItem
	Version     int64
	Reason      string
	ReasonError string
	Problem     string // why the action cannot be confirmed (stale, wrong state)
	CanConfirm  bool
	ReturnTo    string
	CancelURL   string
}

// BulkItem is one token in a bulk confirmation.
type BulkItem struct {
	ID      string
	Name    string
	Status  string
	Version int64
	Problem string // why this token will be left as it is
}

// BulkConfirmPage lists the tokens a bulk action will change and those it
// cannot.
type BulkConfirmPage struct {
	Chrome
	Action      string
	Title       string
	Verb        string
	Items       []BulkItem
	Applies     int
	Stale       bool // a selected token is gone since the list was shown: closing reloads it
	ReturnTo    string
	CancelURL   string
	Reason      string // Disable: the reason given, kept on an error
	ReasonError string
}

// TokenForm is the Add wizard and the Edit form: Values and Errors by field.
type TokenForm struct {
	Chrome
	Step        int    // Add: 1 General, 2 Modules, 3 Overview; 0 for Edit
	Edit        bool   // the Edit form (all fields, one Save)
	ID          string // Edit: the token
	Version     int64
	Name        string
	Description string
	Modules     []ModuleChoice
	LogoUpload  string // Add: the id of the uploaded logo carried between steps
	LogoURL     string // the logo shown: the upload's or the token's
	HasLogo     bool
	RemoveLogo  bool
	Errors      map[string]string
	Problem     string // a message about the whole form (a conflict)
	CancelURL   string
	Avatar      Avatar
	Draft       string // Add: the draft the wizard keeps on the server
	// Location, when set, is the address of this page as a GET shows it
	// again: app.js puts it in the address bar of a page answering a POST
	// (a step with errors), so that Reload and Back send nothing.
	Location string
	ReturnTo string // Edit: where Save and Cancel lead (the list as left)
	// Conflict lists, after a Save against a stale version, the fields
	// whose saved value (theirs, saved by ConflictBy) differs from the one
	// typed (yours).
	Conflict   []ConflictField
	ConflictBy string
}

// ConflictField is a field of the Edit form as saved now (theirs) and as
// typed (yours). A logo is an image URL, or none.
type ConflictField struct {
	Field      string // name, description, modules or logo
	Label      string
	Theirs     string
	Yours      string
	TheirsLogo string
	YoursLogo  string
}

// ModuleChoice is a module offered in a form.
type ModuleChoice struct {
	ID          string
	Name        string
	Description string
	Checked     bool
}

// CreatedPage is step 4 of the Add wizard: the token exists.
type CreatedPage struct {
	Chrome
	ID          string
	Name        string
	MaskedValue string
	Value       string
	RevealURL   string
	DetailsURL  string
}

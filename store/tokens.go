package store

import (
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Token statuses of SPEC §2.4.
const (
	StatusActive   = "Active"
	StatusDisabled = "Disabled"
	StatusDeleted  = "Deleted"
)

// Action is a change of a token's status: Enable, Disable or Delete.
type Action string

// The actions of the token state machine.
const (
	ActionDisable Action = "disable"
	ActionEnable  Action = "enable"
	ActionDelete  Action = "delete"
)

// Transition is one edge of the token state machine (SPEC §2.4): the
// statuses an action applies to, the status it leads to, and the audit
// event it records.
type Transition struct {
	From  []string
	To    string
	Event string
}

// Transitions is the token state machine, stated once: the console, the API
// and the engines all ask it. Add leads to Active; Deleted is final.
var Transitions = map[Action]Transition{
	ActionDisable: {From: []string{StatusActive}, To: StatusDisabled, Event: EventTokenDisabled},
	ActionEnable:  {From: []string{StatusDisabled}, To: StatusActive, Event: EventTokenEnabled},
	ActionDelete:  {From: []string{StatusActive, StatusDisabled}, To: StatusDeleted, Event: EventTokenDeleted},
}

// Applies reports whether the action can be taken on a token in status.
func (a Action) Applies(status string) bool {
	return slices.Contains(Transitions[a].From, status)
}

// Limits of the token fields.
const (
	MaxNameLength        = 200
	MaxDescriptionLength = 2000
	MaxLogoBytes         = 5 << 20
)

// ActorRef names who did something, as recorded at the time.
type ActorRef struct {
	ID   string
	Name string
}

// Token is an API token as the console and the API show it. The value is
// never part of it.
type Token struct {
	ID              string
	AccountID       string
	AccountName     string
	Name            string
	Description     string
	Status          string
	LogoType        string
	Modules         []Module
	CreatedAt       time.Time
	CreatedBy       ActorRef
	UpdatedAt       time.Time
	UpdatedBy       ActorRef
	LastAccessAt    time.Time // zero: never used
	LastAccessIP    string
	LastAccessAgent string
	DisabledAt      time.Time // zero unless disabled
	DisabledBy      ActorRef
	DisabledReason  string
	Version         int64
}

// DeletedToken is what the console still shows of a deleted token beside
// its audit trail: which token it was, and who deleted it when (zero when
// nothing tells).
type DeletedToken struct {
	ID          string
	AccountID   string
	AccountName string
	Name        string
	DeletedAt   time.Time
	DeletedBy   ActorRef
}

// TokenMatch is a token found by its name, deleted ones included.
type TokenMatch struct {
	ID     string
	Name   string
	Status string
}

// NewToken holds the fields of a token being added.
type NewToken struct {
	Name        string
	Description string
	ModuleIDs   []string
	Logo        []byte
	// DraftID, when set, names the actor's draft (TokenDraft) the token is
	// added from: it is marked added in the same transaction, and a draft
	// added already (or not the actor's) is ErrConflict, so that a draft
	// sent twice adds one token.
	DraftID string
}

// ValidateToken normalises a token's fields (the name trimmed, modules
// without repeats, the logo re-encoded by NormalizeLogo) and checks them,
// returning the logo's content type and the message of each invalid field:
// the one validation the console and the API share. Whether the modules are
// enabled for the account is the engine's to check. Decoding a logo takes
// time and memory, so an engine calls this before its transaction.
func ValidateToken(nt *NewToken) (logoType string, errs map[string]string) {
	errs = map[string]string{}
	nt.Name = strings.TrimSpace(nt.Name)
	if m := ValidateName(nt.Name); m != "" {
		errs["name"] = m
	}
	if m := ValidateDescription(nt.Description); m != "" {
		errs["description"] = m
	}
	if len(nt.Logo) > 0 {
		var m string
		if nt.Logo, logoType, m = NormalizeLogo(nt.Logo); m != "" {
			errs["logo"] = m
		}
	}
	seen := map[string]bool{}
	unique := nt.ModuleIDs[:0:0]
	for _, m := range nt.ModuleIDs {
		if !seen[m] {
			seen[m] = true
			unique = append(unique, m)
		}
	}
	nt.ModuleIDs = unique
	return logoType, errs
}

// ValidateName checks a token name against SPEC §2.4 and returns the message
// for the field, or "".
func ValidateName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "Name contains invalid characters."
	case strings.TrimSpace(name) == "":
		return "Name is required."
	case utf8.RuneCountInString(name) > MaxNameLength:
		return fmt.Sprintf("Name must be at most %d characters (it has %d).", MaxNameLength, utf8.RuneCountInString(name))
	}
	for _, r := range name {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(" -.'\"", r) {
			return fmt.Sprintf("Name may contain letters, digits, spaces, hyphens, periods, apostrophes and quotation marks, not %q.", r)
		}
	}
	return ""
}

// ValidateDescription checks a token description and returns the message for
// the field, or "".
func ValidateDescription(d string) string {
	switch {
	case !utf8.ValidString(d):
		return "Description contains invalid characters."
	case utf8.RuneCountInString(d) > MaxDescriptionLength:
		return fmt.Sprintf("Description must be at most %d characters (it has %d).", MaxDescriptionLength, utf8.RuneCountInString(d))
	}
	for _, r := range d {
		if unicode.IsControl(r) && r != '\n' && r != '\r' && r != '\t' {
			return "Description contains control characters."
		}
	}
	return ""
}

// TokenOrder is a sort key of the token list.
type TokenOrder string

// The list's sort keys.
const (
	OrderName       TokenOrder = "name"
	OrderCreated    TokenOrder = "created"
	OrderLastAccess TokenOrder = "lastAccess"
	OrderStatus     TokenOrder = "status"
)

// consoleOrder maps the console's sort keys to field paths: status sorts
// by name within each status.
var consoleOrder = map[TokenOrder][]string{
	OrderName:       {"name"},
	OrderCreated:    {"audit.created.at"},
	OrderLastAccess: {"lastAccessAt"},
	OrderStatus:     {"status", "name"},
}

// ValidTokenOrder reports whether o is a known sort key.
func ValidTokenOrder(o TokenOrder) bool {
	_, ok := consoleOrder[o]
	return ok
}

// TokenQuery selects a page of an account's live tokens.
type TokenQuery struct {
	Search string // matched against name, id and description
	Status string // "" for any live status
	Module string // "" for any
	Order  TokenOrder
	Desc   bool
	Offset int
	Limit  int
	Filter *Filter   // an RQL condition from the API
	Sort   []SortKey // the API's order; when set, Order and Desc are ignored
}

// SortKeys is the query's order as field paths.
func (q TokenQuery) SortKeys() []SortKey {
	if len(q.Sort) > 0 {
		return q.Sort
	}
	paths, ok := consoleOrder[q.Order]
	if !ok {
		paths = consoleOrder[OrderCreated]
	}
	keys := make([]SortKey, len(paths))
	for i, p := range paths {
		keys[i] = SortKey{Field: p, Desc: q.Desc}
	}
	return keys
}

// TokenPage is one page of tokens and the number of tokens matching in all.
type TokenPage struct {
	Tokens []Token
	Total  int
}

// TokenUpdate is an edit of a token's general fields and modules.
type TokenUpdate struct {
	Name        string
	Description string
	ModuleIDs   []string
	Logo        []byte // a new logo; nil keeps the current one
	RemoveLogo  bool
}

// TokenChange is one entry of the change log the verify caches follow: the
// token whose answer may have changed, in commit order.
type TokenChange struct {
	Seq     int64
	TokenID string
}

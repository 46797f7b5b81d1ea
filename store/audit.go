package store

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

// Audit event names of SPEC §2.5.
const (
	EventTokenCreated     = "platform.accounts.api-token.created"
	EventTokenUpdated     = "platform.accounts.api-token.updated"
	EventTokenEnabled     = "platform.accounts.api-token.enabled"
	EventTokenDisabled    = "platform.accounts.api-token.disabled"
	EventTokenDeleted     = "platform.accounts.api-token.deleted"
	EventTokenValueViewed = "platform.accounts.api-token.value-viewed"
	EventTokenRejected    = "platform.accounts.api-token.rejected"
	// EventAccountCreated and EventAccountUpdated are about the account
	// itself: added, or its enabled modules changed (from the command
	// line). They are in the account's own trail, beside its tokens'.
	EventAccountCreated = "platform.accounts.account.created"
	EventAccountUpdated = "platform.accounts.account.updated"
)

// Object types of audit records: what a record is about.
const (
	ObjectTypeToken   = "API token"
	ObjectTypeAccount = "Account"
)

// Actor is who makes a change: a user of the console, a token calling the
// API, or the system itself, with the client's address and user agent.
type Actor struct {
	Type      string // "user", "token" or "system"
	ID        string
	Name      string
	IP        string
	UserAgent string
}

// UserActor returns the actor for a console user.
func UserActor(u User, ip, userAgent string) Actor {
	return Actor{Type: "user", ID: u.ID, Name: u.Name, IP: ip, UserAgent: userAgent}
}

// SystemActor is the actor of changes made from the command line.
var SystemActor = Actor{Type: "system", ID: "SYSTEM", Name: "Gatehouse"}

// AuditRecord is one entry of the tamper-evident audit trail.
type AuditRecord struct {
	Seq        int64
	ID         string
	AccountID  string
	OccurredAt time.Time
	Event      string
	ObjectType string
	ObjectID   string
	ObjectName string
	Actor      Actor
	Summary    string
	Details    string // JSON: what changed, never a secret
	PrevHash   string
	Hash       string
}

// Change is the before and after of one field in an audit record's details.
type Change struct {
	Before any `json:"before"`
	After  any `json:"after"`
}

// ChainHash is the hash of a record chained to its predecessor's hash.
func ChainHash(prev string, r AuditRecord) string {
	canonical, _ := json.Marshal([]any{
		r.ID, r.AccountID, r.OccurredAt.UnixMilli(), r.Event,
		r.ObjectType, r.ObjectID, r.ObjectName,
		r.Actor.Type, r.Actor.ID, r.Actor.Name, r.Actor.IP, r.Actor.UserAgent,
		r.Summary, r.Details,
	})
	h := sha256.New()
	h.Write([]byte(prev))
	h.Write([]byte{'\n'})
	h.Write(canonical)
	return hex.EncodeToString(h.Sum(nil))
}

// AuditEvents are the event names, in the order filters offer them.
var AuditEvents = []string{
	EventTokenCreated, EventTokenUpdated, EventTokenEnabled, EventTokenDisabled,
	EventTokenDeleted, EventTokenValueViewed, EventTokenRejected,
	EventAccountCreated, EventAccountUpdated,
}

// AuditCountCap bounds how far a trail's records are counted; past it a
// total reads "10,000+" rather than costing a scan of the whole trail.
const AuditCountCap = 10_000

// AuditQuery selects records of an account's trail, newest first.
type AuditQuery struct {
	ObjectID string // "" for the whole account
	// ObjectIDs are more objects: a record about any of them, or about
	// ObjectID, matches (the tokens a name filter found).
	ObjectIDs []string
	ActorID   string    // "" for every actor: a user, a token or SYSTEM
	ActorType string    // "user", "token" or "system"; "" for every type
	Event     string    // "" for every event
	From      time.Time // inclusive; zero: no lower bound
	To        time.Time // exclusive; zero: no upper bound
	Before    string    // cursor: only records older than it (the next page)
	After     string    // cursor: only records newer than it (the previous page)
	Limit     int
}

// AuditPage is one page of the trail with cursors to its neighbours.
type AuditPage struct {
	Records     []AuditRecord
	Older       string // cursor of the next, older page; "" at the end
	Newer       string // cursor of the previous, newer page; "" at the start
	Total       int    // matching records, counted up to AuditCountCap
	TotalCapped bool   // more than AuditCountCap match
}

// AuditCursor marks a record's place in the newest-first order.
func AuditCursor(r AuditRecord) string {
	return strconv.FormatInt(r.OccurredAt.UnixMilli(), 10) + "-" + strconv.FormatInt(r.Seq, 10)
}

// ParseAuditCursor reads a cursor; ok is false for anything malformed.
func ParseAuditCursor(c string) (ms, seq int64, ok bool) {
	a, b, found := strings.Cut(c, "-")
	if !found {
		return 0, 0, false
	}
	ms, err1 := strconv.ParseInt(a, 10, 64)
	seq, err2 := strconv.ParseInt(b, 10, 64)
	return ms, seq, err1 == nil && err2 == nil && ms >= 0 && seq >= 0
}

// ValidAuditCursor reports whether c is a well-formed page cursor.
func ValidAuditCursor(c string) bool {
	_, _, ok := ParseAuditCursor(c)
	return ok
}

// VerifyResult is the outcome of walking the audit chain.
type VerifyResult struct {
	Count   int         // records checked
	Last    AuditAnchor // the last record found good: the head, when intact
	BadID   string      // the first record that does not match; "" when intact
	BadSeq  int64
	Problem string
}

// AuditAnchor pins a record of the chain by its position and hash. The chain
// alone cannot show that its newest records were cut off, or that someone
// who holds the database recomputed it from some record on; an anchor kept
// somewhere else can. The server logs the head's anchor at start and hourly,
// and "gatehouse audit verify --anchor" checks one.
type AuditAnchor struct {
	Seq  int64
	ID   string // the record's AUD id (not part of the written form)
	Hash string
}

// String is the anchor's written form, SEQ:HASH.
func (a AuditAnchor) String() string { return strconv.FormatInt(a.Seq, 10) + ":" + a.Hash }

// ParseAuditAnchor reads SEQ:HASH, as String writes it.
func ParseAuditAnchor(s string) (AuditAnchor, bool) {
	seq, hash, ok := strings.Cut(strings.TrimSpace(s), ":")
	n, err := strconv.ParseInt(seq, 10, 64)
	if !ok || err != nil || n < 1 || len(hash) != sha256.Size*2 {
		return AuditAnchor{}, false
	}
	if _, err := hex.DecodeString(hash); err != nil || strings.ToLower(hash) != hash {
		return AuditAnchor{}, false
	}
	return AuditAnchor{Seq: n, Hash: hash}, true
}

// AuditOffsetQuery selects records of the API's view of the trail.
type AuditOffsetQuery struct {
	Filter        *Filter
	Sort          []SortKey // newest first when empty
	Offset, Limit int
}

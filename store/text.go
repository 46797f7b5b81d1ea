package store

import (
	"strings"
	"unicode/utf8"
)

// MaxUserAgentBytes bounds the user agent kept with an audit record or a
// token's last access; longer ones are cut on a character boundary.
const MaxUserAgentBytes = 512

// CleanText returns s as Gatehouse records text: valid UTF-8, each byte
// that is not part of a valid sequence replaced by U+FFFD (as encoding/json
// does, so a record's hash is over the same characters), and NUL, which
// PostgreSQL cannot store, replaced too. Text that is already clean is
// returned as it is, without a copy.
func CleanText(s string) string {
	if utf8.ValidString(s) && strings.IndexByte(s, 0) < 0 {
		return s
	}
	var b strings.Builder
	b.Grow(len(s) + 8)
	for i := 0; i < len(s); {
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == 0 || (r == utf8.RuneError && size == 1) {
			b.WriteRune(utf8.RuneError)
		} else {
			b.WriteString(s[i : i+size])
		}
		i += size
	}
	return b.String()
}

// CleanUserAgent is CleanText bounded to MaxUserAgentBytes.
func CleanUserAgent(s string) string {
	s = CleanText(s)
	if len(s) <= MaxUserAgentBytes {
		return s
	}
	cut := MaxUserAgentBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut]
}

// Normalized returns the record with every text field cleaned (CleanText,
// the user agent bounded too). The store normalises a record once, before
// it is both hashed and stored, so the bytes stored are the bytes hashed.
// (The hash encodes an invalid byte as the escape \ufffd, whichever byte it
// was, and a stored U+FFFD as itself: once stored text is always valid, a
// byte swapped in for it afterwards changes the hash.)
func (r AuditRecord) Normalized() AuditRecord {
	r.AccountID = CleanText(r.AccountID)
	r.Event = CleanText(r.Event)
	r.ObjectType = CleanText(r.ObjectType)
	r.ObjectID = CleanText(r.ObjectID)
	r.ObjectName = CleanText(r.ObjectName)
	r.Actor.Type = CleanText(r.Actor.Type)
	r.Actor.ID = CleanText(r.Actor.ID)
	r.Actor.Name = CleanText(r.Actor.Name)
	r.Actor.IP = CleanText(r.Actor.IP)
	r.Actor.UserAgent = CleanUserAgent(r.Actor.UserAgent)
	r.Summary = CleanText(r.Summary)
	r.Details = CleanText(r.Details)
	return r
}

package store

import (
	"crypto/sha256"
	"encoding/hex"
	"time"
)

// Session is a server-side login session. The id itself is never stored:
// the table keys on its SHA-256.
type Session struct {
	UserID     string
	Data       string
	CreatedAt  time.Time
	LastSeenAt time.Time
	// User is the session's user, read with the session in the same query
	// (zero when the session has no user, or the user is gone).
	User User
}

func SessionKey(id string) string {
	sum := sha256.Sum256([]byte(id))
	return hex.EncodeToString(sum[:])
}

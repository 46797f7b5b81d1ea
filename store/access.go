package store

import (
	"time"
)

// Access is one use of a token: when, from where, with what client.
type Access struct {
	TokenID   string
	At        time.Time
	IP        string
	UserAgent string
}

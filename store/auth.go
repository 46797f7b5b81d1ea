package store

import (
	"time"
)

// AuthToken is what authenticating a call needs to know about a token: its
// hash to compare, its status, its account and its modules.
type AuthToken struct {
	ID          string
	Hash        []byte
	Name        string
	Status      string
	AccountID   string
	AccountName string
	Modules     []Module
}

// HasModule reports whether the token is granted the module.
func (t AuthToken) HasModule(id string) bool {
	for _, m := range t.Modules {
		if m.ID == id {
			return true
		}
	}
	return false
}

// RejectionGrace is how long after a minute ends its refused calls are
// recorded: time for every process to have flushed its counts of it (they
// flush every few seconds).
const RejectionGrace = 15 * time.Second

// Rejection counts the calls refused for one token in one minute.
type Rejection struct {
	TokenID   string
	Minute    time.Time
	Count     int
	Status    string // the token's status then: Disabled or Deleted
	IP        string // of the last refused call
	UserAgent string
}

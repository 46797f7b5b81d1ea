// Package store is Gatehouse's domain: accounts, users, sessions, API tokens
// and the audit trail as types, with the rules no engine changes — the
// errors, validation, the token value and its sealer, password hashing, the
// filter tree and the audit hash. The engines that keep them (store/sqlite)
// live in packages under it; store imports nothing else of Gatehouse's.
package store

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"math"
	"sort"
	"strconv"
	"strings"
	// registers the "sqlite" driver
)

// Sentinel errors returned by the store; the HTTP layer maps them to statuses.
var (
	// ErrNotFound means the object does not exist or is not visible to the caller.
	ErrNotFound = errors.New("not found")
	// ErrConflict means the object changed since the caller read it.
	ErrConflict = errors.New("conflict")
	// ErrInvalidTransition means the requested state change is not allowed.
	ErrInvalidTransition = errors.New("invalid state transition")
	// ErrDuplicate means a unique value (such as an email) is already taken.
	ErrDuplicate = errors.New("already exists")
	// ErrUnavailable means the database cannot be reached for now: it is
	// down, restarting, or the connection to it broke. Nothing is wrong
	// with the request, and the same request may succeed in a moment. The
	// engines wrap their driver's errors of that kind in it; an engine that
	// cannot be unavailable (SQLite, a file) never returns it.
	ErrUnavailable = errors.New("database unavailable")
	// ErrNoWatch means the engine sends no notifications of changes (SQLite,
	// where one process owns the database): who follows the change log
	// polls it.
	ErrNoWatch = errors.New("this engine sends no change notifications")
)

// ValidationError reports invalid input field by field.
type ValidationError struct {
	Fields map[string]string
}

func (e *ValidationError) Error() string {
	keys := make([]string, 0, len(e.Fields))
	for k := range e.Fields {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+": "+e.Fields[k])
	}
	return "invalid input: " + strings.Join(parts, "; ")
}

// digits returns n (at most 19) random decimal digits from crypto/rand.
func digits(n int) string {
	limit := uint64(1)
	for range n {
		limit *= 10
	}
	// Reject the top of the range so that every value is equally likely.
	top := (math.MaxUint64 / limit) * limit
	var b [8]byte
	for {
		if _, err := rand.Read(b[:]); err != nil {
			panic("crypto/rand failed: " + err.Error())
		}
		if v := binary.LittleEndian.Uint64(b[:]); v < top {
			s := strconv.FormatUint(v%limit, 10)
			return strings.Repeat("0", n-len(s)) + s
		}
	}
}

// NewID returns a random identifier such as ACC-1234-5678: prefix followed by
// groups of four random digits.
func NewID(prefix string, groups int) string {
	d := digits(4 * groups)
	parts := []string{prefix}
	for i := range groups {
		parts = append(parts, d[4*i:4*i+4])
	}
	return strings.Join(parts, "-")
}

package store

import (
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Account types of SPEC §2.2.
const (
	AccountClient     = "Client"
	AccountVendor     = "Vendor"
	AccountOperations = "Operations"
)

// ValidAccountType reports whether t is one of the three account types.
func ValidAccountType(t string) bool {
	return t == AccountClient || t == AccountVendor || t == AccountOperations
}

// Account is a tenant of the platform.
type Account struct {
	ID        string
	Name      string
	Type      string
	CreatedAt time.Time
}

// Module is an entry of the module catalogue.
type Module struct {
	ID          string
	Name        string
	Description string
}

// NewAccount holds what is needed to add an account: its name, its type and
// the modules enabled for it.
type NewAccount struct {
	Name      string
	Type      string
	ModuleIDs []string
}

// MaxAccountNameLength is the longest account name accepted, in characters.
const MaxAccountNameLength = 200

// ValidateNewAccount checks an account's name and type, trimming the name
// and dropping repeated module ids, and returns the message of each field
// that is wrong. Whether the modules are in the catalogue is the engine's to
// check: the catalogue lives in the database.
func ValidateNewAccount(na *NewAccount) map[string]string {
	errs := map[string]string{}
	na.Name = strings.TrimSpace(na.Name)
	if m := ValidateAccountName(na.Name); m != "" {
		errs["name"] = m
	}
	if !ValidAccountType(na.Type) {
		errs["type"] = fmt.Sprintf("must be Client, Vendor or Operations, not %q", na.Type)
	}
	seen := map[string]bool{}
	unique := na.ModuleIDs[:0:0]
	for _, m := range na.ModuleIDs {
		if !seen[m] {
			seen[m] = true
			unique = append(unique, m)
		}
	}
	na.ModuleIDs = unique
	return errs
}

// ValidateAccountName checks an account's name and returns the message for
// the field, or "". A company's name may hold more than a token's (an
// ampersand, a comma, parentheses), but no control character.
func ValidateAccountName(name string) string {
	switch {
	case !utf8.ValidString(name):
		return "contains invalid characters"
	case strings.TrimSpace(name) == "":
		return "is required"
	case utf8.RuneCountInString(name) > MaxAccountNameLength:
		return fmt.Sprintf("must be at most %d characters (it has %d)", MaxAccountNameLength, utf8.RuneCountInString(name))
	case strings.ContainsFunc(name, unicode.IsControl):
		return "contains control characters"
	}
	return ""
}

// AccountModulesChange is what a change of an account's enabled modules did.
type AccountModulesChange struct {
	Account Account
	// Enabled and Disabled are the modules whose state changed, in
	// catalogue order; a module asked for that was already so is in
	// neither.
	Enabled, Disabled []Module
	// Modules are the account's modules after the change, in catalogue
	// order.
	Modules []Module
	// Tokens are the account's live tokens that lost a disabled module:
	// a token holds only modules its account has.
	Tokens []TokenRef
}

// TokenRef names a token.
type TokenRef struct {
	ID   string
	Name string
}

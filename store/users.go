package store

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
)

// Roles of SPEC §2.3.
const (
	RoleAdministrator = "Administrator"
	RoleOperator      = "Operator"
	RoleViewer        = "Viewer"
)

// ValidRole reports whether r is one of the three roles.
func ValidRole(r string) bool {
	return r == RoleAdministrator || r == RoleOperator || r == RoleViewer
}

// User is a person who logs in to the console.
type User struct {
	ID          string
	AccountID   string
	AccountName string
	AccountType string
	Email       string
	Name        string
	Role        string
	CreatedAt   time.Time
	// AccountModules are the modules enabled for the user's account, in
	// catalogue order, read with the user.
	AccountModules []Module
}

// NewUser holds what is needed to add a user.
type NewUser struct {
	AccountID string
	Email     string
	Name      string
	Role      string
	Password  string
}

// MinPasswordLength is the shortest password accepted.
const MinPasswordLength = 12

func ValidateNewUser(u NewUser) error {
	errs := map[string]string{}
	if a, err := mail.ParseAddress(u.Email); err != nil || a.Address != u.Email {
		errs["email"] = "must be a plain email address"
	}
	if strings.TrimSpace(u.Name) == "" || len(u.Name) > 200 {
		errs["name"] = "is required and at most 200 characters"
	}
	if !ValidRole(u.Role) {
		errs["role"] = "must be Administrator, Operator or Viewer"
	}
	if len(u.Password) < MinPasswordLength {
		errs["password"] = fmt.Sprintf("must be at least %d characters", MinPasswordLength)
	}
	if len(errs) > 0 {
		return &ValidationError{Fields: errs}
	}
	return nil
}

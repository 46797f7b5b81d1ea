package store

import (
	"time"
)

// Account types of SPEC §2.2.
const (
	AccountClient     = "Client"
	AccountVendor     = "Vendor"
	AccountOperations = "Operations"
)

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

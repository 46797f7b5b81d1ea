package handlers

import (
	"testing"

	"gatehouse/store/pgtest"
)

// TestMain stops the throwaway PostgreSQL, if the tests started one.
func TestMain(m *testing.M) { pgtest.Main(m) }

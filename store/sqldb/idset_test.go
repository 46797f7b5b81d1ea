package sqldb

import "testing"

func TestIDSet(t *testing.T) {
	s := newIDSet("AUD", 4)
	for _, c := range []struct {
		id  string
		new bool
	}{
		{"AUD-0000-0000-0000-0001", true},
		{"AUD-0000-0000-0000-0001", false},
		{"AUD-0000-0000-0000-0010", true},
		{"AUD-0000-0000-0001-0000", true},
		{"AUD-0000-0000-00010000", true}, // not NewID's form: kept as a string
		{"AUD-0000-0000-00010000", false},
		{"AUD-0000-0000-0000-000x", true},
		{"TKN-0000-0000-0000-0001", true},
		{"AUD-9999-9999-9999-9999", true},
		{"AUD-9999-9999-9999-9999", false},
	} {
		if got := s.add(c.id); got != c.new {
			t.Errorf("add(%q) = %v, want %v", c.id, got, c.new)
		}
	}
	if _, err := s.fresh(func() string { return "AUD-0000-0000-0000-0001" }); err == nil {
		t.Error("fresh found a free id where there is none")
	}
}

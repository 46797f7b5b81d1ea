package views

import (
	"fmt"
	"strings"
	"time"
)

func avatarColor(n int) string { return fmt.Sprintf("avatar-c%d", ((n%8)+8)%8) }

func statusClass(status string) string { return "badge-" + strings.ToLower(status) }

func statusText(code int) string {
	if code == 0 {
		return ""
	}
	return fmt.Sprintf("Error %d", code)
}

func sortHint(sort string) string {
	switch sort {
	case "ascending":
		return "(sorted ascending; select to sort descending)"
	case "descending":
		return "(sorted descending; select to sort ascending)"
	}
	return "(select to sort)"
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

func countChecked(mods []ModuleChoice) int {
	n := 0
	for _, m := range mods {
		if m.Checked {
			n++
		}
	}
	return n
}

// anyActions reports whether some row offers the user an action; when none
// does (a Viewer's list), the list has no Actions column.
func anyActions(rows []TokenRow) bool {
	for _, r := range rows {
		if len(r.Actions) > 0 {
			return true
		}
	}
	return false
}

// dateInputType is the type of a date filter's input: "date", or "text"
// when the value typed is not a date, so that the page keeps what was typed
// (a date input can only hold a date) and its markup stays valid.
func dateInputType(v string) string {
	if _, err := time.Parse("2006-01-02", v); v != "" && err != nil {
		return "text"
	}
	return "date"
}

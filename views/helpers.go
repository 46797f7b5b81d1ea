package views

import (
	"fmt"
	"strings"
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

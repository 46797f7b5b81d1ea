package views

import (
	"regexp"
	"time"
)

// DateTimeOf turns an instant into the console's date-over-time form, in
// UTC (app.js shows it in the viewer's zone); the zero time is "never".
func DateTimeOf(t time.Time) DateTime {
	if t.IsZero() {
		return DateTime{}
	}
	t = t.UTC()
	return DateTime{ISO: t.Format(time.RFC3339), Date: t.Format("2 Jan 2006"), Time: t.Format("15:04")}
}

// TimeMark stands for an instant inside a message (a flash, a conflict):
// the page shows it as a time in the viewer's zone, like any other.
func TimeMark(t time.Time) string { return "⟦" + t.UTC().Format(time.RFC3339) + "⟧" }

var timeMark = regexp.MustCompile(`⟦([0-9T:Z+-]+)⟧`)

// textPart is a run of a message's text, or one of its instants.
type textPart struct {
	Text string
	Time DateTime
}

// textParts splits a message at its TimeMarks.
func textParts(s string) []textPart {
	var parts []textPart
	for {
		loc := timeMark.FindStringSubmatchIndex(s)
		if loc == nil {
			if s != "" {
				parts = append(parts, textPart{Text: s})
			}
			return parts
		}
		if loc[0] > 0 {
			parts = append(parts, textPart{Text: s[:loc[0]]})
		}
		if t, err := time.Parse(time.RFC3339, s[loc[2]:loc[3]]); err == nil {
			parts = append(parts, textPart{Time: DateTimeOf(t)})
		} else {
			parts = append(parts, textPart{Text: s[loc[0]:loc[1]]})
		}
		s = s[loc[1]:]
	}
}

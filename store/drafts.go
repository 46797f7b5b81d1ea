package store

import "time"

// TokenDraft is what a user has entered so far in the console's Add wizard,
// kept on the server between its steps so that every step is a page of its
// own, shown again by Back, Reload or a bookmark. A draft belongs to the
// user who started it, and is added (becomes a token) at most once.
type TokenDraft struct {
	ID          string
	UserID      string
	Name        string
	Description string
	ModuleIDs   []string
	LogoUpload  string            // the id of an uploaded logo, or ""
	Reached     int               // the furthest step the draft may show (1–3)
	Errors      map[string]string // field → message of the last check of a step
	TokenID     string            // the token the draft was added as, once it was
	UpdatedAt   time.Time
}

// MaxDraftsPerUser bounds the drafts a user keeps: starting one more forgets
// the least recently touched.
const MaxDraftsPerUser = 20

// Bounds of what a draft keeps of its text fields: generous beyond what the
// fields accept (so that what was typed comes back with its message), but
// bounded whatever a client sends.
const (
	maxDraftName        = 4 * MaxNameLength
	maxDraftDescription = 4 * MaxDescriptionLength
)

// CleanDraft makes a draft's text storable: valid UTF-8 without NUL, cut to
// a bound.
func CleanDraft(d *TokenDraft) {
	d.Name = truncateRunes(CleanText(d.Name), maxDraftName)
	d.Description = truncateRunes(CleanText(d.Description), maxDraftDescription)
	for k, v := range d.Errors {
		d.Errors[k] = CleanText(v)
	}
}

func truncateRunes(s string, n int) string {
	i := 0
	for j := range s {
		if i == n {
			return s[:j]
		}
		i++
	}
	return s
}

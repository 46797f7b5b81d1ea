package sqldb_test

import (
	"context"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	"gatehouse/store"
)

// TestTokenDrafts: a draft of the Add wizard is its user's alone, is added
// once (a second add of it, even at the same time, is refused and adds
// nothing), and a user keeps a bounded number of them.
func TestTokenDrafts(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	other, err := f.s.CreateUser(ctx, store.NewUser{AccountID: f.acc.ID, Email: "b@example.com", Name: "Bo Other", Role: store.RoleAdministrator, Password: "correct horse battery"})
	if err != nil {
		t.Fatal(err)
	}
	const id = "00112233445566778899aabbccddeeff"

	t.Run("OK", func(t *testing.T) {
		d := store.TokenDraft{ID: id, UserID: f.admin.ID, Name: "Draft", Description: "Two\nlines", ModuleIDs: []string{f.modules[0].ID},
			Reached: 2, Errors: map[string]string{"name": "Name is required."}}
		if err := f.s.SaveTokenDraft(ctx, d); err != nil {
			t.Fatal(err)
		}
		got, err := f.s.TokenDraft(ctx, f.admin.ID, id)
		if err != nil || got.Name != d.Name || got.Description != d.Description || !slices.Equal(got.ModuleIDs, d.ModuleIDs) ||
			got.Reached != 2 || !maps.Equal(got.Errors, d.Errors) || got.TokenID != "" {
			t.Fatalf("draft = %+v, %v", got, err)
		}
		d.Name, d.Errors, d.ModuleIDs = "Draft 2", nil, nil
		if err := f.s.SaveTokenDraft(ctx, d); err != nil {
			t.Fatal(err)
		}
		if got, _ := f.s.TokenDraft(ctx, f.admin.ID, id); got.Name != "Draft 2" || len(got.Errors) != 0 || len(got.ModuleIDs) != 0 {
			t.Errorf("replaced draft = %+v", got)
		}
	})

	t.Run("ErrNotFoundForSomeoneElse", func(t *testing.T) {
		if _, err := f.s.TokenDraft(ctx, other.ID, id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("someone else reads the draft: %v", err)
		}
		if err := f.s.SaveTokenDraft(ctx, store.TokenDraft{ID: id, UserID: other.ID, Name: "Mine now", Reached: 1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("someone else writes the draft: %v", err)
		}
		if got, _ := f.s.TokenDraft(ctx, f.admin.ID, id); got.Name != "Draft 2" {
			t.Errorf("the draft is now %q", got.Name)
		}
	})

	t.Run("TextCleaned", func(t *testing.T) {
		bad := store.TokenDraft{ID: strings.Repeat("ab", 16), UserID: f.admin.ID, Name: "bad\xff" + strings.Repeat("n", 5000), Description: "nul\x00", Reached: 1}
		if err := f.s.SaveTokenDraft(ctx, bad); err != nil {
			t.Fatal(err)
		}
		got, _ := f.s.TokenDraft(ctx, f.admin.ID, bad.ID)
		if got.Name != "bad\uFFFD"+strings.Repeat("n", 796) || got.Description != "nul\uFFFD" {
			t.Errorf("stored name %d runes, description %q", len([]rune(got.Name)), got.Description)
		}
	})

	t.Run("AddedOnce", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make([]error, 4)
		for i := range errs {
			wg.Go(func() {
				_, _, errs[i] = f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "From a draft", DraftID: id})
			})
		}
		wg.Wait()
		added := 0
		for _, err := range errs {
			switch {
			case err == nil:
				added++
			case !errors.Is(err, store.ErrConflict):
				t.Errorf("add: %v", err)
			}
		}
		page, _ := f.s.ListTokens(ctx, f.acc.ID, store.TokenQuery{Search: "From a draft", Limit: 10})
		d, _ := f.s.TokenDraft(ctx, f.admin.ID, id)
		if added != 1 || page.Total != 1 || d.TokenID != page.Tokens[0].ID {
			t.Fatalf("%d adds succeeded, %d tokens, draft added as %q", added, page.Total, d.TokenID)
		}
		if err := f.s.SaveTokenDraft(ctx, store.TokenDraft{ID: id, UserID: f.admin.ID, Name: "Changed after", Reached: 1}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("an added draft was changed: %v", err)
		}
		// Someone else's draft cannot be added as theirs.
		otherActor := store.UserActor(other, "", "")
		if _, _, err := f.s.CreateToken(ctx, f.sealer, otherActor, f.acc.ID, store.NewToken{Name: "Sneaky", DraftID: strings.Repeat("ab", 16)}); !errors.Is(err, store.ErrConflict) {
			t.Errorf("add of someone else's draft: %v", err)
		}
	})

	t.Run("Bounded", func(t *testing.T) {
		for i := range store.MaxDraftsPerUser + 5 {
			d := store.TokenDraft{ID: strings.Repeat("0", 30) + string("0123456789abcdefghijklmnopqrstuvwxyz"[i%36]) + "f", UserID: other.ID, Reached: 1}
			if err := f.s.SaveTokenDraft(ctx, d); err != nil {
				t.Fatal(err)
			}
		}
		var n int
		f.s.DB().QueryRow(`SELECT COUNT(*) FROM token_drafts WHERE user_id = ?`, other.ID).Scan(&n)
		if n != store.MaxDraftsPerUser {
			t.Errorf("%d drafts kept, want %d", n, store.MaxDraftsPerUser)
		}
	})
}

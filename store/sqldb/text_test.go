package sqldb_test

import (
	"context"
	"strings"
	"testing"

	"gatehouse/store"
	"gatehouse/store/storetest"
)

// Every recorded text field is normalised once, before it is hashed and
// stored: a user agent that is not valid UTF-8 is stored with U+FFFD for
// each invalid byte, so the stored bytes are the hashed bytes. Before, the
// client's bytes were stored as sent and hashed as the escape \ufffd,
// whichever byte it was, so one invalid byte could be swapped for another
// unnoticed; now any invalid byte swapped in changes the hash.
func TestAuditTextNormalisedBeforeHashing(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "Agent"})
	if err != nil {
		t.Fatal(err)
	}
	actor := f.actor
	actor.UserAgent = "curl/8\xff\xfe (x)\x00" + strings.Repeat("é", 400)
	if _, err := f.s.DisableToken(ctx, actor, f.acc.ID, tok.ID, 0, "bad\xc3 bytes"); err != nil {
		t.Fatalf("disable with a user agent that is not UTF-8: %v", err)
	}
	page, err := f.s.ListAudit(ctx, f.acc.ID, store.AuditQuery{ObjectID: tok.ID, Event: store.EventTokenDisabled, Limit: 1})
	if err != nil || len(page.Records) != 1 {
		t.Fatalf("the disable's record: %v, %v", page.Records, err)
	}
	r := page.Records[0]
	wantUA := "curl/8\uFFFD\uFFFD (x)\uFFFD" + strings.Repeat("é", (store.MaxUserAgentBytes-len("curl/8\uFFFD\uFFFD (x)\uFFFD"))/2)
	if r.Actor.UserAgent != wantUA {
		t.Errorf("stored user agent = %q (%d bytes), want %q", r.Actor.UserAgent, len(r.Actor.UserAgent), wantUA)
	}
	if strings.Contains(r.Details, "\xc3 ") || !strings.Contains(r.Details, "bad\uFFFD bytes") && !strings.Contains(r.Details, `bad\ufffd bytes`) {
		t.Errorf("stored details = %q, want the reason normalised", r.Details)
	}
	if got := store.ChainHash(r.PrevHash, r); got != r.Hash {
		t.Errorf("the hash of the stored record %s is not its stored hash %s", got, r.Hash)
	}
	res, err := f.s.VerifyAudit(ctx)
	if err != nil || res.BadID != "" {
		t.Fatalf("verify after normalised text: %+v, %v", res, err)
	}
	if storetest.Engine() == "postgres" {
		return // PostgreSQL refuses invalid UTF-8 outright: nothing to swap
	}
	// Swap the stored U+FFFD for an invalid byte behind the store's back.
	if err := storetest.DropTrigger(f.s.DB(), "audit_records_no_update", "audit_records"); err != nil {
		t.Fatal(err)
	}
	tampered := strings.Replace(r.Actor.UserAgent, "\uFFFD", "\x80", 1)
	if _, err := f.s.DB().Exec(`UPDATE audit_records SET user_agent = ? WHERE id = ?`, tampered, r.ID); err != nil {
		t.Fatal(err)
	}
	var stored string
	f.s.DB().QueryRow(`SELECT user_agent FROM audit_records WHERE id = ?`, r.ID).Scan(&stored)
	if stored != tampered {
		t.Fatalf("could not store the invalid byte: %q", stored)
	}
	res, err = f.s.VerifyAudit(ctx)
	if err != nil || res.BadID != r.ID {
		t.Errorf("verify after an invalid byte was swapped in: %+v, %v; want %s named", res, err, r.ID)
	}
}

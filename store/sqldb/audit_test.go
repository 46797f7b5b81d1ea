package sqldb_test

import (
	"context"
	"errors"
	"fmt"
	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/storetest"
	"slices"
	"strings"
	"testing"
	"time"
)

// auditFixture is a token with n "value-viewed" records after its creation,
// one second apart.
func auditFixture(t *testing.T, n int) (fixture, store.Token) {
	t.Helper()
	f := newFixture(t)
	ctx := context.Background()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.s.SetClock(func() time.Time { return base })
	tok, _, err := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "audited"})
	if err != nil {
		t.Fatal(err)
	}
	tx, _ := f.s.DB().Begin()
	for i := 1; i <= n; i++ {
		if _, err := f.s.AppendAudit(ctx, tx, store.AuditRecord{AccountID: f.acc.ID, OccurredAt: base.Add(time.Duration(i) * time.Second),
			Event: store.EventTokenValueViewed, ObjectType: store.ObjectTypeToken, ObjectID: tok.ID, ObjectName: tok.Name, Actor: f.actor,
			Summary: "viewed"}); err != nil {
			t.Fatal(err)
		}
	}
	tx.Commit()
	return f, tok
}

func TestListAuditPagesBothWays(t *testing.T) {
	f, tok := auditFixture(t, 12)
	ctx := context.Background()
	q := store.AuditQuery{ObjectID: tok.ID, Limit: 5}
	p1, err := f.s.ListAudit(ctx, f.acc.ID, q)
	if err != nil {
		t.Fatal(err)
	}
	if p1.Total != 13 || len(p1.Records) != 5 || p1.Newer != "" || p1.Older == "" {
		t.Fatalf("page 1: total %d, %d records, newer %q older %q", p1.Total, len(p1.Records), p1.Newer, p1.Older)
	}
	if !p1.Records[0].OccurredAt.After(p1.Records[4].OccurredAt) {
		t.Error("page 1 is not newest first")
	}
	q.Before = p1.Older
	p2, _ := f.s.ListAudit(ctx, f.acc.ID, q)
	q.Before = p2.Older
	p3, _ := f.s.ListAudit(ctx, f.acc.ID, q)
	if len(p2.Records) != 5 || len(p3.Records) != 3 || p3.Older != "" || p3.Records[2].Event != store.EventTokenCreated {
		t.Fatalf("pages 2 and 3: %d and %d records, older %q", len(p2.Records), len(p3.Records), p3.Older)
	}
	// Back from page 3 to page 2 by the newer cursor.
	back, _ := f.s.ListAudit(ctx, f.acc.ID, store.AuditQuery{ObjectID: tok.ID, Limit: 5, After: p3.Newer})
	ids := func(p store.AuditPage) []string {
		var out []string
		for _, r := range p.Records {
			out = append(out, r.ID)
		}
		return out
	}
	if !slices.Equal(ids(back), ids(p2)) || back.Newer == "" || back.Older == "" {
		t.Errorf("back to page 2 = %v (newer %q), want %v", ids(back), back.Newer, ids(p2))
	}
	back1, _ := f.s.ListAudit(ctx, f.acc.ID, store.AuditQuery{ObjectID: tok.ID, Limit: 5, After: back.Newer})
	if !slices.Equal(ids(back1), ids(p1)) || back1.Newer != "" {
		t.Errorf("back to page 1 = %v (newer %q), want %v", ids(back1), back1.Newer, ids(p1))
	}
}

func TestListAuditFilters(t *testing.T) {
	f, tok := auditFixture(t, 10)
	ctx := context.Background()
	base := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	cases := []struct {
		name string
		q    store.AuditQuery
		want int
	}{
		{"by event", store.AuditQuery{ObjectID: tok.ID, Event: store.EventTokenCreated}, 1},
		{"from", store.AuditQuery{ObjectID: tok.ID, From: base.Add(8 * time.Second)}, 3},
		{"to is exclusive", store.AuditQuery{ObjectID: tok.ID, To: base.Add(2 * time.Second)}, 2},
		{"range and event", store.AuditQuery{ObjectID: tok.ID, Event: store.EventTokenValueViewed, From: base, To: base.Add(5 * time.Second)}, 4},
		{"other object", store.AuditQuery{ObjectID: "TKN-0000-0000"}, 0},
	}
	for _, c := range cases {
		p, err := f.s.ListAudit(ctx, f.acc.ID, c.q)
		if err != nil || p.Total != c.want || len(p.Records) != c.want {
			t.Errorf("%s: total %d, %d records, %v; want %d", c.name, p.Total, len(p.Records), err, c.want)
		}
	}
	if p, _ := f.s.ListAudit(ctx, f.other.ID, store.AuditQuery{}); p.Total != 0 {
		t.Errorf("another account sees %d records", p.Total)
	}
	var n int
	f.s.EachAudit(ctx, f.acc.ID, store.AuditQuery{ObjectID: tok.ID, Event: store.EventTokenValueViewed, Limit: 2}, func(store.AuditRecord) error { n++; return nil })
	if n != 10 {
		t.Errorf("EachAudit visited %d, want all 10 matching (no limit)", n)
	}
	rec, err := f.s.AuditRecordByID(ctx, f.acc.ID, p1ID(t, f, tok))
	if err != nil || rec.ObjectID != tok.ID {
		t.Errorf("AuditRecordByID: %v", err)
	}
	if _, err := f.s.AuditRecordByID(ctx, f.other.ID, rec.ID); err != store.ErrNotFound {
		t.Errorf("another account's record: %v, want ErrNotFound", err)
	}
}

func p1ID(t *testing.T, f fixture, tok store.Token) string {
	t.Helper()
	p, err := f.s.ListAudit(context.Background(), f.acc.ID, store.AuditQuery{ObjectID: tok.ID, Limit: 1})
	if err != nil || len(p.Records) != 1 {
		t.Fatal(err)
	}
	return p.Records[0].ID
}

func TestVerifyAudit(t *testing.T) {
	f, _ := auditFixture(t, 5)
	ctx := context.Background()
	res, err := f.s.VerifyAudit(ctx)
	if err != nil || res.Count != 6 || res.BadID != "" {
		t.Fatalf("intact chain: %+v, %v", res, err)
	}
	if head, err := f.s.AuditHead(ctx); err != nil || res.Last != head {
		t.Errorf("verify's last record %+v, the head %+v (%v)", res.Last, head, err)
	}
	// Alter the fourth record behind the app's back.
	var id string
	f.s.DB().QueryRow(`SELECT id FROM audit_records ORDER BY seq LIMIT 1 OFFSET 3`).Scan(&id)
	if err := storetest.DropTrigger(f.s.DB(), "audit_records_no_update", "audit_records"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DB().Exec(`UPDATE audit_records SET summary = 'nothing to see' WHERE id = ?`, id); err != nil {
		t.Fatal(err)
	}
	res, err = f.s.VerifyAudit(ctx)
	if err != nil || res.BadID != id || res.Count != 3 {
		t.Fatalf("altered chain: %+v, %v; want %s named after 3 good records", res, err, id)
	}
}

func TestParseAuditAnchor(t *testing.T) {
	h := strings.Repeat("0123456789abcdef", 4)
	a, ok := store.ParseAuditAnchor(" 42:" + h + "\n")
	if !ok || a.Seq != 42 || a.Hash != h || a.String() != "42:"+h {
		t.Fatalf("ParseAuditAnchor = %+v, %v", a, ok)
	}
	for _, bad := range []string{"", "42", ":" + h, "0:" + h, "-1:" + h, "x:" + h, "42:" + h[1:], "42:" + strings.ToUpper(h),
		"42:" + h[:63] + "g", "42:" + h + "00", "9999999999999999999999:" + h} {
		if _, ok := store.ParseAuditAnchor(bad); ok {
			t.Errorf("ParseAuditAnchor(%q) accepted", bad)
		}
	}
}

// An anchor taken from the head catches what the chain alone cannot: its
// newest records cut off, and the chain recomputed from a record on.
func TestAuditAnchor(t *testing.T) {
	f, _ := auditFixture(t, 5)
	ctx := context.Background()
	head, err := f.s.AuditHead(ctx)
	if err != nil || head.Seq == 0 || len(head.Hash) != 64 || !strings.HasPrefix(head.ID, "AUD-") {
		t.Fatalf("head = %+v, %v", head, err)
	}
	mid := store.AuditAnchor{Seq: head.Seq - 2}
	f.s.DB().QueryRow(`SELECT hash FROM audit_records WHERE seq = ?`, mid.Seq).Scan(&mid.Hash)
	for _, a := range []store.AuditAnchor{head, mid} {
		if problem, err := f.s.CheckAuditAnchor(ctx, a); err != nil || problem != "" {
			t.Fatalf("untouched trail against %s: %q, %v", a, problem, err)
		}
	}
	if problem, _ := f.s.CheckAuditAnchor(ctx, store.AuditAnchor{Seq: mid.Seq, Hash: head.Hash}); !strings.Contains(problem, "no longer has the anchored hash") {
		t.Errorf("wrong hash at #%d: %q", mid.Seq, problem)
	}

	// Cut off the two newest records: the chain still verifies, the head's
	// anchor does not.
	if err := storetest.DropTrigger(f.s.DB(), "audit_records_no_delete", "audit_records"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.DB().Exec(`DELETE FROM audit_records WHERE seq > ?`, head.Seq-2); err != nil {
		t.Fatal(err)
	}
	if res, err := f.s.VerifyAudit(ctx); err != nil || res.BadID != "" {
		t.Fatalf("truncated chain: %+v, %v; the chain alone cannot tell", res, err)
	}
	problem, err := f.s.CheckAuditAnchor(ctx, head)
	if err != nil || !strings.Contains(problem, fmt.Sprintf("#%d is gone: the trail now ends at #%d", head.Seq, head.Seq-2)) {
		t.Errorf("truncated trail against the head: %q, %v", problem, err)
	}
	if problem, _ := f.s.CheckAuditAnchor(ctx, mid); problem != "" {
		t.Errorf("truncated trail against an anchor before the cut: %q", problem)
	}

	// Rewrite the second record and recompute the chain from it, as someone
	// holding the database could: it verifies, the anchor after it does not.
	if err := storetest.DropTrigger(f.s.DB(), "audit_records_no_update", "audit_records"); err != nil {
		t.Fatal(err)
	}
	rows, err := f.s.DB().Query(`SELECT ` + sqldb.AuditColumns + ` FROM audit_records ORDER BY seq`)
	if err != nil {
		t.Fatal(err)
	}
	var recs []store.AuditRecord
	for rows.Next() {
		r, err := sqldb.ScanAudit(rows)
		if err != nil {
			t.Fatal(err)
		}
		recs = append(recs, r)
	}
	rows.Close()
	recs[1].Summary = "nothing to see"
	prev := recs[0].Hash
	for _, r := range recs[1:] {
		r.PrevHash, r.Hash = prev, store.ChainHash(prev, r)
		if _, err := f.s.DB().Exec(`UPDATE audit_records SET summary = ?, prev_hash = ?, hash = ? WHERE seq = ?`, r.Summary, r.PrevHash, r.Hash, r.Seq); err != nil {
			t.Fatal(err)
		}
		prev = r.Hash
	}
	if res, err := f.s.VerifyAudit(ctx); err != nil || res.BadID != "" {
		t.Fatalf("recomputed chain: %+v, %v; the chain alone cannot tell", res, err)
	}
	if problem, _ := f.s.CheckAuditAnchor(ctx, mid); !strings.Contains(problem, fmt.Sprintf("record #%d no longer has the anchored hash", mid.Seq)) {
		t.Errorf("recomputed trail against an anchor after the change: %q", problem)
	}

	// An empty trail.
	if _, err := f.s.DB().Exec(`DELETE FROM audit_records`); err != nil {
		t.Fatal(err)
	}
	if _, err := f.s.AuditHead(ctx); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("head of an empty trail: %v", err)
	}
	if problem, _ := f.s.CheckAuditAnchor(ctx, mid); !strings.Contains(problem, "the trail is empty") {
		t.Errorf("empty trail: %q", problem)
	}
}

// The account trail narrows to several objects at once (the tokens a name
// matched), to one actor, or to a type of actor.
func TestAuditFiltersByActorAndObjects(t *testing.T) {
	f, tok := auditFixture(t, 3)
	ctx := context.Background()
	other, _, err := f.s.CreateToken(ctx, f.sealer, store.SystemActor, f.acc.ID, store.NewToken{Name: "other"})
	if err != nil {
		t.Fatal(err)
	}
	caller := store.Actor{Type: "token", ID: other.ID, Name: other.Name}
	if _, err := f.s.DisableToken(ctx, caller, f.acc.ID, tok.ID, tok.Version, ""); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		q    store.AuditQuery
		want int
	}{
		{"two objects", store.AuditQuery{ObjectIDs: []string{tok.ID, other.ID}}, 6},
		{"one of them", store.AuditQuery{ObjectIDs: []string{other.ID}}, 1},
		{"ObjectID counts as one", store.AuditQuery{ObjectID: tok.ID, ObjectIDs: []string{other.ID}}, 6},
		{"unknown objects", store.AuditQuery{ObjectIDs: []string{"TKN-0000-0000", "TKN-0000-0001"}}, 0},
		{"a user", store.AuditQuery{ActorID: f.admin.ID}, 4},
		{"the system", store.AuditQuery{ActorID: store.SystemActor.ID}, 1},
		{"a token", store.AuditQuery{ActorID: other.ID}, 1},
		{"any token", store.AuditQuery{ActorType: "token"}, 1},
		{"any user, one event", store.AuditQuery{ActorType: "user", Event: store.EventTokenValueViewed}, 3},
		{"actor and object", store.AuditQuery{ActorID: store.SystemActor.ID, ObjectIDs: []string{tok.ID, other.ID}}, 1},
	}
	for _, c := range cases {
		p, err := f.s.ListAudit(ctx, f.acc.ID, c.q)
		if err != nil || p.Total != c.want || len(p.Records) != c.want {
			t.Errorf("%s: total %d, %d records, %v; want %d", c.name, p.Total, len(p.Records), err, c.want)
		}
		n := 0
		if err := f.s.EachAudit(ctx, f.acc.ID, c.q, func(store.AuditRecord) error { n++; return nil }); err != nil || n != c.want {
			t.Errorf("%s: EachAudit visited %d, %v; want %d", c.name, n, err, c.want)
		}
	}
	users, err := f.s.AccountUsers(ctx, f.acc.ID)
	if err != nil || len(users) != 1 || users[0].ID != f.admin.ID {
		t.Errorf("AccountUsers = %+v, %v; want the administrator", users, err)
	}
	if users, err := f.s.AccountUsers(ctx, f.other.ID); err != nil || len(users) != 0 {
		t.Errorf("AccountUsers of the other account = %+v, %v; want none", users, err)
	}
}

// TokensNamed finds the account's tokens, deleted ones too, by the start of
// their name, ignoring the case of ASCII letters, and no more than asked.
func TestAuditTokensNamed(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	create := func(account, name string) store.Token {
		t.Helper()
		tok, _, err := f.s.CreateToken(ctx, f.sealer, store.SystemActor, account, store.NewToken{Name: name})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	feed := create(f.acc.ID, "Billing feed")
	gone := create(f.acc.ID, "billing Export")
	create(f.acc.ID, "Bill")
	create(f.acc.ID, "Reporting billing")
	create(f.other.ID, "Billing theirs")
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, gone.ID, gone.Version); err != nil {
		t.Fatal(err)
	}
	names := func(ms []store.TokenMatch) []string {
		var out []string
		for _, m := range ms {
			out = append(out, m.Name+"/"+m.Status)
		}
		return out
	}
	for _, c := range []struct {
		prefix string
		limit  int
		want   []string
	}{
		{"BILLING", 10, []string{"billing Export/Deleted", "Billing feed/Active"}},
		{"billing e", 10, []string{"billing Export/Deleted"}},
		{"bill", 10, []string{"Bill/Active", "billing Export/Deleted", "Billing feed/Active"}},
		{"bill", 2, []string{"Bill/Active", "billing Export/Deleted"}},
		{"billing feed and more", 10, nil},
		{"", 10, nil},
	} {
		got, err := f.s.TokensNamed(ctx, f.acc.ID, c.prefix, c.limit)
		if err != nil || !slices.Equal(names(got), c.want) {
			t.Errorf("TokensNamed(%q, %d) = %v, %v; want %v", c.prefix, c.limit, names(got), err, c.want)
		}
	}
	if got, _ := f.s.TokensNamed(ctx, f.acc.ID, "Billing feed", 10); len(got) != 1 || got[0].ID != feed.ID {
		t.Errorf("TokensNamed(Billing feed) = %+v", got)
	}
}

// DeletedToken tells who deleted a token and when, from its row or, where
// the row does not say, from its deleted record; live and other accounts'
// tokens are not found.
func TestAuditDeletedToken(t *testing.T) {
	f := newFixture(t)
	ctx := context.Background()
	at := time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)
	f.s.SetClock(func() time.Time { return at })
	gone, _, _ := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "gone"})
	live, _, _ := f.s.CreateToken(ctx, f.sealer, f.actor, f.acc.ID, store.NewToken{Name: "live"})
	theirs, _, _ := f.s.CreateToken(ctx, f.sealer, store.SystemActor, f.other.ID, store.NewToken{Name: "theirs"})
	if err := f.s.DeleteToken(ctx, f.actor, f.acc.ID, gone.ID, gone.Version); err != nil {
		t.Fatal(err)
	}
	if err := f.s.DeleteToken(ctx, store.SystemActor, f.other.ID, theirs.ID, theirs.Version); err != nil {
		t.Fatal(err)
	}
	d, err := f.s.DeletedToken(ctx, f.acc.ID, gone.ID)
	if err != nil || d.Name != "gone" || d.AccountName != "Acme" || !d.DeletedAt.Equal(at) || d.DeletedBy != (store.ActorRef{ID: f.admin.ID, Name: f.admin.Name}) {
		t.Errorf("DeletedToken = %+v, %v", d, err)
	}
	for _, c := range []struct{ account, id string }{{f.acc.ID, live.ID}, {f.acc.ID, theirs.ID}, {f.other.ID, gone.ID}, {f.acc.ID, "TKN-0000-0000"}} {
		if _, err := f.s.DeletedToken(ctx, c.account, c.id); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("DeletedToken(%s, %s) err = %v, want ErrNotFound", c.account, c.id, err)
		}
	}
	// A row deleted without saying by whom (as bulk data is): first nothing
	// tells, then its deleted record does.
	if _, err := f.s.DB().Exec(`UPDATE api_tokens SET status = 'Deleted' WHERE id = ?`, live.ID); err != nil {
		t.Fatal(err)
	}
	if d, err := f.s.DeletedToken(ctx, f.acc.ID, live.ID); err != nil || !d.DeletedAt.IsZero() || d.DeletedBy != (store.ActorRef{}) {
		t.Errorf("DeletedToken without a record = %+v, %v; want no who nor when", d, err)
	}
	tx, _ := f.s.DB().Begin()
	if _, err := f.s.AppendAudit(ctx, tx, store.AuditRecord{AccountID: f.acc.ID, OccurredAt: at.Add(time.Hour), Event: store.EventTokenDeleted,
		ObjectType: store.ObjectTypeToken, ObjectID: live.ID, ObjectName: live.Name, Actor: store.SystemActor, Summary: "deleted"}); err != nil {
		t.Fatal(err)
	}
	tx.Commit()
	if d, err := f.s.DeletedToken(ctx, f.acc.ID, live.ID); err != nil || !d.DeletedAt.Equal(at.Add(time.Hour)) || d.DeletedBy.ID != store.SystemActor.ID {
		t.Errorf("DeletedToken from its record = %+v, %v", d, err)
	}
}

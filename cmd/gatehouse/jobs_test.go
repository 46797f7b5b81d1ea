package main

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"gatehouse/store"
	"gatehouse/store/sqldb"
	"gatehouse/store/storetest"
)

// jobClock is a settable clock for the stores of a test.
type jobClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *jobClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *jobClock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// Two serve processes on one database (two stores, two job loops) run each
// job once per interval between them, not once each. On PostgreSQL with
// GATEHOUSE_TEST_ENGINE=postgres.
func TestJobsRunOncePerCluster(t *testing.T) {
	ctx := context.Background()
	open := storetest.Opener(t)
	clock := &jobClock{now: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)}
	var replicas []*sqldb.Store
	for range 2 {
		st, err := open()
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		st.SetClock(clock.Now)
		replicas = append(replicas, st)
	}
	var often, hourly atomic.Int32
	jobs := []job{
		{"often", 10 * time.Minute, func(context.Context) error { often.Add(1); return nil }},
		{"hourly", time.Hour, func(context.Context) error { hourly.Add(1); return nil }},
	}
	logger := slog.New(slog.NewTextHandler(io.Discard, nil))
	// ticks runs three ticks of every replica's loop at once.
	ticks := func() {
		var wg sync.WaitGroup
		for _, st := range replicas {
			for range 3 {
				wg.Go(func() { runDueJobs(ctx, st, logger, jobs) })
			}
		}
		wg.Wait()
	}
	for _, step := range []struct {
		name               string
		advance            time.Duration
		wantOften, wantHrs int32
	}{
		{"at start", 0, 1, 1},
		{"a minute on", time.Minute, 1, 1},
		{"ten minutes on", 9 * time.Minute, 2, 1},
		{"half an hour on", 20 * time.Minute, 3, 1},
		{"an hour on", 30 * time.Minute, 4, 2},
	} {
		clock.advance(step.advance)
		ticks()
		if got, got2 := often.Load(), hourly.Load(); got != step.wantOften || got2 != step.wantHrs {
			t.Errorf("%s: the 10-minute job ran %d times, the hourly %d; want %d and %d",
				step.name, got, got2, step.wantOften, step.wantHrs)
		}
	}
}

// The jobs serve runs do their work: expired sessions, stale logo uploads
// and wizard drafts, and forgotten login failures go, and the audit head is logged when it has
// moved since the process last logged it.
func TestServeJobs(t *testing.T) {
	ctx := context.Background()
	st := storetest.Open(t)
	clock := &jobClock{now: time.Now().UTC()}
	st.SetClock(clock.Now)
	sealer, err := store.NewSealer([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.SeedDemo(ctx, sealer); err != nil {
		t.Fatal(err)
	}
	var userID, accountID string
	if err := st.DB().QueryRow(`SELECT id, account_id FROM users WHERE lower(email) = 'admin@example.com'`).Scan(&userID, &accountID); err != nil {
		t.Fatal(err)
	}
	admin, err := st.User(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	changed, _, err := st.CreateToken(ctx, sealer, store.UserActor(admin, "192.0.2.1", "jobs-test"), accountID, store.NewToken{Name: "Changed"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := st.DisableToken(ctx, store.UserActor(admin, "192.0.2.1", "jobs-test"), accountID, changed.ID, 0, ""); err != nil {
		t.Fatal(err)
	}
	if err := st.RecordRejections(ctx, []store.Rejection{{TokenID: changed.ID, Minute: st.Now().Add(-time.Hour).Truncate(time.Minute), Count: 2, Status: store.StatusDisabled}}); err != nil {
		t.Fatal(err)
	}
	if n, err := st.RecordPendingRejections(ctx, st.Now()); err != nil || n != 1 {
		t.Fatalf("recorded %d refused-call minutes, %v; want 1", n, err)
	}
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	head, err := logAuditHead(ctx, st, logger, store.AuditAnchor{})
	if err != nil {
		t.Fatal(err)
	}
	jobs := serveJobs(st, logger, head)

	if err := st.CreateSession(ctx, "old-session", userID, "{}"); err != nil {
		t.Fatal(err)
	}
	if _, err := st.SaveLogoUpload(ctx, userID, storetest.PNG(8, 8)); err != nil {
		t.Fatal(err)
	}
	if err := st.SaveTokenDraft(ctx, store.TokenDraft{ID: "0123456789abcdef0123456789abcdef", UserID: userID, Name: "Left behind", Reached: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := st.AttemptLogin(ctx, "email:someone@example.com"); err != nil {
		t.Fatal(err)
	}
	clock.advance(25 * time.Hour)
	runDueJobs(ctx, st, logger, jobs)
	for table, want := range map[string]int{"sessions": 0, "logo_uploads": 0, "token_drafts": 0, "login_throttle": 0, "token_changes": 0, "token_rejections": 0} {
		var n int
		if err := st.DB().QueryRow(`SELECT COUNT(*) FROM ` + table).Scan(&n); err != nil || n != want {
			t.Errorf("%s after the jobs: %d rows, %v; want %d", table, n, err, want)
		}
	}
	if n := strings.Count(logs.String(), `msg="audit head"`); n != 1 {
		t.Errorf("%d audit head lines, want 1 (at start; the job found it unchanged):\n%s", n, logs.String())
	}

	u, err := st.User(ctx, userID)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.CreateToken(ctx, sealer, store.UserActor(u, "192.0.2.1", "jobs-test"), accountID, store.NewToken{Name: "Moves the head"}); err != nil {
		t.Fatal(err)
	}
	moved, err := st.AuditHead(ctx)
	if err != nil {
		t.Fatal(err)
	}
	clock.advance(time.Hour)
	runDueJobs(ctx, st, logger, jobs)
	if want := `msg="audit head" record=` + moved.ID + ` anchor=` + moved.String(); !strings.Contains(logs.String(), want) {
		t.Errorf("the hourly job did not log the moved head (%s):\n%s", want, logs.String())
	}
	if strings.Contains(logs.String(), "level=ERROR") || strings.Contains(logs.String(), "level=WARN") {
		t.Errorf("the jobs logged a failure:\n%s", logs.String())
	}
}

// A job that fails is logged, and does not keep the others from running.
func TestJobFailureLogged(t *testing.T) {
	st := storetest.Open(t)
	var logs bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&logs, nil))
	ran := false
	runDueJobs(context.Background(), st, logger, []job{
		{"fails", time.Minute, func(context.Context) error { return errors.New("no such luck") }},
		{"after", time.Minute, func(context.Context) error { ran = true; return nil }},
	})
	if !strings.Contains(logs.String(), `level=ERROR msg="background job failed" job=fails error="no such luck"`) {
		t.Errorf("the failure was not logged:\n%s", logs.String())
	}
	if !ran {
		t.Error("the job after a failed one did not run")
	}
}

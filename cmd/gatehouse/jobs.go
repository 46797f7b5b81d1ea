package main

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"gatehouse/handlers"
	"gatehouse/store"
	"gatehouse/store/sqldb"
)

// A job is background work that must happen once per cluster every
// interval, not once per replica: every serve process offers each job in
// turn, and the one that claims it in the database (Store.ClaimJob) runs it.
// A job that fails is logged and runs again after its interval.
type job struct {
	name     string
	interval time.Duration
	run      func(ctx context.Context) error
}

// jobTick is how often each process offers the jobs: a job runs within a
// tick of falling due.
const jobTick = time.Minute

// serveJobs is the table of the jobs serve runs. head is the audit head this
// process logged at its start.
func serveJobs(st *sqldb.Store, logger *slog.Logger, head store.AuditAnchor) []job {
	return []job{
		{"sweep-sessions", 10 * time.Minute, func(ctx context.Context) error {
			now := st.Now()
			_, err := st.DeleteExpiredSessions(ctx, now.Add(-handlers.SessionIdleTimeout), now.Add(-handlers.SessionAbsoluteTimeout))
			return err
		}},
		{"sweep-logo-uploads", 10 * time.Minute, func(ctx context.Context) error {
			return st.DeleteLogoUploads(ctx, st.Now().Add(-24*time.Hour))
		}},
		{"sweep-token-drafts", 10 * time.Minute, func(ctx context.Context) error {
			return st.DeleteTokenDrafts(ctx, st.Now().Add(-24*time.Hour))
		}},
		{"sweep-login-throttle", 10 * time.Minute, func(ctx context.Context) error {
			_, err := st.DeleteForgottenLoginFailures(ctx)
			return err
		}},
		// A replica more than an hour behind the change log has been
		// reading the database (fail closed) and starts again from the
		// head: older entries serve no one.
		{"prune-token-changes", 10 * time.Minute, func(ctx context.Context) error {
			_, err := st.PruneTokenChanges(ctx, st.Now().Add(-time.Hour))
			return err
		}},
		{"prune-token-rejections", 10 * time.Minute, func(ctx context.Context) error {
			_, err := st.PruneTokenRejections(ctx, st.Now().Add(-24*time.Hour))
			return err
		}},
		// The head is logged when it has moved since this process last
		// logged it.
		{"log-audit-head", time.Hour, func(ctx context.Context) (err error) {
			head, err = logAuditHead(ctx, st, logger, head)
			return err
		}},
	}
}

// jobClaimer is what runJobs needs of the store.
type jobClaimer interface {
	ClaimJob(ctx context.Context, name string, interval time.Duration) (bool, error)
}

// runJobs offers jobs every tick until ctx ends.
func runJobs(ctx context.Context, st jobClaimer, logger *slog.Logger, jobs []job, tick time.Duration) {
	t := time.NewTicker(tick)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			runDueJobs(ctx, st, logger, jobs)
		}
	}
}

// runDueJobs runs, one after the other, the jobs this process claims.
func runDueJobs(ctx context.Context, st jobClaimer, logger *slog.Logger, jobs []job) {
	for _, j := range jobs {
		claimed, err := st.ClaimJob(ctx, j.name, j.interval)
		if err == nil && claimed {
			err = j.run(ctx)
		}
		switch {
		case err == nil, ctx.Err() != nil:
		case errors.Is(err, store.ErrUnavailable):
			// An outage is logged as the requests log it; the job runs
			// once the database is back.
			logger.Warn("database unavailable", "job", j.name, "error", err)
		default:
			logger.Error("background job failed", "job", j.name, "error", err)
		}
	}
}

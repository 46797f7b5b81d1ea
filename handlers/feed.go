package handlers

import (
	"context"
	"errors"
	"log/slog"
	"sync/atomic"
	"time"

	"gatehouse/store"
)

// The change feed's timing (SPEC §7: every replica honours a change within
// 1 s in the worst case).
const (
	// feedPoll is how often the change log is read without a wake-up: the
	// bound on propagation when notifications are lost.
	feedPoll = 200 * time.Millisecond
	// feedMaxLag is how old the last successful read of the change log may
	// be before the cache is no longer trusted and every verification reads
	// the database (fail closed). A change is honoured within feedMaxLag of
	// its commit even when every read of the log fails.
	feedMaxLag = 750 * time.Millisecond
	// feedReadTimeout bounds one read of the log.
	feedReadTimeout = 2 * time.Second
	// feedBatch is how many changes one read takes.
	feedBatch = 1000
	// cacheMaxAge is how long a cached token is used before it is read
	// again, whatever the change log says.
	cacheMaxAge = time.Minute
)

// FeedStore is what the change feed needs of the store.
type FeedStore interface {
	TokenChangeHead(ctx context.Context) (int64, error)
	TokenChangesSince(ctx context.Context, after int64, limit int) ([]store.TokenChange, error)
	WatchTokenChanges(ctx context.Context, listening, wake func()) error
}

// changeFeed keeps the verify cache in step with changes made by other
// processes (replicas, the command line). It applies the store's change log
// in order, dropping each changed token from the cache; a notification
// wakes it at once, and a poll every feedPoll catches what a lost
// notification or a reconnect missed. The cache is used only while the feed
// is current: while the log cannot be read, every verification reads the
// database (and is refused when the database is down), and once the log can
// be read again the cache starts empty.
type changeFeed struct {
	store FeedStore
	cache *authCache
	log   *slog.Logger
	wake  chan struct{}
	// base is the monotonic origin of syncedAt.
	base time.Time
	// syncedAt is when the last successful read of the log started, in
	// nanoseconds after base; 0 is never.
	syncedAt atomic.Int64
	// listening reports whether notifications are being received.
	listening atomic.Bool
	// applied is the seq of the last change applied; only Run touches it.
	applied int64
}

func newChangeFeed(st FeedStore, cache *authCache, log *slog.Logger) *changeFeed {
	return &changeFeed{store: st, cache: cache, log: log, wake: make(chan struct{}, 1), base: time.Now()}
}

// current reports whether the cache may answer: the change log was read
// successfully less than feedMaxLag ago.
func (f *changeFeed) current() bool {
	at := f.syncedAt.Load()
	return at != 0 && time.Since(f.base)-time.Duration(at) < feedMaxLag
}

// lag is how long ago the last successful read of the log started.
func (f *changeFeed) lag() time.Duration {
	at := f.syncedAt.Load()
	if at == 0 {
		return time.Since(f.base)
	}
	return time.Since(f.base) - time.Duration(at)
}

func (f *changeFeed) nudge() {
	select {
	case f.wake <- struct{}{}:
	default:
	}
}

// Run follows the change log until ctx ends.
func (f *changeFeed) Run(ctx context.Context) {
	go f.listen(ctx)
	t := time.NewTicker(feedPoll)
	defer t.Stop()
	failing := false
	for {
		err := f.sync(ctx)
		switch {
		case ctx.Err() != nil:
			return
		case err != nil && !failing:
			failing = true
			f.log.Warn("cannot read the token change log; verifications read the database until it can", "error", err)
		case err == nil && failing:
			failing = false
			f.log.Info("token change log read again; the verify cache starts afresh")
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		case <-f.wake:
		}
	}
}

// sync applies the changes logged since the last one applied. A feed that
// is not current (it never read the log, or could not for feedMaxLag) does
// not know what it missed: it empties the cache and starts from the head.
func (f *changeFeed) sync(ctx context.Context) error {
	start := time.Since(f.base)
	ctx, cancel := context.WithTimeout(ctx, feedReadTimeout)
	defer cancel()
	if !f.current() {
		head, err := f.store.TokenChangeHead(ctx)
		if err != nil {
			return err
		}
		f.cache.clear()
		f.applied = head
		f.syncedAt.Store(int64(max(start, 1)))
		return nil
	}
	for {
		changes, err := f.store.TokenChangesSince(ctx, f.applied, feedBatch)
		if err != nil {
			return err
		}
		for _, c := range changes {
			f.cache.drop(c.TokenID)
			f.applied = c.Seq
		}
		if len(changes) < feedBatch {
			break
		}
	}
	f.syncedAt.Store(int64(max(start, 1)))
	return nil
}

// listen keeps a notification listener up, reconnecting with back-off (a
// listener that keeps being cut off right away waits longer each time, up
// to 5 s; one that stayed up a while starts again from 100 ms); a new
// listener wakes the feed, which reads what the gap may have missed.
func (f *changeFeed) listen(ctx context.Context) {
	const first, most = 100 * time.Millisecond, 5 * time.Second
	backoff := first
	for {
		var upAt time.Time
		err := f.store.WatchTokenChanges(ctx, func() {
			upAt = time.Now()
			f.listening.Store(true)
			f.nudge()
		}, f.nudge)
		was := f.listening.Swap(false)
		if errors.Is(err, store.ErrNoWatch) || ctx.Err() != nil {
			return
		}
		if was {
			f.log.Warn("token change notifications lost; polling every "+feedPoll.String()+" until they are back", "error", err)
			if time.Since(upAt) > time.Second {
				backoff = first
			}
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, most)
	}
}

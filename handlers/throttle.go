package handlers

import (
	"sync"
	"time"
)

// Login throttling (SPEC §5): after a few failures for the same email or from
// the same address, each further attempt must wait, doubling each time up to
// a cap. There is no permanent lock-out: waiting always lets the next try in,
// and a success clears the email's count.
const (
	emailFreeFailures = 5
	ipFreeFailures    = 20 // many people may share one address
	throttleBase      = time.Second
	throttleMax       = 5 * time.Minute
	throttleForget    = time.Hour // failures older than this are forgotten
	throttleMaxKeys   = 100_000
)

type attempts struct {
	failures int
	last     time.Time
	until    time.Time
}

type throttle struct {
	mu  sync.Mutex
	now func() time.Time
	m   map[string]*attempts
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, m: map[string]*attempts{}}
}

// attempt reserves a try for keys: it returns how long the caller must still
// wait, or records the try as a failure (taken back by succeed and forgive)
// and returns 0. Check and record are one step, so parallel tries cannot all
// slip through.
func (t *throttle) attempt(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var longest time.Duration
	for _, k := range keys {
		if a, ok := t.m[k]; ok {
			longest = max(longest, a.until.Sub(now))
		}
	}
	if longest > 0 {
		return longest
	}
	t.failLocked(now, keys)
	return 0
}

// failLocked records a failed attempt against each key.
func (t *throttle) failLocked(now time.Time, keys []string) {
	if len(t.m) >= throttleMaxKeys {
		for k, a := range t.m {
			if now.Sub(a.last) > throttleForget {
				delete(t.m, k)
			}
		}
	}
	for _, k := range keys {
		a, ok := t.m[k]
		if !ok || now.Sub(a.last) > throttleForget {
			a = &attempts{}
			t.m[k] = a
		}
		a.failures++
		a.last = now
		free := emailFreeFailures
		if len(k) > 3 && k[:3] == "ip:" {
			free = ipFreeFailures
		}
		if over := a.failures - free; over >= 0 {
			d := throttleMax
			if over < 20 {
				d = min(throttleBase<<over, throttleMax)
			}
			a.until = now.Add(d)
		}
	}
}

// succeed forgets the failures of key.
func (t *throttle) succeed(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	delete(t.m, key)
}

// forgive takes back one failure of key: a successful login from an address
// does not count against it.
func (t *throttle) forgive(key string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if a, ok := t.m[key]; ok {
		a.failures--
		if a.failures <= 0 {
			delete(t.m, key)
		}
	}
}

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

// wait returns how long the caller must still wait before trying any of keys.
func (t *throttle) wait(keys ...string) time.Duration {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
	var longest time.Duration
	for _, k := range keys {
		if a, ok := t.m[k]; ok {
			if d := a.until.Sub(now); d > longest {
				longest = d
			}
		}
	}
	return longest
}

// fail records a failed attempt against each key.
func (t *throttle) fail(keys ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	now := t.now()
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

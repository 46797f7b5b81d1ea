package handlers

import (
	"cmp"
	"net"
	"slices"
	"strings"
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
	mu      sync.Mutex
	now     func() time.Time
	m       map[string]*attempts
	maxKeys int
}

func newThrottle(now func() time.Time) *throttle {
	return &throttle{now: now, m: map[string]*attempts{}, maxKeys: throttleMaxKeys}
}

// ipKey is the throttle key of a client address. An IPv6 client is keyed by
// its /64, the block one host or site is usually given, so that walking
// through the addresses of that block does not buy fresh tries.
func ipKey(ip string) string {
	host, _, _ := strings.Cut(ip, "%") // a link-local address's zone
	switch a := net.ParseIP(host); {
	case a == nil:
		return "ip:" + ip
	case a.To4() != nil: // also an IPv4 address written as ::ffff:a.b.c.d
		return "ip:" + a.To4().String()
	default:
		return "ip:" + a.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
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
	if len(t.m)+len(keys) > t.maxKeys {
		t.shrinkLocked(now)
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

// shrinkLocked bounds the map, which a spray of failed logins from many
// addresses at many emails would otherwise grow without end. It forgets what
// has expired and then, if that is not enough, the keys that matter least,
// down to three quarters of the bound: first those not made to wait now,
// then those with the fewest failures (so a spray of fresh keys cannot wipe
// an email's count), then the oldest. The sort is paid once per quarter of
// the bound in new keys.
func (t *throttle) shrinkLocked(now time.Time) {
	for k, a := range t.m {
		if now.Sub(a.last) > throttleForget {
			delete(t.m, k)
		}
	}
	keep := t.maxKeys * 3 / 4
	if len(t.m) <= keep {
		return
	}
	type entry struct {
		key string
		a   *attempts
	}
	all := make([]entry, 0, len(t.m))
	for k, a := range t.m {
		all = append(all, entry{k, a})
	}
	waiting := func(a *attempts) int {
		if a.until.After(now) {
			return 1
		}
		return 0
	}
	slices.SortFunc(all, func(x, y entry) int {
		return cmp.Or(cmp.Compare(waiting(x.a), waiting(y.a)), cmp.Compare(x.a.failures, y.a.failures),
			x.a.last.Compare(y.a.last))
	})
	for _, e := range all[:len(all)-keep] {
		delete(t.m, e.key)
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

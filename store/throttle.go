package store

import (
	"net"
	"strings"
	"time"
)

// Login throttling (SPEC §5): after a few failures for the same email or from
// the same address, each further attempt must wait, doubling each time up to
// a cap. There is no permanent lock-out: waiting always lets the next try in,
// and a success clears the email's count. The engines keep one Throttle per
// key in the database, so that every replica counts the same failures; the
// arithmetic is here, once.
const (
	// EmailFreeFailures is how many failures an email has before it waits.
	EmailFreeFailures = 5
	// IPFreeFailures is the same for a client address: many people may
	// share one.
	IPFreeFailures = 20
	// ThrottleBase is the first wait; each further failure doubles it.
	ThrottleBase = time.Second
	// ThrottleMax caps the wait.
	ThrottleMax = 5 * time.Minute
	// ThrottleForget is how long failures are remembered after the last one.
	ThrottleForget = time.Hour
)

// ThrottleEmailKey is the throttle key of the email a login names, the same
// however its letters are cased.
func ThrottleEmailKey(email string) string { return "email:" + strings.ToLower(email) }

// ThrottleIPKey is the throttle key of a client address. An IPv6 client is
// keyed by its /64, the block one host or site is usually given, so that
// walking through the addresses of that block does not buy fresh tries.
func ThrottleIPKey(ip string) string {
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

// throttleFreeFailures is how many failures key has before it waits.
func throttleFreeFailures(key string) int {
	if strings.HasPrefix(key, "ip:") {
		return IPFreeFailures
	}
	return EmailFreeFailures
}

// Throttle is what is remembered of one throttle key. The zero Throttle is a
// key with no failures.
type Throttle struct {
	Failures    int
	LastFailure time.Time
	// Until is when the next attempt may be made; zero if the key has never
	// been made to wait since its failures were last forgotten.
	Until time.Time
}

// Wait is how long an attempt at now must still wait.
func (th Throttle) Wait(now time.Time) time.Duration {
	return max(0, th.Until.Sub(now))
}

// Fail is the key's Throttle after a failed attempt at now. Failures older
// than ThrottleForget are forgotten first; past the key's free failures each
// one doubles the wait, from ThrottleBase up to ThrottleMax.
func (th Throttle) Fail(key string, now time.Time) Throttle {
	if th.Forgotten(now) {
		th = Throttle{}
	}
	th.Failures++
	th.LastFailure = now
	if over := th.Failures - throttleFreeFailures(key); over >= 0 {
		d := ThrottleMax
		if over < 20 {
			d = min(ThrottleBase<<over, ThrottleMax)
		}
		th.Until = now.Add(d)
	}
	return th
}

// Forgive is the Throttle after one failure is taken back (a successful
// login from an address does not count against it), and whether anything
// is left to remember.
func (th Throttle) Forgive() (Throttle, bool) {
	th.Failures--
	return th, th.Failures > 0
}

// Forgotten reports whether the failures are too old to count at now.
func (th Throttle) Forgotten(now time.Time) bool {
	return now.Sub(th.LastFailure) > ThrottleForget
}

// ThrottleForgottenBefore is the time before which a last failure is
// forgotten at now: keys whose last failure is older can be deleted.
func ThrottleForgottenBefore(now time.Time) time.Time { return now.Add(-ThrottleForget) }

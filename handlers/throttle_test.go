package handlers

import (
	"strconv"
	"testing"
	"time"
)

func TestIPKey(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"192.0.2.7", "ip:192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "ip:2001:db8:1:3::/64"},
		{"::ffff:192.0.2.7", "ip:192.0.2.7"}, // IPv4 written as IPv6, as a proxy may forward it
		{"fe80::1%eth0", "ip:fe80::/64"},
		{"not an address", "ip:not an address"},
	} {
		if got := ipKey(c.ip); got != c.want {
			t.Errorf("ipKey(%q) = %q, want %q", c.ip, got, c.want)
		}
	}
}

// A spray of failures at ever new keys cannot grow the throttle without
// bound, does not free a key that is being made to wait, and does not wipe
// the count of an email that has failed a few times.
func TestThrottleStaysBounded(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th := newThrottle(func() time.Time { return now })
	th.maxKeys = 100
	// An old key with many failures: only its expiry may drop it.
	for range emailFreeFailures + 3 {
		now = now.Add(throttleMax)
		th.attempt("email:old@example.com")
	}
	now = now.Add(throttleForget + time.Minute)
	for range emailFreeFailures {
		th.attempt("email:victim@example.com")
	}
	if th.attempt("email:victim@example.com") == 0 {
		t.Fatal("the victim's email is not throttled")
	}
	for range 3 {
		th.attempt("email:probed@example.com")
	}
	most := 0
	for i := range 10_000 {
		th.attempt("ip:198.51.100."+strconv.Itoa(i), "email:spray"+strconv.Itoa(i)+"@example.com")
		most = max(most, len(th.m))
	}
	if most > th.maxKeys {
		t.Errorf("the throttle held %d keys, bound %d", most, th.maxKeys)
	}
	if _, ok := th.m["email:old@example.com"]; ok {
		t.Error("an expired key outlived the spray")
	}
	if a, ok := th.m["email:victim@example.com"]; !ok || a.failures < emailFreeFailures {
		t.Errorf("the throttled email was forgotten during the spray: %+v", a)
	}
	if a, ok := th.m["email:probed@example.com"]; !ok || a.failures != 3 {
		t.Errorf("an email's 3 failures were wiped by the spray: %+v", a)
	}
}

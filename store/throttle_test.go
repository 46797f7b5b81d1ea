package store

import (
	"testing"
	"time"
)

func TestThrottleIPKey(t *testing.T) {
	for _, c := range []struct{ ip, want string }{
		{"192.0.2.7", "ip:192.0.2.7"},
		{"2001:db8:1:2:aaaa:bbbb:cccc:dddd", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:2::1", "ip:2001:db8:1:2::/64"},
		{"2001:db8:1:3::1", "ip:2001:db8:1:3::/64"},
		{"::ffff:192.0.2.7", "ip:192.0.2.7"}, // IPv4 written as IPv6, as a proxy may forward it
		{"fe80::1%eth0", "ip:fe80::/64"},
		{"not an address", "ip:not an address"},
	} {
		if got := ThrottleIPKey(c.ip); got != c.want {
			t.Errorf("ThrottleIPKey(%q) = %q, want %q", c.ip, got, c.want)
		}
	}
	if a, b := ThrottleEmailKey("Ada@Example.com"), ThrottleEmailKey("ada@example.COM"); a != b || a != "email:ada@example.com" {
		t.Errorf("email keys %q and %q, want both email:ada@example.com", a, b)
	}
}

// failures applies n failures one second apart from start and returns the
// Throttle and the time of the last failure.
func failures(key string, n int, start time.Time) (Throttle, time.Time) {
	var th Throttle
	now := start
	for i := range n {
		now = start.Add(time.Duration(i) * time.Second)
		th = th.Fail(key, now)
	}
	return th, now
}

func TestThrottleBackOff(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		key  string
		n    int
		want time.Duration // the wait right after the nth failure
	}{
		{"email:a@example.com", EmailFreeFailures - 1, 0},
		{"email:a@example.com", EmailFreeFailures, time.Second},
		{"email:a@example.com", EmailFreeFailures + 1, 2 * time.Second},
		{"email:a@example.com", EmailFreeFailures + 5, 32 * time.Second},
		{"email:a@example.com", EmailFreeFailures + 8, 256 * time.Second},
		{"email:a@example.com", EmailFreeFailures + 9, ThrottleMax},  // 512 s, capped
		{"email:a@example.com", EmailFreeFailures + 70, ThrottleMax}, // no overflow
		{"ip:192.0.2.7", IPFreeFailures - 1, 0},
		{"ip:192.0.2.7", IPFreeFailures, time.Second},
		{"ip:192.0.2.7", IPFreeFailures + 3, 8 * time.Second},
	} {
		th, last := failures(c.key, c.n, start)
		if got := th.Wait(last); got != c.want {
			t.Errorf("%s after %d failures: wait %v, want %v", c.key, c.n, got, c.want)
		}
		if th.Failures != c.n {
			t.Errorf("%s after %d failures: %d counted", c.key, c.n, th.Failures)
		}
	}

	th, last := failures("email:a@example.com", EmailFreeFailures+2, start)
	if got := th.Wait(last.Add(3 * time.Second)); got != time.Second {
		t.Errorf("wait 3 s into a 4 s back-off = %v, want 1s", got)
	}
	if got := th.Wait(last.Add(time.Hour)); got != 0 {
		t.Errorf("wait long after the back-off = %v, want 0 (no permanent lock-out)", got)
	}
	// An hour after the last failure the count starts again.
	if th.Forgotten(last.Add(ThrottleForget)) {
		t.Error("failures forgotten at exactly an hour")
	}
	later := last.Add(ThrottleForget + time.Second)
	if !th.Forgotten(later) || !ThrottleForgottenBefore(later).After(th.LastFailure) {
		t.Error("failures not forgotten after an hour and a second")
	}
	if again := th.Fail("email:a@example.com", later); again.Failures != 1 || again.Wait(later) != 0 {
		t.Errorf("a failure after the count was forgotten: %+v, want 1 failure and no wait", again)
	}
	if (Throttle{}).Wait(start) != 0 || !(Throttle{}).Forgotten(start) {
		t.Error("a key with no failures waits or is remembered")
	}
}

func TestThrottleForgive(t *testing.T) {
	start := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	th, _ := failures("ip:192.0.2.7", 2, start)
	th, keep := th.Forgive()
	if th.Failures != 1 || !keep {
		t.Errorf("forgiving one of 2 failures: %+v, keep %v", th, keep)
	}
	if _, keep := th.Forgive(); keep {
		t.Error("forgiving the last failure keeps the key")
	}
}

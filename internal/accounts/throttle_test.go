package accounts

import (
	"fmt"
	"testing"
	"time"
)

func newTestThrottle(clock *fakeClock, maxKeys int) *Throttle {
	return NewThrottle(ThrottleConfig{Clock: clock.Now, MaxKeys: maxKeys})
}

func mustAllow(t *testing.T, th *Throttle, account, addr string, want bool, wantRetry time.Duration) {
	t.Helper()
	ok, retry := th.Allow(account, addr)
	if ok != want || retry != wantRetry {
		t.Fatalf("Allow(%q, %q) = %v, %v; want %v, %v", account, addr, ok, retry, want, wantRetry)
	}
}

func TestThrottleLocksAccountAfterFiveFailures(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock, 0)
	for i := range 4 {
		th.Failed("alice", fmt.Sprintf("192.0.2.%d", i)) // different addresses
		mustAllow(t, th, "alice", "198.51.100.1", true, 0)
	}
	th.Failed("alice", "192.0.2.9")
	mustAllow(t, th, "alice", "198.51.100.1", false, time.Second)
	mustAllow(t, th, "ALICE", "", false, time.Second) // names are normalized
	mustAllow(t, th, "bob", "198.51.100.1", true, 0)  // others unaffected
	clock.Advance(time.Second)
	mustAllow(t, th, "alice", "198.51.100.1", true, 0)
	// Each further failure doubles the delay, up to five minutes.
	want := 2 * time.Second
	for range 12 {
		th.Failed("alice", "")
		mustAllow(t, th, "alice", "", false, want)
		clock.Advance(want)
		want = min(2*want, 5*time.Minute)
	}
	if want != 5*time.Minute {
		t.Fatalf("delay did not reach the cap: %v", want)
	}
	if s := th.Stats(); s.Lockouts != 13 || s.Refused != 14 || s.Tracked != 6 {
		t.Fatalf("stats %+v", s)
	}
}

func TestThrottleSuccessResetsAccountOnly(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock, 0)
	for range 5 {
		th.Failed("alice", "192.0.2.1")
	}
	mustAllow(t, th, "alice", "", false, time.Second)
	mustAllow(t, th, "", "192.0.2.1", false, time.Second)
	th.Succeeded("Alice", "192.0.2.1")
	mustAllow(t, th, "alice", "", true, 0)
	mustAllow(t, th, "", "192.0.2.1", false, time.Second)
	th.Failed("alice", "")
	mustAllow(t, th, "alice", "", true, 0) // counting starts again
}

func TestThrottleWindowAndForgetting(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock, 0)
	// Four failures, a pause longer than the window: the count restarts.
	for range 4 {
		th.Failed("alice", "")
	}
	clock.Advance(time.Minute + time.Second)
	for range 4 {
		th.Failed("alice", "")
	}
	mustAllow(t, th, "alice", "", true, 0)
	th.Failed("alice", "")
	mustAllow(t, th, "alice", "", false, time.Second)
	// Once locked, the run continues past the window ...
	clock.Advance(2 * time.Minute)
	th.Failed("alice", "")
	mustAllow(t, th, "alice", "", false, 2*time.Second)
	// ... until there has been no failure for ForgetAfter.
	clock.Advance(15*time.Minute + time.Second)
	th.Failed("alice", "")
	mustAllow(t, th, "alice", "", true, 0)
}

func TestThrottleAddresses(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock, 0)
	for i := range 5 { // one IPv6 /64, five addresses and ports, five accounts
		th.Failed(fmt.Sprintf("user%d", i), fmt.Sprintf("[2001:db8:1:2::%d]:5222", i+1))
	}
	mustAllow(t, th, "someone", "2001:db8:1:2:ffff::1", false, time.Second)
	mustAllow(t, th, "someone", "2001:db8:1:3::1", true, 0)
	for range 5 {
		th.Failed("", "192.0.2.7:40000")
	}
	mustAllow(t, th, "", "::ffff:192.0.2.7", false, time.Second)
	mustAllow(t, th, "", "192.0.2.8", true, 0)
	mustAllow(t, th, "", "", true, 0)
	// Unparseable addresses are still tracked, as they are.
	for range 5 {
		th.Failed("", "not-an-ip")
	}
	mustAllow(t, th, "", "not-an-ip", false, time.Second)
}

func TestThrottleBoundedMemory(t *testing.T) {
	clock := newFakeClock()
	th := newTestThrottle(clock, 3)
	for range 5 {
		th.Failed("alice", "")
	}
	th.Failed("bob", "")
	th.Failed("carol", "")
	mustAllow(t, th, "alice", "", false, time.Second)
	for i := range 100 {
		th.Failed(fmt.Sprintf("spray%d", i), "")
	}
	s := th.Stats()
	if s.Tracked != 3 || s.Evicted != 100 {
		t.Fatalf("stats %+v, want 3 tracked and 100 evicted", s)
	}
	// The oldest records went first: alice's lockout was forgotten.
	mustAllow(t, th, "alice", "", true, 0)
	th.Failed("spray99", "")
	if s := th.Stats(); s.Evicted != 100 {
		t.Fatalf("a known key caused an eviction: %+v", s)
	}
}

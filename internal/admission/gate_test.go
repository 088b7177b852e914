package admission

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{now: time.Unix(1_700_000_000, 0)} }

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// member records what the gate told it.
type member struct {
	mu     sync.Mutex
	shed   bool
	hurry  time.Time
	hurrys int
}

func (m *member) Shed() { m.mu.Lock(); m.shed = true; m.mu.Unlock() }
func (m *member) Hurry(d time.Time) {
	m.mu.Lock()
	m.hurry, m.hurrys = d, m.hurrys+1
	m.mu.Unlock()
}

func (m *member) wasShed() bool { m.mu.Lock(); defer m.mu.Unlock(); return m.shed }

func addr(s string) net.Addr { return net.TCPAddrFromAddrPort(netip.MustParseAddrPort(s)) }

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestSourceOfGroupsIPv6By64(t *testing.T) {
	for _, c := range []struct {
		a, b string
		same bool
	}{
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2", true},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1", false},
		{"192.0.2.1:1", "192.0.2.1:9", true},
		{"192.0.2.1:1", "192.0.2.2:1", false},
		{"192.0.2.1:1", "[::ffff:192.0.2.1]:1", true},
	} {
		if got := SourceOf(addr(c.a)) == SourceOf(addr(c.b)); got != c.same {
			t.Errorf("%s and %s same source: %v, want %v", c.a, c.b, got, c.same)
		}
	}
	if s := SourceOf(addr("[2001:db8:1:2::1]:1")).String(); s != "2001:db8:1:2::/64" {
		t.Errorf("IPv6 source is %q", s)
	}
}

func TestPerSourceCapRefusesOnlyThatSource(t *testing.T) {
	g := New(Config{PerSource: 3, Budget: 100, Logger: quiet()})
	for i := range 3 {
		if _, err := g.Enter(addr("192.0.2.1:1"), &member{}); err != nil {
			t.Fatalf("member %d: %v", i, err)
		}
	}
	if _, err := g.Enter(addr("192.0.2.1:2"), &member{}); !errors.Is(err, ErrPerSource) {
		t.Fatalf("fourth from one source: %v, want ErrPerSource", err)
	}
	tk, err := g.Enter(addr("192.0.2.2:1"), &member{})
	if err != nil {
		t.Fatalf("another source: %v", err)
	}
	st := g.Stats()
	if st.Held != 4 || st.Sources != 2 || st.Refused["per_source"] != 1 {
		t.Errorf("stats %+v", st)
	}
	tk.Leave()
	tk.Leave() // idempotent
	if st := g.Stats(); st.Held != 3 || st.Sources != 1 {
		t.Errorf("after leaving: %+v", st)
	}
}

func TestFullBudgetShedsOldestOfLargestHolder(t *testing.T) {
	clock := newFakeClock()
	g := New(Config{PerSource: 10, Budget: 6, Logger: quiet(), Clock: clock.Now})
	var flood []*member
	for range 4 {
		m := &member{}
		flood = append(flood, m)
		if _, err := g.Enter(addr("198.51.100.7:1"), m); err != nil {
			t.Fatal(err)
		}
		clock.Advance(time.Second)
	}
	other := []*member{{}, {}}
	for _, m := range other {
		if _, err := g.Enter(addr("192.0.2.1:1"), m); err != nil {
			t.Fatal(err)
		}
	}
	// Full: a newcomer from a third address gets in, the flood's oldest goes.
	newcomer := &member{}
	if _, err := g.Enter(addr("203.0.113.5:1"), newcomer); err != nil {
		t.Fatalf("newcomer refused: %v", err)
	}
	if !flood[0].wasShed() {
		t.Error("the largest holder's oldest member was not shed")
	}
	for i, m := range append(flood[1:], append(other, newcomer)...) {
		if m.wasShed() {
			t.Errorf("member %d shed", i)
		}
	}
	// Shedding keeps going at the largest holder while it is largest, and
	// between equals (2 and 2 after the next shed) at the oldest member.
	for range 2 {
		if _, err := g.Enter(addr("203.0.113.6:1"), &member{}); err != nil {
			t.Fatal(err)
		}
	}
	if !flood[1].wasShed() || !flood[2].wasShed() || flood[3].wasShed() {
		t.Errorf("flood shed: %v %v %v", flood[1].wasShed(), flood[2].wasShed(), flood[3].wasShed())
	}
	for _, m := range other {
		if m.wasShed() {
			t.Error("a source holding less than the largest was shed")
		}
	}
	if st := g.Stats(); st.Held != 6 || st.Shed["budget"] != 3 {
		t.Errorf("stats %+v", st)
	}
}

func TestPressureShortensDeadlines(t *testing.T) {
	clock := newFakeClock()
	g := New(Config{PerSource: 100, Budget: 8, IdleDeadline: 10 * time.Second, PressureDeadline: 2 * time.Second,
		Logger: quiet(), Clock: clock.Now})
	first := &member{}
	start := clock.Now()
	tk, err := g.Enter(addr("192.0.2.1:1"), first)
	if err != nil {
		t.Fatal(err)
	}
	if d := tk.Deadline(); !d.Equal(start.Add(10 * time.Second)) {
		t.Errorf("idle deadline %v, want arrival+10s", d.Sub(start))
	}
	clock.Advance(time.Second)
	var last *Ticket
	for range 3 {
		if last, err = g.Enter(addr("192.0.2.2:1"), &member{}); err != nil {
			t.Fatal(err)
		}
	}
	if first.hurrys != 1 || !first.hurry.Equal(start.Add(2*time.Second)) {
		t.Errorf("at half the budget the first member was hurried %d times to %v", first.hurrys, first.hurry.Sub(start))
	}
	if d := last.Deadline(); !d.Equal(start.Add(time.Second + 2*time.Second)) {
		t.Errorf("deadline under pressure: %v after start", d.Sub(start))
	}
	// Once per episode: another arrival hurries nobody again.
	g.Enter(addr("192.0.2.3:1"), &member{})
	if first.hurrys != 1 {
		t.Errorf("hurried %d times in one episode", first.hurrys)
	}
	if st := g.Stats(); !st.Pressure || st.Hurried != 4 {
		t.Errorf("stats %+v", st)
	}
	last.Leave()
	tk.Leave()
	if st := g.Stats(); st.Pressure {
		t.Error("still under pressure below half the budget")
	}
}

func TestRefusalsLoggedOncePerSourcePerMinute(t *testing.T) {
	clock := newFakeClock()
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, nil))
	g := New(Config{PerSource: 1, Budget: 100, Logger: log, Clock: clock.Now})
	g.Enter(addr("192.0.2.1:1"), &member{})
	g.Enter(addr("192.0.2.2:1"), &member{})
	for range 50 {
		g.Enter(addr("192.0.2.1:1"), &member{})
		g.Enter(addr("192.0.2.2:1"), &member{})
	}
	if n := strings.Count(buf.String(), "refused"); n != 2 {
		t.Errorf("%d log lines for 100 refusals of 2 sources, want 2:\n%s", n, buf.String())
	}
	clock.Advance(59 * time.Second)
	g.Enter(addr("192.0.2.1:1"), &member{})
	clock.Advance(time.Second)
	g.Enter(addr("192.0.2.1:1"), &member{})
	if n := strings.Count(buf.String(), "refused"); n != 3 {
		t.Errorf("%d log lines after a minute, want 3", n)
	}
	if st := g.Stats(); st.Refused["per_source"] != 102 {
		t.Errorf("refusals counted %d, want 102", st.Refused["per_source"])
	}
}

func TestClosedGateRefuses(t *testing.T) {
	g := New(Config{Logger: quiet()})
	g.Close()
	if _, err := g.Enter(addr("192.0.2.1:1"), &member{}); !errors.Is(err, ErrClosed) {
		t.Errorf("err %v", err)
	}
}

func TestPendingConnDeadlineShedAndClassify(t *testing.T) {
	g := New(Config{PerSource: 10, Budget: 4, IdleDeadline: time.Hour, PressureDeadline: 50 * time.Millisecond, Logger: quiet()})
	a, aPeer := tcpPair(t)
	p, err := g.Admit(a)
	if err != nil {
		t.Fatal(err)
	}
	if d := time.Until(p.Deadline()); d < 30*time.Second {
		t.Fatalf("idle deadline in %v", d)
	}
	// A third member puts the gate at half its budget: a's deadline
	// comes forward, and a read on it times out.
	b, _ := tcpPair(t)
	pb, err := g.Admit(b)
	if err != nil {
		t.Fatal(err)
	}
	x, _ := tcpPair(t)
	px, err := g.Admit(x)
	if err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1)
	_, err = a.Read(buf)
	var ne net.Error
	if !errors.As(err, &ne) || !ne.Timeout() {
		t.Fatalf("read under pressure: %v, want a timeout", err)
	}
	p.Leave()
	px.Leave()
	// b is classified: its deadline is cleared, so a late Hurry does nothing.
	if !pb.Classified() {
		t.Fatal("b was shed")
	}
	pb.Hurry(time.Now())
	aPeer.Write([]byte("x"))
	// Four more fill the budget; a fifth sheds the oldest of them: c.
	c, cPeer := tcpPair(t)
	if _, err := g.Admit(c); err != nil {
		t.Fatal(err)
	}
	for range 4 {
		x, _ := tcpPair(t)
		if _, err := g.Admit(x); err != nil {
			t.Fatal(err)
		}
	}
	cPeer.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := cPeer.Read(buf); err != io.EOF {
		t.Errorf("the shed connection's peer read %v, want EOF", err)
	}
}

// tcpPair returns both ends of a loopback TCP connection.
func tcpPair(t *testing.T) (server, client net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	client, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	server, err = ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { server.Close(); client.Close() })
	return server, client
}

func TestRateLimiterPerSourceAndGlobal(t *testing.T) {
	clock := newFakeClock()
	l := NewRateLimiter(RateConfig{PerSecond: 10, Burst: 5, GlobalPerSecond: 100, GlobalBurst: 8, Clock: clock.Now})
	a, b := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2")
	for i := range 5 {
		if ok, _ := l.Allow(a); !ok {
			t.Fatalf("a's event %d refused within its burst", i)
		}
	}
	if ok, global := l.Allow(a); ok || global {
		t.Fatalf("a's sixth: ok %v global %v, want refused by its own bucket", ok, global)
	}
	for i := range 3 {
		if ok, _ := l.Allow(b); !ok {
			t.Fatalf("b's event %d refused", i)
		}
	}
	if ok, global := l.Allow(b); ok || !global {
		t.Fatalf("b's fourth: ok %v global %v, want refused by the global bucket", ok, global)
	}
	clock.Advance(100 * time.Millisecond) // one token for a, ten globally
	if ok, _ := l.Allow(a); !ok {
		t.Fatal("a not refilled")
	}
	if ok, _ := l.Allow(a); ok {
		t.Fatal("a refilled too much")
	}
}

func TestRateLimiterMemoryIsBounded(t *testing.T) {
	clock := newFakeClock()
	l := NewRateLimiter(RateConfig{PerSecond: 1, Burst: 1, MaxSources: 100, Clock: clock.Now})
	for i := range 1000 {
		ip := netip.AddrFrom4([4]byte{10, 0, byte(i >> 8), byte(i)})
		if ok, _ := l.Allow(ip); !ok {
			t.Fatalf("a new source's first event refused (%d)", i)
		}
		if l.Sources() > 100 {
			t.Fatalf("%d sources remembered, bound 100", l.Sources())
		}
	}
	off := NewRateLimiter(RateConfig{})
	for range 100 {
		if ok, _ := off.Allow(netip.MustParseAddr("192.0.2.1")); !ok {
			t.Fatal("a disabled limiter refused")
		}
	}
}

// Package admission decides which connections parley takes on, so that one
// address can never shut everyone else out.
//
// A Gate holds one class of connections that have cost the server
// something but proved nothing yet: TCP connections whose first bytes have
// not arrived (the one port's mux and --c2s), or XMPP sessions that have
// not logged in. It caps what one source (an IPv4 address, an IPv6 /64)
// may hold, and when its global budget is full it sheds the oldest member
// of the source holding the most instead of refusing the newcomer. Under
// pressure (half the budget used) it shortens the deadline its members
// have to prove themselves. Every refusal and shed is counted by reason and
// logged at most once per source per interval.
//
// RateLimiter is the UDP side: token buckets per source, for the datagrams
// that make the server work before anything is established (STUN binding
// requests, DTLS ClientHellos, TURN Allocate requests).
package admission

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// Source is who a connection is counted against: an IPv4 address, or the
// /64 of an IPv6 address (one subscriber's allocation).
type Source netip.Prefix

// SourceOf returns the source of addr: a *net.TCPAddr, *net.UDPAddr, or
// anything whose String is host:port. An unparseable address is the zero
// Source, which is counted like any other.
func SourceOf(addr net.Addr) Source {
	var ip netip.Addr
	switch a := addr.(type) {
	case *net.TCPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case *net.UDPAddr:
		ip, _ = netip.AddrFromSlice(a.IP)
	case nil:
	default:
		if ap, err := netip.ParseAddrPort(a.String()); err == nil {
			ip = ap.Addr()
		}
	}
	return SourceOfAddr(ip)
}

// SourceOfAddr returns the source of ip.
func SourceOfAddr(ip netip.Addr) Source {
	ip = ip.Unmap()
	if !ip.IsValid() {
		return Source{}
	}
	bits := 32
	if ip.Is6() {
		bits = 64
	}
	p, _ := ip.Prefix(bits)
	return Source(p)
}

func (s Source) String() string {
	p := netip.Prefix(s)
	if !p.IsValid() {
		return "unknown"
	}
	if p.Addr().Is4() {
		return p.Addr().String()
	}
	return p.String()
}

// Member is what a Gate holds: it is told to end when the gate sheds it,
// and to hurry when the gate comes under pressure. Both are called without
// the gate's lock, possibly after the member has left: they must then do
// nothing.
type Member interface {
	// Shed ends the connection: its place went to a newcomer.
	Shed()
	// Hurry brings the member's deadline forward to at most d.
	Hurry(d time.Time)
}

// Config configures a Gate. The defaults suit a server of a few hundred
// participants; see docs/ONEPORT.md.
type Config struct {
	// Name says which gate logs ("pending", "unauthenticated"). Default "gate".
	Name string
	// PerSource is how many members one source may hold; beyond it its
	// newcomers are refused. Default 128: a whole office behind one NAT
	// opening its browsers at once stays under it.
	PerSource int
	// Budget is how many members the gate holds in all. When it is full a
	// newcomer is admitted and the oldest member of the source holding the
	// most is shed. Default 1024.
	Budget int
	// IdleDeadline is how long a member has from its arrival while less
	// than half the budget is used; PressureDeadline once half is. Zero
	// IdleDeadline: the gate sets no deadline (Deadline is zero). Default
	// PressureDeadline: a fifth of IdleDeadline.
	IdleDeadline, PressureDeadline time.Duration
	// LogInterval is the least time between two logs about one source.
	// Default 1 minute.
	LogInterval time.Duration
	// Logger receives the refusals and sheds. Default slog.Default().
	Logger *slog.Logger
	// Clock returns the time. Default time.Now.
	Clock func() time.Time
}

func (c *Config) setDefaults() {
	if c.Name == "" {
		c.Name = "gate"
	}
	if c.PerSource <= 0 {
		c.PerSource = 128
	}
	if c.Budget <= 0 {
		c.Budget = 1024
	}
	if c.PressureDeadline <= 0 {
		c.PressureDeadline = c.IdleDeadline / 5
	}
	if c.LogInterval <= 0 {
		c.LogInterval = time.Minute
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

// ErrPerSource is Enter's refusal: the source holds PerSource members.
var ErrPerSource = errors.New("admission: too many connections from this source")

// ErrClosed is Enter's refusal after Close.
var ErrClosed = errors.New("admission: gate closed")

// Gate admits members within its per-source cap and global budget. It is
// safe for concurrent use.
type Gate struct {
	cfg  Config // defaults applied; read-only
	logs *LogLimiter

	mu       sync.Mutex
	sources  map[Source][]*Ticket // each source's members, oldest first; guarded by mu
	count    int                  // members in all; guarded by mu
	pressure bool                 // count >= Budget/2 since the last check; guarded by mu
	closed   bool                 // guarded by mu

	refusedPerSource atomic.Uint64
	shedBudget       atomic.Uint64
	hurried          atomic.Uint64
	admitted         atomic.Uint64
}

// Ticket is one member's place in a gate.
type Ticket struct {
	gate   *Gate
	src    Source    // read-only
	since  time.Time // arrival; read-only
	member Member    // read-only
	left   bool      // guarded by gate.mu
}

// New returns a gate.
func New(cfg Config) *Gate {
	cfg.setDefaults()
	return &Gate{
		cfg:     cfg,
		logs:    NewLogLimiter(cfg.LogInterval, cfg.Clock),
		sources: make(map[Source][]*Ticket),
	}
}

// Config returns the gate's configuration, defaults applied.
func (g *Gate) Config() Config { return g.cfg }

// Enter admits a member from addr, shedding another one if the budget is
// full. It fails with ErrPerSource when addr's source holds PerSource
// members already, or ErrClosed.
func (g *Gate) Enter(addr net.Addr, m Member) (*Ticket, error) {
	src := SourceOf(addr)
	now := g.cfg.Clock()
	g.mu.Lock()
	if g.closed {
		g.mu.Unlock()
		return nil, ErrClosed
	}
	if len(g.sources[src]) >= g.cfg.PerSource {
		g.mu.Unlock()
		g.refusedPerSource.Add(1)
		g.note(src, "refused: too many from this source", "per_source", g.cfg.PerSource)
		return nil, ErrPerSource
	}
	var shed *Ticket
	if g.count >= g.cfg.Budget {
		shed = g.oldestOfLargestLocked()
		g.removeLocked(shed)
	}
	t := &Ticket{gate: g, src: src, since: now, member: m}
	g.sources[src] = append(g.sources[src], t)
	g.count++
	hurry := g.checkPressureLocked()
	g.mu.Unlock()
	g.admitted.Add(1)
	if shed != nil {
		g.shedBudget.Add(1)
		g.note(shed.src, "shed: the budget was full and this source held the most", "budget", g.cfg.Budget)
		shed.member.Shed()
	}
	g.hurryAll(hurry, now)
	return t, nil
}

// oldestOfLargestLocked is the member to shed: the oldest of the source
// holding the most; between sources holding as many, the oldest of all.
// mu held, count > 0.
func (g *Gate) oldestOfLargestLocked() *Ticket {
	var most []*Ticket
	for _, ts := range g.sources {
		if len(ts) > len(most) || (len(ts) == len(most) && ts[0].since.Before(most[0].since)) {
			most = ts
		}
	}
	return most[0]
}

// removeLocked takes t off the books; mu held.
func (g *Gate) removeLocked(t *Ticket) {
	if t.left {
		return
	}
	t.left = true
	ts := g.sources[t.src]
	for i, x := range ts {
		if x == t {
			ts = append(ts[:i], ts[i+1:]...)
			break
		}
	}
	if len(ts) == 0 {
		delete(g.sources, t.src)
	} else {
		g.sources[t.src] = ts
	}
	g.count--
	if g.count < g.cfg.Budget/2 {
		g.pressure = false
	}
}

// checkPressureLocked notices the budget becoming half used and returns
// the members to hurry then (every one, once per episode). mu held.
func (g *Gate) checkPressureLocked() []*Ticket {
	if g.pressure || g.count < g.cfg.Budget/2 || g.cfg.IdleDeadline <= 0 {
		return nil
	}
	g.pressure = true
	all := make([]*Ticket, 0, g.count)
	for _, ts := range g.sources {
		all = append(all, ts...)
	}
	return all
}

// hurryAll gives each member the pressure deadline (counted from its
// arrival, never later than its own); without the lock.
func (g *Gate) hurryAll(ts []*Ticket, now time.Time) {
	if len(ts) == 0 {
		return
	}
	g.hurried.Add(uint64(len(ts)))
	g.cfg.Logger.Info("admission under pressure: deadlines shortened", "gate", g.cfg.Name,
		"members", len(ts), "budget", g.cfg.Budget, "deadline", g.cfg.PressureDeadline)
	for _, t := range ts {
		t.member.Hurry(t.since.Add(g.cfg.PressureDeadline))
	}
}

// note logs one refusal or shed, at most once per source per LogInterval.
func (g *Gate) note(src Source, msg, reason string, limit int) {
	if g.logs.Allow(src) {
		g.cfg.Logger.Warn("admission "+msg, "gate", g.cfg.Name, "source", src.String(), "reason", reason, "limit", limit)
	}
}

// Deadline is when the member must have proved itself: its arrival plus
// the idle deadline, or the pressure deadline while half the budget is
// used. Zero when the gate has no deadline.
func (t *Ticket) Deadline() time.Time {
	g := t.gate
	if g.cfg.IdleDeadline <= 0 {
		return time.Time{}
	}
	g.mu.Lock()
	pressure := g.pressure
	g.mu.Unlock()
	if pressure {
		return t.since.Add(g.cfg.PressureDeadline)
	}
	return t.since.Add(g.cfg.IdleDeadline)
}

// Source is the source the ticket counts against.
func (t *Ticket) Source() Source { return t.src }

// Leave gives the place back. It is idempotent, and a no-op after a shed.
func (t *Ticket) Leave() {
	g := t.gate
	g.mu.Lock()
	g.removeLocked(t)
	g.mu.Unlock()
}

// Close refuses every newcomer from now on; members keep their places
// until they leave.
func (g *Gate) Close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

// Stats is a snapshot of a gate.
type Stats struct {
	Held      int    // members now
	Sources   int    // sources holding members now
	Pressure  bool   // half the budget is used
	Admitted  uint64 // members admitted so far
	Hurried   uint64 // deadlines shortened under pressure
	Refused   map[string]uint64
	Shed      map[string]uint64
	PerSource int // the configured cap, for whoever shows the figures
	Budget    int
}

// Stats returns the gate's counters: refusals by reason (per_source) and
// sheds by reason (budget).
func (g *Gate) Stats() Stats {
	g.mu.Lock()
	held, sources, pressure := g.count, len(g.sources), g.pressure
	g.mu.Unlock()
	return Stats{
		Held: held, Sources: sources, Pressure: pressure,
		Admitted:  g.admitted.Load(),
		Hurried:   g.hurried.Load(),
		Refused:   map[string]uint64{"per_source": g.refusedPerSource.Load()},
		Shed:      map[string]uint64{"budget": g.shedBudget.Load()},
		PerSource: g.cfg.PerSource, Budget: g.cfg.Budget,
	}
}

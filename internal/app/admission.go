package app

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"parley.dev/parley/internal/admission"
	"parley.dev/parley/internal/portmux"
)

// AdmissionConfig sets how much one source (an IPv4 address, an IPv6 /64)
// may make parley hold before it has proved anything, and how much all
// sources together may; docs/ONEPORT.md explains each gate. Zero fields
// take the defaults, which suit a server of a few hundred participants.
type AdmissionConfig struct {
	// PendingPerSource and PendingBudget cap the TCP connections of the
	// --listen port and --c2s whose first bytes (and TLS handshake) have
	// not arrived. Defaults 256 and 1024: a test or a NAT opening 140
	// TLS connections at once from one address stays under the cap.
	PendingPerSource, PendingBudget int
	// FirstBytesTimeout is how long such a connection has; PressureTimeout
	// how long once half the budget is used. Defaults 10 s and 2 s.
	FirstBytesTimeout, PressureTimeout time.Duration
	// HTTPPerSource and HTTPBudget cap open HTTP(S) connections (until a
	// WebSocket takes one over). Defaults 256 and 2048.
	HTTPPerSource, HTTPBudget int
	// TURNPerSource and TURNBudget cap open TURN over TCP and TLS
	// connections. Defaults 64 and 1024.
	TURNPerSource, TURNBudget int
	// ICETCPPerSource and ICETCPBudget cap open passive ICE-TCP
	// connections: Pion keeps one for a while even when its ufrag names no
	// session. Defaults 128 and 2048.
	ICETCPPerSource, ICETCPBudget int
	// UnauthPerSource and UnauthBudget cap XMPP sessions (TCP and
	// WebSocket) that have not logged in. Defaults 64 and 1024.
	UnauthPerSource, UnauthBudget int
	// GuestPerSource and GuestBudget cap sessions logged in as guests
	// (SASL ANONYMOUS, the web client's default) while they last: anyone
	// can become one. Defaults 256 and 2048; `parley load` from one
	// address with more participants needs a higher GuestPerSource.
	GuestPerSource, GuestBudget int
	// BindingRate, DTLSHelloRate and AllocateRate are the per-source rates,
	// per second, of STUN Binding requests, DTLS ClientHellos and TURN
	// Allocate requests on the UDP port (bursts twice as many); negative
	// turns one off. Defaults 250, 50 and 50 (portmux.DefaultUDPLimits).
	BindingRate, DTLSHelloRate, AllocateRate float64
}

func (c *AdmissionConfig) setDefaults() {
	def := func(v *int, d int) {
		if *v <= 0 {
			*v = d
		}
	}
	def(&c.PendingPerSource, 256)
	def(&c.PendingBudget, 1024)
	def(&c.HTTPPerSource, 256)
	def(&c.HTTPBudget, 2048)
	def(&c.TURNPerSource, 64)
	def(&c.TURNBudget, 1024)
	def(&c.ICETCPPerSource, 128)
	def(&c.ICETCPBudget, 2048)
	def(&c.UnauthPerSource, 64)
	def(&c.UnauthBudget, 1024)
	def(&c.GuestPerSource, 256)
	def(&c.GuestBudget, 2048)
	if c.FirstBytesTimeout <= 0 {
		c.FirstBytesTimeout = 10 * time.Second
	}
	if c.PressureTimeout <= 0 {
		c.PressureTimeout = 2 * time.Second
	}
}

// frontDoor is parley's admission: one gate per kind of connection that
// has not yet proved anything, shared by every listener.
// The gates are safe for concurrent use; the fields are read-only after
// newFrontDoor.
type frontDoor struct {
	pending *admission.Gate   // TCP connections of the port and --c2s before their first bytes
	http    *admission.Gate   // HTTP connections until hijacked or closed
	turn    *admission.Gate   // TURN over TCP and TLS connections
	iceTCP  *admission.Gate   // passive ICE-TCP connections
	unauth  *admission.Gate   // XMPP sessions before login (xmpp.Config.Unauthenticated)
	guests  *admission.Gate   // XMPP guest sessions (xmpp.Config.Guests)
	udp     portmux.UDPLimits // the UDP mux's rates

	mu        sync.Mutex
	httpConns map[net.Conn]*admission.Ticket // guarded by mu
}

func newFrontDoor(cfg Config) *frontDoor {
	a := cfg.Admission
	a.setDefaults()
	log := cfg.Logger.With("part", "admission")
	gate := func(name string, perSource, budget int, idle, pressure time.Duration) *admission.Gate {
		return admission.New(admission.Config{Name: name, PerSource: perSource, Budget: budget,
			IdleDeadline: idle, PressureDeadline: pressure, Logger: log})
	}
	fd := &frontDoor{
		pending:   gate("pending", a.PendingPerSource, a.PendingBudget, a.FirstBytesTimeout, a.PressureTimeout),
		http:      gate("http", a.HTTPPerSource, a.HTTPBudget, 0, 0),
		turn:      gate("turn", a.TURNPerSource, a.TURNBudget, 0, 0),
		iceTCP:    gate("ice-tcp", a.ICETCPPerSource, a.ICETCPBudget, 0, 0),
		unauth:    gate("unauthenticated", a.UnauthPerSource, a.UnauthBudget, 0, 0),
		guests:    gate("guests", a.GuestPerSource, a.GuestBudget, 0, 0),
		httpConns: make(map[net.Conn]*admission.Ticket),
	}
	rate := func(perSecond float64) admission.RateConfig {
		return admission.RateConfig{PerSecond: perSecond, Burst: int(2 * perSecond)}
	}
	fd.udp = portmux.DefaultUDPLimits()
	for _, r := range []struct {
		v   float64
		dst *admission.RateConfig
	}{{a.BindingRate, &fd.udp.Binding}, {a.DTLSHelloRate, &fd.udp.DTLSHello}, {a.AllocateRate, &fd.udp.Allocate}} {
		switch {
		case r.v < 0:
			*r.dst = admission.RateConfig{PerSecond: -1}
		case r.v > 0:
			g := *r.dst
			*r.dst = rate(r.v)
			r.dst.GlobalPerSecond, r.dst.GlobalBurst = g.GlobalPerSecond, g.GlobalBurst
		}
	}
	return fd
}

// httpConnState is the HTTP server's ConnState: a new connection takes a
// place in the HTTP gate, and gives it back when closed or hijacked (a
// WebSocket is an XMPP session, in the unauthenticated gate until login).
func (fd *frontDoor) httpConnState(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
		t, err := fd.http.Enter(c.RemoteAddr(), httpMember{c})
		if err != nil {
			c.Close()
			return
		}
		fd.mu.Lock()
		fd.httpConns[c] = t
		fd.mu.Unlock()
	case http.StateHijacked, http.StateClosed:
		fd.mu.Lock()
		t := fd.httpConns[c]
		delete(fd.httpConns, c)
		fd.mu.Unlock()
		if t != nil {
			t.Leave()
		}
	}
}

// httpMember is an HTTP connection in its gate; a shed closes it, on a
// goroutine of its own (a TLS close_notify may wait for the peer).
type httpMember struct{ c net.Conn }

func (m httpMember) Shed()         { go m.c.Close() }
func (httpMember) Hurry(time.Time) {}

// acceptC2S serves --c2s: each connection waits for its first bytes in
// the pending gate, as on the one port, before it becomes an XMPP session.
func (p *parley) acceptC2S(ctx context.Context) {
	for {
		conn, err := p.c2s.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			p.log.Warn("c2s accept", "err", err)
			time.Sleep(50 * time.Millisecond)
			continue
		}
		pc, err := p.door.pending.Admit(conn)
		if err != nil {
			conn.Close()
			continue
		}
		go p.serveC2S(ctx, conn, pc)
	}
}

// serveC2S waits for a --c2s connection's first byte within the gate's
// deadline, then serves XMPP on it with that byte given back.
func (p *parley) serveC2S(ctx context.Context, conn net.Conn, pc *admission.Pending) {
	var first [1]byte
	n, err := conn.Read(first[:])
	if n == 0 || err != nil {
		pc.Leave()
		conn.Close()
		return
	}
	if !pc.Classified() {
		conn.Close()
		return
	}
	p.xmpp.ServeTCP(ctx, &prefixConn{Conn: conn, head: first[:n]})
}

// prefixConn gives back the bytes read before handing the connection on.
type prefixConn struct {
	net.Conn
	head []byte // not yet read again; owned by the reader
}

func (c *prefixConn) Read(b []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(b, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(b)
}

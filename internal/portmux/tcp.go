// Package portmux shares one port number between every protocol parley
// serves, so that one TCP and one UDP port (443 in production) get through
// any firewall that lets the web through.
//
// TCPMux peeks at the first bytes of each accepted connection and hands it
// to the net.Listener of its protocol: HTTP, plain XMPP, TURN over TCP,
// passive ICE-TCP, and inside TLS (told by ALPN, or without ALPN by the
// first plaintext bytes) HTTPS, XMPP direct TLS, TURN over TLS and ACME
// TLS-ALPN-01. UDPMux reads the one UDP socket and splits it by RFC 7983
// first-byte ranges between the SFU (ICE, DTLS, SRTP) and the TURN server.
// Both count what they drop, by reason.
package portmux

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/admission"
)

// TCPConfig configures NewTCP.
type TCPConfig struct {
	// Listener is the real listener of the port. Required; the mux owns it
	// and closes it in Close.
	Listener net.Listener
	// TLS terminates TLS connections with its certificates (or
	// GetCertificate); the mux sets NextProtos itself, from the protocols
	// that have a listener. Default nil: TLS connections are refused.
	TLS *tls.Config
	// Admission holds the connections being classified (waiting for their
	// first bytes and their TLS handshake): it caps them per source and in
	// all, sheds the oldest of the largest holder when full, and sets their
	// read deadline, shortened under pressure. It may be shared with other
	// listeners. Default: a gate of its own with admission's defaults (128
	// per source, 1024 in all) and PeekTimeout as its idle deadline.
	Admission *admission.Gate
	// PeekTimeout bounds the wait for a connection's first bytes and its
	// TLS handshake when the gate sets no shorter deadline. Default 10 s.
	PeekTimeout time.Duration
	// Backlog is the number of connections of one protocol waiting for
	// Accept; beyond it new ones are closed and counted. Default 128.
	Backlog int
	// Logger receives the mux's logs. Default slog.Default().
	Logger *slog.Logger
}

// TCPMux routes the connections of one TCP listener by protocol.
type TCPMux struct {
	cfg  TCPConfig    // defaults applied; read-only after NewTCP
	log  *slog.Logger // never nil
	tls  atomic.Pointer[tls.Config]
	stat tcpCounters // safe for concurrent use

	mu        sync.Mutex
	listeners [numProtocols]*listener // guarded by mu; nil: not served
	pending   map[net.Conn]struct{}   // being classified; guarded by mu
	closed    bool                    // guarded by mu
}

// defaultPeekTimeout is how long a connection has for its first bytes
// (and its TLS handshake) when the gate is not under pressure.
const defaultPeekTimeout = 10 * time.Second

// NewTCP returns a mux over cfg.Listener; call Listener for each protocol
// to serve, then Serve.
func NewTCP(cfg TCPConfig) (*TCPMux, error) {
	if cfg.Listener == nil {
		return nil, errors.New("portmux: TCPConfig.Listener is required")
	}
	if cfg.PeekTimeout <= 0 {
		cfg.PeekTimeout = defaultPeekTimeout
	}
	if cfg.Backlog <= 0 {
		cfg.Backlog = 128
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Admission == nil {
		cfg.Admission = admission.New(admission.Config{Name: "pending", IdleDeadline: cfg.PeekTimeout, Logger: cfg.Logger})
	}
	return &TCPMux{cfg: cfg, log: cfg.Logger, pending: make(map[net.Conn]struct{})}, nil
}

// Listener returns the listener of p's connections, creating it on the
// first call. Its Addr is the real listener's. Until it exists, or after
// it is closed, p's connections are closed and counted as unrouted.
func (m *TCPMux) Listener(p Protocol) net.Listener {
	m.mu.Lock()
	defer m.mu.Unlock()
	if p < 0 || p >= numProtocols {
		panic("portmux: no such protocol")
	}
	if l := m.listeners[p]; l != nil {
		return l
	}
	l := &listener{mux: m, proto: p, conns: make(chan net.Conn, m.cfg.Backlog), done: make(chan struct{})}
	if m.closed {
		l.closed = true
		close(l.done)
		return l
	}
	m.listeners[p] = l
	m.updateTLS()
	return l
}

// alpnProtocols maps ALPN names to what they carry. h2 goes to the same
// HTTP server: a page's fifty modules load over one connection instead
// of six, each with its own handshake. WebSockets stay on HTTP/1.1: Go's
// HTTP/2 server does not announce extended CONNECT (RFC 8441), so
// browsers open a connection of their own for /xmpp-websocket.
func alpnProtocol(name string) (Protocol, bool) {
	switch name {
	case "h2", "http/1.1":
		return HTTPS, true
	case "xmpp-client":
		return XMPPTLS, true
	case "stun.turn", "stun.nat-discovery":
		return TURNTLS, true
	case "acme-tls/1":
		return ACME, true
	}
	return 0, false
}

// updateTLS rebuilds the TLS config's ALPN list from the listeners; mu held.
func (m *TCPMux) updateTLS() {
	if m.cfg.TLS == nil {
		return
	}
	c := m.cfg.TLS.Clone()
	c.NextProtos = nil
	for _, name := range []string{"h2", "http/1.1", "xmpp-client", "stun.turn", "stun.nat-discovery", "acme-tls/1"} {
		if p, _ := alpnProtocol(name); m.listeners[p] != nil {
			c.NextProtos = append(c.NextProtos, name)
		}
	}
	m.tls.Store(c)
}

// Serve accepts connections until Close; it returns nil then, or the
// listener's error.
func (m *TCPMux) Serve() error {
	for {
		conn, err := m.cfg.Listener.Accept()
		if err != nil {
			if m.isClosed() {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				time.Sleep(10 * time.Millisecond)
				continue
			}
			return err
		}
		pc, ok := m.admit(conn)
		if !ok {
			conn.Close()
			continue
		}
		go m.route(conn, pc)
	}
}

// admit registers a connection being classified, if the gate takes it.
func (m *TCPMux) admit(conn net.Conn) (*admission.Pending, bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return nil, false
	}
	// Under mu, so that Close finds every admitted connection.
	pc, err := m.cfg.Admission.Admit(conn)
	if err != nil {
		m.stat.refuse(refusedPerSource)
		return nil, false
	}
	m.pending[conn] = struct{}{}
	return pc, true
}

func (m *TCPMux) untrack(conn net.Conn) {
	m.mu.Lock()
	delete(m.pending, conn)
	m.mu.Unlock()
}

func (m *TCPMux) isClosed() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.closed
}

// route classifies one connection and delivers it. The gate's read
// deadline (or PeekTimeout) bounds the classification.
func (m *TCPMux) route(conn net.Conn, pc *admission.Pending) {
	defer m.untrack(conn)
	if pc.Deadline().IsZero() {
		pc.Hurry(time.Now().Add(m.cfg.PeekTimeout))
	}
	fail := func(reason int) {
		pc.Leave()
		if pc.WasShed() {
			reason = refusedShed
		}
		if reason != 0 {
			m.stat.refuse(reason)
		}
		conn.Close()
	}
	head, kind, proto, reason := peekStream(conn)
	if kind == streamUnknown {
		fail(reason)
		return
	}
	replay := &replayConn{Conn: conn, head: head}
	var out net.Conn = replay
	if kind == streamTLS {
		var reason int
		if out, proto, reason = m.terminateTLS(replay); reason != 0 {
			fail(reason)
			return
		}
	}
	if !pc.Classified() {
		m.stat.refuse(refusedShed)
		conn.Close()
		return
	}
	m.deliver(proto, out)
}

// peekStream reads until classifyStream decides.
func peekStream(conn net.Conn) ([]byte, streamKind, Protocol, int) {
	buf := make([]byte, 0, peekBytes)
	for {
		kind, proto := classifyStream(buf)
		if kind != streamMore {
			if kind == streamUnknown {
				return buf, kind, proto, refusedUnknown
			}
			return buf, kind, proto, 0
		}
		n, err := conn.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return buf, streamUnknown, 0, readFailure(err)
		}
	}
}

func readFailure(err error) int {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return refusedPeekTimeout
	}
	return refusedEOF
}

// terminateTLS runs the handshake and decides what the connection carries:
// by ALPN, or without ALPN by its first plaintext bytes. A non-zero reason
// says why it failed.
func (m *TCPMux) terminateTLS(conn net.Conn) (net.Conn, Protocol, int) {
	cfg := m.tls.Load()
	if cfg == nil || len(cfg.NextProtos) == 0 {
		return nil, 0, refusedUnrouted
	}
	tc := tls.Server(conn, cfg)
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.PeekTimeout)
	defer cancel()
	if err := tc.HandshakeContext(ctx); err != nil {
		m.log.Debug("tls handshake failed", "remote", conn.RemoteAddr().String(), "err", err)
		return nil, 0, refusedTLSHandshake
	}
	if p, ok := alpnProtocol(tc.ConnectionState().NegotiatedProtocol); ok {
		// The *tls.Conn itself, so that an HTTP server sees TLS.
		return tc, p, 0
	}
	buf := make([]byte, 0, 8)
	for {
		if p, ok := classifyInsideTLS(buf); ok {
			return &tlsReplayConn{replayConn: replayConn{Conn: tc, head: buf}, tls: tc}, p, 0
		}
		n, err := tc.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err != nil && n == 0 {
			return nil, 0, readFailure(err)
		}
	}
}

// deliver queues conn on p's listener, or closes it.
func (m *TCPMux) deliver(p Protocol, conn net.Conn) {
	m.mu.Lock()
	l := m.listeners[p]
	m.mu.Unlock()
	if l == nil {
		m.stat.refuse(refusedUnrouted)
		conn.Close()
		return
	}
	// Counted before the push: once queued, the conn may be served (and
	// the counters read) before this goroutine runs again.
	m.stat.routed[p].Add(1)
	if reason, ok := l.push(conn); !ok {
		m.stat.routed[p].Add(^uint64(0))
		m.stat.refuse(reason)
		conn.Close()
	}
}

// Close closes the real listener, every protocol's listener and the
// connections still being classified.
func (m *TCPMux) Close() error {
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return nil
	}
	m.closed = true
	ls := m.listeners
	for c := range m.pending {
		c.Close()
	}
	m.mu.Unlock()
	err := m.cfg.Listener.Close()
	for _, l := range ls {
		if l != nil {
			l.Close()
		}
	}
	return err
}

// forget unregisters a closed listener.
func (m *TCPMux) forget(l *listener) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.listeners[l.proto] == l {
		m.listeners[l.proto] = nil
		m.updateTLS()
	}
}

// listener is one protocol's share of the port.
type listener struct {
	mux   *TCPMux       // read-only
	proto Protocol      // read-only
	conns chan net.Conn // bounded by Backlog; sent to under mu
	done  chan struct{} // closed by Close

	mu     sync.Mutex
	closed bool // guarded by mu
}

func (l *listener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
	}
}

// push queues a connection unless the listener is closed or full.
func (l *listener) push(c net.Conn) (int, bool) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.closed {
		return refusedUnrouted, false
	}
	select {
	case l.conns <- c:
		return 0, true
	default:
		return refusedBacklogFull, false
	}
}

// Close stops this protocol's share; queued connections are closed.
func (l *listener) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	close(l.done)
	for drained := false; !drained; {
		select {
		case c := <-l.conns:
			c.Close()
		default:
			drained = true
		}
	}
	l.mu.Unlock()
	l.mux.forget(l)
	return nil
}

func (l *listener) Addr() net.Addr { return l.mux.cfg.Listener.Addr() }

// replayConn gives back the peeked bytes before reading on. LocalAddr and
// RemoteAddr are the real connection's.
type replayConn struct {
	net.Conn
	head []byte // peeked bytes not yet read; owned by the reader
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		return n, nil
	}
	return c.Conn.Read(p)
}

// tlsReplayConn is a replayConn inside TLS: its ConnectionState tells a
// server that the connection is encrypted (and how), as a *tls.Conn's does.
type tlsReplayConn struct {
	replayConn
	tls *tls.Conn // the same conn as replayConn.Conn; read-only
}

// ConnectionState is the TLS connection's.
func (c *tlsReplayConn) ConnectionState() tls.ConnectionState { return c.tls.ConnectionState() }

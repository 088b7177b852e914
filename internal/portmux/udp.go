package portmux

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"parley.dev/parley/internal/admission"
)

// UDPConfig configures NewUDP.
type UDPConfig struct {
	// Conn is the port's one UDP socket. Required; the mux owns it and
	// closes it in Close, or once both sides are closed.
	Conn *net.UDPConn
	// QueueLen bounds the packets waiting for each side; beyond it packets
	// are dropped and counted. Default 1024.
	QueueLen int
	// MaxPacket is the largest datagram accepted; larger ones are dropped
	// and counted. Default 8192, as Pion's ICE mux reads.
	MaxPacket int
	// Limits bound, per source (an IPv4 address, an IPv6 /64), the
	// datagrams that start work before any session exists; media and
	// everything else established sessions send are never limited. Zero
	// fields take DefaultUDPLimits' values.
	Limits UDPLimits
	// Logger receives the mux's logs. Default slog.Default().
	Logger *slog.Logger
	// Clock returns the time, for the rate limits. Default time.Now.
	Clock func() time.Time
}

// UDPLimits are the UDP mux's rate limits. A PerSecond of zero takes the
// default; a negative one turns that limit off.
type UDPLimits struct {
	// Binding: STUN Binding requests (ICE checks, consent checks and
	// reflexive-address queries).
	Binding admission.RateConfig
	// DTLSHello: DTLS ClientHellos, each a handshake started.
	DTLSHello admission.RateConfig
	// Allocate: TURN Allocate requests, authenticated or not.
	Allocate admission.RateConfig
}

// DefaultUDPLimits suit a server of a few hundred participants, dozens
// of them possibly behind one NAT and joining at once: a browser joining
// sends some tens of ICE checks a second for a moment, then a consent
// check every few seconds, one to three ClientHellos (retransmits, the
// cookie exchange) and two Allocates per TURN transport. The global
// bounds keep a flood from spoofed sources from filling the SFU's queue.
func DefaultUDPLimits() UDPLimits {
	return UDPLimits{
		Binding:   admission.RateConfig{PerSecond: 250, Burst: 500, GlobalPerSecond: 5000, GlobalBurst: 10000},
		DTLSHello: admission.RateConfig{PerSecond: 50, Burst: 100, GlobalPerSecond: 1000, GlobalBurst: 2000},
		Allocate:  admission.RateConfig{PerSecond: 50, Burst: 100, GlobalPerSecond: 1000, GlobalBurst: 2000},
	}
}

func (l *UDPLimits) setDefaults(clock func() time.Time) {
	d := DefaultUDPLimits()
	for _, p := range []struct{ got, def *admission.RateConfig }{
		{&l.Binding, &d.Binding}, {&l.DTLSHello, &d.DTLSHello}, {&l.Allocate, &d.Allocate},
	} {
		if p.got.PerSecond == 0 {
			*p.got = *p.def
		}
		p.got.Clock = clock
	}
}

// UDPMux splits one UDP socket between the SFU and the TURN server.
type UDPMux struct {
	cfg   UDPConfig    // defaults applied; read-only after NewUDP
	log   *slog.Logger // never nil
	media *sidePacketConn
	turn  *sidePacketConn
	stat  udpCounters // safe for concurrent use
	pool  sync.Pool   // of *[]byte, 2 KiB: most packets' copies
	done  chan struct{}
	// channelData, if set, takes TURN ChannelData in the read loop (see
	// SetChannelDataHandler).
	channelData atomic.Pointer[func([]byte, netip.AddrPort) bool]
	limits      udpLimiters // owned by the read loop

	closeOnce sync.Once
}

// packet is one queued datagram.
type packet struct {
	buf  *[]byte // pooled when cap is poolBuf, else nil
	data []byte
	from *net.UDPAddr // fresh for each datagram: handed out as is
}

// poolBuf is the size of pooled packet copies; larger packets get their own.
const poolBuf = 2048

// NewUDP starts reading cfg.Conn.
func NewUDP(cfg UDPConfig) (*UDPMux, error) {
	if cfg.Conn == nil {
		return nil, errors.New("portmux: UDPConfig.Conn is required")
	}
	if cfg.QueueLen <= 0 {
		cfg.QueueLen = 1024
	}
	if cfg.MaxPacket <= 0 {
		cfg.MaxPacket = 8192
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	cfg.Limits.setDefaults(cfg.Clock)
	m := &UDPMux{cfg: cfg, log: cfg.Logger, done: make(chan struct{}), limits: newUDPLimiters(cfg.Limits, cfg.Clock)}
	m.pool.New = func() any { b := make([]byte, poolBuf); return &b }
	m.media = newSidePacketConn(m, cfg.QueueLen)
	m.turn = newSidePacketConn(m, cfg.QueueLen)
	go m.readLoop()
	return m, nil
}

// SetChannelDataHandler has the read loop offer each TURN ChannelData
// datagram to h before queueing it for the TURN side; h returns true when
// it relayed the datagram itself. Relaying a channel's data is most of a
// TURN server's work, and this spares it a goroutine hand-off. h runs on
// the read loop: it must not block beyond a UDP write, nor keep b.
func (m *UDPMux) SetChannelDataHandler(h func(b []byte, from netip.AddrPort) bool) {
	m.channelData.Store(&h)
}

// Media is the SFU's share: ICE checks, DTLS, SRTP and SRTCP.
func (m *UDPMux) Media() net.PacketConn { return m.media }

// TURN is the TURN server's share: TURN, plain STUN binding, ChannelData.
func (m *UDPMux) TURN() net.PacketConn { return m.turn }

// Close closes the socket and both sides.
func (m *UDPMux) Close() error {
	var err error
	m.closeOnce.Do(func() {
		close(m.done)
		err = m.cfg.Conn.Close()
	})
	return err
}

// sideClosed closes the socket once both sides are closed.
func (m *UDPMux) sideClosed() {
	if m.media.isClosed() && m.turn.isClosed() {
		m.Close()
	}
}

// readBatch is how many datagrams one read takes at most (recvmmsg on
// Linux): under load the queue holds many, and a syscall per datagram is
// most of the cost of relaying one.
const readBatch = 16

func (m *UDPMux) readLoop() {
	reader, err := newBatchReader(m.cfg.Conn, readBatch, m.cfg.MaxPacket+1)
	if err != nil {
		m.log.Error("udp mux cannot read its socket", "err", err)
		m.Close()
		return
	}
	for {
		n, err := reader.read()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				m.Close()
				return
			}
			// ICMP errors surface here on Linux (connection refused from an
			// earlier write); they concern one peer, not the socket.
			m.log.Debug("udp read", "err", err)
			continue
		}
		for i := range n {
			if b, from, ok := reader.datagram(i); ok {
				m.handle(b, from)
			}
		}
	}
}

// handle routes one datagram.
func (m *UDPMux) handle(b []byte, from netip.AddrPort) {
	if len(b) > m.cfg.MaxPacket {
		m.stat.dropped[dropOversize].Add(1)
		return
	}
	dest, reason := classifyPacket(b)
	if dest != dropped {
		if reason = m.limits.check(b, from); reason != 0 {
			m.stat.dropped[reason].Add(1)
			// The log limiter (a lock, a clock reading) is asked about one
			// drop in 256: a flood is still seen, at little cost per datagram.
			if m.limits.drops++; m.limits.drops&0xff == 1 && m.limits.logs.Allow(admission.SourceOfAddr(from.Addr())) {
				m.log.Warn("udp datagrams over their source's rate dropped", "source", from.Addr().String(), "reason", dropReasonName(reason))
			}
			return
		}
	}
	switch dest {
	case toMedia:
		m.dispatch(m.media, b, from)
	case toTURN:
		if h := m.channelData.Load(); h != nil && *h != nil && b[0] >= 64 && (*h)(b, from) {
			m.stat.turn.Add(1)
			return
		}
		m.dispatch(m.turn, b, from)
	default:
		m.stat.dropped[reason].Add(1)
	}
}

// dispatch copies the datagram and queues it for side.
func (m *UDPMux) dispatch(side *sidePacketConn, b []byte, from netip.AddrPort) {
	p := packet{from: net.UDPAddrFromAddrPort(from)}
	if len(b) <= poolBuf {
		p.buf = m.pool.Get().(*[]byte)
		p.data = (*p.buf)[:len(b)]
	} else {
		p.data = make([]byte, len(b))
	}
	copy(p.data, b)
	if reason, ok := side.push(p); !ok {
		m.stat.dropped[reason].Add(1)
		m.release(p)
		return
	}
	if side == m.media {
		m.stat.media.Add(1)
	} else {
		m.stat.turn.Add(1)
	}
}

func (m *UDPMux) release(p packet) {
	if p.buf != nil {
		m.pool.Put(p.buf)
	}
}

// sidePacketConn is one side's view of the socket: it reads what the mux
// queued for it and writes straight to the socket. Write deadlines are
// not supported (the socket is shared); read deadlines are.
type sidePacketConn struct {
	mux      *UDPMux     // read-only
	queue    chan packet // bounded; filled by the read loop
	deadline deadline    // read deadline

	mu     sync.Mutex
	closed bool          // guarded by mu
	done   chan struct{} // closed with closed
}

func newSidePacketConn(m *UDPMux, queueLen int) *sidePacketConn {
	return &sidePacketConn{mux: m, queue: make(chan packet, queueLen), done: make(chan struct{}), deadline: newDeadline()}
}

func (c *sidePacketConn) push(p packet) (int, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return dropClosed, false
	}
	select {
	case c.queue <- p:
		return 0, true
	default:
		return dropQueueFull, false
	}
}

func (c *sidePacketConn) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case p := <-c.queue:
		n := copy(b, p.data)
		c.mux.release(p)
		return n, p.from, nil
	case <-c.done:
	case <-c.mux.done:
	case <-c.deadline.wait():
		return 0, nil, &net.OpError{Op: "read", Net: "udp", Addr: c.LocalAddr(), Err: os.ErrDeadlineExceeded}
	}
	return 0, nil, &net.OpError{Op: "read", Net: "udp", Addr: c.LocalAddr(), Err: net.ErrClosed}
}

func (c *sidePacketConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.done:
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: c.LocalAddr(), Err: net.ErrClosed}
	default:
	}
	return c.mux.cfg.Conn.WriteTo(b, addr)
}

// SyscallConn returns the shared socket's raw conn for writing, for a
// TURN server that sends many datagrams to its clients in one system call
// (sendmmsg). Its Read fails: the mux alone reads the socket.
func (c *sidePacketConn) SyscallConn() (syscall.RawConn, error) {
	select {
	case <-c.done:
		return nil, &net.OpError{Op: "raw-conn", Net: "udp", Addr: c.LocalAddr(), Err: net.ErrClosed}
	default:
	}
	rc, err := c.mux.cfg.Conn.SyscallConn()
	if err != nil {
		return nil, err
	}
	return writeOnlyRawConn{rc}, nil
}

// writeOnlyRawConn is the shared socket's raw conn without reads.
type writeOnlyRawConn struct{ syscall.RawConn }

var errRawRead = errors.New("portmux: the shared socket is read by the mux only")

func (writeOnlyRawConn) Read(func(fd uintptr) bool) error { return errRawRead }

// Close closes this side; the socket closes once both sides are.
func (c *sidePacketConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	close(c.done)
	for drained := false; !drained; {
		select {
		case p := <-c.queue:
			c.mux.release(p)
		default:
			drained = true
		}
	}
	c.mu.Unlock()
	c.mux.sideClosed()
	return nil
}

func (c *sidePacketConn) isClosed() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.closed
}

func (c *sidePacketConn) LocalAddr() net.Addr { return c.mux.cfg.Conn.LocalAddr() }

func (c *sidePacketConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

func (c *sidePacketConn) SetReadDeadline(t time.Time) error {
	c.deadline.set(t)
	return nil
}

// SetWriteDeadline is a no-op: the socket is shared by both sides.
func (c *sidePacketConn) SetWriteDeadline(time.Time) error { return nil }

// SetReadBuffer and SetWriteBuffer reach the shared socket, for callers
// that tune their conn's buffers.
func (c *sidePacketConn) SetReadBuffer(n int) error  { return c.mux.cfg.Conn.SetReadBuffer(n) }
func (c *sidePacketConn) SetWriteBuffer(n int) error { return c.mux.cfg.Conn.SetWriteBuffer(n) }

// deadline is a settable read deadline: wait returns a channel closed once
// it passes.
type deadline struct {
	mu     sync.Mutex
	timer  *time.Timer   // guarded by mu
	expire chan struct{} // guarded by mu; closed when the deadline passes
}

func newDeadline() deadline { return deadline{expire: make(chan struct{})} }

func (d *deadline) set(t time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.timer != nil && !d.timer.Stop() {
		<-d.expire // the timer fired: start afresh
	}
	d.timer = nil
	select {
	case <-d.expire:
		d.expire = make(chan struct{})
	default:
	}
	if t.IsZero() {
		return
	}
	dur := time.Until(t)
	if dur <= 0 {
		close(d.expire)
		return
	}
	expire := d.expire
	d.timer = time.AfterFunc(dur, func() { close(expire) })
}

func (d *deadline) wait() <-chan struct{} {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.expire
}

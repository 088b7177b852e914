package sip

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/emiago/sipgo"
	"github.com/emiago/sipgo/sip"
)

// Gateway is the SIP side: listeners on UDP and TCP, the calls.
type Gateway struct {
	cfg     Config       // defaults applied; read-only
	log     *slog.Logger // read-only
	ua      *sipgo.UserAgent
	srv     *sipgo.Server
	client  *sipgo.Client                       // sends our BYEs
	dialogs map[string]*sipgo.DialogServerCache // by transport ("UDP", "TCP", "TLS"); read-only after New
	out     *sipgo.DialogClientCache            // dial-out calls (UDP)
	outTLS  *sipgo.DialogClientCache            // dial-out calls over TLS; nil without Config.TLSListen
	policy  *policy
	pins    *PINs
	legs    sync.Map // dialog ID to *phoneLeg, for SIP INFO digits
	invites *limiter // new calls per source
	packets *limiter // SIP messages per source
	udp     *net.UDPConn
	tcp     *net.TCPListener
	tls     net.Listener // SIP over TLS; nil without Config.TLSListen
	bindIP  net.IP       // where RTP sockets bind; read-only

	ctx    context.Context // ends every call at Close; read-only
	cancel context.CancelFunc
	calls  sync.WaitGroup

	live     atomic.Int64 // calls in progress, from INVITE accepted to hang-up
	ringing  atomic.Int64 // dial-outs in Dial: ringing, or joining the room
	total    atomic.Int64 // calls that reached a room
	refusals [refusalKinds]atomic.Int64
	dropped  atomic.Int64 // SIP messages dropped by the per-source rate
	rtp      rtpCounts    // every call's RTP
}

// Stats are the gateway's counters.
type Stats struct {
	LiveCalls int64            // calls in progress now
	Calls     int64            // calls that reached a room, since start
	Refused   map[string]int64 // INVITEs refused, by reason
	Dropped   int64            // SIP messages over a source's rate, unread
	// RTP with the phones: packets received, and those too late to play;
	// packets sent, and those sent over 20 ms after their time; packets
	// refused (from another address, or not RTP).
	RTPReceived, RTPLateIn, RTPSent, RTPLateOut, RTPRefused int64
	// RTPSecured counts the phones' packets that were SRTP (SDES) and
	// passed its authentication.
	RTPSecured int64
}

type refusal int

const (
	refusedRate refusal = iota
	refusedFull
	refusedTrunk
	refusedMalformed
	refusedRoom
	refusedCodec
	refusedJoin
	refusedPIN // a wrong PIN typed at the IVR
	refusalKinds
)

var refusalNames = [refusalKinds]string{"rate", "full", "trunk", "malformed", "room", "codec", "join", "pin"}

// New checks cfg and opens the listeners; Serve serves them.
func New(cfg Config) (*Gateway, error) {
	cfg.defaults()
	if cfg.Listen == "" || cfg.Server == "" || cfg.Codec == nil {
		return nil, errors.New("sip: Listen, Server and Codec are required")
	}
	if cfg.TLSListen != "" && (cfg.TLS == nil || len(cfg.TLS.Certificates) == 0 && cfg.TLS.GetCertificate == nil) {
		return nil, errors.New("sip: TLSListen needs a certificate (TLS)")
	}
	if !slices.Contains(Languages, cfg.Language) {
		return nil, fmt.Errorf("sip: no prompts in language %q (%v)", cfg.Language, Languages)
	}
	g := &Gateway{cfg: cfg, log: cfg.Logger.With("part", "sip"), policy: newPolicy(cfg.Trunks), pins: cfg.PINs,
		invites: newLimiter(cfg.InvitesPerSecond, cfg.InviteBurst),
		packets: newLimiter(cfg.PacketsPerSecond, int(2*cfg.PacketsPerSecond))}
	g.ctx, g.cancel = context.WithCancel(context.Background())
	uaddr, err := net.ResolveUDPAddr("udp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("sip: listen %q: %w", cfg.Listen, err)
	}
	if g.udp, g.tcp, err = listenPair(uaddr); err != nil {
		return nil, fmt.Errorf("sip: %w", err)
	}
	g.bindIP = uaddr.IP
	if cfg.TLSListen != "" {
		ln, err := net.Listen("tcp", cfg.TLSListen)
		if err != nil {
			g.closeListeners()
			return nil, fmt.Errorf("sip: TLS: %w", err)
		}
		g.tls = tls.NewListener(ln, cfg.TLS)
	}
	if err := g.stack(); err != nil {
		g.closeListeners()
		return nil, err
	}
	return g, nil
}

// stack builds sipgo's user agent, server, client and dialog caches.
func (g *Gateway) stack() error {
	quiet := slog.New(demoted{g.log.Handler()})
	var err error
	opts := []sipgo.UserAgentOption{sipgo.WithUserAgent("parley"),
		sipgo.WithUserAgentTransportLayerOptions(sip.WithTransportLayerLogger(quiet), sip.WithTransportLayerReadFilter(g.readFilter)),
		sipgo.WithUserAgentTransactionLayerOptions(sip.WithTransactionLayerLogger(quiet))}
	if g.cfg.Outbound.TLS != nil {
		opts = append(opts, sipgo.WithUserAgenTLSConfig(g.cfg.Outbound.TLS))
	}
	g.ua, err = sipgo.NewUA(opts...)
	if err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	if g.srv, err = sipgo.NewServer(g.ua, sipgo.WithServerLogger(quiet)); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	local := g.udp.LocalAddr().(*net.UDPAddr)
	host := local.IP.String()
	if local.IP.IsUnspecified() {
		host = g.ua.Hostname()
	}
	if g.client, err = sipgo.NewClient(g.ua, sipgo.WithClientHostname(host), sipgo.WithClientLogger(quiet)); err != nil {
		return fmt.Errorf("sip: %w", err)
	}
	g.dialogs = map[string]*sipgo.DialogServerCache{}
	for _, tp := range []string{"UDP", "TCP", "TLS"} {
		contact := sip.ContactHeader{Address: sip.Uri{Scheme: "sip", Host: host, Port: local.Port}}
		switch tp {
		case "TCP":
			contact.Address.UriParams = sip.NewParams()
			contact.Address.UriParams.Add("transport", "tcp")
		case "TLS":
			if g.tls == nil {
				continue
			}
			contact.Address.Port = g.tls.Addr().(*net.TCPAddr).Port
			contact.Address.UriParams = sip.NewParams()
			contact.Address.UriParams.Add("transport", "tls")
		}
		g.dialogs[tp] = sipgo.NewDialogServerCache(g.client, contact)
		switch tp {
		case "UDP":
			g.out = sipgo.NewDialogClientCache(g.client, contact)
		case "TLS":
			g.outTLS = sipgo.NewDialogClientCache(g.client, contact)
		}
	}
	g.srv.OnInvite(g.onInvite)
	g.srv.OnAck(g.onAck)
	g.srv.OnBye(g.onBye)
	g.srv.OnInfo(g.onInfo)
	g.srv.OnOptions(func(req *sip.Request, tx sip.ServerTransaction) {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusOK, "OK", nil))
	})
	return nil
}

// Addr is the address the gateway listens on (UDP and TCP).
func (g *Gateway) Addr() string { return g.udp.LocalAddr().String() }

// TLSAddr is the SIP over TLS address, "" without one.
func (g *Gateway) TLSAddr() string {
	if g.tls == nil {
		return ""
	}
	return g.tls.Addr().String()
}

// Open says whether any source may dial in (no trunk is configured).
func (g *Gateway) Open() bool { return g.policy.open() }

// Serve serves SIP until ctx ends, then hangs up every call and returns.
func (g *Gateway) Serve(ctx context.Context) error {
	errs := make(chan error, 3)
	go func() { errs <- g.srv.ServeUDP(g.udp) }()
	go func() { errs <- g.srv.ServeTCP(g.tcp) }()
	if g.tls != nil {
		go func() { errs <- g.srv.ServeTLS(g.tls) }()
	}
	var err error
	select {
	case <-ctx.Done():
	case err = <-errs:
	}
	g.cancel()
	g.closeListeners()
	g.calls.Wait()
	_ = g.ua.Close()
	return err
}

func (g *Gateway) closeListeners() {
	_ = g.udp.Close()
	_ = g.tcp.Close()
	if g.tls != nil {
		_ = g.tls.Close()
	}
}

// DialIn is what a room's invitation shows for phones: the PIN callers
// type at the IVR, and the operator's dial-in number; as JSON for the
// admin API's GET /api/rooms/{room}/dial-in.
func (g *Gateway) DialIn(room string) (any, int) {
	pin, err := g.pins.PIN(room)
	if err != nil {
		return map[string]string{"error": err.Error()}, 400
	}
	return map[string]string{"pin": pin, "number": g.cfg.DialInNumber, "uri": "sip:" + g.cfg.IVRUser + "@" + g.Addr()}, 200
}

// Stats returns the counters.
func (g *Gateway) Stats() Stats {
	s := Stats{LiveCalls: g.live.Load(), Calls: g.total.Load(), Dropped: g.dropped.Load(), Refused: map[string]int64{},
		RTPReceived: g.rtp.received.Load(), RTPLateIn: g.rtp.lateIn.Load(), RTPSent: g.rtp.sent.Load(),
		RTPLateOut: g.rtp.lateOut.Load(), RTPRefused: g.rtp.refused.Load(), RTPSecured: g.rtp.srtp.Load()}
	for i := range g.refusals {
		s.Refused[refusalNames[i]] = g.refusals[i].Load()
	}
	return s
}

// readFilter drops what a source sends beyond its rate, before parsing:
// UDP datagrams are dropped, a TCP connection is closed.
func (g *Gateway) readFilter(p sip.TransportReadProps, data []byte) ([]byte, error) {
	if g.packets.allow(addrOf(p.RemoteAddr)) {
		return data, nil
	}
	g.dropped.Add(1)
	if p.Transport != "UDP" { // TCP, TLS: the connection is closed
		return nil, errFlood
	}
	return nil, nil
}

func (g *Gateway) dialogsOf(req *sip.Request) *sipgo.DialogServerCache {
	if d := g.dialogs[req.Transport()]; d != nil {
		return d
	}
	return g.dialogs["UDP"]
}

func (g *Gateway) onAck(req *sip.Request, tx sip.ServerTransaction) {
	_ = g.dialogsOf(req).ReadAck(req, tx)
}

func (g *Gateway) onBye(req *sip.Request, tx sip.ServerTransaction) {
	if err := g.dialogsOf(req).ReadBye(req, tx); err == nil {
		return
	}
	if g.outTLS != nil && g.outTLS.ReadBye(req, tx) == nil {
		return
	}
	if err := g.out.ReadBye(req, tx); err != nil {
		_ = tx.Respond(sip.NewResponseFromRequest(req, sip.StatusCallTransactionDoesNotExists, "Call/Transaction Does Not Exist", nil))
	}
}

// demoted is a slog handler that logs everything at Debug: sipgo logs
// every unparseable datagram at Error, which scanners would turn into a
// flood of our logs.
type demoted struct{ h slog.Handler }

func (d demoted) Enabled(ctx context.Context, _ slog.Level) bool {
	return d.h.Enabled(ctx, slog.LevelDebug)
}

func (d demoted) Handle(ctx context.Context, r slog.Record) error {
	r.Level = slog.LevelDebug
	return d.h.Handle(ctx, r)
}

func (d demoted) WithAttrs(a []slog.Attr) slog.Handler { return demoted{d.h.WithAttrs(a)} }
func (d demoted) WithGroup(n string) slog.Handler      { return demoted{d.h.WithGroup(n)} }

// listenPair binds UDP and TCP on one port. With port 0 the UDP port is
// the kernel's pick, and its TCP twin may be taken (an outgoing
// connection's port, a CI run): then it tries another.
func listenPair(addr *net.UDPAddr) (*net.UDPConn, *net.TCPListener, error) {
	for attempt := 0; ; attempt++ {
		udp, err := net.ListenUDP("udp", addr)
		if err != nil {
			return nil, nil, err
		}
		taddr := &net.TCPAddr{IP: addr.IP, Port: udp.LocalAddr().(*net.UDPAddr).Port}
		tcp, err := net.ListenTCP("tcp", taddr)
		if err == nil {
			return udp, tcp, nil
		}
		_ = udp.Close()
		if addr.Port != 0 || attempt == 20 {
			return nil, nil, err
		}
	}
}

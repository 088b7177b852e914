package app

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley.dev/parley/internal/acme"
	"parley.dev/parley/internal/certs"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/portmux"
	"parley.dev/parley/internal/turn"
	"parley.dev/parley/internal/xmpp"
)

// turnCredentialTTL is how long the TURN credentials handed out with
// XEP-0215 stay valid; clients ask again before they expire.
const turnCredentialTTL = 24 * time.Hour

// onePort is everything on the --listen port number: TCP (HTTP, HTTPS,
// WebSocket, XMPP, ICE-TCP, TURN over TCP and TLS) told apart by the TCP
// mux, and UDP (ICE, DTLS, SRTP and TURN) by the UDP mux.
type onePort struct {
	tcp       *portmux.TCPMux // owns the --listen listener
	udp       *portmux.UDPMux // owns the UDP socket
	turn      *turn.Server    // serves its shares of both muxes
	acme      *acme.Manager   // nil unless --acme; answers its challenges on the TCP mux
	turnHost  string          // the host named in XEP-0215 services
	turnsHost string          // the host named for turns: one the certificate covers
	port      int             // the port number, TCP and UDP
	turnsOK   bool            // a certificate clients can verify: TURN over TLS is offered
	serveErrs chan error      // the TCP mux's Serve result
}

// portTLS is how TLS is terminated on the one port.
type portTLS struct {
	config     *tls.Config
	verifiable bool          // --tls-cert or ACME, not self-signed
	acme       *acme.Manager // set with --acme
}

// loadTLS builds the port's TLS: a configured pair, ACME, or else a
// self-signed certificate kept in DATA/tls.
func loadTLS(cfg Config) (portTLS, error) {
	if cfg.ACME {
		return loadACME(cfg)
	}
	var cert tls.Certificate
	var err error
	if cfg.TLSCert != "" || cfg.TLSKey != "" {
		cert, err = tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
	} else {
		hosts := []string{cfg.Domain}
		if cfg.PublicIP != "" {
			hosts = append(hosts, cfg.PublicIP)
		}
		cert, err = certs.LoadOrCreateSelfSigned(filepath.Join(cfg.DataDir, "tls"), hosts)
	}
	if err != nil {
		return portTLS{}, fmt.Errorf("tls: %w", err)
	}
	return portTLS{
		config:     &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		verifiable: cfg.TLSCert != "",
	}, nil
}

// loadACME refuses what ACME cannot serve, then builds the manager: the
// domain and a --turn-host name, cached in DATA/acme.
func loadACME(cfg Config) (portTLS, error) {
	if err := cfg.checkACME(); err != nil {
		return portTLS{}, err
	}
	hosts := []string{cfg.Domain}
	if h := cfg.TURNHost; h != "" && !isIP(h) && !strings.EqualFold(h, cfg.Domain) {
		hosts = append(hosts, h)
	}
	m, err := acme.New(acme.Config{
		Hosts:        hosts,
		CacheDir:     filepath.Join(cfg.DataDir, "acme"),
		Email:        cfg.ACMEEmail,
		DirectoryURL: cfg.ACMEDirectory,
		HTTPClient:   cfg.ACMEHTTPClient,
		Logger:       cfg.Logger.With("part", "acme"),
	})
	if err != nil {
		return portTLS{}, fmt.Errorf("--acme: %w", err)
	}
	return portTLS{config: m.TLSConfig(), verifiable: true, acme: m}, nil
}

func isIP(host string) bool {
	_, err := netip.ParseAddr(strings.Trim(host, "[]"))
	return err == nil
}

// openPort builds the muxes on the --listen listener and a UDP socket on
// the same address, and the TURN server on both; pt terminates TLS.
func (p *parley) openPort(pt portTLS) error {
	cfg := p.cfg
	tcpAddr, ok := cfg.HTTPListener.Addr().(*net.TCPAddr)
	if !ok {
		return fmt.Errorf("--listen: not a TCP listener (%T)", cfg.HTTPListener.Addr())
	}
	udpConn, err := net.ListenUDP("udp", &net.UDPAddr{IP: tcpAddr.IP, Port: tcpAddr.Port})
	if err != nil {
		return fmt.Errorf("media UDP port: %w", err)
	}
	// Media bursts (a keyframe for every subscriber) must not overflow the
	// kernel's default buffer; the kernel caps this at rmem_max. Where
	// parley may go past it, 16 MiB lets the read loop fall behind for
	// longer (a busy machine, a flood it has to read to drop) before the
	// kernel drops media with the flood.
	udpConn.SetReadBuffer(4 << 20)
	if err := forceReadBuffer(udpConn, 16<<20); err != nil {
		cfg.Logger.Debug("UDP receive buffer left at rmem_max at most", "err", err)
	}
	udpConn.SetWriteBuffer(4 << 20)
	op := &onePort{port: tcpAddr.Port, turnsOK: pt.verifiable, acme: pt.acme, serveErrs: make(chan error, 1)}
	op.udp, err = portmux.NewUDP(portmux.UDPConfig{Conn: udpConn, Limits: p.door.udp, Logger: cfg.Logger.With("part", "udpmux")})
	if err != nil {
		udpConn.Close()
		return err
	}
	op.tcp, err = portmux.NewTCP(portmux.TCPConfig{Listener: cfg.HTTPListener, TLS: pt.config, Admission: p.door.pending, Logger: cfg.Logger.With("part", "tcpmux")})
	if err != nil {
		op.udp.Close()
		return err
	}
	if op.acme != nil {
		// Offers ALPN acme-tls/1 from the first connection on.
		op.tcp.Listener(portmux.ACME)
	}
	if err := p.startTURN(op, tcpAddr); err != nil {
		op.udp.Close()
		op.tcp.Close()
		return err
	}
	p.port = op
	return nil
}

// startTURN runs the TURN server on the port's UDP, TCP and TLS shares.
func (p *parley) startTURN(op *onePort, tcpAddr *net.TCPAddr) error {
	cfg := p.cfg
	secret := cfg.TURNSecret
	if secret == "" {
		var err error
		if secret, err = loadOrCreateSecret(filepath.Join(cfg.DataDir, "turn-secret")); err != nil {
			return fmt.Errorf("turn secret: %w", err)
		}
	}
	listenIP, _ := netip.AddrFromSlice(tcpAddr.IP)
	bind, public, err := relayAddresses(listenIP.Unmap(), p.publicIP)
	if err != nil {
		return err
	}
	op.turnHost = cfg.TURNHost
	if op.turnHost == "" {
		op.turnHost = cfg.PublicIP
	}
	if op.turnHost == "" {
		op.turnHost = cfg.Domain
	}
	// turns is verified against the certificate, which names the domain
	// (and --turn-host), never an address.
	op.turnsHost = op.turnHost
	if isIP(op.turnsHost) {
		op.turnsHost = cfg.Domain
	}
	op.turn, err = turn.New(turn.Config{
		PacketConns: []net.PacketConn{op.udp.TURN()},
		// Each TURN connection holds a place in the TURN gate while open.
		Listeners: []net.Listener{
			p.door.turn.Listener(op.tcp.Listener(portmux.TURN)),
			p.door.turn.Listener(op.tcp.Listener(portmux.TURNTLS)),
		},
		Secret:        secret,
		Realm:         cfg.Domain,
		RelayIP:       bind,
		RelayPublicIP: public,
		OwnMediaAddrs: ownMediaAddrs(listenIP.Unmap(), public, uint16(op.port)),
		Logger:        cfg.Logger.With("part", "turn"),
	})
	if err != nil {
		return err
	}
	// Channel data is relayed straight from the UDP mux's read loop.
	op.udp.SetChannelDataHandler(op.turn.ChannelDataRelay(op.udp.TURN()))
	return nil
}

// relayAddresses picks where relay sockets are opened and what address
// clients are told: the --listen address unless it is unspecified, and
// --public-ip when given.
func relayAddresses(listen, public netip.Addr) (bind, _ netip.Addr, err error) {
	switch {
	case listen.IsValid() && !listen.IsUnspecified():
		bind = listen
	case public.IsValid() && public.Is4():
		bind = netip.IPv4Unspecified()
	case public.IsValid():
		bind = netip.IPv6Unspecified()
	default:
		// Listening everywhere with no public address: relay on the first
		// interface address, as ICE would announce it.
		bind = firstInterfaceAddr()
	}
	if !public.IsValid() {
		public = bind
	}
	if public.IsUnspecified() || !public.IsValid() {
		return bind, public, errors.New("turn: no address to relay on; set --public-ip")
	}
	if bind.Is4() != public.Is4() {
		bind = netip.IPv4Unspecified()
		if public.Is6() {
			bind = netip.IPv6Unspecified()
		}
	}
	return bind, public, nil
}

func firstInterfaceAddr() netip.Addr {
	addrs, _ := net.InterfaceAddrs()
	var fallback netip.Addr
	for _, a := range addrs {
		pfx, err := netip.ParsePrefix(a.String())
		if err != nil {
			continue
		}
		ip := pfx.Addr().Unmap()
		switch {
		case ip.Is4() && !ip.IsLoopback() && !ip.IsLinkLocalUnicast():
			return ip
		case ip.IsLoopback() && ip.Is4() && !fallback.IsValid():
			fallback = ip
		}
	}
	return fallback
}

// ownMediaAddrs are the addresses at which relays may reach parley's own
// media port although they are private or loopback: the listen address
// (every interface's when it is unspecified) and the public one.
func ownMediaAddrs(listen, public netip.Addr, port uint16) []netip.AddrPort {
	var ips []netip.Addr
	if listen.IsValid() && !listen.IsUnspecified() {
		ips = append(ips, listen)
	} else {
		addrs, _ := net.InterfaceAddrs()
		for _, a := range addrs {
			if pfx, err := netip.ParsePrefix(a.String()); err == nil {
				ips = append(ips, pfx.Addr().Unmap())
			}
		}
	}
	if public.IsValid() {
		ips = append(ips, public)
	}
	out := make([]netip.AddrPort, 0, len(ips))
	for _, ip := range ips {
		out = append(out, netip.AddrPortFrom(ip, port))
	}
	return out
}

// loadOrCreateSecret reads the TURN secret from path, or creates a random
// one there (readable by parley only).
func loadOrCreateSecret(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		if s := strings.TrimSpace(string(b)); s != "" {
			return s, nil
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		return "", err
	}
	raw := make([]byte, 32)
	rand.Read(raw)
	secret := base64.RawURLEncoding.EncodeToString(raw)
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(secret+"\n"), 0o600); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return "", err
	}
	return secret, nil
}

// externalServices is XEP-0215 for the XMPP server: STUN and TURN on the
// one port, with credentials for user.
func (p *parley) externalServices(user jid.JID) []xmpp.ExternalService {
	op := p.port
	if op == nil {
		return nil
	}
	services := []xmpp.ExternalService{{Type: "stun", Host: op.turnHost, Port: op.port, Transport: "udp"}}
	cred, err := op.turn.Credentials(user.String(), turnCredentialTTL)
	if err != nil {
		p.log.Warn("no TURN credentials", "user", user.String(), "err", err)
		return services
	}
	withCred := func(typ, transport string) xmpp.ExternalService {
		host := op.turnHost
		if typ == "turns" {
			host = op.turnsHost
		}
		return xmpp.ExternalService{
			Type: typ, Host: host, Port: op.port, Transport: transport,
			Username: cred.Username, Password: cred.Password, Expires: cred.Expires,
		}
	}
	services = append(services, withCred("turn", "udp"), withCred("turn", "tcp"))
	if op.turnsOK {
		services = append(services, withCred("turns", "tcp"))
	}
	return services
}

// servePort starts the one port's TCP mux and accepts XMPP on it: plain
// (STARTTLS inside) and direct TLS (XEP-0368).
func (p *parley) servePort(ctx context.Context) {
	for _, proto := range []portmux.Protocol{portmux.XMPP, portmux.XMPPTLS} {
		ln := p.port.tcp.Listener(proto)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			for {
				conn, err := ln.Accept()
				if err != nil {
					return
				}
				go p.xmpp.ServeTCP(ctx, conn)
			}
		}()
	}
	go func() { p.port.serveErrs <- p.port.tcp.Serve() }()
	if m := p.port.acme; m != nil {
		p.serveACME(ctx, m)
	}
}

// serveACME drains the challenge connections and, with the port now
// serving (the CA connects to it), makes sure the domain has a
// certificate; a failure is logged and retried on the next handshake.
func (p *parley) serveACME(ctx context.Context, m *acme.Manager) {
	ln := p.port.tcp.Listener(portmux.ACME)
	p.wg.Add(2)
	go func() {
		defer p.wg.Done()
		m.ServeChallenges(ln)
	}()
	go func() {
		defer p.wg.Done()
		if err := m.Prefetch(ctx); err != nil && ctx.Err() == nil {
			p.log.Error("no ACME certificate yet; clients will get TLS errors until one is obtained", "err", err)
		}
	}()
}

// close stops everything on the port. The SFU closes its own share.
func (op *onePort) close() {
	op.tcp.Close()
	op.turn.Close()
	op.udp.Close()
}

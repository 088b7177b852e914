package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/sip"
)

// sipOptions are the SIP gateway's settings, in `parley serve` (--sip) and
// in `parley sip`.
type sipOptions struct {
	listen        string // --sip: UDP and TCP; empty: no gateway
	tlsListen     string // --sip-tls: SIP over TLS; empty: none
	tlsCert       string // PEM files for --sip-tls; parley serve defaults to its own certificate
	tlsKey        string
	trunkAddrs    string // comma-separated addresses or prefixes allowed to dial in
	trunkUser     string // digest user a trunk must log in with
	trunkPassFile string
	tokenFile     string // a JWT each call logs in with, for servers without guests
	mediaIP       string
	outProxy      string // dial-out: the outbound proxy or trunk
	outUser       string
	outPassFile   string
	language      string // the IVR's prompts
	dialIn        string // the number shown with a room's PIN
	pinFile       string // where rooms' PINs are kept
}

func sipFlags(fs *flag.FlagSet, o *sipOptions) {
	fs.StringVar(&o.listen, "sip", "", "the SIP gateway's address, UDP and TCP, e.g. 0.0.0.0:5060 (empty: off; needs a build with -tags sip,nolibopusfile: README)")
	fs.StringVar(&o.tlsListen, "sip-tls", "", "SIP over TLS on this address too, e.g. 0.0.0.0:5061 (empty: off); the certificate is --sip-tls-cert, else parley serve's own (--tls-cert, or the self-signed one in DATA/tls)")
	fs.StringVar(&o.tlsCert, "sip-tls-cert", "", "the certificate (PEM) of --sip-tls; required in parley sip")
	fs.StringVar(&o.tlsKey, "sip-tls-key", "", "the private key (PEM) of --sip-tls-cert")
	fs.StringVar(&o.trunkAddrs, "sip-trunk-addrs", "", "comma-separated addresses or prefixes (10.0.0.0/8) of the SIP trunks allowed to dial in; with neither this nor --sip-trunk-user anyone may")
	fs.StringVar(&o.trunkUser, "sip-trunk-user", "", "the digest user name a SIP trunk must log in with (password in --sip-trunk-password-file); with --sip-trunk-addrs, both are needed")
	fs.StringVar(&o.trunkPassFile, "sip-trunk-password-file", "", "the file holding --sip-trunk-user's password")
	fs.StringVar(&o.tokenFile, "sip-token-file", "", "a JWT that phone calls join rooms with (for servers that take no guests); default: calls join as guests")
	fs.StringVar(&o.outProxy, "sip-outbound-proxy", "", "dial-out (admin API POST /api/rooms/{room}/dial): the SIP proxy or trunk, host:port, that numbers are dialled through; default: SIP URIs only, straight to their host")
	fs.StringVar(&o.outUser, "sip-outbound-user", "", "dial-out: the digest user name the outbound proxy asks for (password in --sip-outbound-password-file)")
	fs.StringVar(&o.outPassFile, "sip-outbound-password-file", "", "the file holding --sip-outbound-user's password")
	fs.StringVar(&o.language, "sip-language", "en", "the language of the IVR's prompts (callers to sip:join@ type a room's PIN): en, fr or es")
	fs.StringVar(&o.dialIn, "sip-dial-in-number", "", "the phone number routed to the gateway, shown with a room's PIN (admin API GET /api/rooms/{room}/dial-in)")
	fs.StringVar(&o.pinFile, "sip-pin-file", "", "where rooms' PINs are kept; default DATA/sip-pins.json in parley serve, in memory in parley sip")
	fs.StringVar(&o.mediaIP, "sip-media-ip", "", "the address put in SDP answers for RTP; default: the --sip address, or the local address that routes to the caller")
}

// config turns the options into the gateway's Config, for a parley at
// server (an XMPP address the SDK takes) and domain.
func (o *sipOptions) config(server, domain string, log *slog.Logger) (sip.Config, error) {
	cfg := sip.Config{Listen: o.listen, Server: server, Domain: domain, Logger: log, Codec: sipCodec(),
		Language: o.language, DialInNumber: o.dialIn}
	if cfg.Codec == nil {
		return cfg, errors.New("this parley was built without the SIP gateway: build it with -tags sip,nolibopusfile (README)")
	}
	if o.tlsListen != "" {
		if o.tlsCert == "" || o.tlsKey == "" {
			return cfg, errors.New("--sip-tls needs --sip-tls-cert and --sip-tls-key")
		}
		cert, err := tls.LoadX509KeyPair(o.tlsCert, o.tlsKey)
		if err != nil {
			return cfg, fmt.Errorf("--sip-tls-cert: %w", err)
		}
		cfg.TLSListen = o.tlsListen
		cfg.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	pins, err := sip.OpenPINs(o.pinFile)
	if err != nil {
		return cfg, err
	}
	cfg.PINs = pins
	var t sip.Trunk
	for _, a := range strings.Split(o.trunkAddrs, ",") {
		if a = strings.TrimSpace(a); a == "" {
			continue
		}
		p, err := netip.ParsePrefix(a)
		if err != nil {
			ip, err2 := netip.ParseAddr(a)
			if err2 != nil {
				return cfg, fmt.Errorf("--sip-trunk-addrs: %q is no address or prefix", a)
			}
			p = netip.PrefixFrom(ip, ip.BitLen())
		}
		t.Addrs = append(t.Addrs, p)
	}
	if o.trunkUser != "" {
		pass, err := app.ReadSecretFile(o.trunkPassFile)
		if err != nil {
			return cfg, fmt.Errorf("--sip-trunk-password-file: %w", err)
		}
		t.Username, t.Password = o.trunkUser, pass
	}
	if len(t.Addrs) > 0 || t.Username != "" {
		cfg.Trunks = []sip.Trunk{t}
	}
	cfg.Outbound = sip.Outbound{Proxy: o.outProxy, Username: o.outUser}
	if o.outUser != "" {
		pass, err := app.ReadSecretFile(o.outPassFile)
		if err != nil {
			return cfg, fmt.Errorf("--sip-outbound-password-file: %w", err)
		}
		cfg.Outbound.Password = pass
	}
	if o.tokenFile != "" {
		tok, err := app.ReadSecretFile(o.tokenFile)
		if err != nil {
			return cfg, fmt.Errorf("--sip-token-file: %w", err)
		}
		cfg.Token = tok
	}
	if o.mediaIP != "" {
		if cfg.MediaIP = net.ParseIP(o.mediaIP); cfg.MediaIP == nil {
			return cfg, fmt.Errorf("--sip-media-ip: %q is no address", o.mediaIP)
		}
	}
	return cfg, nil
}

// startSIP opens the gateway and serves it until ctx ends; done says
// when it has stopped.
func startSIP(ctx context.Context, cfg sip.Config) (g *sip.Gateway, done <-chan error, err error) {
	g, err = sip.New(cfg)
	if err != nil {
		return nil, nil, err
	}
	log := cfg.Logger.With("part", "sip")
	log.Info("SIP gateway listening", "addr", g.Addr(), "transports", "udp,tcp", "tls", g.TLSAddr())
	if g.Open() {
		log.Warn("SIP: no trunk is configured, so ANY source may dial into any room; set --sip-trunk-addrs or --sip-trunk-user before facing the internet")
	}
	ch := make(chan error, 1)
	go func() { ch <- g.Serve(ctx) }()
	return g, ch, nil
}

// loopbackWS is the WebSocket address of a parley listening on listen,
// seen from the same machine.
func loopbackWS(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return "ws://" + listen + "/xmpp-websocket"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "ws://" + net.JoinHostPort(host, port) + "/xmpp-websocket"
}

// runSIP is `parley sip`: the gateway as its own process, joining rooms of
// a parley elsewhere through the SDK.
func runSIP(args []string, stderr io.Writer) int {
	fs := flag.NewFlagSet("sip", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o sipOptions
	sipFlags(fs, &o)
	server := fs.String("server", "ws://127.0.0.1:8080/xmpp-websocket", "parley's XMPP address: ws[s]://HOST:PORT/xmpp-websocket or HOST:5222")
	domain := fs.String("domain", "", "the XMPP domain; default the host of --server")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.listen == "" {
		fmt.Fprintln(stderr, "parley sip: --sip ADDR is required")
		return 2
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	cfg, err := o.config(*server, *domain, log)
	if err != nil {
		fmt.Fprintf(stderr, "parley sip: %v\n", err)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	_, done, err := startSIP(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "parley sip: %v\n", err)
		return 1
	}
	if err := <-done; err != nil {
		fmt.Fprintf(stderr, "parley sip: %v\n", err)
		return 1
	}
	return 0
}

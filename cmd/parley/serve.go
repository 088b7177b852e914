package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"parley.dev/parley/internal/app"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	cfg := app.Config{}
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Listen, "listen", ":8080", "the TCP address for HTTP and WebSocket")
	fs.StringVar(&cfg.C2S, "c2s", ":5222", "the TCP address for XMPP client connections (empty: off)")
	fs.StringVar(&cfg.Domain, "domain", "localhost", "the XMPP domain; MUC is conference.<domain>")
	fs.StringVar(&cfg.DataDir, "data", "./parley-data", "where state lives")
	fs.StringVar(&cfg.PublicIP, "public-ip", "", "the address put in ICE candidates")
	fs.StringVar(&cfg.TLSCert, "tls-cert", "", "TLS certificate (PEM); default: a self-signed one in the data folder")
	fs.StringVar(&cfg.TLSKey, "tls-key", "", "TLS private key (PEM)")
	fs.BoolVar(&cfg.ACME, "acme", false, "get and renew certificates from an ACME CA (Let's Encrypt) over TLS-ALPN-01 on the --listen port; needs a public --domain; not with --tls-cert")
	fs.StringVar(&cfg.ACMEEmail, "acme-email", "", "contact address given to the ACME CA")
	fs.StringVar(&cfg.ACMEDirectory, "acme-directory", "", "ACME directory URL; default Let's Encrypt production")
	fs.StringVar(&cfg.TURNSecret, "turn-secret", "", "TURN REST secret, shared with any coturn (static-auth-secret); default: random, kept in the data folder")
	fs.StringVar(&cfg.TURNHost, "turn-host", "", "host name given to clients for STUN/TURN on the --listen port; default: --public-ip, else --domain")
	noAnon := fs.Bool("no-anonymous", false, "refuse SASL ANONYMOUS (guests)")
	fs.BoolVar(&cfg.RequireTLS, "require-tls", false, "require STARTTLS on XMPP TCP connections from non-loopback peers")
	fs.IntVar(&cfg.SCRAMIterations, "scram-iterations", 4096, "PBKDF2 iterations for new SCRAM keys")
	fs.IntVar(&cfg.MaxStanzaBytes, "max-stanza-bytes", 256<<10, "the largest stanza accepted")
	fs.IntVar(&cfg.StanzaRate, "stanza-rate", 200, "stanzas per second one connection may send (burst 5x)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	admissionFlags(fs, &cfg.Admission)
	fs.Int64Var(&cfg.Memory.Limit, "memory-limit", 0, "soft memory limit in bytes, as GOMEMLIMIT (0: GOMEMLIMIT or none)")
	fs.DurationVar(&cfg.Memory.ReturnInterval, "memory-return-interval", 30*time.Second, "how often to return memory a finished load left behind (negative: leave it to the Go runtime)")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg.AllowAnonymous = !*noAnon
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "parley serve: bad --log-level: %v\n", err)
		return 2
	}
	cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	cfg.Version = version
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "parley: %v\n", err)
		return 1
	}
	return 0
}

// admissionFlags are the front door's limits (docs/ONEPORT.md, "Admission").
// A source is an IPv4 address or an IPv6 /64.
func admissionFlags(fs *flag.FlagSet, a *app.AdmissionConfig) {
	fs.IntVar(&a.PendingPerSource, "admission-pending-per-source", 256, "TCP connections (--listen and --c2s) one source may hold before their first bytes")
	fs.IntVar(&a.PendingBudget, "admission-pending-budget", 1024, "TCP connections all sources may hold before their first bytes; when full, the largest holder's oldest is closed")
	fs.DurationVar(&a.FirstBytesTimeout, "admission-first-bytes-timeout", 10*time.Second, "how long a TCP connection has for its first bytes and TLS handshake")
	fs.DurationVar(&a.PressureTimeout, "admission-pressure-timeout", 2*time.Second, "the same, once half the pending budget is used")
	fs.IntVar(&a.HTTPPerSource, "admission-http-per-source", 256, "open HTTP(S) connections of one source (WebSockets excluded)")
	fs.IntVar(&a.HTTPBudget, "admission-http-budget", 2048, "open HTTP(S) connections in all")
	fs.IntVar(&a.TURNPerSource, "admission-turn-per-source", 64, "open TURN over TCP/TLS connections of one source")
	fs.IntVar(&a.TURNBudget, "admission-turn-budget", 1024, "open TURN over TCP/TLS connections in all")
	fs.IntVar(&a.ICETCPPerSource, "admission-ice-tcp-per-source", 128, "open ICE-TCP connections of one source")
	fs.IntVar(&a.ICETCPBudget, "admission-ice-tcp-budget", 2048, "open ICE-TCP connections in all")
	fs.IntVar(&a.UnauthPerSource, "admission-unauth-per-source", 64, "XMPP sessions of one source that have not logged in")
	fs.IntVar(&a.UnauthBudget, "admission-unauth-budget", 1024, "XMPP sessions that have not logged in, in all; logged-in sessions are never shed for them")
	fs.IntVar(&a.GuestPerSource, "admission-guest-per-source", 256, "guest (SASL ANONYMOUS) sessions of one source")
	fs.IntVar(&a.GuestBudget, "admission-guest-budget", 2048, "guest sessions in all; when full, the largest holder's oldest guest is closed")
	fs.Float64Var(&a.BindingRate, "admission-stun-rate", 250, "STUN Binding requests per second per source on the UDP port (negative: no limit)")
	fs.Float64Var(&a.DTLSHelloRate, "admission-dtls-rate", 50, "DTLS ClientHellos per second per source (negative: no limit)")
	fs.Float64Var(&a.AllocateRate, "admission-allocate-rate", 50, "TURN Allocate requests per second per source over UDP (negative: no limit)")
}

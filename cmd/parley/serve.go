package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"

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
	fs.BoolVar(&cfg.Dynacast, "dynacast", false, "tell publishers to stop sending simulcast layers nobody receives (experimental: Chromium was seen not to resume a paused layer)")
	fs.IntVar(&cfg.LastN, "last-n", 0, "each participant receives the camera of only the N most recent speakers (plus the ones it pins); audio and screens always; 0: everyone's")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
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

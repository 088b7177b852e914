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
	noAnon := fs.Bool("no-anonymous", false, "refuse SASL ANONYMOUS (guests) without a token")
	fs.StringVar(&cfg.Tokens.SecretFile, "jwt-secret-file", "", "turn on HS256 token logins with the secret in this file")
	fs.StringVar(&cfg.Tokens.PublicKeyFile, "jwt-public-key-file", "", "turn on RS256/ES256/EdDSA token logins with the PEM public keys in this file")
	fs.StringVar(&cfg.Tokens.JWKSFile, "jwt-jwks-file", "", "turn on RS256/ES256/EdDSA token logins with the keys of this JWKS file")
	fs.StringVar(&cfg.Tokens.Audience, "jwt-audience", "", "tokens must name this audience (aud); default: not checked")
	fs.StringVar(&cfg.Tokens.Issuer, "jwt-issuer", "", "tokens must come from this issuer (iss); default: not checked")
	fs.DurationVar(&cfg.Tokens.Leeway, "jwt-leeway", 30*time.Second, "clock skew allowed on a token's exp and nbf")
	fs.BoolVar(&cfg.DeclaredOnly, "declared-rooms-only", false, "turn on-the-fly rooms off: only rooms declared with parley room, the admin API or earlier exist")
	fs.StringVar(&cfg.Admin, "admin", "127.0.0.1:8081", "the admin API's TCP address (empty: off); never put it on a public address without TLS in front")
	fs.StringVar(&cfg.AdminTokenFile, "admin-token-file", "", "the admin API's bearer token; without it every admin request gets 401")
	fs.BoolVar(&cfg.RequireTLS, "require-tls", false, "require STARTTLS on XMPP TCP connections from non-loopback peers")
	fs.IntVar(&cfg.SCRAMIterations, "scram-iterations", 4096, "PBKDF2 iterations for new SCRAM keys")
	fs.IntVar(&cfg.MaxStanzaBytes, "max-stanza-bytes", 256<<10, "the largest stanza accepted")
	fs.IntVar(&cfg.StanzaRate, "stanza-rate", 200, "stanzas per second one connection may send (burst 5x)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley serve: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	cfg.AllowAnonymous = !*noAnon
	cfg.AdminOptional = true
	fs.Visit(func(f *flag.Flag) {
		if f.Name == "admin" {
			cfg.AdminOptional = false
		}
	})
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

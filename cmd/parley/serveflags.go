package main

import (
	"flag"
	"fmt"
	"io"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/logging"
)

// serveOptions are the settings of `parley serve`: the app's Config and
// the few that cmd/parley turns into something else.
type serveOptions struct {
	app.Config
	config      string // the config file; default parley.toml when present
	noAnonymous bool
	localBridge bool
	logLevel    string
	logFormat   string
	sip         sipOptions // the SIP gateway (sip.go)
}

// serveFlags declares every setting of `parley serve`. Each flag is also a
// key of the config file and a PARLEY_* environment variable (config.go), so
// a setting is declared once, here.
func serveFlags(stderr io.Writer) (*flag.FlagSet, *serveOptions) {
	o := &serveOptions{}
	cfg := &o.Config
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.config, "config", "", "the config file (TOML); default ./parley.toml if it exists")
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
	fs.BoolVar(&o.noAnonymous, "no-anonymous", false, "refuse SASL ANONYMOUS (guests) without a token")
	fs.StringVar(&cfg.Tokens.SecretFile, "jwt-secret-file", "", "turn on HS256 token logins with the secret in this file")
	fs.StringVar(&cfg.Tokens.PublicKeyFile, "jwt-public-key-file", "", "turn on RS256/ES256/EdDSA token logins with the PEM public keys in this file")
	fs.StringVar(&cfg.Tokens.JWKSFile, "jwt-jwks-file", "", "turn on RS256/ES256/EdDSA token logins with the keys of this JWKS file")
	fs.StringVar(&cfg.Tokens.Audience, "jwt-audience", "", "tokens must name this audience (aud); default: not checked")
	fs.StringVar(&cfg.Tokens.Issuer, "jwt-issuer", "", "tokens must come from this issuer (iss); default: not checked")
	fs.DurationVar(&cfg.Tokens.Leeway, "jwt-leeway", 30*time.Second, "clock skew allowed on a token's exp and nbf")
	fs.BoolVar(&cfg.DeclaredOnly, "declared-rooms-only", false, "turn on-the-fly rooms off: only rooms declared with parley room, the admin API or earlier exist")
	fs.StringVar(&cfg.Admin, "admin", "127.0.0.1:8081", "the admin API's and /metrics' TCP address (empty: off); never put it on a public address without TLS in front")
	fs.StringVar(&cfg.AdminTokenFile, "admin-token-file", "", "the admin API's bearer token; without it every admin request gets 401")
	fs.BoolVar(&cfg.RequireTLS, "require-tls", false, "require STARTTLS on XMPP TCP connections from non-loopback peers")
	fs.IntVar(&cfg.SCRAMIterations, "scram-iterations", 4096, "PBKDF2 iterations for new SCRAM keys")
	fs.IntVar(&cfg.MaxStanzaBytes, "max-stanza-bytes", 256<<10, "the largest stanza accepted")
	fs.IntVar(&cfg.StanzaRate, "stanza-rate", 200, "stanzas per second one connection may send (burst 5x)")
	fs.DurationVar(&cfg.DrainTimeout, "drain-timeout", 5*time.Minute, "on SIGTERM (or POST /admin/drain), how long to wait for calls to end before stopping; a second SIGTERM stops at once")
	fs.BoolVar(&cfg.Simulcast, "simulcast", true, "ask browsers for simulcast layers of cameras and screens (--simulcast=false: one layer each)")
	fs.BoolVar(&cfg.Dynacast, "dynacast", false, "tell publishers to stop sending simulcast layers nobody receives (experimental: Chromium was seen not to resume a paused layer)")
	fs.IntVar(&cfg.LastN, "last-n", 0, "each participant receives the camera of only the N most recent speakers (plus the ones it pins); audio and screens always; 0: everyone's")
	fs.DurationVar(&cfg.ArchiveRetention, "archive-retention", 0, "how long the message archive (XEP-0313) keeps a message, e.g. 2160h; 0: forever")
	fs.StringVar(&cfg.UploadURL, "upload-url", "", "public URL of HTTP File Upload's /upload/ path (XEP-0363 at upload.<domain>); default https://<domain>[:port of --listen]/upload/")
	fs.StringVar(&cfg.Registration, "registration", "", "in-band registration (XEP-0077): empty (off), invite (tokens from parley invite) or open")
	fs.BoolVar(&cfg.SCRAMPlus, "scram-plus", false, "offer SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS (tls-exporter channel binding, TLS 1.3); off by default because some clients (slixmpp 1.8) then fail to log in")
	fs.StringVar(&cfg.ComponentsFile, "components-file", "", "external components (XEP-0114) such as an app's push service (XEP-0357): a file of \"domain secret\" lines; default: none")
	fs.StringVar(&cfg.ComponentListen, "component-listen", "127.0.0.1:5347", "where the components of --components-file connect")
	fs.BoolVar(&o.localBridge, "local-bridge", true, "carry media in this process too; false: only on bridges (parley bridge) in the brewery")
	fs.StringVar(&cfg.Bridges.Brewery, "brewery", "", "the room bridges join; default jvbbrewery@internal.<domain>")
	fs.StringVar(&cfg.Bridges.Users, "bridge-users", "jvb", "the accounts that may be bridges, comma separated")
	fs.IntVar(&cfg.Bridges.Spread, "bridge-spread", 1, "how many bridges one conference may span (cascading): its participants are spread over up to N bridges joined by relays; 1: one bridge per conference")
	admissionFlags(fs, &cfg.Admission)
	sipFlags(fs, &o.sip)
	fs.Int64Var(&cfg.Memory.Limit, "memory-limit", 0, "soft memory limit in bytes, as GOMEMLIMIT (0: GOMEMLIMIT or none)")
	fs.DurationVar(&cfg.Memory.ReturnInterval, "memory-return-interval", 30*time.Second, "how often to return memory a finished load left behind (negative: leave it to the Go runtime)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error, then per component: \"info,sfu=debug,pion=warn\" (components: xmpp, muc, focus, sfu, turn, udpmux, tcpmux, acme; pion for Pion's libraries)")
	fs.StringVar(&o.logFormat, "log-format", "text", "text or json")
	return fs, o
}

// finish turns the parsed options into the app's Config, without its
// Logger, and the log levels.
func (o *serveOptions) finish() (app.Config, logging.Levels, error) {
	cfg := o.Config
	cfg.AllowAnonymous = !o.noAnonymous
	cfg.Bridges.NoLocal = !o.localBridge
	cfg.Version = version
	levels, err := logging.ParseLevels(o.logLevel)
	if err != nil {
		return cfg, levels, &app.ConfigError{Keys: []string{"log-level"}, Err: fmt.Errorf("bad --log-level: %v", err)}
	}
	if o.logFormat != "text" && o.logFormat != "json" {
		return cfg, levels, &app.ConfigError{Keys: []string{"log-format"}, Err: fmt.Errorf("bad --log-format %q: want text or json", o.logFormat)}
	}
	return cfg, levels, nil
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

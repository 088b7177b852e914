package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/extfocus"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/logging"
)

// focusOptions are the settings of `parley focus`.
type focusOptions struct {
	server, domain, component, secretFile string
	muc, brewery, bridgeUsers, nick       string
	listen, logLevel                      string
	lastN, spread                         int
	simulcast                             bool
}

func focusFlags(stderr io.Writer) (*flag.FlagSet, *focusOptions) {
	o := &focusOptions{}
	fs := flag.NewFlagSet("focus", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "", "the XMPP server's component port (XEP-0114), HOST:PORT (required)")
	fs.StringVar(&o.domain, "domain", "localhost", "the XMPP domain of the server's accounts")
	fs.StringVar(&o.component, "component", "", "the focus's component domain; default focus.<domain>, the address parley's clients call")
	fs.StringVar(&o.secretFile, "secret-file", "", "a file holding the component's shared secret (required)")
	fs.StringVar(&o.muc, "muc", "", "the MUC service whose rooms get calls; default conference.<domain>")
	fs.StringVar(&o.brewery, "brewery", "", "the room the bridges join; default jvbbrewery@internal.<domain>")
	fs.StringVar(&o.bridgeUsers, "bridge-users", "jvb", "the accounts allowed to be bridges, comma separated (names in <domain>, or bare JIDs)")
	fs.StringVar(&o.nick, "nick", "focus", "the focus's nick in rooms and in the brewery")
	fs.StringVar(&o.listen, "listen", "", "serve GET /health (JSON) on this address; default none")
	fs.IntVar(&o.lastN, "lastn", 0, "cameras of the N most recent speakers only; 0: all")
	fs.IntVar(&o.spread, "bridge-spread", 1, "how many bridges one conference may span (cascading): its participants are spread over up to N bridges joined by relays")
	fs.BoolVar(&o.simulcast, "simulcast", true, "ask publishers for simulcast layers")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error, then per component (\"info,focus=debug\")")
	return fs, o
}

// serviceConfig checks the options and turns them into extfocus's Config.
func (o *focusOptions) serviceConfig() (extfocus.Config, error) {
	var cfg extfocus.Config
	if o.server == "" || o.secretFile == "" {
		return cfg, errors.New("--server and --secret-file are required")
	}
	secret, err := app.ReadSecretFile(o.secretFile)
	if err != nil {
		return cfg, fmt.Errorf("--secret-file: %w", err)
	}
	orDefault := func(v, d string) string {
		if v == "" {
			return d
		}
		return v
	}
	b, err := jid.Parse(orDefault(o.brewery, "jvbbrewery@internal."+o.domain))
	if err != nil || b.Local == "" || !b.IsBare() {
		return cfg, fmt.Errorf("--brewery %q: not a room's bare JID", o.brewery)
	}
	var users []jid.JID
	for _, u := range strings.Split(o.bridgeUsers, ",") {
		u = strings.TrimSpace(u)
		if !strings.Contains(u, "@") {
			u += "@" + o.domain
		}
		j, err := jid.Parse(u)
		if err != nil || j.Local == "" {
			return cfg, fmt.Errorf("--bridge-users: %q is not an account", u)
		}
		users = append(users, j.Bare())
	}
	return extfocus.Config{Server: o.server, Domain: orDefault(o.component, "focus."+o.domain), Secret: secret,
		UserDomain: o.domain, MUC: orDefault(o.muc, "conference."+o.domain), Brewery: b, BridgeUsers: users,
		Nick: o.nick, LastN: o.lastN, Simulcast: o.simulcast, Spread: o.spread}, nil
}

func runFocus(ctx context.Context, args []string, stderr io.Writer) int {
	fs, o := focusFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := o.serviceConfig()
	if err != nil {
		fmt.Fprintf(stderr, "parley focus: %v\n", err)
		return 2
	}
	levels, err := logging.ParseLevels(o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "parley focus: --log-level: %v\n", err)
		return 2
	}
	log, _, _ := logging.New(os.Stderr, "text", levels)
	cfg.Logger = log.With("part", "focus")
	svc, err := extfocus.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "parley focus: %v\n", err)
		return 2
	}
	if o.listen != "" {
		ln, err := net.Listen("tcp", o.listen)
		if err != nil {
			fmt.Fprintf(stderr, "parley focus: --listen: %v\n", err)
			return 2
		}
		srv := &http.Server{Handler: focusHealth(svc), ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("health listening", "addr", ln.Addr().String())
	}
	if err := svc.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "parley focus: %v\n", err)
		return 1
	}
	return 0
}

// focusHealth answers GET /health: 200 when the XMPP server and at least
// one bridge are there, 503 naming what is missing otherwise.
func focusHealth(svc *extfocus.Service) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) {
		h := svc.Health(r.Context())
		w.Header().Set("Content-Type", "application/json")
		if !h.OK {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
		json.NewEncoder(w).Encode(h)
	})
	return mux
}

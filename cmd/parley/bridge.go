package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/bridgenode"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/logging"
	"parley.dev/parley/internal/xmppclient"
)

// bridgeOptions are the settings of `parley bridge`.
type bridgeOptions struct {
	server, domain, user, passwordFile string
	listen, publicIP                   string
	brewery, focus, nick, region       string
	capacityPPS, capacityBitrate       float64
	drainTimeout                       time.Duration
	logLevel                           string
}

func bridgeFlags(stderr io.Writer) (*flag.FlagSet, *bridgeOptions) {
	o := &bridgeOptions{}
	fs := flag.NewFlagSet("bridge", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.server, "server", "", "the XMPP server: ws://HOST:PORT/xmpp-websocket, or HOST:PORT for TCP (required)")
	fs.StringVar(&o.domain, "domain", "localhost", "the XMPP domain")
	fs.StringVar(&o.user, "user", "jvb", "the bridge's account")
	fs.StringVar(&o.passwordFile, "password-file", "", "a file holding the account's password (required)")
	fs.StringVar(&o.listen, "listen", ":10000", "the media port, UDP and TCP (ICE-TCP and GET /health)")
	fs.StringVar(&o.publicIP, "public-ip", "", "the address put in ICE candidates")
	fs.StringVar(&o.brewery, "brewery", "", "the brewery room; default jvbbrewery@internal.<domain>")
	fs.StringVar(&o.focus, "focus", "", "the JIDs the bridge takes orders from, comma separated; default focus.<domain>")
	fs.StringVar(&o.nick, "nick", "", "the bridge's name in the brewery; default the account's name")
	fs.StringVar(&o.region, "region", "", "the bridge's region, for placement")
	fs.Float64Var(&o.capacityPPS, "capacity-packet-rate", 50000, "forwarded packets per second counted as full (stress 1)")
	fs.Float64Var(&o.capacityBitrate, "capacity-bitrate", 500e6, "forwarded bits per second counted as full (stress 1)")
	fs.DurationVar(&o.drainTimeout, "drain-timeout", 5*time.Minute, "on SIGTERM, how long to wait for calls to end; a second SIGTERM stops at once")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error, then per component (\"info,sfu=debug\")")
	return fs, o
}

// nodeConfig checks the options and turns them into the node's Config
// (without Media and Load): a misconfiguration fails here, at start.
func (o *bridgeOptions) nodeConfig() (bridgenode.Config, error) {
	var cfg bridgenode.Config
	if o.server == "" || o.passwordFile == "" {
		return cfg, errors.New("--server and --password-file are required")
	}
	password, err := app.ReadSecretFile(o.passwordFile)
	if err != nil {
		return cfg, fmt.Errorf("--password-file: %w", err)
	}
	brewery := o.brewery
	if brewery == "" {
		brewery = "jvbbrewery@internal." + o.domain
	}
	b, err := jid.Parse(brewery)
	if err != nil || b.Local == "" || !b.IsBare() {
		return cfg, fmt.Errorf("--brewery %q: not a room's bare JID", brewery)
	}
	focusList := o.focus
	if focusList == "" {
		focusList = "focus." + o.domain
	}
	var focus []jid.JID
	for _, f := range strings.Split(focusList, ",") {
		j, err := jid.Parse(strings.TrimSpace(f))
		if err != nil {
			return cfg, fmt.Errorf("--focus %q: not a JID: %v", f, err)
		}
		focus = append(focus, j)
	}
	return bridgenode.Config{
		XMPP:    xmppclient.Config{Address: o.server, Domain: o.domain, Username: o.user, Password: password},
		Brewery: b, Nick: o.nick, Focus: focus, Region: o.region, Version: version,
		Capacity: bridgenode.Capacity{PacketRate: o.capacityPPS, Bitrate: o.capacityBitrate},
	}, nil
}

func runBridge(ctx context.Context, args []string, stderr io.Writer) int {
	fs, o := bridgeFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return 2
	}
	cfg, err := o.nodeConfig()
	if err != nil {
		fmt.Fprintf(stderr, "parley bridge: %v\n", err)
		return 2
	}
	levels, err := logging.ParseLevels(o.logLevel)
	if err != nil {
		fmt.Fprintf(stderr, "parley bridge: --log-level: %v\n", err)
		return 2
	}
	log, _, _ := logging.New(os.Stderr, "text", levels)
	port, err := bridgenode.Listen(bridgenode.PortConfig{Listen: o.listen, PublicIP: o.publicIP, Logger: log})
	if err != nil {
		fmt.Fprintf(stderr, "parley bridge: %v\n", err)
		return 2
	}
	defer port.Close()
	cfg.Media, cfg.Load = port.Media(cfg.Nick)
	cfg.Logger = log.With("part", "bridge")
	node, err := bridgenode.New(cfg)
	if err != nil {
		fmt.Fprintf(stderr, "parley bridge: %v\n", err)
		return 2
	}
	go port.Serve(node)
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	term := make(chan os.Signal, 2)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	go drainBridgeOnTERM(ctx, term, node, o.drainTimeout, stop)
	log.Info("bridge listening", "port", port.Addr.String(), "server", o.server, "brewery", cfg.Brewery.String())
	if err := node.Run(ctx); err != nil {
		fmt.Fprintf(stderr, "parley bridge: %v\n", err)
		return 1
	}
	return 0
}

// drainBridgeOnTERM drains at the first SIGTERM (no new conference; the
// running ones go on) and stops when they are over, at the timeout, or at
// a second SIGTERM.
func drainBridgeOnTERM(ctx context.Context, term <-chan os.Signal, node *bridgenode.Node, timeout time.Duration, stop func()) {
	select {
	case <-ctx.Done():
		return
	case <-term:
	}
	node.Drain()
	deadline := time.After(timeout)
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	for node.Conferences() > 0 {
		select {
		case <-ctx.Done():
			return
		case <-term:
			stop()
			return
		case <-deadline:
			stop()
			return
		case <-tick.C:
		}
	}
	stop()
}

package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/certs"
	"parley.dev/parley/internal/logging"
	"parley.dev/parley/internal/sip"
)

func runServe(ctx context.Context, args []string, stderr io.Writer) int {
	loaded, err := loadServeConfig(args, stderr, os.LookupEnv)
	if errors.Is(err, errUsage) {
		return 2
	}
	if err != nil {
		fmt.Fprintf(stderr, "parley serve: %v\n", err)
		return 2
	}
	cfg := loaded.cfg
	cfg.Recordings = newRecordings
	var logs *logging.Control
	cfg.Logger, logs, _ = logging.New(os.Stderr, loaded.opts.logFormat, loaded.levels) // the format is checked
	reloads := make(chan app.Config, 1)
	cfg.Reloads = reloads
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go reloadOnHUP(ctx, hup, args, cfg.Logger, logs, reloads)
	term := make(chan os.Signal, 2)
	signal.Notify(term, syscall.SIGTERM)
	defer signal.Stop(term)
	drain := make(chan struct{})
	cfg.Drain = drain
	ctx, stop := context.WithCancel(ctx)
	defer stop()
	go drainOnTERM(ctx, term, drain, stop, cfg.Logger)
	if o := loaded.opts.sip; o.listen != "" {
		if o.pinFile == "" {
			o.pinFile = filepath.Join(cfg.DataDir, "sip-pins.json")
		}
		if o.tlsListen != "" && o.tlsCert == "" {
			if o.tlsCert, o.tlsKey, err = serveCertFiles(cfg); err != nil {
				fmt.Fprintf(stderr, "parley serve: --sip-tls: %v\n", err)
				return 2
			}
		}
		scfg, err := o.config(loopbackWS(cfg.Listen), cfg.Domain, cfg.Logger)
		var g *sip.Gateway
		if err == nil {
			g, _, err = startSIP(ctx, scfg)
		}
		if err != nil {
			fmt.Fprintf(stderr, "parley serve: --sip: %v\n", err)
			return 2
		}
		cfg.Dial, cfg.DialIn, cfg.Phones = g.AdminDial, g.DialIn, g
	}
	if err := app.Run(ctx, cfg); err != nil {
		fmt.Fprintf(stderr, "parley: %v\n", err)
		return 1
	}
	return 0
}

// reloadOnHUP reads the settings again at each SIGHUP: the log levels
// change here, the rest goes to app, which applies what can change safely.
// A configuration with an error is refused whole, and the old one stays.
func reloadOnHUP(ctx context.Context, hup <-chan os.Signal, args []string, log *slog.Logger, logs *logging.Control, reloads chan<- app.Config) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-hup:
		}
		loaded, err := loadServeConfig(args, io.Discard, os.LookupEnv)
		if err != nil {
			log.Error("reload refused: the configuration has an error; the running one stays", "err", err)
			continue
		}
		logs.SetLevels(loaded.levels)
		next := loaded.cfg
		next.Logger = log
		select {
		case reloads <- next:
		case <-ctx.Done():
			return
		}
	}
}

// drainOnTERM drains at the first SIGTERM and stops at once at the second.
func drainOnTERM(ctx context.Context, term <-chan os.Signal, drain chan<- struct{}, stop context.CancelFunc, log *slog.Logger) {
	select {
	case <-ctx.Done():
		return
	case <-term:
		close(drain)
	}
	select {
	case <-ctx.Done():
	case <-term:
		log.Warn("second SIGTERM: stopping now")
		stop()
	}
}

// errUsage is a command line that flag already reported.
var errUsage = errors.New("usage")

// loaded is what loadServeConfig read.
type loaded struct {
	cfg    app.Config // without Logger
	levels logging.Levels
	opts   *serveOptions
	set    *settings // where each setting came from
}

// loadServeConfig reads the settings of `parley serve` from the command
// line, the environment and the config file, and checks them.
func loadServeConfig(args []string, stderr io.Writer, lookupEnv func(string) (string, bool)) (loaded, error) {
	fs, o := serveFlags(stderr)
	if err := fs.Parse(args); err != nil {
		return loaded{}, errUsage
	}
	if fs.NArg() > 0 {
		return loaded{}, fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	s := newSettings(fs, lookupEnv)
	l := loaded{opts: o, set: s}
	if err := s.applyEnv(); err != nil {
		return l, err
	}
	path := o.config
	if path == "" {
		if _, err := os.Stat(defaultConfigFile); err == nil {
			path = defaultConfigFile
		}
	}
	if path != "" {
		if err := s.applyFile(path); err != nil {
			return l, err
		}
	}
	var err error
	l.cfg, l.levels, err = o.finish()
	// The default admin address may be taken (another parley on the
	// machine): then the server runs without the API, saying so. An
	// address the operator chose must be free.
	l.cfg.AdminOptional = s.origins["admin"].source == ""
	if err == nil {
		err = l.cfg.Check()
	}
	return l, s.locate(err)
}

// locate points a configuration error at the line or the variable that set
// the first of its settings that did not come from the command line.
func (s *settings) locate(err error) error {
	var ce *app.ConfigError
	if !errors.As(err, &ce) {
		return err
	}
	for _, k := range ce.Keys {
		switch o := s.origins[k]; {
		case o.line > 0:
			return &fileError{file: o.source, line: o.line, key: k, err: err}
		case o.source == "environment":
			return fmt.Errorf("%s: %w", envName(k), err)
		}
	}
	return err
}

// serveCertFiles are the PEM files of parley serve's own certificate, for
// SIP over TLS: --tls-cert and --tls-key, else the self-signed one in
// DATA/tls (made now if need be, as the HTTPS port would).
func serveCertFiles(cfg app.Config) (cert, key string, err error) {
	if cfg.TLSCert != "" {
		return cfg.TLSCert, cfg.TLSKey, nil
	}
	if cfg.ACME {
		return "", "", errors.New("with --acme, give the SIP certificate as --sip-tls-cert and --sip-tls-key")
	}
	dir := filepath.Join(cfg.DataDir, "tls")
	hosts := []string{cfg.Domain}
	if cfg.PublicIP != "" {
		hosts = append(hosts, cfg.PublicIP)
	}
	if _, err := certs.LoadOrCreateSelfSigned(dir, hosts); err != nil {
		return "", "", err
	}
	return filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem"), nil
}

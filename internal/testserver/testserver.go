// Package testserver runs a whole parley (XMPP, MUC, focus, SFU, web) in
// the test process on loopback ports, for the SDK's, the load generator's
// and other integration tests.
package testserver

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"sync"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/app"
)

// Config configures Start.
type Config struct {
	// Domain is the XMPP domain. Default "example.test".
	Domain string
	// DataDir holds the server's state. Default: a new temporary folder,
	// removed by Close.
	DataDir string
	// Users are accounts created before the server starts, name to
	// password. Default none.
	Users map[string]string
	// SCRAMIterations for those accounts. Default 4096.
	SCRAMIterations int
	// Logger receives the server's logs. Default: discarded.
	Logger *slog.Logger
	// JWTSecret turns on HS256 token logins with this secret. Default "": off.
	JWTSecret string
	// AdminToken turns on the admin API on a loopback port with this
	// bearer token. Default "": no admin listener.
	AdminToken string
	// NoAnonymous refuses guests without a token. Default false.
	NoAnonymous bool
	// DeclaredOnly turns on-the-fly rooms off. Default false.
	DeclaredOnly bool
	// Recordings makes the recordings (app.Config.Recordings). Default
	// nil: recording is off.
	Recordings func(app.RecordingsEnv) (app.Recordings, error)
}

// Server is a running parley.
type Server struct {
	// WebSocket is the XMPP WebSocket URL, ws://127.0.0.1:PORT/xmpp-websocket.
	WebSocket string
	// TCP is the XMPP c2s address, 127.0.0.1:PORT.
	TCP string
	// HTTP is the web address, http://127.0.0.1:PORT.
	HTTP string
	// Domain is the XMPP domain.
	Domain string
	// Admin is the admin API's base URL, http://127.0.0.1:PORT; "" without
	// Config.AdminToken.
	Admin string

	stop      context.CancelFunc // ends app.Run
	done      chan error         // app.Run's result
	tempDir   string             // removed by Close; "" if the caller gave DataDir
	secretDir string             // token files; removed by Close
	once      sync.Once          // Close runs once
	closeErr  error              // app.Run's result, set by the first Close
}

// Start runs parley and returns once it serves.
func Start(cfg Config) (*Server, error) {
	if cfg.Domain == "" {
		cfg.Domain = "example.test"
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Server{Domain: cfg.Domain, done: make(chan error, 1)}
	if cfg.DataDir == "" {
		dir, err := os.MkdirTemp("", "parley-testserver-")
		if err != nil {
			return nil, err
		}
		cfg.DataDir, s.tempDir = dir, dir
	}
	if err := s.start(cfg); err != nil {
		s.removeTemp()
		return nil, err
	}
	return s, nil
}

func (s *Server) start(cfg Config) error {
	if len(cfg.Users) > 0 {
		store, err := accounts.Open(accounts.Config{Dir: cfg.DataDir, Domain: cfg.Domain, Iterations: cfg.SCRAMIterations})
		if err != nil {
			return err
		}
		for name, password := range cfg.Users {
			if err := store.Add(name, password); err != nil {
				return fmt.Errorf("testserver: user %s: %w", name, err)
			}
		}
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	c2sLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		httpLn.Close()
		return err
	}
	ready := make(chan struct{})
	acfg := app.Config{
		Domain: cfg.Domain, DataDir: cfg.DataDir, PublicIP: "127.0.0.1", AllowAnonymous: !cfg.NoAnonymous,
		SCRAMIterations: cfg.SCRAMIterations, HTTPListener: httpLn, C2SListener: c2sLn,
		Logger: cfg.Logger, Ready: ready, Version: "test", DeclaredOnly: cfg.DeclaredOnly,
		Recordings: cfg.Recordings,
	}
	if err := s.secrets(cfg, &acfg); err != nil {
		httpLn.Close()
		c2sLn.Close()
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	s.stop = cancel
	go func() {
		s.done <- app.Run(ctx, acfg)
	}()
	select {
	case <-ready:
	case err := <-s.done:
		cancel()
		httpLn.Close()
		c2sLn.Close()
		if err == nil {
			err = errors.New("testserver: parley stopped before it was ready")
		}
		return err
	case <-time.After(30 * time.Second):
		cancel()
		return errors.New("testserver: parley was not ready in 30 s")
	}
	s.HTTP = "http://" + httpLn.Addr().String()
	s.WebSocket = "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
	s.TCP = c2sLn.Addr().String()
	if acfg.AdminListener != nil {
		s.Admin = "http://" + acfg.AdminListener.Addr().String()
	}
	return nil
}

// secrets writes the token secret and admin token to files, as an
// operator would, and opens the admin listener.
func (s *Server) secrets(cfg Config, acfg *app.Config) error {
	dir, err := os.MkdirTemp("", "parley-testserver-secrets-")
	if err != nil {
		return err
	}
	s.secretDir = dir
	if cfg.JWTSecret != "" {
		acfg.Tokens.SecretFile = filepath.Join(dir, "jwt-secret")
		if err := os.WriteFile(acfg.Tokens.SecretFile, []byte(cfg.JWTSecret+"\n"), 0o600); err != nil {
			return err
		}
	}
	if cfg.AdminToken != "" {
		acfg.AdminTokenFile = filepath.Join(dir, "admin-token")
		if err := os.WriteFile(acfg.AdminTokenFile, []byte(cfg.AdminToken+"\n"), 0o600); err != nil {
			return err
		}
		if acfg.AdminListener, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
			return err
		}
	}
	return nil
}

// Close stops the server and removes its temporary data.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop()
		s.closeErr = <-s.done
		s.removeTemp()
	})
	return s.closeErr
}

func (s *Server) removeTemp() {
	if s.tempDir != "" {
		os.RemoveAll(s.tempDir)
	}
	if s.secretDir != "" {
		os.RemoveAll(s.secretDir)
	}
}

// Package acme gets and renews parley's TLS certificates from an ACME CA
// (RFC 8555), Let's Encrypt by default, proving control of each name with
// TLS-ALPN-01 (RFC 8737) on the one --listen port: no port 80 is needed.
//
// It wraps golang.org/x/crypto/acme/autocert. The one-port mux terminates
// TLS with a tls.Config whose GetCertificate is Manager.GetCertificate: that
// answers the CA's acme-tls/1 handshakes with the challenge certificate and
// every other handshake with the certificate obtained for its server name.
// The mux then hands acme-tls/1 connections to a listener of their own,
// which ServeChallenges drains: after the handshake there is nothing to say.
package acme

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	xacme "golang.org/x/crypto/acme"
	"golang.org/x/crypto/acme/autocert"
)

// LetsEncrypt is the default directory: Let's Encrypt's production CA.
const LetsEncrypt = autocert.DefaultACMEDirectory

// Config is what New takes.
type Config struct {
	// Hosts are the names certificates may be obtained for, the first
	// being the main one (the XMPP domain): it is fetched at Prefetch and
	// served to clients that send no server name. Each must pass
	// CheckHost. Required.
	Hosts []string
	// CacheDir keeps the account key and the certificates across
	// restarts; created 0700. Required.
	CacheDir string
	// Email is the contact given to the CA for expiry and incident
	// notices. Default: none.
	Email string
	// DirectoryURL is the CA's ACME directory. Default LetsEncrypt.
	DirectoryURL string
	// HTTPClient talks to the CA. Default http.DefaultClient; tests give
	// one that trusts their CA.
	HTTPClient *http.Client
	// RenewBefore is how long before expiry a certificate is renewed.
	// Default autocert's: the lesser of 30 days and a third of its life.
	RenewBefore time.Duration
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// HostError says why a name cannot have an ACME certificate.
type HostError struct {
	Host   string
	Reason string
}

func (e *HostError) Error() string {
	return fmt.Sprintf("acme: %q is not a public DNS name: %s", e.Host, e.Reason)
}

// ErrNotConfigured is returned for a handshake whose server name is not
// one of Config.Hosts.
var ErrNotConfigured = errors.New("acme: server name not configured")

// Stats counts handshakes by what GetCertificate did.
type Stats struct {
	Served     uint64 // a certificate for a configured name
	Challenges uint64 // acme-tls/1 handshakes from the CA
	Refused    uint64 // a server name outside Config.Hosts
	Failed     uint64 // no certificate could be had (CA, network, cache)
}

// Manager gets, caches, renews and serves the certificates.
type Manager struct {
	cfg   Config
	log   *slog.Logger
	hosts map[string]bool   // Config.Hosts, lower case; read-only
	auto  *autocert.Manager // does the ACME work; safe for concurrent use

	served, challenges, refused, failed atomic.Uint64
}

// New checks cfg and returns a Manager. Nothing is asked of the CA until
// Prefetch or the first handshake.
func New(cfg Config) (*Manager, error) {
	if len(cfg.Hosts) == 0 {
		return nil, errors.New("acme: Config.Hosts is required")
	}
	if cfg.CacheDir == "" {
		return nil, errors.New("acme: Config.CacheDir is required")
	}
	if cfg.DirectoryURL == "" {
		cfg.DirectoryURL = LetsEncrypt
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	cfg.Hosts = slices.Clone(cfg.Hosts)
	hosts := make(map[string]bool, len(cfg.Hosts))
	for i, h := range cfg.Hosts {
		h = strings.ToLower(strings.TrimSuffix(h, "."))
		if err := CheckHost(h); err != nil {
			return nil, err
		}
		cfg.Hosts[i], hosts[h] = h, true
	}
	if err := os.MkdirAll(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: cache folder: %w", err)
	}
	// The folder holds the account key and certificate keys.
	if err := os.Chmod(cfg.CacheDir, 0o700); err != nil {
		return nil, fmt.Errorf("acme: cache folder: %w", err)
	}
	m := &Manager{cfg: cfg, log: cfg.Logger, hosts: hosts}
	m.auto = &autocert.Manager{
		Prompt:      autocert.AcceptTOS,
		Cache:       autocert.DirCache(cfg.CacheDir),
		HostPolicy:  autocert.HostWhitelist(cfg.Hosts...),
		RenewBefore: cfg.RenewBefore,
		Email:       cfg.Email,
		Client:      &xacme.Client{DirectoryURL: cfg.DirectoryURL, HTTPClient: cfg.HTTPClient, UserAgent: "parley"},
	}
	return m, nil
}

// CheckHost says whether name can have a certificate from a public CA:
// a syntactically valid DNS name of at least two labels, not an IP
// address and not localhost.
func CheckHost(name string) error {
	fail := func(reason string) error { return &HostError{Host: name, Reason: reason} }
	h := strings.ToLower(strings.TrimSuffix(name, "."))
	switch {
	case h == "":
		return fail("empty")
	case len(h) > 253:
		return fail("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return fail("an IP address")
	}
	if h == "localhost" || strings.HasSuffix(h, ".localhost") {
		return fail("localhost")
	}
	labels := strings.Split(h, ".")
	if len(labels) < 2 {
		return fail("a single label (no dot)")
	}
	for _, l := range labels {
		if err := checkLabel(l); err != "" {
			return fail(err)
		}
	}
	return nil
}

// checkLabel returns what is wrong with one DNS label, or "".
func checkLabel(l string) string {
	if l == "" || len(l) > 63 {
		return "a label empty or longer than 63 characters"
	}
	if l[0] == '-' || l[len(l)-1] == '-' {
		return "a label starts or ends with '-'"
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return fmt.Sprintf("character %q (use the punycode form of international names)", c)
		}
	}
	return ""
}

// GetCertificate is the tls.Config hook: the CA's challenge certificate
// for acme-tls/1 handshakes, else the certificate of the server name
// (the main host's when the client sends none), obtained on first use.
func (m *Manager) GetCertificate(hello *tls.ClientHelloInfo) (*tls.Certificate, error) {
	if len(hello.SupportedProtos) == 1 && hello.SupportedProtos[0] == xacme.ALPNProto {
		m.challenges.Add(1)
		return m.auto.GetCertificate(hello)
	}
	name := strings.ToLower(strings.TrimSuffix(hello.ServerName, "."))
	if name == "" {
		// Like a plain tls.Config's first certificate: clients dialling
		// an address get the main name's.
		h := *hello
		h.ServerName = m.cfg.Hosts[0]
		hello, name = &h, h.ServerName
	}
	if !m.hosts[name] {
		m.refused.Add(1)
		return nil, fmt.Errorf("%w: %q", ErrNotConfigured, name)
	}
	cert, err := m.auto.GetCertificate(hello)
	if err != nil {
		m.failed.Add(1)
		m.log.Debug("no certificate", "host", name, "err", err)
		return nil, err
	}
	m.served.Add(1)
	return cert, nil
}

// TLSConfig returns a server config using GetCertificate. The one-port mux
// sets its NextProtos.
func (m *Manager) TLSConfig() *tls.Config {
	return &tls.Config{GetCertificate: m.GetCertificate, MinVersion: tls.VersionTLS12}
}

// Prefetch makes sure the main host has a certificate, from the cache or
// the CA, so that the first client does not wait for it and a problem
// (DNS not pointing here, port unreachable, rate limits) shows at start.
// The TLS listener must already be serving: the CA connects to it.
func (m *Manager) Prefetch(ctx context.Context) error {
	// A hello that says what Go's own clients say, so that the ECDSA
	// certificate (the one modern clients get) is the one fetched.
	hello := &tls.ClientHelloInfo{
		ServerName:        m.cfg.Hosts[0],
		CipherSuites:      []uint16{tls.TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256},
		SupportedCurves:   []tls.CurveID{tls.CurveP256},
		SignatureSchemes:  []tls.SignatureScheme{tls.ECDSAWithP256AndSHA256},
		SupportedVersions: []uint16{tls.VersionTLS13, tls.VersionTLS12},
	}
	type result struct {
		cert *tls.Certificate
		err  error
	}
	done := make(chan result, 1)
	go func() {
		c, err := m.GetCertificate(hello)
		done <- result{c, err}
	}()
	select {
	case r := <-done:
		if r.err != nil {
			return fmt.Errorf("acme: certificate for %s: %w", m.cfg.Hosts[0], r.err)
		}
		if leaf := r.cert.Leaf; leaf != nil {
			m.log.Info("certificate ready", "host", m.cfg.Hosts[0], "expires", leaf.NotAfter.Format(time.RFC3339))
		}
		return nil
	case <-ctx.Done():
		// autocert bounds the work itself (5 minutes); it finishes alone.
		return ctx.Err()
	}
}

// ServeChallenges closes the acme-tls/1 connections the mux delivers on
// ln once their handshake, which was the whole answer, is done. It
// returns when ln is closed.
func (m *Manager) ServeChallenges(ln net.Listener) error {
	for {
		conn, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		conn.Close()
	}
}

// Stats returns the counters.
func (m *Manager) Stats() Stats {
	return Stats{
		Served:     m.served.Load(),
		Challenges: m.challenges.Load(),
		Refused:    m.refused.Load(),
		Failed:     m.failed.Load(),
	}
}

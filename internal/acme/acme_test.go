package acme_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	xacme "golang.org/x/crypto/acme"

	"parley.dev/parley/internal/acme"
	"parley.dev/parley/internal/portmux"
)

const testHost = "meet.parley.test"

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCheckHost(t *testing.T) {
	for _, good := range []string{"meet.parley.test", "example.org", "Example.ORG.", "xn--bcher-kva.example", "a-b.c1.io"} {
		if err := acme.CheckHost(good); err != nil {
			t.Errorf("CheckHost(%q) = %v, want nil", good, err)
		}
	}
	bad := map[string]string{
		"":                               "empty",
		"localhost":                      "localhost",
		"meet.localhost":                 "localhost",
		"parley":                         "no dot",
		"127.0.0.1":                      "IP",
		"203.0.113.7":                    "IP",
		"::1":                            "IP",
		"[2001:db8::1]":                  "IP",
		"*.example.org":                  "character",
		"-a.example.org":                 "'-'",
		"a..example.org":                 "empty",
		"bücher.example":                 "punycode",
		"x_y.example.org":                "character",
		strings.Repeat("a", 64) + ".org": "63",
	}
	for name, want := range bad {
		err := acme.CheckHost(name)
		var he *acme.HostError
		if !errors.As(err, &he) {
			t.Errorf("CheckHost(%q) = %v, want a *HostError", name, err)
			continue
		}
		if !strings.Contains(err.Error(), want) {
			t.Errorf("CheckHost(%q) = %q, want it to mention %q", name, err, want)
		}
	}
}

func TestNewRefusesBadConfig(t *testing.T) {
	dir := t.TempDir()
	for _, cfg := range []acme.Config{
		{CacheDir: dir},
		{Hosts: []string{testHost}},
		{Hosts: []string{testHost, "localhost"}, CacheDir: dir},
	} {
		if _, err := acme.New(cfg); err == nil {
			t.Errorf("New(%+v) succeeded", cfg)
		}
	}
}

// stack is the smallest part of parley's port that ACME needs: the TCP
// mux on a loopback listener, TLS by the manager, HTTPS behind it and the
// acme-tls/1 listener drained.
type stack struct {
	addr string
	m    *acme.Manager
	mux  *portmux.TCPMux
}

func startStack(t *testing.T, ca *testCA, cacheDir string, hosts ...string) *stack {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	m, err := acme.New(acme.Config{
		Hosts: hosts, CacheDir: cacheDir, Email: "ops@parley.test",
		DirectoryURL: ca.directoryURL(), HTTPClient: ca.client(), Logger: quiet(),
	})
	if err != nil {
		t.Fatal(err)
	}
	mux, err := portmux.NewTCP(portmux.TCPConfig{Listener: ln, TLS: m.TLSConfig(), Logger: quiet()})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello over "+r.TLS.ServerName)
	})}
	go srv.Serve(mux.Listener(portmux.HTTPS))
	go m.ServeChallenges(mux.Listener(portmux.ACME))
	go mux.Serve()
	s := &stack{addr: ln.Addr().String(), m: m, mux: mux}
	t.Cleanup(s.close)
	for _, h := range hosts {
		ca.pointDNS(h, s.addr)
	}
	return s
}

func (s *stack) close() { s.mux.Close() }

// get does an HTTPS request with SNI host, verifying against roots, and
// returns the body and the connection state (the chain it verified).
func get(t *testing.T, s *stack, ca *testCA, host, path string) (string, *tls.ConnectionState) {
	t.Helper()
	tr := &http.Transport{
		TLSClientConfig: &tls.Config{ServerName: host, RootCAs: ca.roots},
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "tcp", s.addr)
		},
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "https://"+host+path, nil)
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		t.Fatalf("HTTPS to %s: %v", host, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return string(body), res.TLS
}

func TestObtainServeCacheAndRestart(t *testing.T) {
	ca := newTestCA(t)
	cacheDir := filepath.Join(t.TempDir(), "acme")
	s := startStack(t, ca, cacheDir, testHost)

	// The first handshake gets the certificate on the spot.
	body, st := get(t, s, ca, testHost, "/")
	if body != "hello over "+testHost {
		t.Fatalf("body %q", body)
	}
	leaf := st.PeerCertificates[0]
	if leaf.Issuer.CommonName != ca.interCert.Subject.CommonName || len(st.VerifiedChains) == 0 {
		t.Fatalf("served %q issued by %q, not the test CA's", leaf.Subject.CommonName, leaf.Issuer.CommonName)
	}
	if orders, validations, issued := ca.counts(); orders != 1 || validations != 1 || issued != 1 {
		t.Fatalf("CA saw %d orders, %d validations, %d issued; want 1 each", orders, validations, issued)
	}
	if st := s.m.Stats(); st.Challenges == 0 || st.Served == 0 {
		t.Fatalf("stats %+v: want challenges and served", st)
	}

	// On disk, readable by parley only.
	fi, err := os.Stat(cacheDir)
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("cache folder: %v, mode %v; want 0700", err, fi.Mode().Perm())
	}
	if _, err := os.Stat(filepath.Join(cacheDir, testHost)); err != nil {
		t.Fatalf("certificate not cached: %v", err)
	}

	// A restart serves the same certificate from the cache, no new order.
	s.close()
	s2 := startStack(t, ca, cacheDir, testHost)
	if err := s2.m.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	_, st2 := get(t, s2, ca, testHost, "/")
	if st2.PeerCertificates[0].SerialNumber.Cmp(leaf.SerialNumber) != 0 {
		t.Fatal("after the restart another certificate is served")
	}
	if orders, _, issued := ca.counts(); orders != 1 || issued != 1 {
		t.Fatalf("after the restart the CA saw %d orders, %d issued; want 1", orders, issued)
	}
}

func TestPrefetchAndHostPolicy(t *testing.T) {
	ca := newTestCA(t)
	s := startStack(t, ca, t.TempDir(), testHost, "turn.parley.test")
	if err := s.m.Prefetch(context.Background()); err != nil {
		t.Fatal(err)
	}
	if orders, _, issued := ca.counts(); orders != 1 || issued != 1 {
		t.Fatalf("Prefetch: %d orders, %d issued; want 1", orders, issued)
	}
	// A client that sends no server name gets the main host's.
	conn, err := tls.Dial("tcp", s.addr, &tls.Config{RootCAs: ca.roots, ServerName: "", InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}})
	if err != nil {
		t.Fatalf("handshake without SNI: %v", err)
	}
	if got := conn.ConnectionState().PeerCertificates[0].DNSNames; len(got) != 1 || got[0] != testHost {
		t.Fatalf("without SNI: certificate for %v", got)
	}
	conn.Close()

	// The second configured name gets its own certificate.
	if body, _ := get(t, s, ca, "turn.parley.test", "/"); body != "hello over turn.parley.test" {
		t.Fatalf("body %q", body)
	}
	// A name outside the policy gets none, and nothing is asked of the CA.
	for _, name := range []string{"other.parley.test", "parley.test", "x." + testHost} {
		conn, err := tls.Dial("tcp", s.addr, &tls.Config{ServerName: name, RootCAs: ca.roots, NextProtos: []string{"http/1.1"}})
		if err == nil {
			conn.Close()
			t.Fatalf("SNI %s: a handshake succeeded", name)
		}
	}
	if orders, _, _ := ca.counts(); orders != 2 {
		t.Fatalf("CA saw %d orders; want 2 (the two configured names)", orders)
	}
	if st := s.m.Stats(); st.Refused != 3 {
		t.Fatalf("stats %+v: want 3 refused", st)
	}
}

// When the CA's validation reaches something else than the server asking
// (here: nothing answers acme-tls/1), no certificate is issued and
// Prefetch says so.
func TestFailedValidation(t *testing.T) {
	ca := newTestCA(t)
	s := startStack(t, ca, t.TempDir(), testHost)
	other, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	go func() {
		for {
			c, err := other.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	ca.pointDNS(testHost, other.Addr().String())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := s.m.Prefetch(ctx); err == nil {
		t.Fatal("Prefetch succeeded although the validation could not reach the server")
	}
	if _, validations, issued := ca.counts(); validations == 0 || issued != 0 {
		t.Fatalf("CA: %d validations, %d issued; want some, none", validations, issued)
	}
}

// The test CA's check itself: a challenge certificate made with another
// account key, or for another name, is refused; the right one passes.
func TestCAChecksKeyAuthorization(t *testing.T) {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	otherKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	const token = "tok-123"
	keyAuth := token + "." + thumbprint(&key.PublicKey)
	for _, tc := range []struct {
		name    string
		key     *ecdsa.PrivateKey
		certFor string
		ok      bool
	}{
		{"right key", key, testHost, true},
		{"other account key", otherKey, testHost, false},
		{"other name", key, "other.parley.test", false},
	} {
		cert, err := (&xacme.Client{Key: tc.key}).TLSALPN01ChallengeCert(token, tc.certFor)
		if err != nil {
			t.Fatal(err)
		}
		ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{Certificates: []tls.Certificate{cert}, NextProtos: []string{"acme-tls/1"}})
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			c, err := ln.Accept()
			if err == nil {
				c.(*tls.Conn).Handshake()
				c.Close()
			}
		}()
		err = checkALPNChallenge(ln.Addr().String(), testHost, keyAuth)
		ln.Close()
		if (err == nil) != tc.ok {
			t.Errorf("%s: check = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}

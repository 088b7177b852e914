package acme_test

// parley itself (internal/app) with --acme against the test CA: the whole
// listening stack on 127.0.0.1, the CA validating on that port.

import (
	"context"
	"crypto/tls"
	"errors"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// runParley starts parley with ACME on a fresh loopback port, the CA's
// name for testHost pointing at it, and returns the port and a stop.
func runParley(t *testing.T, ca *testCA, dataDir string) (string, func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ca.pointDNS(testHost, ln.Addr().String())
	ready := make(chan struct{})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- app.Run(ctx, app.Config{
			Domain: testHost, DataDir: dataDir, PublicIP: "127.0.0.1", AllowAnonymous: true,
			ACME: true, ACMEEmail: "ops@parley.test", ACMEDirectory: ca.directoryURL(), ACMEHTTPClient: ca.client(),
			HTTPListener: ln, Logger: quiet(), Ready: ready,
		})
	}()
	select {
	case <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("parley did not start: %v", err)
	}
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			if err := <-done; err != nil {
				t.Errorf("parley: %v", err)
			}
		}
	}
	t.Cleanup(stop)
	return ln.Addr().String(), stop
}

// turnsService logs in as a guest over XMPP on the one port, STARTTLS
// verified against the CA, and returns the XEP-0215 turns service's host.
func turnsService(t *testing.T, ca *testCA, addr string) (host string, found bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{
		Address: addr, Domain: testHost, Logger: quiet(),
		TLS: &tls.Config{ServerName: testHost, RootCAs: ca.roots},
	})
	if err != nil {
		t.Fatalf("XMPP with STARTTLS: %v", err)
	}
	defer c.Close()
	const ns = "urn:xmpp:extdisco:2"
	res, err := c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "to", testHost).Add(xmlstream.New(ns, "services")))
	if err != nil {
		t.Fatalf("XEP-0215: %v", err)
	}
	for _, s := range res.Child(ns, "services").ChildrenNamed(ns, "service") {
		if s.Attr("type") == "turns" {
			return s.Attr("host"), true
		}
	}
	return "", false
}

func TestParleyWithACME(t *testing.T) {
	ca := newTestCA(t)
	dataDir := t.TempDir()
	addr, stop := runParley(t, ca, dataDir)

	// parley asks for its certificate at start-up, before any client.
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(50 * time.Millisecond) {
		if _, _, issued := ca.counts(); issued == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("no certificate issued within a minute of start-up without a client")
		}
	}
	// HTTPS on the one port is served with the CA's certificate (waiting,
	// if need be, for the issuance parley started at start-up).
	s := &stack{addr: addr}
	body, st := get(t, s, ca, testHost, "/health")
	if !strings.Contains(body, `"status":"ok"`) {
		t.Fatalf("HTTPS /health: %q", body)
	}
	serial := st.PeerCertificates[0].SerialNumber
	if st.PeerCertificates[0].Issuer.CommonName != ca.interCert.Subject.CommonName {
		t.Fatalf("served a certificate issued by %q", st.PeerCertificates[0].Issuer.CommonName)
	}
	if orders, _, issued := ca.counts(); orders != 1 || issued != 1 {
		t.Fatalf("CA saw %d orders, %d issued; want 1", orders, issued)
	}
	// XMPP STARTTLS uses it too, and turns is offered, named by the domain.
	if host, ok := turnsService(t, ca, addr); !ok || host != testHost {
		t.Fatalf("XEP-0215 turns: found %v, host %q; want %q", ok, host, testHost)
	}
	fi, err := os.Stat(filepath.Join(dataDir, "acme"))
	if err != nil || fi.Mode().Perm() != 0o700 {
		t.Fatalf("DATA/acme: %v; want a 0700 folder", err)
	}

	// Restarted, parley serves the cached certificate without a new order.
	stop()
	addr, _ = runParley(t, ca, dataDir)
	_, st = get(t, &stack{addr: addr}, ca, testHost, "/health")
	if st.PeerCertificates[0].SerialNumber.Cmp(serial) != 0 {
		t.Fatal("after the restart another certificate is served")
	}
	if orders, _, issued := ca.counts(); orders != 1 || issued != 1 {
		t.Fatalf("after the restart the CA saw %d orders, %d issued; want 1", orders, issued)
	}
}

func TestParleyRefusesACMEItCannotUse(t *testing.T) {
	for _, tc := range []struct {
		name string
		cfg  app.Config
		want string
	}{
		{"with --tls-cert", app.Config{Domain: testHost, TLSCert: "cert.pem", TLSKey: "key.pem"}, "--tls-cert"},
		{"default domain", app.Config{}, "localhost"},
		{"localhost", app.Config{Domain: "localhost"}, "localhost"},
		{"IPv4 domain", app.Config{Domain: "192.0.2.10"}, "IP address"},
		{"IPv6 domain", app.Config{Domain: "[2001:db8::1]"}, "IP address"},
		{"no dot", app.Config{Domain: "parley"}, "no dot"},
		{"turn host without dot", app.Config{Domain: testHost, TURNHost: "turn"}, "--turn-host"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			cfg := tc.cfg
			cfg.ACME, cfg.DataDir, cfg.HTTPListener, cfg.Logger = true, t.TempDir(), ln, quiet()
			// Cancelled: were parley to start, Run would return nil at once.
			ctx, cancel := context.WithCancel(context.Background())
			cancel()
			err = app.Run(ctx, cfg)
			if err == nil || !strings.Contains(err.Error(), "--acme") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Run = %v; want a refusal naming --acme and %q", err, tc.want)
			}
			if _, err := os.Stat(filepath.Join(cfg.DataDir, "acme")); !errors.Is(err, fs.ErrNotExist) {
				t.Fatalf("DATA/acme exists after a refusal (%v)", err)
			}
		})
	}
}

package xmpp_test

import (
	"context"
	"crypto/tls"
	"net"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/certs"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

const testDomain = "example.test"

// harness is a real server on loopback: TCP c2s with STARTTLS and WebSocket.
type harness struct {
	t      *testing.T
	srv    *xmpp.Server
	tcp    string // host:port
	ws     string // ws:// URL
	cancel context.CancelFunc
}

func newHarness(t *testing.T, mod func(*xmpp.Config)) *harness {
	t.Helper()
	dir := t.TempDir()
	acc, err := accounts.Open(accounts.Config{Dir: dir, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob", "carol"} {
		if err := acc.Add(u, "secret-"+u); err != nil {
			t.Fatal(err)
		}
	}
	certPEM, keyPEM, err := certs.SelfSigned([]string{testDomain}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	cfg := xmpp.Config{
		Domain:         testDomain,
		Accounts:       acc,
		Throttle:       accounts.NewThrottle(accounts.ThrottleConfig{}),
		TLS:            &tls.Config{Certificates: []tls.Certificate{cert}},
		AllowAnonymous: true,
		StanzaRate:     100000,
		StanzaBurst:    100000,
	}
	if mod != nil {
		mod(&cfg)
	}
	srv, err := xmpp.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go srv.ServeTCP(ctx, c)
		}
	}()
	hs := httptest.NewServer(srv.WebSocketHandler())
	h := &harness{t: t, srv: srv, tcp: ln.Addr().String(), ws: "ws" + strings.TrimPrefix(hs.URL, "http") + "/xmpp-websocket", cancel: cancel}
	t.Cleanup(func() {
		sctx, scancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer scancel()
		srv.Shutdown(sctx)
		cancel()
		ln.Close()
		hs.Close()
	})
	return h
}

// dial logs in over TCP with STARTTLS (or WebSocket when ws is true).
func (h *harness) dial(user string, ws bool, mod func(*xmppclient.Config)) *xmppclient.Client {
	h.t.Helper()
	c, err := h.tryDial(user, ws, mod)
	if err != nil {
		h.t.Fatalf("dial %s: %v", user, err)
	}
	h.t.Cleanup(func() { c.Close() })
	return c
}

func (h *harness) tryDial(user string, ws bool, mod func(*xmppclient.Config)) (*xmppclient.Client, error) {
	cfg := xmppclient.Config{
		Address:  h.tcp,
		Domain:   testDomain,
		Username: user,
		TLS:      &tls.Config{InsecureSkipVerify: true},
	}
	if user != "" {
		cfg.Password = "secret-" + user
	}
	if ws {
		cfg.Address = h.ws
	}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return xmppclient.Dial(ctx, cfg)
}

// expect waits for an incoming stanza matching fn.
func expect(t *testing.T, c *xmppclient.Client, what string, fn func(*xmlstream.Element) bool) *xmlstream.Element {
	t.Helper()
	timeout := time.After(5 * time.Second)
	for {
		select {
		case el, ok := <-c.Incoming():
			if !ok {
				t.Fatalf("%s: connection closed while waiting (%v)", what, c.Err())
			}
			if fn(el) {
				return el
			}
		case <-timeout:
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}

// expectNone checks that nothing matching fn arrives within d.
func expectNone(t *testing.T, c *xmppclient.Client, d time.Duration, what string, fn func(*xmlstream.Element) bool) {
	t.Helper()
	timeout := time.After(d)
	for {
		select {
		case el, ok := <-c.Incoming():
			if !ok {
				return
			}
			if fn(el) {
				t.Fatalf("unexpected %s: %s", what, el)
			}
		case <-timeout:
			return
		}
	}
}

func iq(ctx context.Context, t *testing.T, c *xmppclient.Client, typ, to string, payload *xmlstream.Element) (*xmlstream.Element, error) {
	t.Helper()
	el := xmlstream.New(xmlstream.NSClient, "iq", "type", typ)
	if to != "" {
		el.SetAttr("to", to)
	}
	el.Add(payload)
	return c.IQ(ctx, el)
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

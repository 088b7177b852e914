package app

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"syscall"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"parley.dev/parley/internal/xmppclient"
)

// startParleyWith is startParley with the configuration changed by mod.
func startParleyWith(t *testing.T, mod func(*Config)) (*parley, string) {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Domain: testDomain, DataDir: t.TempDir(), PublicIP: "127.0.0.1", AllowAnonymous: true,
		HTTPListener: httpLn, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	mod(&cfg)
	p, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	return p, "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
}

// keepAlive opens an HTTP/1.1 connection from ip, makes one request on it
// and keeps it open; ok is false if the server closed it instead.
func keepAlive(t *testing.T, addr string, ip net.IP) (net.Conn, bool) {
	t.Helper()
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: ip}}
	c, err := d.Dial("tcp4", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	fmt.Fprintf(c, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	res, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return c, false
	}
	res.Body.Close()
	return c, res.StatusCode == 200
}

// Open HTTP connections are capped per source; WebSockets leave the HTTP
// gate when they are taken over, and once logged in hold no place at all.
func TestHTTPConnectionsCappedPerSourceAndWebSocketsFree(t *testing.T) {
	p, ws := startParleyWith(t, func(c *Config) {
		c.Admission.HTTPPerSource = 4
		c.Admission.UnauthPerSource = 4
	})
	addr := p.cfg.HTTPListener.Addr().String()
	one, two := net.IPv4(127, 0, 0, 1), net.IPv4(127, 0, 0, 2)
	for i := range 4 {
		if _, ok := keepAlive(t, addr, one); !ok {
			t.Fatalf("keep-alive connection %d refused", i)
		}
	}
	if _, ok := keepAlive(t, addr, one); ok {
		t.Error("a fifth open HTTP connection from one address was served")
	}
	if _, ok := keepAlive(t, addr, two); !ok {
		t.Error("another address was refused")
	}
	// Ten logged-in WebSocket sessions held open from one address (past
	// both caps of 4): each one
	// leaves the HTTP gate when upgraded and the unauthenticated one on login.
	for i := range 10 {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain, LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)}})
		cancel()
		if err != nil {
			t.Fatalf("WebSocket login %d: %v", i, err)
		}
		t.Cleanup(func() { c.Close() })
	}
	if st := p.door.http.Stats(); st.Held != 5 || st.Refused["per_source"] != 1 {
		t.Errorf("http gate %+v, want 5 held (4 + 1) and 1 refusal", st)
	}
	if st := p.door.unauth.Stats(); st.Held != 0 || st.Admitted != 10 {
		t.Errorf("unauthenticated gate %+v, want none held after 10 logins", st)
	}
}

// TURN over TCP and passive ICE-TCP connections hold a place while open:
// past the per-source cap, one address's next connection is closed as
// soon as it is classified.
func TestTURNAndICETCPConnectionsCappedPerSource(t *testing.T) {
	p, _ := startParleyWith(t, func(c *Config) {
		c.Admission.TURNPerSource = 3
		c.Admission.ICETCPPerSource = 3
	})
	addr := p.cfg.HTTPListener.Addr().String()
	binding, err := stun.Build(stun.TransactionID, stun.BindingRequest, stun.NewUsername("nosuchufrag:peer"), stun.Fingerprint)
	if err != nil {
		t.Fatal(err)
	}
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(binding.Raw)))
	framed = append(framed, binding.Raw...)
	for _, c := range []struct {
		name  string
		first []byte
		gate  func() int
	}{
		{"turn", binding.Raw, func() int { return p.door.turn.Stats().Held }},
		{"ice-tcp", framed, func() int { return p.door.iceTCP.Stats().Held }},
	} {
		open := func() net.Conn {
			conn, err := net.Dial("tcp4", addr)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { conn.Close() })
			if _, err := conn.Write(c.first); err != nil {
				t.Fatal(err)
			}
			return conn
		}
		for range 3 {
			open()
		}
		deadline := time.Now().Add(5 * time.Second)
		for c.gate() != 3 {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the gate holds %d, want 3", c.name, c.gate())
			}
			time.Sleep(10 * time.Millisecond)
		}
		fourth := open()
		fourth.SetReadDeadline(time.Now().Add(5 * time.Second))
		// Closed: EOF, or a reset since the server did not read its bytes.
		if _, err := io.Copy(io.Discard, fourth); err != nil && !errors.Is(err, syscall.ECONNRESET) {
			t.Errorf("%s: a fourth connection from one address was not closed: %v", c.name, err)
		}
		if c.gate() != 3 {
			t.Errorf("%s: the gate holds %d after the refusal", c.name, c.gate())
		}
	}
}

// --c2s connections wait for their first bytes in the pending gate, which
// are then given back: a login with STARTTLS works as before, and an idle
// connection is closed at the first-bytes deadline.
func TestC2SThroughThePendingGate(t *testing.T) {
	c2s, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, _ := startParleyWith(t, func(c *Config) {
		c.C2SListener = c2s
		c.Admission.FirstBytesTimeout = 300 * time.Millisecond
	})
	idle, err := net.Dial("tcp4", c2s.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer idle.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: c2s.Addr().String(), Domain: testDomain,
		TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatalf("login over --c2s: %v", err)
	}
	defer c.Close()
	idle.SetReadDeadline(time.Now().Add(5 * time.Second))
	start := time.Now()
	if _, err := io.Copy(io.Discard, idle); err != nil {
		t.Errorf("the idle --c2s connection was not closed: %v", err)
	}
	if st := p.door.pending.Stats(); st.Held != 0 || st.Admitted != 2 {
		t.Errorf("pending gate after %v: %+v", time.Since(start), st)
	}
}

// With half the pending budget used, connections waiting for their first
// bytes get the pressure deadline (counted from their arrival) instead
// of the idle one: here 300 ms instead of 10 s.
func TestFirstBytesDeadlineShortensUnderPressure(t *testing.T) {
	p, _ := startParleyWith(t, func(c *Config) {
		c.Admission.PendingBudget = 8
		c.Admission.PressureTimeout = 300 * time.Millisecond
	})
	addr := p.cfg.HTTPListener.Addr().String()
	var idle []net.Conn
	for i := range 4 { // half the budget, from four addresses
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 1, byte(i+1))}}
		c, err := d.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		idle = append(idle, c)
	}
	start := time.Now()
	for _, c := range idle {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := io.Copy(io.Discard, c); err != nil {
			t.Fatalf("an idle connection under pressure was not closed: %v", err)
		}
	}
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("idle connections under pressure closed after %v; the idle deadline is 10 s, the pressure one 300 ms", took)
	}
	st := p.door.pending.Stats()
	if st.Hurried == 0 || p.port.tcp.Stats().Refused["peek_timeout"] != 4 {
		t.Errorf("pending gate %+v, mux refusals %v", st, p.port.tcp.Stats().Refused)
	}
}

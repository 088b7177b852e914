package portmux

import (
	"bufio"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"parley.dev/parley/internal/admission"
	"parley.dev/parley/internal/certs"
)

func testTLSConfig(t testing.TB) *tls.Config {
	t.Helper()
	certPEM, keyPEM, err := certs.SelfSigned([]string{"parley.test"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	return &tls.Config{Certificates: []tls.Certificate{cert}}
}

// tcpFixture is a TCPMux on 127.0.0.1 with TLS.
type tcpFixture struct {
	mux  *TCPMux
	addr string
}

func newTCPFixture(t *testing.T, mod func(*TCPConfig)) *tcpFixture {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := TCPConfig{Listener: ln, TLS: testTLSConfig(t), Logger: slog.New(slog.DiscardHandler)}
	if mod != nil {
		mod(&cfg)
	}
	m, err := NewTCP(cfg)
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- m.Serve() }()
	t.Cleanup(func() {
		m.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve: %v", err)
		}
	})
	return &tcpFixture{mux: m, addr: ln.Addr().String()}
}

// acceptOne waits for one connection on l.
func acceptOne(t *testing.T, l net.Listener) net.Conn {
	t.Helper()
	ch := make(chan net.Conn, 1)
	go func() {
		c, err := l.Accept()
		if err == nil {
			ch <- c
		}
	}()
	select {
	case c := <-ch:
		t.Cleanup(func() { c.Close() })
		return c
	case <-time.After(5 * time.Second):
		t.Fatal("no connection was routed")
		return nil
	}
}

// readN reads exactly n bytes.
func readN(t *testing.T, c net.Conn, n int) []byte {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	b := make([]byte, n)
	if _, err := io.ReadFull(c, b); err != nil {
		t.Fatalf("read: %v", err)
	}
	return b
}

func dialTLS(t *testing.T, addr string, alpn ...string) *tls.Conn {
	t.Helper()
	c, err := tls.Dial("tcp4", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: alpn, ServerName: "parley.test"})
	if err != nil {
		t.Fatalf("tls dial (alpn %v): %v", alpn, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func TestTCPRoutesByFirstBytes(t *testing.T) {
	f := newTCPFixture(t, nil)
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	check := stunMsg(t, stun.BindingRequest, stun.NewUsername("a:b"), stun.NewShortTermIntegrity("p"), stun.Fingerprint)
	cases := []struct {
		proto Protocol
		send  []byte
	}{
		{TURN, allocate},
		{ICETCP, frame(check)},
		{XMPP, []byte("<?xml version='1.0'?><stream:stream>")},
		{HTTP, []byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n")},
	}
	for _, c := range cases {
		t.Run(c.proto.String(), func(t *testing.T) {
			l := f.mux.Listener(c.proto)
			conn, err := net.Dial("tcp4", f.addr)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			// Byte by byte: the mux must wait for enough to decide.
			for i := range c.send {
				if _, err := conn.Write(c.send[i : i+1]); err != nil {
					t.Fatal(err)
				}
			}
			got := acceptOne(t, l)
			if b := readN(t, got, len(c.send)); string(b) != string(c.send) {
				t.Fatalf("the routed connection reads %q, the client sent %q", b, c.send)
			}
			// The real addresses, as the ICE mux needs them.
			if la, ok := got.LocalAddr().(*net.TCPAddr); !ok || la.String() != f.addr {
				t.Fatalf("LocalAddr %v (%T), want %s", got.LocalAddr(), got.LocalAddr(), f.addr)
			}
			if got.RemoteAddr().String() != conn.LocalAddr().String() {
				t.Fatalf("RemoteAddr %v, want %v", got.RemoteAddr(), conn.LocalAddr())
			}
			// And it is a working two-way connection.
			got.Write([]byte("reply"))
			if b := readN(t, conn, 5); string(b) != "reply" {
				t.Fatalf("client read %q", b)
			}
		})
	}
	st := f.mux.Stats()
	for _, c := range cases {
		if st.Routed[c.proto.String()] != 1 {
			t.Errorf("routed %v = %d, want 1", c.proto, st.Routed[c.proto.String()])
		}
	}
}

func TestTLSRoutesByALPNAndInsideBytes(t *testing.T) {
	f := newTCPFixture(t, nil)
	for _, p := range []Protocol{HTTPS, XMPPTLS, TURNTLS, ACME} {
		f.mux.Listener(p)
	}
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	cases := []struct {
		name  string
		alpn  []string
		send  []byte
		proto Protocol
	}{
		{"alpn h2", []string{"h2", "http/1.1"}, []byte("GET /"), HTTPS},
		{"alpn http/1.1", []string{"http/1.1"}, []byte("GET /"), HTTPS},
		{"alpn xmpp-client", []string{"xmpp-client"}, []byte("<stream:stream>"), XMPPTLS},
		{"alpn stun.turn", []string{"stun.turn"}, allocate, TURNTLS},
		{"no alpn, STUN", nil, allocate, TURNTLS},
		{"no alpn, XMPP", nil, []byte("<?xml?>"), XMPPTLS},
		{"no alpn, HTTP", nil, []byte("GET / HTTP/1.1\r\n"), HTTPS},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			conn := dialTLS(t, f.addr, c.alpn...)
			if _, err := conn.Write(c.send); err != nil {
				t.Fatal(err)
			}
			got := acceptOne(t, f.mux.Listener(c.proto))
			if b := readN(t, got, len(c.send)); string(b) != string(c.send) {
				t.Fatalf("read %q, sent %q", b, c.send)
			}
			if _, isTLS := got.(*tls.Conn); isTLS != (len(c.alpn) > 0) {
				t.Errorf("delivered a %T", got)
			}
			// Either way the server can tell it is TLS.
			if cs, ok := got.(interface{ ConnectionState() tls.ConnectionState }); !ok || !cs.ConnectionState().HandshakeComplete {
				t.Errorf("a %T does not say it is TLS", got)
			}
			got.Write([]byte("ok"))
			if b := readN(t, conn, 2); string(b) != "ok" {
				t.Fatalf("client read %q", b)
			}
		})
	}
	// ACME's handshake is the point: it is routed with nothing to read.
	conn := dialTLS(t, f.addr, "acme-tls/1")
	if conn.ConnectionState().NegotiatedProtocol != "acme-tls/1" {
		t.Fatalf("negotiated %q", conn.ConnectionState().NegotiatedProtocol)
	}
	acceptOne(t, f.mux.Listener(ACME))
}

// A browser that offers h2 gets HTTP/2 from the same HTTP server (one
// connection for a page's many modules); one that offers only http/1.1,
// as a WebSocket does, gets HTTP/1.1.
func TestHTTPSSpeaksHTTP2WhenOffered(t *testing.T) {
	f := newTCPFixture(t, nil)
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, r.Proto) })}
	go srv.Serve(f.mux.Listener(HTTPS))
	t.Cleanup(func() { srv.Close() })
	for _, c := range []struct {
		alpn []string
		want string
	}{{[]string{"h2", "http/1.1"}, "HTTP/2.0"}, {[]string{"http/1.1"}, "HTTP/1.1"}} {
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: c.alpn}, ForceAttemptHTTP2: c.want == "HTTP/2.0"}
		res, err := (&http.Client{Transport: tr}).Get("https://" + f.addr + "/")
		if err != nil {
			t.Fatalf("ALPN %v: %v", c.alpn, err)
		}
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		tr.CloseIdleConnections()
		if string(body) != c.want {
			t.Errorf("ALPN %v: served over %q, want %q", c.alpn, body, c.want)
		}
	}
}

func TestHTTPAndHTTPSServersOnOnePort(t *testing.T) {
	f := newTCPFixture(t, nil)
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v", r.TLS != nil)
	})
	for _, p := range []Protocol{HTTP, HTTPS} {
		srv := &http.Server{Handler: handler}
		go srv.Serve(f.mux.Listener(p))
		t.Cleanup(func() { srv.Close() })
	}
	get := func(url string, alpn ...string) string {
		t.Helper()
		tr := &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: alpn}}
		defer tr.CloseIdleConnections()
		res, err := (&http.Client{Transport: tr}).Get(url)
		if err != nil {
			t.Fatalf("%s: %v", url, err)
		}
		defer res.Body.Close()
		body, _ := io.ReadAll(res.Body)
		return string(body)
	}
	if got := get("http://" + f.addr + "/"); got != "tls=false" {
		t.Errorf("http: %q", got)
	}
	if got := get("https://"+f.addr+"/", "http/1.1"); got != "tls=true" {
		t.Errorf("https with ALPN: %q", got)
	}
	// Without ALPN the mux had to read inside TLS, so the HTTP server gets
	// a wrapped connection, whose ConnectionState still sets r.TLS.
	if got := get("https://" + f.addr + "/"); got != "tls=true" {
		t.Errorf("https without ALPN: %q", got)
	}
}

func TestTCPRefusals(t *testing.T) {
	f := newTCPFixture(t, func(c *TCPConfig) { c.PeekTimeout = 200 * time.Millisecond })
	f.mux.Listener(HTTPS)
	refused := func(reason string) uint64 { return f.mux.Stats().Refused[reason] }
	waitClosed := func(c net.Conn) {
		t.Helper()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		// (A TLS alert may come first.)
		if _, err := io.ReadAll(c); err != nil && strings.Contains(err.Error(), "timeout") {
			t.Fatalf("connection not closed by the mux: %v", err)
		}
	}
	dial := func() net.Conn {
		c, err := net.Dial("tcp4", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}

	c := dial()
	c.Write([]byte{0x80, 1, 0x80, 4, 5})
	waitClosed(c)
	if refused("unknown_protocol") != 1 {
		t.Errorf("unknown_protocol = %d", refused("unknown_protocol"))
	}

	c = dial() // says nothing
	waitClosed(c)
	if refused("peek_timeout") != 1 {
		t.Errorf("peek_timeout = %d", refused("peek_timeout"))
	}

	c = dial() // HTTP, which nobody serves here
	c.Write([]byte("GET / HTTP/1.1\r\n\r\n"))
	waitClosed(c)
	if refused("unrouted") != 1 {
		t.Errorf("unrouted = %d", refused("unrouted"))
	}

	c = dial() // a TLS record that is no handshake
	c.Write([]byte{0x16, 3, 1, 0, 5, 9, 9, 9, 9, 9})
	waitClosed(c)
	if refused("tls_handshake") != 1 {
		t.Errorf("tls_handshake = %d", refused("tls_handshake"))
	}

	// An ALPN nobody serves fails the handshake.
	if tc, err := tls.Dial("tcp4", f.addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}}); err == nil {
		tc.Close()
		t.Error("handshake with an unserved ALPN succeeded")
	}

	c = dial() // a half STUN header, then the client goes away
	c.Write([]byte{0, 1, 0})
	c.(*net.TCPConn).CloseWrite()
	waitClosed(c)
	if refused("eof") != 1 {
		t.Errorf("eof = %d", refused("eof"))
	}
}

func TestBacklogAndClosedListener(t *testing.T) {
	f := newTCPFixture(t, func(c *TCPConfig) { c.Backlog = 1 })
	l := f.mux.Listener(XMPP)
	var conns []net.Conn
	for range 3 {
		c, err := net.Dial("tcp4", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		c.Write([]byte("<x>"))
		conns = append(conns, c)
	}
	deadline := time.Now().Add(5 * time.Second)
	for f.mux.Stats().Refused["backlog_full"] != 2 {
		if time.Now().After(deadline) {
			t.Fatalf("stats %+v, want 2 backlog_full", f.mux.Stats())
		}
		time.Sleep(5 * time.Millisecond)
	}
	l.Close()
	if _, err := l.Accept(); err == nil {
		t.Fatal("Accept on a closed listener succeeded")
	}
	// The queued connection was closed with the listener.
	closed := 0
	for _, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, err := bufio.NewReader(c).ReadByte(); err == io.EOF {
			closed++
		}
	}
	if closed != 3 {
		t.Fatalf("%d of 3 connections closed", closed)
	}
	// A new listener for the protocol serves again.
	l2 := f.mux.Listener(XMPP)
	c, err := net.Dial("tcp4", f.addr)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.Write([]byte("<y>"))
	if b := readN(t, acceptOne(t, l2), 3); string(b) != "<y>" {
		t.Fatalf("read %q", b)
	}
}

// Idle connections of one address fill only that address's share of the
// gate: another address is still routed at once, and once the budget is
// full the idle address's oldest connections make room.
func TestIdleConnectionsOfOneAddressShutNobodyOut(t *testing.T) {
	gate := admission.New(admission.Config{PerSource: 8, Budget: 12, IdleDeadline: time.Minute, Logger: slog.New(slog.DiscardHandler)})
	f := newTCPFixture(t, func(c *TCPConfig) { c.Admission = gate })
	httpLn := f.mux.Listener(HTTP)
	var idle []net.Conn
	for range 40 {
		c, err := net.Dial("tcp4", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		idle = append(idle, c)
		t.Cleanup(func() { c.Close() })
	}
	waitFor(t, func() bool { return f.mux.Stats().Refused["per_source"] == 32 }, "32 refusals of 127.0.0.1")
	// 127.0.0.2 fills the rest of the budget, then one more sheds one of
	// 127.0.0.1's (the largest holder), not its own.
	dialer := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}}
	var others []net.Conn
	for range 5 {
		c, err := dialer.Dial("tcp4", f.addr)
		if err != nil {
			t.Fatal(err)
		}
		others = append(others, c)
		t.Cleanup(func() { c.Close() })
	}
	waitFor(t, func() bool { return f.mux.Stats().Refused["shed"] == 1 }, "one shed")
	for _, c := range others {
		fmt.Fprintf(c, "GET / HTTP/1.0\r\n\r\n")
	}
	for range others {
		acceptOne(t, httpLn)
	}
	if st := gate.Stats(); st.Held > 12 || st.Shed["budget"] != 1 {
		t.Errorf("gate %+v", st)
	}
	// Which of 127.0.0.1's went: the oldest.
	idle[0].SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := idle[0].Read(make([]byte, 1)); err != io.EOF {
		t.Errorf("the oldest idle connection read %v, want EOF (shed)", err)
	}
}

func waitFor(t *testing.T, cond func() bool, what string) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	pionturn "github.com/pion/turn/v5"

	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// raiseFileLimit lifts the soft RLIMIT_NOFILE of the test process to its
// hard limit: the flood's client ends alone are 10,000 descriptors. It
// fails the test if the hard limit is below need.
func raiseFileLimit(t *testing.T, need uint64) {
	t.Helper()
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	if lim.Max < need {
		t.Fatalf("RLIMIT_NOFILE hard limit %d, this test needs %d descriptors", lim.Max, need)
	}
	old := lim
	lim.Cur = lim.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Setrlimit(syscall.RLIMIT_NOFILE, &old) })
}

// flood opens n TCP connections from 127.0.0.1 to addr and never writes
// on them; it returns how many it opened. The connections stay open (on
// this side) until the test ends.
func flood(t *testing.T, addr string, n int, opened *atomic.Int64) {
	t.Helper()
	var mu sync.Mutex
	var conns []net.Conn
	t.Cleanup(func() {
		mu.Lock()
		defer mu.Unlock()
		for _, c := range conns {
			c.Close()
		}
	})
	var wg sync.WaitGroup
	next := atomic.Int64{}
	d := net.Dialer{LocalAddr: &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)}, Timeout: 5 * time.Second}
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for next.Add(1) <= int64(n) {
				c, err := d.Dial("tcp4", addr)
				if err != nil {
					continue // a full accept queue: the attacker tries the next one
				}
				opened.Add(1)
				mu.Lock()
				conns = append(conns, c)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
}

// second is 127.0.0.2, the well-behaved client's address.
var second = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 2)}

// within runs f with a one-second deadline and fails the test if it errs
// or overruns.
func within(t *testing.T, what string, f func(ctx context.Context) error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	start := time.Now()
	err := f(ctx)
	took := time.Since(start)
	if err == nil && took > time.Second {
		err = fmt.Errorf("took %v", took)
	}
	if err != nil {
		t.Errorf("%s during the flood: %v", what, err)
		return
	}
	t.Logf("%s: %v", what, took.Round(time.Millisecond))
}

// httpsFrom127002 GETs /health over TLS on a new connection.
func httpsFrom127002(ctx context.Context, addr string) error {
	d := &net.Dialer{LocalAddr: second}
	tr := &http.Transport{DialContext: d.DialContext, DisableKeepAlives: true,
		TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}
	defer tr.CloseIdleConnections()
	req, _ := http.NewRequestWithContext(ctx, "GET", "https://"+addr+"/health", nil)
	res, err := (&http.Client{Transport: tr}).Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 || !strings.Contains(string(body), `"ok"`) {
		return fmt.Errorf("status %d, body %q", res.StatusCode, body)
	}
	return nil
}

// wssLoginFrom127002 logs in a guest over wss:// and returns the client.
func wssLoginFrom127002(ctx context.Context, addr string) (*xmppclient.Client, error) {
	return xmppclient.Dial(ctx, xmppclient.Config{
		Address: "wss://" + addr + "/xmpp-websocket", Domain: testDomain,
		LocalAddr: second, TLS: &tls.Config{InsecureSkipVerify: true},
	})
}

// turnTCPAllocateFrom127002 makes one TURN allocation over TCP.
func turnTCPAllocateFrom127002(ctx context.Context, addr string, svc turnService) error {
	d := &net.Dialer{LocalAddr: second}
	c, err := d.DialContext(ctx, "tcp4", addr)
	if err != nil {
		return err
	}
	conn := pionturn.NewSTUNConn(c)
	defer conn.Close()
	cl, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: svc.username, Password: svc.password, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		return err
	}
	defer cl.Close()
	if err := cl.Listen(); err != nil {
		return err
	}
	relay, err := cl.AllocateWithContext(ctx)
	if err != nil {
		return err
	}
	return relay.Close()
}

// servicesOf asks XEP-0215 on a logged-in client.
func servicesOf(ctx context.Context, c *xmppclient.Client) ([]turnService, error) {
	res, err := c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "to", testDomain).Add(
		xmlstream.New(nsExtDisco, "services")))
	if err != nil {
		return nil, err
	}
	var out []turnService
	for _, s := range res.Child(nsExtDisco, "services").ChildrenNamed(nsExtDisco, "service") {
		out = append(out, turnService{s.Attr("type"), s.Attr("host"), s.Attr("port"), s.Attr("transport"), s.Attr("username"), s.Attr("password")})
	}
	return out, nil
}

// chat sends a message from one client to another and waits for it.
func chat(ctx context.Context, from, to *xmppclient.Client, body string) error {
	msg := xmlstream.New(xmlstream.NSClient, "message", "to", to.JID().String(), "type", "chat").
		Add(xmlstream.New(xmlstream.NSClient, "body").SetText(body))
	if err := from.Send(msg); err != nil {
		return err
	}
	for {
		select {
		case el, ok := <-to.Incoming():
			if !ok {
				return fmt.Errorf("%s's connection closed: %v", to.JID(), to.Err())
			}
			if el.Name == "message" && el.ChildText(xmlstream.NSClient, "body") == body {
				return nil
			}
		case <-ctx.Done():
			return fmt.Errorf("message %q not delivered: %w", body, ctx.Err())
		}
	}
}

// One address (127.0.0.1) opens 5,000 idle connections to the one port
// and 5,000 to --c2s. Meanwhile a client from 127.0.0.2 completes HTTPS,
// a WebSocket login and a TURN-over-TCP allocation, each within a second,
// and two sessions logged in before the flood (from 127.0.0.1 itself)
// keep exchanging messages, each within a second.
func TestOneAddressFloodingShutsNobodyOut(t *testing.T) {
	raiseFileLimit(t, 12000)
	p, ws := startParley(t)
	addr := p.cfg.HTTPListener.Addr().String()
	login := func() *xmppclient.Client {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	alice, bob := login(), login()

	const perListener = 5000
	var openedPort, openedC2S atomic.Int64
	floodDone := make(chan struct{})
	go func() {
		defer close(floodDone)
		var wg sync.WaitGroup
		wg.Add(2)
		go func() { defer wg.Done(); flood(t, addr, perListener, &openedPort) }()
		go func() { defer wg.Done(); flood(t, p.c2s.Addr().String(), perListener, &openedC2S) }()
		wg.Wait()
	}()

	checks := func(round string) {
		within(t, round+": HTTPS GET /health from 127.0.0.2", func(ctx context.Context) error { return httpsFrom127002(ctx, addr) })
		var guest *xmppclient.Client
		within(t, round+": WebSocket (wss) login from 127.0.0.2", func(ctx context.Context) error {
			var err error
			guest, err = wssLoginFrom127002(ctx, addr)
			return err
		})
		if guest == nil {
			return
		}
		defer guest.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		services, err := servicesOf(ctx, guest)
		cancel()
		if err != nil {
			t.Errorf("%s: XEP-0215: %v", round, err)
			return
		}
		svc := findService(t, services, "turn", "tcp")
		within(t, round+": TURN allocation over TCP from 127.0.0.2", func(ctx context.Context) error {
			return turnTCPAllocateFrom127002(ctx, addr, svc)
		})
		within(t, round+": alice to bob (logged in before)", func(ctx context.Context) error { return chat(ctx, alice, bob, "ping "+round) })
		within(t, round+": bob to alice (logged in before)", func(ctx context.Context) error { return chat(ctx, bob, alice, "pong "+round) })
	}
	// While the flood is being opened...
	for round := 0; ; round++ {
		select {
		case <-floodDone:
		default:
			checks(fmt.Sprintf("while opening %d", round))
			time.Sleep(100 * time.Millisecond)
			continue
		}
		break
	}
	// ... and with all of it open.
	for round := range 3 {
		checks(fmt.Sprintf("held %d", round))
	}
	t.Logf("flood opened %d connections to the port and %d to --c2s", openedPort.Load(), openedC2S.Load())
	if openedPort.Load() < perListener*9/10 || openedC2S.Load() < perListener*9/10 {
		t.Errorf("the flood opened only %d and %d connections", openedPort.Load(), openedC2S.Load())
	}
	checkAdmissionCounted(t, p)
}

// checkAdmissionCounted: the refusals are counted by reason.
func checkAdmissionCounted(t *testing.T, p *parley) {
	t.Helper()
	mux := p.port.tcp.Stats()
	pending := p.door.pending.Stats()
	t.Logf("tcp mux refused %v; pending gate %+v", mux.Refused, pending)
	if mux.Refused["per_source"] == 0 || pending.Refused["per_source"] < mux.Refused["per_source"] {
		t.Errorf("refusals not counted: mux %v, gate %v", mux.Refused, pending.Refused)
	}
	if pending.Held > pending.PerSource+16 {
		t.Errorf("the pending gate holds %d connections, 127.0.0.1 may hold %d", pending.Held, pending.PerSource)
	}
}

package app

import (
	"context"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/bridgenode"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// testBridge is an in-process `parley bridge`.
type testBridge struct {
	node *bridgenode.Node
	port *bridgenode.Port
	stop context.CancelFunc
	done chan struct{}
}

func testLogger() *slog.Logger {
	if os.Getenv("PARLEY_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

func startTestBridge(t *testing.T, ws, nick string, capacity bridgenode.Capacity) *testBridge {
	t.Helper()
	port, err := bridgenode.Listen(bridgenode.PortConfig{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Logger: testLogger().With("bridge", nick)})
	if err != nil {
		t.Fatal(err)
	}
	media, load := port.Media(nick)
	n, err := bridgenode.New(bridgenode.Config{
		XMPP:    xmppclient.Config{Address: ws, Domain: testDomain, Username: "jvb", Password: "bridge-secret", Resource: nick},
		Brewery: jid.MustParse("jvbbrewery@internal." + testDomain), Nick: nick,
		Focus: []jid.JID{jid.MustParse("focus." + testDomain)}, Media: media, Load: load, Capacity: capacity,
		StatsInterval: 200 * time.Millisecond, Logger: testLogger().With("bridge", nick),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	b := &testBridge{node: n, port: port, stop: cancel, done: make(chan struct{})}
	go port.Serve(n)
	go func() {
		defer close(b.done)
		n.Run(ctx)
	}()
	t.Cleanup(b.kill)
	return b
}

// kill stops the bridge: it leaves the brewery and its port closes.
func (b *testBridge) kill() {
	b.stop()
	<-b.done
	b.port.Close()
}

// startParleyBridgesOnly runs parley with no in-process bridge, and an
// account jvb for bridges.
func startParleyBridgesOnly(t *testing.T) (*parley, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := accounts.Open(accounts.Config{Dir: dir, Domain: testDomain, Iterations: 4096})
	if err != nil {
		t.Fatal(err)
	}
	if err := store.Add("jvb", "bridge-secret"); err != nil {
		t.Fatal(err)
	}
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := start(Config{
		Domain: testDomain, DataDir: dir, PublicIP: "127.0.0.1", AllowAnonymous: true,
		HTTPListener: httpLn, Bridges: BridgesConfig{NoLocal: true},
		Logger: testLogger(),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	return p, "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never: %s", what)
		}
	}
}

// bridgedCall joins two media peers to room and waits for media both ways.
func bridgedCall(t *testing.T, ws, room string) map[string]*mediapeer.Peer {
	t.Helper()
	r := jid.MustParse(room + "@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{}
	for _, nick := range []string{room + "-a", room + "-b"} {
		peers[nick] = joinPeer(t, ws, r, nick, true)
	}
	waitFlowing(t, peers)
	return peers
}

// TestBridgesPlacementFailoverDrain: two bridge processes (in-process
// here; cmd/parley's test runs real ones) and a focus with no bridge of
// its own: conferences go to the least-stressed bridge, move when their
// bridge dies with media back within seconds, and a draining bridge takes
// no new conference.
func TestBridgesPlacementFailoverDrain(t *testing.T) {
	p, ws := startParleyBridgesOnly(t)
	health := func() string {
		resp, err := http.Get("http://" + p.cfg.HTTPListener.Addr().String() + "/health")
		if err != nil {
			return err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	if h := health(); !strings.Contains(h, `"missing":["bridges: none in jvbbrewery@internal.example.test`) {
		t.Errorf("/health without bridges: %s", h)
	}
	// b1 counts as full at 20 packets/s: one call stresses it.
	// Both bridges share this process: its CPU says nothing of either.
	b1 := startTestBridge(t, ws, "b1", bridgenode.Capacity{PacketRate: 20, NoCPU: true})
	b2 := startTestBridge(t, ws, "b2", bridgenode.Capacity{NoCPU: true})
	waitFor(t, "two bridges registered", 10*time.Second, func() bool { return len(p.bridges.Bridges()) == 2 })
	if h := health(); !strings.Contains(h, `"bridges":2`) || strings.Contains(h, "missing") {
		t.Errorf("/health with two bridges: %s", h)
	}

	// Equal stress: the first conference goes to b1 (ties go by name).
	bridgedCall(t, ws, "one")
	if b1.node.Conferences() != 1 || b2.node.Conferences() != 0 {
		t.Fatalf("conferences b1 %d b2 %d", b1.node.Conferences(), b2.node.Conferences())
	}
	waitFor(t, "b1 stressed", 10*time.Second, func() bool {
		for _, b := range p.bridges.Bridges() {
			if b.Nick == "b1" && b.Stats.Stress >= 0.5 {
				return true
			}
		}
		return false
	})
	// By stress, the next two go to b2, though b1 has no more conferences.
	bridgedCall(t, ws, "two")
	three := bridgedCall(t, ws, "three")
	if b1.node.Conferences() != 1 || b2.node.Conferences() != 2 {
		t.Fatalf("by stress: conferences b1 %d b2 %d", b1.node.Conferences(), b2.node.Conferences())
	}

	// b2 dies: its two conferences move to b1, and media comes back.
	before := waitFlowing(t, three)
	killed := time.Now()
	b2.kill()
	waitFor(t, "b1 hosts every conference", 10*time.Second, func() bool { return b1.node.Conferences() == 3 })
	deadline := time.Now().Add(10 * time.Second)
	for {
		now := map[string]map[string]int64{}
		grown := true
		for name, peer := range three {
			now[name] = received(peer)
			for k, v := range before[name] {
				if now[name][k] <= v {
					grown = false
				}
			}
		}
		if grown && len(now) == 2 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("media did not come back after the failover: before %v now %v", before, now)
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Logf("media back %.1f s after the bridge stopped", time.Since(killed).Seconds())

	// b1 drains: a new conference gets no bridge.
	if err := p.bridges.Drain("b1", false); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b1 says it drains", 5*time.Second, func() bool { return b1.node.Health().Draining })
	r := jid.MustParse("four@conference." + testDomain)
	joinPeer(t, ws, r, "four-a", true)
	waitFor(t, "four waits for a bridge", 10*time.Second, func() bool {
		for _, c := range p.focus.Conferences(context.Background()) {
			if c.Room == r.String() && len(c.Participants) == 1 && c.Participants[0].State == "no-bridge" {
				return true
			}
		}
		return false
	})
	if b1.node.Conferences() != 3 {
		t.Fatalf("a draining bridge took a conference: %d", b1.node.Conferences())
	}
}

// TestBridgeTrustsOnlyItsFocus: a bridge configured with a JID that is no
// focus stops at start with an error naming it; a bridge takes no order
// from anyone but its focus; the focus ignores a brewery occupant that is
// not a bridge account.
func TestBridgeTrustsOnlyItsFocus(t *testing.T) {
	p, ws := startParleyBridgesOnly(t)
	port, err := bridgenode.Listen(bridgenode.PortConfig{Listen: "127.0.0.1:0", Logger: testLogger()})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	media, load := port.Media("x")
	cfg := bridgenode.Config{
		XMPP:    xmppclient.Config{Address: ws, Domain: testDomain, Username: "jvb", Password: "bridge-secret"},
		Brewery: jid.MustParse("jvbbrewery@internal." + testDomain), Nick: "x",
		Focus: []jid.JID{jid.MustParse("conference." + testDomain)}, Media: media, Load: load, Logger: testLogger(),
	}
	n, err := bridgenode.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	err = n.Run(ctx)
	if err == nil || !strings.Contains(err.Error(), "--focus conference."+testDomain) {
		t.Fatalf("a bridge whose --focus is the MUC service ran: %v", err)
	}
	cfg.XMPP.Password = "wrong"
	cfg.Focus = []jid.JID{jid.MustParse("focus." + testDomain)}
	if n, _ = bridgenode.New(cfg); n.Run(ctx) == nil {
		t.Fatal("a bridge with a wrong password ran")
	}

	// A good bridge refuses a guest's order.
	b := startTestBridge(t, ws, "b1", bridgenode.Capacity{})
	waitFor(t, "b1 registered", 10*time.Second, func() bool { return len(p.bridges.Bridges()) == 1 })
	bridgeJID := jid.MustParse(p.bridges.Bridges()[0].JID)
	guest, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer guest.Close()
	_, err = guest.IQ(ctx, stanza.IQ("set", "", jid.JID{}, bridgeJID,
		bridgeproto.Order(bridgeproto.OrderAllocate, "evil@conference."+testDomain, "p1")))
	if se := stanza.AsError(err); err == nil || se.Condition != stanza.Forbidden {
		t.Fatalf("a guest's allocate: %v", err)
	}
	if b.node.Conferences() != 0 {
		t.Fatal("the guest's order allocated a conference")
	}
	// A guest in the brewery claiming to be a bridge is not one.
	guest.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", "jvbbrewery@internal."+testDomain+"/fake").Add(
		xmlstream.New("http://jabber.org/protocol/muc", "x"), bridgeproto.Stats{}.Element()))
	time.Sleep(500 * time.Millisecond)
	if bs := p.bridges.Bridges(); len(bs) != 1 || bs[0].Nick != "b1" {
		t.Fatalf("bridges %+v", bs)
	}
}

//go:build netns

// Firewall tests in network namespaces (Linux, root, iproute2's ip and tc):
//
//	go test -tags netns -run Netns ./internal/app/
//
// parley listens on the host end of a veth pair the test creates; clients
// run in a namespace at the other end, as a child process (this test binary
// again, under "ip netns exec"), and blackhole routing rules on both ends
// play the firewall (this kernel has no tc actions nor netfilter tools):
// UDP dropped, or everything dropped for a while. The host's rules name
// only the namespace's address and are removed at the end.
package app

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/sfu"
	"parley.dev/parley/internal/xmppclient"
)

// childEnv carries a child's configuration (JSON); its presence makes
// the test binary a child.
const childEnv = "PARLEY_NETNS_CHILD"

// childConfig is what a child in the namespace does.
type childConfig struct {
	Mode     string   // "answer": a Pion peer answering an SFU offer; "peer": a mediapeer in a room
	BindIP   string   // the namespace's address
	Networks []string // "answer": "udp4", "tcp4"
	TURN     string   // "answer": a TURN URL; with it, relay only
	User     string   // TURN username
	Pass     string   // TURN password
	WS       string   // "peer": the WebSocket URL
	Room     string   // "peer": the room JID
	Nick     string   // "peer"
}

// childLine is one line a child writes (and "answer" children read).
type childLine struct {
	SDP       string           `json:",omitempty"`
	Connected string           `json:",omitempty"` // the selected pair
	Remote    string           `json:",omitempty"` // its remote protocol, "udp" or "tcp"
	LocalType string           `json:",omitempty"` // its local candidate type
	Recv      map[string]int64 `json:",omitempty"` // "peer": packets by "nick/kind"
	Error     string           `json:",omitempty"`
}

func TestMain(m *testing.M) {
	if cfg := os.Getenv(childEnv); cfg != "" {
		os.Exit(runChild(cfg))
	}
	os.Exit(m.Run())
}

func runChild(raw string) int {
	var cfg childConfig
	out := json.NewEncoder(os.Stdout)
	fail := func(err error) int {
		out.Encode(childLine{Error: err.Error()})
		return 1
	}
	if err := json.Unmarshal([]byte(raw), &cfg); err != nil {
		return fail(err)
	}
	var err error
	switch cfg.Mode {
	case "answer":
		err = childAnswer(cfg, bufio.NewScanner(os.Stdin), out)
	case "peer":
		err = childPeer(cfg, out)
	default:
		err = fmt.Errorf("no mode %q", cfg.Mode)
	}
	if err != nil {
		return fail(err)
	}
	return 0
}

// childAnswer answers one offer and reports the connection, then waits
// for stdin to close.
func childAnswer(cfg childConfig, in *bufio.Scanner, out *json.Encoder) error {
	se := webrtc.SettingEngine{}
	var nets []webrtc.NetworkType
	for _, n := range cfg.Networks {
		t, err := webrtc.NewNetworkType(n)
		if err != nil {
			return err
		}
		nets = append(nets, t)
	}
	se.SetNetworkTypes(nets)
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	bind := net.ParseIP(cfg.BindIP)
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(bind) })
	pcCfg := webrtc.Configuration{}
	if cfg.TURN != "" {
		pcCfg.ICETransportPolicy = webrtc.ICETransportPolicyRelay
		pcCfg.ICEServers = []webrtc.ICEServer{{URLs: []string{cfg.TURN}, Username: cfg.User, Credential: cfg.Pass}}
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(pcCfg)
	if err != nil {
		return err
	}
	defer pc.Close()
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if !in.Scan() {
		return fmt.Errorf("no offer: %v", in.Err())
	}
	var offer childLine
	if err := json.Unmarshal(in.Bytes(), &offer); err != nil {
		return err
	}
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer.SDP}); err != nil {
		return err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return err
	}
	<-gathered
	out.Encode(childLine{SDP: pc.LocalDescription().SDP})
	select {
	case <-connected:
	case <-time.After(30 * time.Second):
		return fmt.Errorf("not connected (ICE %v)", pc.ICEConnectionState())
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return fmt.Errorf("no selected pair: %v", err)
	}
	out.Encode(childLine{Connected: pair.String(), Remote: pair.Remote.Protocol.String(), LocalType: pair.Local.Typ.String()})
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// childPeer joins a room with synthetic media and reports what it
// receives every 100 ms until killed.
func childPeer(cfg childConfig, out *json.Encoder) error {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: cfg.WS, Domain: testDomain})
	if err != nil {
		return err
	}
	defer c.Close()
	room, err := jid.Parse(cfg.Room)
	if err != nil {
		return err
	}
	p, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: room, Nick: cfg.Nick, Media: true,
		BindIP: net.ParseIP(cfg.BindIP), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer p.Close()
	for range time.Tick(100 * time.Millisecond) {
		if err := out.Encode(childLine{Recv: received(p)}); err != nil {
			return nil // the test went away
		}
	}
	return nil
}

// netns is a namespace joined to the host by a veth pair.
type netns struct {
	name, hostDev string
	hostIP, nsIP  string
	rulePriority  int // of this namespace's blackhole rules, both ends
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// newNetns needs root and iproute2; the test fails without them.
func newNetns(t *testing.T) *netns {
	t.Helper()
	id := rand.IntN(200) + 20
	n := &netns{
		name:    fmt.Sprintf("parley-t%d", id),
		hostDev: fmt.Sprintf("plh%d", id),
		hostIP:  fmt.Sprintf("10.231.%d.1", id),
		nsIP:    fmt.Sprintf("10.231.%d.2", id),
		// Before the main table's lookup (32766), after the local one (0).
		rulePriority: 20000 + id,
	}
	nsDev := fmt.Sprintf("pln%d", id)
	sh(t, "ip", "netns", "add", n.name)
	t.Cleanup(func() {
		for exec.Command("ip", "rule", "del", "priority", fmt.Sprint(n.rulePriority)).Run() == nil {
		}
		exec.Command("ip", "netns", "del", n.name).Run()
		exec.Command("ip", "link", "del", n.hostDev).Run()
	})
	sh(t, "ip", "link", "add", n.hostDev, "type", "veth", "peer", "name", nsDev)
	sh(t, "ip", "link", "set", nsDev, "netns", n.name)
	sh(t, "ip", "addr", "add", n.hostIP+"/24", "dev", n.hostDev)
	sh(t, "ip", "link", "set", n.hostDev, "up")
	sh(t, "ip", "-n", n.name, "addr", "add", n.nsIP+"/24", "dev", nsDev)
	sh(t, "ip", "-n", n.name, "link", "set", nsDev, "up")
	sh(t, "ip", "-n", n.name, "link", "set", "lo", "up")
	return n
}

// block drops UDP (what "udp") or everything ("all") both ways between
// the namespace and the host.
func (n *netns) block(t *testing.T, what string) {
	t.Helper()
	var proto []string
	if what == "udp" {
		proto = []string{"ipproto", "udp"}
	}
	prio := fmt.Sprint(n.rulePriority)
	sh(t, append(append([]string{"ip", "rule", "add", "to", n.nsIP}, proto...), "blackhole", "priority", prio)...)
	sh(t, append(append([]string{"ip", "-n", n.name, "rule", "add", "to", n.hostIP}, proto...), "blackhole", "priority", prio)...)
}

// unblock removes the blackhole rules.
func (n *netns) unblock(t *testing.T) {
	t.Helper()
	prio := fmt.Sprint(n.rulePriority)
	sh(t, "ip", "rule", "del", "priority", prio)
	sh(t, "ip", "-n", n.name, "rule", "del", "priority", prio)
}

// child is a client process in the namespace.
type child struct {
	cmd   *exec.Cmd
	in    io.WriteCloser
	lines chan childLine
}

func (n *netns) start(t *testing.T, cfg childConfig) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cfg.BindIP = n.nsIP
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command("ip", "netns", "exec", n.name, self)
	cmd.Env = append(os.Environ(), childEnv+"="+string(raw))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, in: in, lines: make(chan childLine, 1024)}
	t.Cleanup(func() {
		in.Close()
		cmd.Process.Kill()
		cmd.Wait()
	})
	go func() {
		defer close(c.lines)
		sc := bufio.NewScanner(out)
		sc.Buffer(nil, 1<<20)
		for sc.Scan() {
			var l childLine
			if json.Unmarshal(sc.Bytes(), &l) == nil {
				c.lines <- l
			}
		}
	}()
	return c
}

func (c *child) next(t *testing.T) childLine {
	t.Helper()
	select {
	case l, ok := <-c.lines:
		if !ok {
			t.Fatal("the child ended")
		}
		if l.Error != "" {
			t.Fatalf("child: %s", l.Error)
		}
		return l
	case <-time.After(40 * time.Second):
		t.Fatal("the child said nothing")
		return childLine{}
	}
}

// startParleyOn runs parley on ip (the host end of the veth).
func startParleyOn(t *testing.T, ip string) (*parley, string) {
	t.Helper()
	ln, err := net.Listen("tcp4", ip+":0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := start(Config{
		Domain: testDomain, DataDir: t.TempDir(), PublicIP: ip, AllowAnonymous: true,
		HTTPListener: ln, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	return p, "ws://" + ln.Addr().String() + "/xmpp-websocket"
}

// connectChild negotiates one SFU participant with an "answer" child.
func connectChild(t *testing.T, p *parley, c *child, id string) childLine {
	t.Helper()
	part, err := p.sfu.Conference("netns").Join(id, sfu.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(part.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer, err := part.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	line, _ := json.Marshal(childLine{SDP: offer})
	fmt.Fprintf(c.in, "%s\n", line)
	if err := part.SetAnswer(c.next(t).SDP); err != nil {
		t.Fatal(err)
	}
	return c.next(t)
}

// TestNetnsUDPBlockedICETCP: with UDP dropped between client and server,
// the call connects over ICE-TCP on the one port.
func TestNetnsUDPBlockedICETCP(t *testing.T) {
	n := newNetns(t)
	p, _ := startParleyOn(t, n.hostIP)
	n.block(t, "udp")
	c := n.start(t, childConfig{Mode: "answer", Networks: []string{"udp4", "tcp4"}})
	got := connectChild(t, p, c, "tcp-client")
	if got.Remote != "tcp" || !strings.Contains(got.Connected, fmt.Sprintf("%s:%d", n.hostIP, p.port.port)) {
		t.Fatalf("connected over %s: %s", got.Remote, got.Connected)
	}
}

// TestNetnsRelayOnlyOverTURNTCP: a client that must relay, with only TURN
// over TCP on the one port (UDP dropped), connects through it.
func TestNetnsRelayOnlyOverTURNTCP(t *testing.T) {
	n := newNetns(t)
	p, ws := startParleyOn(t, n.hostIP)
	svc := findService(t, askServices(t, ws), "turn", "tcp")
	n.block(t, "udp")
	c := n.start(t, childConfig{
		Mode: "answer", Networks: []string{"udp4"},
		TURN: fmt.Sprintf("turn:%s:%s?transport=tcp", svc.host, svc.port), User: svc.username, Pass: svc.password,
	})
	got := connectChild(t, p, c, "relayed-client")
	if got.LocalType != "relay" {
		t.Fatalf("connected without the relay: %s", got.Connected)
	}
	if p.port.turn.Stats().Allocations == 0 {
		t.Fatal("no allocation on parley's TURN")
	}
}

// TestNetnsPathCutAndRestored: a participant's path is cut for five
// seconds, then restored; media flows both ways again within five seconds
// of the restore, with nothing reloaded.
func TestNetnsPathCutAndRestored(t *testing.T) {
	n := newNetns(t)
	_, ws := startParleyOn(t, n.hostIP)
	room := "cut@conference." + testDomain
	far := n.start(t, childConfig{Mode: "peer", WS: ws, Room: room, Nick: "far"})
	// The near peer is on the host, bound to the veth's host address.
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	xc, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer xc.Close()
	near, err := mediapeer.Join(ctx, mediapeer.Config{Client: xc, Room: jid.MustParse(room), Nick: "near", Media: true,
		BindIP: net.ParseIP(n.hostIP), Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	defer near.Close()

	farGets := func() int64 { // packets far received from near, latest report
		var last childLine
		for {
			select {
			case l, ok := <-far.lines:
				if !ok {
					t.Fatal("the far peer ended")
				}
				if l.Error != "" {
					t.Fatalf("far peer: %s", l.Error)
				}
				last = l
				continue
			default:
			}
			if last.Recv != nil {
				return last.Recv["near/audio"] + last.Recv["near/video"]
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	nearGets := func() int64 { r := received(near); return r["far/audio"] + r["far/video"] }
	flowing := func(within time.Duration) bool {
		a, b := farGets(), nearGets()
		deadline := time.Now().Add(within)
		for time.Now().Before(deadline) {
			time.Sleep(100 * time.Millisecond)
			if farGets() > a+10 && nearGets() > b+10 {
				return true
			}
		}
		return false
	}
	if !flowing(20 * time.Second) {
		t.Fatal("media never flowed both ways")
	}
	n.block(t, "all")
	time.Sleep(time.Second) // what was on the way arrives
	a, b := farGets(), nearGets()
	time.Sleep(4 * time.Second)
	if farGets() > a+5 || nearGets() > b+5 {
		t.Fatalf("media went on through the cut: far %d -> %d, near %d -> %d", a, farGets(), b, nearGets())
	}
	n.unblock(t)
	if !flowing(5 * time.Second) {
		t.Fatalf("media did not resume both ways within 5 s of the restore (far got %d, near got %d)", farGets(), nearGets())
	}
}

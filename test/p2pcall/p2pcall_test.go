//go:build netns

// Package p2pcall tests a 1:1 call between two XMPP users, as Conversations
// places one, with parley as their server only (issue 19): each side is a
// Pion peer that logs in over c2s, gets STUN/TURN with credentials through
// XEP-0215, rings the other with Jingle Message Initiation (XEP-0353) and
// negotiates with Jingle (XEP-0166/0167/0176) through parley. UDP between
// the two is blocked, so media can only flow through parley's TURN on its
// one port.
//
//	go test -tags netns -run Netns ./test/p2pcall/
//
// It needs root and iproute2. Three network namespaces of its own, removed
// at the end: parley's, with 203.0.113.1 and a veth to each client; alice's
// (198.51.100.2) and bob's (192.0.2.2), routed through parley's namespace,
// which blackholes UDP between the clients' networks. The addresses are the
// documentation ranges of RFC 5737, which never leave the namespaces: TURN
// relays refuse private peers, as they must on the Internet. Each part runs as this
// test binary again under "ip netns exec", told what to do by environment.
package p2pcall

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// childEnv carries a child's configuration (JSON); its presence makes the
// test binary a child.
const childEnv = "PARLEY_P2P_CHILD"

const (
	domain   = "example.test"
	serverIP = "203.0.113.1"
)

// childConfig tells a child what to be.
type childConfig struct {
	Mode   string // "server", "caller" or "callee"
	BindIP string // a client's address
	C2S    string // clients: parley's c2s address
	User   string // clients: the account (password "secret-" + User)
	Callee string // caller: the bare JID to ring
}

// childLine is one line a child writes on stdout.
type childLine struct {
	C2S       string   `json:",omitempty"` // server: its c2s address, once serving
	Port      int      `json:",omitempty"` // server: its one port (HTTP, TURN, media)
	Services  []string `json:",omitempty"` // clients: the XEP-0215 services they got
	Pair      string   `json:",omitempty"` // clients: the selected candidate pair, once connected
	LocalType string   `json:",omitempty"`
	RemoteTyp string   `json:",omitempty"`
	Received  int      `json:",omitempty"` // callee: RTP packets received so far
	Note      string   `json:",omitempty"` // progress, for the log
	Error     string   `json:",omitempty"`
}

func TestMain(m *testing.M) {
	if raw := os.Getenv(childEnv); raw != "" {
		os.Exit(runChild(raw))
	}
	os.Exit(m.Run())
}

func runChild(raw string) int {
	out := json.NewEncoder(os.Stdout)
	var cfg childConfig
	err := json.Unmarshal([]byte(raw), &cfg)
	if err == nil {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { // the test closes stdin to end the child
			bufio.NewReader(os.Stdin).ReadString(0)
			cancel()
		}()
		switch cfg.Mode {
		case "server":
			err = runServer(ctx, out)
		case "caller":
			err = runCaller(ctx, cfg, out)
		case "callee":
			err = runCallee(ctx, cfg, out)
		default:
			err = fmt.Errorf("no mode %q", cfg.Mode)
		}
	}
	if err != nil {
		out.Encode(childLine{Error: err.Error()})
		return 1
	}
	return 0
}

func sh(t *testing.T, args ...string) {
	t.Helper()
	if out, err := exec.Command(args[0], args[1:]...).CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
}

// topology makes the three namespaces; it returns their names.
func topology(t *testing.T) (server, alice, bob string) {
	t.Helper()
	id := rand.IntN(9000) + 1000
	server, alice, bob = fmt.Sprintf("p2ps%d", id), fmt.Sprintf("p2pa%d", id), fmt.Sprintf("p2pb%d", id)
	for _, ns := range []string{server, alice, bob} {
		sh(t, "ip", "netns", "add", ns)
		t.Cleanup(func() { exec.Command("ip", "netns", "del", ns).Run() })
		sh(t, "ip", "-n", ns, "link", "set", "lo", "up")
	}
	sh(t, "ip", "-n", server, "addr", "add", serverIP+"/32", "dev", "lo")
	for i, ns := range []string{alice, bob} {
		net := []string{"198.51.100", "192.0.2"}[i]
		srvDev, cliDev := fmt.Sprintf("s%d-%d", i, id), fmt.Sprintf("c%d-%d", i, id)
		sh(t, "ip", "link", "add", srvDev, "netns", server, "type", "veth", "peer", "name", cliDev, "netns", ns)
		sh(t, "ip", "-n", server, "addr", "add", net+".1/24", "dev", srvDev)
		sh(t, "ip", "-n", server, "link", "set", srvDev, "up")
		sh(t, "ip", "-n", ns, "addr", "add", net+".2/24", "dev", cliDev)
		sh(t, "ip", "-n", ns, "link", "set", cliDev, "up")
		sh(t, "ip", "-n", ns, "route", "add", "default", "via", net+".1")
	}
	// parley's namespace routes between the clients, except UDP.
	sh(t, "ip", "netns", "exec", server, "sh", "-c", "echo 1 > /proc/sys/net/ipv4/ip_forward")
	sh(t, "ip", "-n", server, "rule", "add", "from", "198.51.100.0/24", "to", "192.0.2.0/24", "ipproto", "udp", "blackhole")
	sh(t, "ip", "-n", server, "rule", "add", "from", "192.0.2.0/24", "to", "198.51.100.0/24", "ipproto", "udp", "blackhole")
	return server, alice, bob
}

// child is one part running in a namespace.
type child struct {
	name  string
	lines chan childLine
}

func start(t *testing.T, ns string, cfg childConfig) *child {
	t.Helper()
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	raw, _ := json.Marshal(cfg)
	cmd := exec.Command("ip", "netns", "exec", ns, self)
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
	c := &child{name: cfg.Mode, lines: make(chan childLine, 1024)}
	t.Cleanup(func() {
		in.Close()
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cmd.Process.Kill()
			<-done
		}
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

// until reads the child's lines until fn accepts one (notes are logged).
func (c *child) until(t *testing.T, what string, fn func(childLine) bool) childLine {
	t.Helper()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case l, ok := <-c.lines:
			if !ok {
				t.Fatalf("%s ended while waiting for %s", c.name, what)
			}
			if l.Error != "" {
				t.Fatalf("%s: %s", c.name, l.Error)
			}
			if l.Note != "" {
				t.Logf("%s: %s", c.name, l.Note)
			}
			if fn(l) {
				return l
			}
		case <-deadline:
			t.Fatalf("%s: no %s within 60 s", c.name, what)
		}
	}
}

// Two XMPP users call each other peer to peer with UDP between them
// blocked: they find parley's TURN through XEP-0215, ring and negotiate
// through parley, and the callee hears the caller through the relay.
func TestNetnsPeerToPeerCallThroughTURN(t *testing.T) {
	srvNS, aliceNS, bobNS := topology(t)
	server := start(t, srvNS, childConfig{Mode: "server"})
	ready := server.until(t, "the server's c2s address", func(l childLine) bool { return l.C2S != "" })
	c2s := ready.C2S
	bob := start(t, bobNS, childConfig{Mode: "callee", BindIP: "192.0.2.2", C2S: c2s, User: "bob"})
	bob.until(t, "bob's services", func(l childLine) bool { return len(l.Services) > 0 })
	alice := start(t, aliceNS, childConfig{Mode: "caller", BindIP: "198.51.100.2", C2S: c2s, User: "alice", Callee: "bob@" + domain})
	services := alice.until(t, "alice's services", func(l childLine) bool { return len(l.Services) > 0 }).Services
	if !hasTURN(services, ready.Port) {
		t.Fatalf("XEP-0215 gave no TURN on the one port %d: %v", ready.Port, services)
	}
	for _, c := range []*child{alice, bob} {
		l := c.until(t, "a connected pair", func(l childLine) bool { return l.Pair != "" })
		t.Logf("%s: %s (local %s, remote %s)", c.name, l.Pair, l.LocalType, l.RemoteTyp)
		if l.LocalType != "relay" && l.RemoteTyp != "relay" {
			t.Fatalf("%s connected without parley's relay: %s", c.name, l.Pair)
		}
		if !strings.Contains(l.Pair, serverIP) {
			t.Fatalf("%s's pair does not go through parley (%s): %s", c.name, serverIP, l.Pair)
		}
	}
	got := bob.until(t, "200 RTP packets from alice", func(l childLine) bool { return l.Received >= 200 })
	t.Logf("bob received %d RTP packets from alice", got.Received)
}

func hasTURN(services []string, port int) bool {
	for _, s := range services {
		if strings.HasPrefix(s, fmt.Sprintf("turn:%s:%d?transport=udp", serverIP, port)) {
			return true
		}
	}
	return false
}

// insecureTLS accepts parley's self-signed certificate.
var insecureTLS = &tls.Config{InsecureSkipVerify: true}

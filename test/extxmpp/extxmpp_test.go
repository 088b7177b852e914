// Package extxmpp runs the focus and a bridge against XMPP servers that are
// not parley's: Debian's Prosody (and ejabberd when installed), started by
// the test with a config it writes, `parley focus` as the server's
// XEP-0114 component, `parley bridge` as an account in its brewery, and
// two Pion peers (internal/mediapeer) calling each other through it.
package extxmpp

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

const (
	domain          = "example.test"
	componentSecret = "focus-component-secret-0123456789"
)

// buildParley builds cmd/parley into a temporary folder.
func buildParley(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	if out, err := exec.Command("go", "build", "-o", bin, "../../cmd/parley").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// freePort returns a port number free on loopback for TCP and UDP.
func freePort(t *testing.T) string {
	t.Helper()
	for range 20 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := ln.Addr().(*net.TCPAddr).Port
		ln.Close()
		if uc, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port}); err == nil {
			uc.Close()
			return fmt.Sprint(port)
		}
	}
	t.Fatal("no free port")
	return ""
}

// start runs a program; its output goes to a file shown on failure.
func start(t *testing.T, name, bin string, args ...string) *exec.Cmd {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	// Its own process group: ejabberdctl's Erlang runs under su.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
		cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			if len(b) > 20000 {
				b = b[len(b)-20000:]
			}
			t.Logf("--- %s's log:\n%s", name, b)
		}
	})
	return cmd
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never: %s", what)
		}
	}
}

// focusHealth is `parley focus`'s GET /health.
type focusHealth struct {
	OK      bool     `json:"ok"`
	XMPP    string   `json:"xmpp"`
	Bridges int      `json:"bridges"`
	Rooms   int      `json:"rooms"`
	Missing []string `json:"missing"`
}

func getJSON(url string, out any) (int, error) {
	resp, err := http.Get(url)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	return resp.StatusCode, json.NewDecoder(resp.Body).Decode(out)
}

// server is a running third-party XMPP server with what the test needs:
// its WebSocket URL and component port.
type server struct {
	ws, component string
	// guests, if set, is the server's host for guests (SASL ANONYMOUS):
	// bob logs in there as a guest rather than with an account.
	guests string
	// register creates an account.
	register func(user, password string)
	// stop, if set, kills the server; starting it again in the same
	// folder keeps its accounts.
	stop func()
}

// deployment is the focus and one bridge against a server.
type deployment struct {
	t         *testing.T
	bin, dir  string
	srv       server
	focus     *exec.Cmd
	focusURL  string // the focus's /health
	bridgeURL string // the bridge's /health
}

// startFocus starts `parley focus`, the server's component.
func (d *deployment) startFocus() {
	os.WriteFile(filepath.Join(d.dir, "component-secret"), []byte(componentSecret+"\n"), 0o600)
	port := freePort(d.t)
	d.focusURL = "http://127.0.0.1:" + port + "/health"
	d.focus = start(d.t, "focus", d.bin, "focus", "--server", d.srv.component, "--domain", domain,
		"--secret-file", filepath.Join(d.dir, "component-secret"), "--listen", "127.0.0.1:"+port, "--log-level", "debug")
}

// startBridge starts `parley bridge`, an account in the brewery.
func (d *deployment) startBridge() {
	os.WriteFile(filepath.Join(d.dir, "jvb-password"), []byte("bridge-secret\n"), 0o600)
	port := freePort(d.t)
	d.bridgeURL = "http://127.0.0.1:" + port + "/health"
	start(d.t, "bridge", d.bin, "bridge", "--server", d.srv.ws, "--domain", domain, "--user", "jvb",
		"--password-file", filepath.Join(d.dir, "jvb-password"), "--listen", "127.0.0.1:"+port, "--public-ip", "127.0.0.1")
}

func (d *deployment) health() (h focusHealth, code int) {
	code, _ = getJSON(d.focusURL, &h)
	return h, code
}

// call joins two media peers to room, accounts of the server (bob a guest
// on a server with a guest host), and waits for audio and video both ways.
func (d *deployment) call(room string) []*mediapeer.Peer {
	d.t.Helper()
	r := jid.MustParse(room + "@conference." + domain)
	var peers []*mediapeer.Peer
	for _, nick := range []string{"alice", "bob"} {
		ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
		login := xmppclient.Config{Address: d.srv.ws, Domain: domain, Username: nick, Password: "secret-" + nick}
		if nick == "bob" && d.srv.guests != "" {
			login = xmppclient.Config{Address: d.srv.ws, Domain: d.srv.guests}
		}
		c, err := xmppclient.Dial(ctx, login)
		if err != nil {
			cancel()
			d.t.Fatalf("%s logging in to the server: %v", nick, err)
		}
		if c.JID().Domain != login.Domain {
			cancel()
			d.t.Fatalf("%s logged in as %s, want a JID of %s", nick, c.JID(), login.Domain)
		}
		// A guest's host is not the rooms' domain: it names the focus.
		p, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: r, Nick: nick, Media: true, Focus: "focus." + domain})
		cancel()
		if err != nil {
			d.t.Fatalf("%s joining %s: %v", nick, room, err)
		}
		d.t.Cleanup(func() { p.Close(); c.Close() })
		peers = append(peers, p)
	}
	waitFor(d.t, room+"'s audio and video both ways", 30*time.Second, func() bool { return flowing(peers) })
	return peers
}

// flowing reports whether each peer receives audio and video packets.
func flowing(peers []*mediapeer.Peer) bool {
	for _, p := range peers {
		got := map[string]int64{}
		for _, tr := range p.Tracks() {
			if !tr.Ended.Load() {
				got[tr.Kind] += tr.Packets.Load()
			}
		}
		if got["audio"] == 0 || got["video"] == 0 {
			return false
		}
	}
	return true
}

// runCall is the scenario, the same for every server: the focus starts
// before the server (start order does not matter, and /health names the
// missing server), then the server, then the bridge; two peers call.
func runCall(t *testing.T, startServer func(t *testing.T, dir string) server, srv *server) {
	d := &deployment{t: t, bin: buildParley(t), dir: t.TempDir(), srv: *srv}
	d.startFocus()
	waitFor(t, "the focus's /health names the missing server", 20*time.Second, func() bool {
		h, code := d.health()
		return code == http.StatusServiceUnavailable && len(h.Missing) == 2 &&
			strings.Contains(h.Missing[0], "the XMPP server "+srv.component) && strings.Contains(h.Missing[1], "bridges")
	})
	d.srv = startServer(t, d.dir)
	for _, u := range []string{"jvb", "alice", "bob"} {
		pw := "secret-" + u
		if u == "jvb" {
			pw = "bridge-secret"
		}
		d.srv.register(u, pw)
	}
	waitFor(t, "the focus connects to the server", 30*time.Second, func() bool {
		h, _ := d.health()
		return h.XMPP == "connected" && len(h.Missing) == 1
	})
	d.startBridge()
	waitFor(t, "the focus sees the bridge in the brewery", 30*time.Second, func() bool {
		h, code := d.health()
		return code == http.StatusOK && h.OK && h.Bridges == 1
	})
	peers := d.call("call")
	for i, p := range peers {
		other := "call@conference." + domain + "/" + peers[1-i].Nick()
		for _, tr := range p.Tracks() {
			t.Logf("%s receives %s from %s: %d packets", p.Nick(), tr.Kind, tr.Owner, tr.Packets.Load())
			if tr.Owner != other {
				t.Errorf("%s receives a %s track of %q, want %s's only", p.Nick(), tr.Kind, tr.Owner, other)
			}
		}
	}
	var bh struct {
		Conferences int `json:"conferences"`
	}
	if _, err := getJSON(d.bridgeURL, &bh); err != nil || bh.Conferences != 1 {
		t.Fatalf("the bridge hosts %d conferences (err %v), want 1", bh.Conferences, err)
	}
	if d.srv.stop == nil {
		return
	}
	// The server dies and comes back: the focus says so, reconnects,
	// finds the bridge (which reconnected too) and calls again.
	d.srv.stop()
	waitFor(t, "the focus's /health names the lost server", 10*time.Second, func() bool {
		h, code := d.health()
		return code == http.StatusServiceUnavailable && len(h.Missing) > 0 && strings.Contains(h.Missing[0], "the XMPP server")
	})
	d.srv = startServer(t, d.dir)
	waitFor(t, "the focus and the bridge back", 40*time.Second, func() bool {
		h, code := d.health()
		return code == http.StatusOK && h.Bridges == 1
	})
	again := d.call("again")
	t.Logf("a call again after the server's restart")
	waitFor(t, "the first call's conference expired on the bridge", 20*time.Second, func() bool {
		_, err := getJSON(d.bridgeURL, &bh)
		return err == nil && bh.Conferences == 1
	})
	// Everyone leaves: the focus leaves the room, and the conference ends.
	for _, p := range again {
		p.Close()
	}
	waitFor(t, "the focus out of the room and the conference over", 20*time.Second, func() bool {
		h, _ := d.health()
		_, err := getJSON(d.bridgeURL, &bh)
		return err == nil && bh.Conferences == 0 && h.Rooms == 0
	})

	// The bridge comes back before the focus: the server bounces its
	// check of focus.<domain> (the component is not connected), which
	// is no misconfiguration; the focus, started later, finds it.
	syscall.Kill(-d.focus.Process.Pid, syscall.SIGKILL)
	d.srv.stop()
	d.srv = startServer(t, d.dir)
	var bs struct {
		XMPP    string   `json:"xmpp"`
		Missing []string `json:"missing"`
	}
	// It names the focus it misses, in /health and its log.
	waitFor(t, "the bridge back in the brewery without a focus, naming it", 40*time.Second, func() bool {
		bs.Missing = nil
		_, err := getJSON(d.bridgeURL, &bs)
		return err == nil && bs.XMPP == "connected" && len(bs.Missing) == 1 && strings.HasPrefix(bs.Missing[0], "the focus focus."+domain+": not in the brewery")
	})
	d.startFocus()
	waitFor(t, "the new focus finds the bridge", 30*time.Second, func() bool {
		h, code := d.health()
		return code == http.StatusOK && h.Bridges == 1
	})
	waitFor(t, "the bridge misses nothing", 10*time.Second, func() bool {
		bs.Missing = nil
		_, err := getJSON(d.bridgeURL, &bs)
		return err == nil && bs.XMPP == "connected" && len(bs.Missing) == 0
	})
	d.call("third")
	t.Logf("a call with a focus started after the bridge")
}

// TestProsody: a call through Debian's Prosody.
func TestProsody(t *testing.T) {
	if testing.Short() {
		t.Skip("starts Prosody and three processes")
	}
	if _, err := exec.LookPath("prosody"); err != nil {
		t.Fatal("prosody is not installed (scripts/test.sh installs it)")
	}
	ws, comp := freePort(t), freePort(t)
	srv := &server{ws: "ws://127.0.0.1:" + ws + "/xmpp-websocket", component: "127.0.0.1:" + comp}
	runCall(t, func(t *testing.T, dir string) server { return startProsody(t, dir, ws, comp) }, srv)
}

// Package bridges runs parley as separate processes: `parley serve` with
// no bridge of its own and two `parley bridge` processes, built by the
// test, with Pion peers (internal/mediapeer) in calls.
package bridges

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

const domain = "example.test"

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

// process is a started parley; its output goes to a file shown on failure.
type process struct {
	cmd *exec.Cmd
	log string
}

func start(t *testing.T, name, bin string, args ...string) *process {
	t.Helper()
	log := filepath.Join(t.TempDir(), name+".log")
	f, err := os.Create(log)
	if err != nil {
		t.Fatal(err)
	}
	// PARLEY_TEST_LOG=debug (or "info,sfu=debug", ...) sets the
	// processes' --log-level, and shows their whole logs on failure.
	level := os.Getenv("PARLEY_TEST_LOG")
	if level != "" && len(args) > 0 && (args[0] == "serve" || args[0] == "bridge") {
		args = append([]string{args[0], "--log-level", level}, args[1:]...)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd, log: log}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		f.Close()
		if t.Failed() {
			b, _ := os.ReadFile(log)
			if len(b) > 20000 && level == "" {
				b = b[len(b)-20000:]
			}
			t.Logf("--- %s's log:\n%s", name, b)
		}
	})
	return p
}

type deployment struct {
	t          *testing.T
	bin, dir   string
	listen     string // parley serve's port (HTTP, WebSocket)
	ws, admin  string
	adminToken string
	bridges    map[string]*process
	health     map[string]string // bridge -> its /health URL
}

func (d *deployment) startBridge(nick string, extra ...string) {
	port := freePort(d.t)
	args := append([]string{"bridge", "--server", d.ws, "--domain", domain, "--user", "jvb",
		"--password-file", filepath.Join(d.dir, "jvb-password"), "--listen", "127.0.0.1:" + port,
		"--public-ip", "127.0.0.1", "--nick", nick}, extra...)
	d.bridges[nick] = start(d.t, nick, d.bin, args...)
	d.health[nick] = "http://127.0.0.1:" + port + "/health"
}

// bridgeHealth is a bridge's GET /health.
func (d *deployment) bridgeHealth(nick string) (h struct {
	Conferences int  `json:"conferences"`
	Draining    bool `json:"draining"`
}, err error) {
	resp, err := http.Get(d.health[nick])
	if err != nil {
		return h, err
	}
	defer resp.Body.Close()
	return h, json.NewDecoder(resp.Body).Decode(&h)
}

func (d *deployment) conferences(nick string) int {
	h, err := d.bridgeHealth(nick)
	if err != nil {
		return -1
	}
	return h.Conferences
}

// api calls the focus's admin API.
func (d *deployment) api(method, path string, out any) int {
	req, _ := http.NewRequest(method, d.admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+d.adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if out != nil {
		json.NewDecoder(resp.Body).Decode(out)
	}
	return resp.StatusCode
}

type bridgeInfo struct {
	Nick  string `json:"nick"`
	Stats struct {
		Stress   float64 `json:"stress"`
		Draining bool    `json:"draining"`
	} `json:"stats"`
}

func (d *deployment) registered() map[string]bridgeInfo {
	var list []bridgeInfo
	d.api("GET", "/api/bridges", &list)
	out := map[string]bridgeInfo{}
	for _, b := range list {
		out[b.Nick] = b
	}
	return out
}

// deploy starts `parley serve` with no bridge of its own (more flags in
// serveArgs) and waits until it answers.
func deploy(t *testing.T, serveArgs ...string) *deployment {
	d := prepare(t)
	d.startServe(serveArgs...)
	return d
}

// prepare builds parley and makes the data folder (the bridge account
// jvb, the admin token) and the ports, without starting anything.
func prepare(t *testing.T) *deployment {
	bin := buildParley(t)
	dir := t.TempDir()
	user := exec.Command(bin, "user", "add", "jvb", "--data", dir, "--domain", domain)
	user.Stdin = strings.NewReader("bridge-secret\n")
	if out, err := user.CombinedOutput(); err != nil {
		t.Fatalf("parley user add: %v\n%s", err, out)
	}
	os.WriteFile(filepath.Join(dir, "jvb-password"), []byte("bridge-secret\n"), 0o600)
	os.WriteFile(filepath.Join(dir, "admin-token"), []byte("admin-secret\n"), 0o600)
	listen, admin := freePort(t), freePort(t)
	return &deployment{t: t, bin: bin, dir: dir, listen: listen, ws: "ws://127.0.0.1:" + listen + "/xmpp-websocket",
		admin: "http://127.0.0.1:" + admin, adminToken: "admin-secret", bridges: map[string]*process{}, health: map[string]string{}}
}

// startServe starts `parley serve --local-bridge=false` and waits until
// it answers.
func (d *deployment) startServe(serveArgs ...string) {
	t := d.t
	args := []string{"serve", "--local-bridge=false", "--listen", "127.0.0.1:" + d.listen, "--c2s", "",
		"--admin", strings.TrimPrefix(d.admin, "http://"), "--admin-token-file", filepath.Join(d.dir, "admin-token"),
		"--data", d.dir, "--domain", domain, "--public-ip", "127.0.0.1"}
	start(t, "serve", d.bin, append(args, serveArgs...)...)
	waitFor(t, "parley serve answers", 20*time.Second, func() bool {
		resp, err := http.Get("http://127.0.0.1:" + d.listen + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err == nil && resp.StatusCode == http.StatusOK
	})
}

func waitFor(t *testing.T, what string, d time.Duration, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(d); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("never: %s", what)
		}
	}
}

// call joins two media peers to room and waits for media both ways.
func (d *deployment) call(room string) []*mediapeer.Peer {
	d.t.Helper()
	peers := d.join(room, "a", "b")
	waitFor(d.t, room+"'s media both ways", 20*time.Second, func() bool { return flowing(peers) != nil })
	return peers
}

// join joins media peers to room, one after the other.
func (d *deployment) join(room string, nicks ...string) []*mediapeer.Peer {
	d.t.Helper()
	r := jid.MustParse(room + "@conference." + domain)
	var peers []*mediapeer.Peer
	for _, nick := range nicks {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: d.ws, Domain: domain})
		if err != nil {
			cancel()
			d.t.Fatal(err)
		}
		p, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: r, Nick: nick, Media: true})
		cancel()
		if err != nil {
			d.t.Fatalf("%s/%s joining: %v", room, nick, err)
		}
		d.t.Cleanup(func() { p.Close(); c.Close() })
		peers = append(peers, p)
	}
	return peers
}

// flowing returns each peer's packets received per kind from live
// tracks, or nil while one peer lacks audio or video.
func flowing(peers []*mediapeer.Peer) []map[string]int64 {
	var out []map[string]int64
	for _, p := range peers {
		got := map[string]int64{}
		for _, tr := range p.Tracks() {
			if !tr.Ended.Load() {
				got[tr.Kind] += tr.Packets.Load()
			}
		}
		if got["audio"] == 0 || got["video"] == 0 {
			return nil
		}
		out = append(out, got)
	}
	return out
}

// grown reports whether every counter of now passed before.
func grown(before, now []map[string]int64) bool {
	if now == nil {
		return false
	}
	for i := range before {
		for k, v := range before[i] {
			if now[i][k] <= v {
				return false
			}
		}
	}
	return true
}

// TestTwoBridgeProcesses: conferences spread by stress over two bridge
// processes; kill -9 of one mid-call is noticed within 5 s and the media
// of its conferences is back within 5 s of that; a draining bridge takes
// no new conference.
func TestTwoBridgeProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three processes")
	}
	d := deploy(t)
	// b1 counts as full at 20 packets/s: one call stresses it.
	d.startBridge("b1", "--capacity-packet-rate", "20")
	d.startBridge("b2")
	waitFor(t, "two bridges registered", 20*time.Second, func() bool { return len(d.registered()) == 2 })

	d.call("one") // equal stress: b1, by name
	if d.conferences("b1") != 1 || d.conferences("b2") != 0 {
		t.Fatalf("first conference: b1 %d b2 %d", d.conferences("b1"), d.conferences("b2"))
	}
	waitFor(t, "b1 stressed", 15*time.Second, func() bool { return d.registered()["b1"].Stats.Stress >= 0.5 })
	d.call("two")
	three := d.call("three")
	if d.conferences("b1") != 1 || d.conferences("b2") != 2 {
		t.Fatalf("by stress: b1 %d b2 %d", d.conferences("b1"), d.conferences("b2"))
	}

	before := flowing(three)
	killed := time.Now()
	d.bridges["b2"].cmd.Process.Signal(syscall.SIGKILL)
	waitFor(t, "the focus notices b2 is gone", 5*time.Second, func() bool { _, ok := d.registered()["b2"]; return !ok })
	noticed := time.Now()
	waitFor(t, "three's media back on b1", 5*time.Second, func() bool { return grown(before, flowing(three)) })
	t.Logf("b2 killed: noticed after %.2f s, media back %.2f s later", noticed.Sub(killed).Seconds(), time.Since(noticed).Seconds())
	if n := d.conferences("b1"); n != 3 {
		t.Fatalf("b1 hosts %d conferences after the failover, want 3", n)
	}

	// SIGTERM drains b1: it says so, the focus sees it, and it stays up
	// while its calls go on. (The admin API drains too; an unknown name
	// is a 404.)
	if code := d.api("POST", "/api/bridges/nobody/drain", nil); code != http.StatusNotFound {
		t.Fatalf("drain of an unknown bridge: %d", code)
	}
	d.bridges["b1"].cmd.Process.Signal(syscall.SIGTERM)
	waitFor(t, "b1 drains", 5*time.Second, func() bool { h, err := d.bridgeHealth("b1"); return err == nil && h.Draining })
	waitFor(t, "the focus sees b1 drain", 5*time.Second, func() bool { return d.registered()["b1"].Stats.Draining })
	r := jid.MustParse("four@conference." + domain)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: d.ws, Domain: domain})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	p, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: r, Nick: "a", Media: true})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	time.Sleep(2 * time.Second)
	if n := d.conferences("b1"); n != 3 {
		t.Fatalf("the draining bridge took a conference: %d", n)
	}
	before = flowing(three)
	waitFor(t, "calls on the draining bridge go on", 5*time.Second, func() bool { return grown(before, flowing(three)) })
}

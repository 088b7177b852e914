package extxmpp

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

// ejabberdConfig is what parley needs of ejabberd (docs/EXTERNAL-XMPP.md):
// WebSocket, the focus as a component, one MUC module serving the rooms
// and the brewery, rooms listed and non-anonymous, and a host of its own
// for guests (SASL ANONYMOUS); loopback only. The MUC module belongs to the
// users' host alone (append_host_config): in modules, the guest host would
// start a second copy for the same MUC domains.
const ejabberdConfig = `# Written by test/extxmpp; lives for one test.
hosts: [example.test, guest.example.test]
loglevel: info
log_rotate_count: 0
auth_method: internal
host_config:
  guest.example.test:
    auth_method: anonymous
    anonymous_protocol: sasl_anon
listen:
  - port: %[1]s
    ip: "127.0.0.1"
    module: ejabberd_http
    request_handlers:
      /xmpp-websocket: ejabberd_http_ws
  - port: %[2]s
    ip: "127.0.0.1"
    module: ejabberd_service
    hosts:
      focus.example.test:
        password: "%[3]s"
modules:
  mod_disco: {}
  mod_ping: {}
append_host_config:
  example.test:
    modules:
      mod_muc:
        hosts: [conference.example.test, internal.example.test]
        access_create: all
        default_room_options:
          anonymous: false
          public: true
`

// ejabberdctlConfig keeps Erlang's distribution (epmd, the node's port)
// on loopback.
const ejabberdctlConfig = `ERL_OPTIONS="-env ERL_CRASH_DUMP_BYTES 0"
ERL_EPMD_ADDRESS=127.0.0.1
INET_DIST_INTERFACE=127.0.0.1
EJABBERD_PID_PATH=%s/ejabberd.pid
`

// TestEjabberd: a call through Debian's ejabberd, bob a guest on its
// anonymous host.
func TestEjabberd(t *testing.T) {
	if testing.Short() {
		t.Skip("starts ejabberd and three processes")
	}
	if _, err := exec.LookPath("ejabberdctl"); err != nil {
		t.Fatal("ejabberd is not installed (scripts/test.sh installs it)")
	}
	if os.Getuid() != 0 {
		t.Fatal("Debian's ejabberdctl runs only as root (it switches to the ejabberd user) or as that user")
	}
	ws, comp := freePort(t), freePort(t)
	srv := &server{ws: "ws://127.0.0.1:" + ws + "/xmpp-websocket", component: "127.0.0.1:" + comp}
	runCall(t, func(t *testing.T, _ string) server { return startEjabberd(t, ws, comp) }, srv)
}

// startEjabberd writes the config in a folder the ejabberd user owns and
// starts ejabberd in the foreground under a node name of its own.
func startEjabberd(t *testing.T, ws, comp string) server {
	t.Helper()
	u, err := user.Lookup("ejabberd")
	if err != nil {
		t.Fatalf("the ejabberd user: %v", err)
	}
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	dir, err := os.MkdirTemp("", "parley-ejabberd-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	for _, sub := range []string{"", "spool", "logs"} {
		os.MkdirAll(filepath.Join(dir, sub), 0o755)
	}
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ejabberd.yml", fmt.Sprintf(ejabberdConfig, ws, comp, componentSecret))
	write("ejabberdctl.cfg", fmt.Sprintf(ejabberdctlConfig, dir))
	write("inetrc", "{lookup,[file,native]}.\n{host,{127,0,0,1}, [\"localhost\"]}.\n")
	filepath.Walk(dir, func(p string, _ os.FileInfo, _ error) error { return os.Chown(p, uid, gid) })
	node := fmt.Sprintf("parleytest%d@localhost", os.Getpid())
	ctl := func(args ...string) *exec.Cmd {
		return exec.Command("ejabberdctl", append([]string{"--config-dir", dir, "--config", filepath.Join(dir, "ejabberd.yml"),
			"--ctl-config", filepath.Join(dir, "ejabberdctl.cfg"), "--logs", filepath.Join(dir, "logs"),
			"--spool", filepath.Join(dir, "spool"), "--node", node}, args...)...)
	}
	fg := ctl("foreground")
	start(t, "ejabberd", fg.Path, fg.Args[1:]...)
	t.Cleanup(func() {
		ctl("stop").Run()
		// Erlang started epmd, a daemon that outlives the node: once the
		// node is gone, stop it unless another node still uses it.
		names := func() string { out, _ := exec.Command("epmd", "-names").Output(); return string(out) }
		for end := time.Now().Add(15 * time.Second); strings.Contains(names(), "name "+strings.Split(node, "@")[0]+" ") && time.Now().Before(end); {
			time.Sleep(200 * time.Millisecond)
		}
		if !strings.Contains(names(), "name ") {
			exec.Command("epmd", "-kill").Run()
		}
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "logs", "ejabberd.log"))
			t.Logf("--- ejabberd.log:\n%s", b)
		}
	})
	for _, port := range []string{ws, comp} {
		waitFor(t, "ejabberd listens on "+port, 60*time.Second, func() bool {
			c, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return server{ws: "ws://127.0.0.1:" + ws + "/xmpp-websocket", component: "127.0.0.1:" + comp, guests: "guest." + domain,
		register: func(name, password string) {
			if out, err := ctl("register", name, "example.test", password).CombinedOutput(); err != nil {
				t.Fatalf("ejabberdctl register %s: %v\n%s", name, err, out)
			}
		}}
}

package extxmpp

import (
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"
)

// prosodyConfig is what parley needs of Prosody (docs/EXTERNAL-XMPP.md):
// WebSocket, a MUC service whose rooms show real JIDs to the focus and
// are listed (public), the brewery's MUC service, the focus as a
// component, and a host of its own for guests (SASL ANONYMOUS); loopback
// only.
const prosodyConfig = `-- Written by test/extxmpp; lives for one test.
run_as_root = %[1]t
daemonize = false
pidfile = "%[2]s/prosody.pid"
data_path = "%[2]s/data"
plugin_paths = {}
log = { { levels = { min = "info" }, to = "file", filename = "%[2]s/prosody.log" } }
interfaces = { "127.0.0.1" }
local_interfaces = { "127.0.0.1" }
component_interfaces = { "127.0.0.1" }
c2s_ports = {}
c2s_direct_tls_ports = {}
legacy_ssl_ports = {}
s2s_ports = {}
s2s_direct_tls_ports = {}
component_ports = { %[4]s }
http_ports = { %[3]s }
https_ports = {}
http_interfaces = { "127.0.0.1" }
modules_enabled = { "roster", "saslauth", "disco", "ping", "posix", "websocket" }
modules_disabled = { "s2s", "tls" }
authentication = "internal_hashed"
storage = "internal"
c2s_require_encryption = false
consider_websocket_secure = true
default_iteration_count = 4096

VirtualHost "example.test"
VirtualHost "guest.example.test"
	authentication = "anonymous"
Component "conference.example.test" "muc"
	muc_room_locking = false
	muc_room_default_public = true
	muc_room_default_public_jids = true
Component "internal.example.test" "muc"
	muc_room_locking = false
	muc_room_default_public = false
	muc_room_default_public_jids = true
Component "focus.example.test"
	component_secret = "%[5]s"
`

// startProsody writes the config and starts Debian's Prosody in the
// foreground, on loopback ports ws (HTTP, WebSocket) and comp (components).
func startProsody(t *testing.T, dir, ws, comp string) server {
	t.Helper()
	pdir := filepath.Join(dir, "prosody")
	if err := os.MkdirAll(filepath.Join(pdir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(pdir, "prosody.cfg.lua")
	if err := os.WriteFile(cfg, fmt.Appendf(nil, prosodyConfig, os.Getuid() == 0, pdir, ws, comp, componentSecret), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := start(t, "prosody", "prosody", "--config", cfg, "-F")
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(pdir, "prosody.log"))
			t.Logf("--- prosody.log:\n%s", b)
		}
	})
	for _, port := range []string{ws, comp} {
		waitFor(t, "prosody listens on "+port, 20*time.Second, func() bool {
			c, err := net.Dial("tcp", "127.0.0.1:"+port)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return server{ws: "ws://127.0.0.1:" + ws + "/xmpp-websocket", component: "127.0.0.1:" + comp, guests: "guest." + domain,
		stop: func() { syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL); cmd.Wait() },
		register: func(user, password string) {
			out, err := exec.Command("prosodyctl", "--config", cfg, "register", user, domain, password).CombinedOutput()
			if err != nil {
				t.Fatalf("prosodyctl register %s: %v\n%s", user, err, out)
			}
		}}
}

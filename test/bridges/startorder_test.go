package bridges

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// bridgeState is the part of a bridge's GET /health that says what it is
// connected to and what it misses, or empty when it does not answer.
func (d *deployment) bridgeState(nick string) (status, xmpp, missing string) {
	var h struct {
		Status  string   `json:"status"`
		XMPP    string   `json:"xmpp"`
		Missing []string `json:"missing"`
	}
	resp, err := http.Get(d.health[nick])
	if err != nil {
		return "", "", ""
	}
	defer resp.Body.Close()
	if json.NewDecoder(resp.Body).Decode(&h) != nil {
		return "", "", ""
	}
	return h.Status, h.XMPP, strings.Join(h.Missing, "; ")
}

// TestBridgeBeforeTheServer: start order does not matter (issue 16). A
// bridge started while its XMPP server (parley serve, with the focus) is
// not there yet says so, naming the server, in its /health ("missing")
// and its log,
// and keeps trying with backoff; once the server starts, the bridge joins
// the brewery by itself, the focus registers it, and a call placed on it
// has media.
func TestBridgeBeforeTheServer(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two processes")
	}
	d := prepare(t)
	d.startBridge("b1")
	server := "127.0.0.1:" + d.listen
	var status, xmpp, missing string
	waitFor(t, "the bridge's /health names the missing server", 20*time.Second, func() bool {
		status, xmpp, missing = d.bridgeState("b1")
		return status == "disconnected" && strings.Contains(xmpp, server) && strings.HasPrefix(missing, "the XMPP server "+d.ws+" ")
	})
	t.Logf("the bridge without its server: status %q, missing %q", status, missing)
	// It does not give up: a few retries later it still answers, and its
	// log has said what it cannot reach, by name, more than once.
	time.Sleep(3 * time.Second)
	if status, xmpp, _ = d.bridgeState("b1"); status != "disconnected" {
		t.Fatalf("the bridge after 3 s without a server: status %q, xmpp %q; want it waiting", status, xmpp)
	}
	log, _ := os.ReadFile(d.bridges["b1"].log)
	if n := strings.Count(string(log), "XMPP server unreachable; retrying"); n < 2 || !strings.Contains(string(log), "server="+d.ws) {
		t.Fatalf("the bridge's log has %d retries, naming %s or not:\n%s", n, d.ws, log)
	}

	d.startServe()
	waitFor(t, "the focus registers the bridge", 30*time.Second, func() bool { return len(d.registered()) == 1 })
	// The focus, in parley serve, is in the brewery: nothing is missing.
	waitFor(t, "the bridge misses nothing", 10*time.Second, func() bool {
		status, xmpp, missing = d.bridgeState("b1")
		return status == "ok" && xmpp == "connected" && missing == ""
	})
	d.call("late")
	if n := d.conferences("b1"); n != 1 {
		t.Fatalf("the bridge hosts %d conferences, want the call's", n)
	}
}

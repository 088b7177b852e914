package app

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/turn"
)

// syncBuffer is a log sink the test reads while parley writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}
func (b *syncBuffer) String() string { b.mu.Lock(); defer b.mu.Unlock(); return b.buf.String() }

func TestReloadRotatesTheTURNSecretWhileACallCarriesOn(t *testing.T) {
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	logs := &syncBuffer{}
	cfg := Config{
		Domain: testDomain, DataDir: t.TempDir(), PublicIP: "127.0.0.1", AllowAnonymous: true,
		HTTPListener: httpLn, TURNSecret: "secret one",
		Logger: slog.New(slog.NewTextHandler(io.MultiWriter(logs, io.Discard), nil)),
	}
	p, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	ws := "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
	addr := httpLn.Addr().String()

	room := jid.MustParse("reload@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{"ann": joinPeer(t, ws, room, "ann", true), "ben": joinPeer(t, ws, room, "ben", true)}
	before := waitFlowing(t, peers)
	oldCred := findService(t, askServices(t, ws), "turn", "udp")
	if !signedWith(oldCred, "secret one") {
		t.Fatal("credentials before the reload are not signed with the configured secret")
	}

	next := cfg
	next.TURNSecret = "secret two"
	next.StanzaRate = 7 // not reloadable
	p.reload(next)

	newCred := findService(t, askServices(t, ws), "turn", "udp")
	if !signedWith(newCred, "secret two") {
		t.Fatal("credentials after the reload are not signed with the new secret")
	}
	for name, svc := range map[string]turnService{"issued before the reload": oldCred, "issued after": newCred} {
		relay, err := turnClient(t, "udp", addr, svc).Allocate()
		if err != nil {
			t.Fatalf("TURN allocation with credentials %s: %v", name, err)
		}
		relay.Close()
	}
	time.Sleep(time.Second)
	requireGrowth(t, before, waitFlowing(t, peers), "after the reload")
	if !strings.Contains(logs.String(), "need a restart") || !strings.Contains(logs.String(), "StanzaRate") {
		t.Errorf("a changed setting that needs a restart was not reported:\n%s", logs.String())
	}
	if strings.Contains(logs.String(), "secret two") {
		t.Error("the secret was logged")
	}
}

// signedWith says whether a XEP-0215 credential ("EXPIRY:USER") is the one
// the secret makes for that user and expiry.
func signedWith(svc turnService, secret string) bool {
	expiry, user, ok := strings.Cut(svc.username, ":")
	if !ok {
		return false
	}
	sec, err := strconv.ParseInt(expiry, 10, 64)
	if err != nil {
		return false
	}
	c, err := turn.NewCredential(secret, user, time.Unix(sec, 0))
	return err == nil && c.Username == svc.username && c.Password == svc.password
}

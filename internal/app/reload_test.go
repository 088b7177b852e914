package app

import (
	"bytes"
	"io"
	"log/slog"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/turn"
	"parley.dev/parley/internal/xmppclient"
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
	next.Drain = make(chan struct{}) // each Run's own, as parley serve makes it: no setting
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
	if strings.Contains(logs.String(), "Drain") {
		t.Errorf("the drain channel was reported as a setting:\n%s", logs.String())
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

// TestReloadRotatesTheTokenSecret: after the operator replaces the JWT
// secret file, a reload accepts tokens signed with the new secret only.
func TestReloadRotatesTheTokenSecret(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	const newSecret = "a-new-jwt-secret-after-rotation-42"
	sign := func(secret string) string {
		s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{"sub": "x", "room": "*", "exp": time.Now().Add(time.Hour).Unix(),
			"context": map[string]any{"user": map[string]any{"id": "u-9"}}}).SignedString([]byte(secret))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	tokenLogin := func(tok string) error {
		u, err := login(t, srv.ws, func(c *xmppclient.Config) { c.Token = tok })
		if err == nil {
			u.c.Close()
		}
		return err
	}
	if err := tokenLogin(sign(jwtSecret)); err != nil {
		t.Fatalf("the configured secret: %v", err)
	}
	if err := os.WriteFile(srv.p.cfg.Tokens.SecretFile, []byte(newSecret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	srv.p.reload(srv.p.cfg)
	if err := tokenLogin(sign(newSecret)); err != nil {
		t.Fatalf("the new secret after the reload: %v", err)
	}
	if err := tokenLogin(sign(jwtSecret)); err == nil {
		t.Fatal("the old secret still logs in after the reload")
	}
}

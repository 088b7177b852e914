package app

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const (
	adminToken = "admin-token-for-tests-0123456789"
	jwtSecret  = "jwt-secret-for-tests-0123456789ab"
)

// roomsServer is a parley with accounts, tokens and the admin API.
type roomsServer struct {
	p     *parley
	ws    string // XMPP WebSocket URL
	http  string // public base URL
	admin string // admin API base URL
}

// startRoomsServer runs parley on dataDir (kept between runs) with the
// admin API and HS256 tokens on.
func startRoomsServer(t *testing.T, dataDir string, mod func(*Config)) *roomsServer {
	t.Helper()
	secrets := t.TempDir()
	write := func(name, content string) string {
		path := filepath.Join(secrets, name)
		if err := os.WriteFile(path, []byte(content+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		return path
	}
	listen := func() net.Listener {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		return ln
	}
	httpLn, c2sLn, adminLn := listen(), listen(), listen()
	cfg := Config{
		Domain: testDomain, DataDir: dataDir, PublicIP: "127.0.0.1", AllowAnonymous: true,
		HTTPListener: httpLn, C2SListener: c2sLn, AdminListener: adminLn,
		AdminTokenFile: write("admin-token", adminToken),
		Tokens:         TokenConfig{SecretFile: write("jwt-secret", jwtSecret)},
		Logger:         slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
	if mod != nil {
		mod(&cfg)
	}
	p, err := start(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	return &roomsServer{p: p, ws: "ws://" + httpLn.Addr().String() + "/xmpp-websocket",
		http: "http://" + httpLn.Addr().String(), admin: "http://" + adminLn.Addr().String()}
}

func addUsers(t *testing.T, dataDir string, names ...string) {
	t.Helper()
	store, err := accounts.Open(accounts.Config{Dir: dataDir, Domain: testDomain, Iterations: 4096})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range names {
		if err := store.Add(n, "pw-"+n); err != nil {
			t.Fatal(err)
		}
	}
}

// call makes an HTTP request with bearer (none if "") and decodes JSON into out.
func call(t *testing.T, method, url, bearer string, body any, out any) int {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, url, rd)
	if bearer != "" {
		req.Header.Set("Authorization", "Bearer "+bearer)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if out != nil && len(data) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %s", method, url, res.StatusCode, data)
		}
	}
	return res.StatusCode
}

// xmppUser is one logged-in XMPP client.
type xmppUser struct {
	t *testing.T
	c *xmppclient.Client
}

func login(t *testing.T, ws string, mod func(*xmppclient.Config)) (*xmppUser, error) {
	t.Helper()
	cfg := xmppclient.Config{Address: ws, Domain: testDomain}
	if mod != nil {
		mod(&cfg)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { c.Close() })
	return &xmppUser{t: t, c: c}, nil
}

func mustLogin(t *testing.T, ws string, mod func(*xmppclient.Config)) *xmppUser {
	t.Helper()
	u, err := login(t, ws, mod)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func (u *xmppUser) send(raw string) {
	u.t.Helper()
	el, err := xmlstream.ParseElementIn([]byte(raw), xmlstream.Limits{}, xmlstream.NSClient)
	if err != nil {
		u.t.Fatalf("bad test stanza %s: %v", raw, err)
	}
	if err := u.c.Send(el); err != nil {
		u.t.Fatal(err)
	}
}

// wait returns the first incoming stanza matching fn, within 10 s.
func (u *xmppUser) wait(what string, fn func(*xmlstream.Element) bool) *xmlstream.Element {
	u.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case el, ok := <-u.c.Incoming():
			if !ok {
				u.t.Fatalf("%s: connection closed waiting for %s", u.c.JID(), what)
			}
			if fn(el) {
				return el
			}
		case <-timeout:
			u.t.Fatalf("%s: no %s within 10 s", u.c.JID(), what)
		}
	}
}

// iq sends an IQ and returns the answer.
func (u *xmppUser) iq(typ, to string, payload string) *xmlstream.Element {
	u.t.Helper()
	q, err := xmlstream.ParseElementIn([]byte(payload), xmlstream.Limits{}, xmlstream.NSClient)
	if err != nil {
		u.t.Fatal(err)
	}
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", typ, "to", to, "id", u.c.NewID()).Add(q)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	res, err := u.c.IQ(ctx, iq)
	if res == nil {
		u.t.Fatalf("iq %s: %v", payload, err)
	}
	return res // an error answer too
}

func joinPresence(room, nick, extra string) string {
	return "<presence xmlns='jabber:client' to='" + room + "/" + nick + "'><x xmlns='http://jabber.org/protocol/muc'/>" + extra + "</presence>"
}

func selfPresence(room, nick string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool {
		if el.Name != "presence" || el.Attr("from") != room+"/"+nick || el.Attr("type") != "" {
			return false
		}
		x := el.Child(muc.NSMUCUser, "x")
		for _, s := range x.ChildrenNamed(muc.NSMUCUser, "status") {
			if s.Attr("code") == "110" {
				return true
			}
		}
		return false
	}
}

func hasChild(ns, name string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool { return el.Child(ns, name) != nil }
}

func errorCondition(el *xmlstream.Element) string {
	if e := stanza.ParseError(el); e != nil {
		return string(e.Condition)
	}
	return ""
}

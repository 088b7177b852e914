package xmpp_test

import (
	"context"
	"encoding/base64"
	"net"
	"strconv"
	"testing"
	"time"

	"parley.dev/parley/internal/store"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
)

// rawClient is a hand-driven client (PLAIN over loopback, no TLS) so that a
// test controls every stream-management element and can cut the TCP
// connection at will.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	tr   *stream.TCP
}

func smLogin(t *testing.T, h *harness, user string) (*rawClient, *xmlstream.Element) {
	t.Helper()
	conn, err := net.Dial("tcp", h.tcp)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: conn, tr: stream.NewTCP(conn, stream.TCPConfig{})}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c.open()
	auth := base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00secret-" + user))
	c.write(xmlstream.New("urn:ietf:params:xml:ns:xmpp-sasl", "auth", "mechanism", "PLAIN").SetText(auth))
	if el := c.read(); el.Name != "success" {
		t.Fatalf("auth: %s", el)
	}
	c.tr.Restart()
	return c, c.open()
}

func (c *rawClient) open() *xmlstream.Element {
	c.t.Helper()
	if err := c.tr.WriteOpen(stream.Header{To: testDomain, Version: "1.0"}); err != nil {
		c.t.Fatal(err)
	}
	if _, err := c.tr.ReadOpen(); err != nil {
		c.t.Fatal(err)
	}
	return c.read()
}

func (c *rawClient) write(els ...*xmlstream.Element) {
	c.t.Helper()
	if err := c.tr.Write(els...); err != nil {
		c.t.Fatal(err)
	}
}

func (c *rawClient) read() *xmlstream.Element {
	c.t.Helper()
	el, err := c.tr.ReadElement()
	if err != nil {
		c.t.Fatalf("read: %v", err)
	}
	return el
}

// readUntil reads until fn matches, returning everything read.
func (c *rawClient) readUntil(what string, fn func(*xmlstream.Element) bool) []*xmlstream.Element {
	c.t.Helper()
	var all []*xmlstream.Element
	for {
		el, err := c.tr.ReadElement()
		if err != nil {
			c.t.Fatalf("waiting for %s: %v (read %v)", what, err, all)
		}
		all = append(all, el)
		if fn(el) {
			return all
		}
	}
}

func (c *rawClient) bind(res string) {
	c.t.Helper()
	c.write(xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "b").Add(
		xmlstream.New("urn:ietf:params:xml:ns:xmpp-bind", "bind").Add(
			xmlstream.New("urn:ietf:params:xml:ns:xmpp-bind", "resource").SetText(res))))
	if el := c.read(); el.Attr("type") != "result" {
		c.t.Fatalf("bind: %s", el)
	}
}

const nsSM = "urn:xmpp:sm:3"

func chat(to, body string) *xmlstream.Element {
	return xmlstream.New(xmlstream.NSClient, "message", "to", to, "type", "chat").Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText(body))
}

func bodies(els []*xmlstream.Element) []string {
	var out []string
	for _, el := range els {
		if el.Name == "message" {
			if b := el.Child(xmlstream.NSClient, "body"); b != nil {
				out = append(out, b.Text)
			}
		}
	}
	return out
}

// A resumed session loses nothing: what was written but not acked and what
// was routed while the connection was down arrive once each, in order.
func TestStreamManagementResume(t *testing.T) {
	h := newHarness(t, nil)
	alice, features := smLogin(t, h, "alice")
	if features.Child(nsSM, "sm") == nil {
		t.Fatalf("no sm feature after auth: %s", features)
	}
	alice.bind("phone")
	alice.write(xmlstream.New(nsSM, "enable", "resume", "true"))
	enabled := alice.read()
	if !enabled.Is(nsSM, "enabled") || enabled.Attr("resume") != "true" || enabled.Attr("id") == "" {
		t.Fatalf("enable: %s", enabled)
	}
	alice.write(xmlstream.New(xmlstream.NSClient, "presence"))
	alice.readUntil("own presence", func(el *xmlstream.Element) bool { return el.Name == "presence" })

	bob := h.dial("bob", false, nil)
	for i := 1; i <= 3; i++ {
		bob.Send(chat("alice@"+testDomain+"/phone", "m"+strconv.Itoa(i)))
	}
	got := alice.readUntil("m3", func(el *xmlstream.Element) bool {
		return len(bodies([]*xmlstream.Element{el})) == 1 && bodies([]*xmlstream.Element{el})[0] == "m3"
	})
	if b := bodies(got); len(b) != 3 {
		t.Fatalf("before the cut: %v", b)
	}
	// Alice acknowledges the presence and m1 only (h=2), then the link dies.
	alice.write(xmlstream.New(nsSM, "a", "h", "2"))
	alice.conn.Close()
	waitFor(t, "hibernation", func() bool { return h.srv.Stats().Sessions == 2 })
	time.Sleep(100 * time.Millisecond) // let the server notice the cut
	for i := 4; i <= 5; i++ {
		bob.Send(chat("alice@"+testDomain, "m"+strconv.Itoa(i)))
	}
	// A bare-JID message while hibernating must not bounce: bob sees no error.
	expectNone(t, bob, 300*time.Millisecond, "error", func(el *xmlstream.Element) bool { return el.Attr("type") == "error" })

	alice2, _ := smLogin(t, h, "alice")
	alice2.write(xmlstream.New(nsSM, "resume", "previd", enabled.Attr("id"), "h", "2"))
	resumed := alice2.read()
	if !resumed.Is(nsSM, "resumed") {
		t.Fatalf("resume: %s", resumed)
	}
	if resumed.Attr("h") != "1" { // alice sent one stanza: her presence
		t.Fatalf("server's h = %s, want 1", resumed.Attr("h"))
	}
	got = alice2.readUntil("m5", func(el *xmlstream.Element) bool {
		b := bodies([]*xmlstream.Element{el})
		return len(b) == 1 && b[0] == "m5"
	})
	if b := bodies(got); len(b) != 4 || b[0] != "m2" || b[1] != "m3" || b[2] != "m4" || b[3] != "m5" {
		t.Fatalf("after resume: %v", b)
	}
	// The resumed session is routable under the same full JID.
	bob.Send(chat("alice@"+testDomain+"/phone", "m6"))
	alice2.readUntil("m6", func(el *xmlstream.Element) bool {
		b := bodies([]*xmlstream.Element{el})
		return len(b) == 1 && b[0] == "m6"
	})
	if st := h.srv.Stats(); st.Resumed != 1 || st.Sessions != 2 {
		t.Fatalf("stats: %+v", st)
	}
	// A second resume of the same id fails cleanly.
	alice3, _ := smLogin(t, h, "alice")
	alice3.write(xmlstream.New(nsSM, "resume", "previd", "nope", "h", "0"))
	if el := alice3.read(); !el.Is(nsSM, "failed") {
		t.Fatalf("bad resume: %s", el)
	}
}

// A session that is not resumed in time hands its unacked messages to
// offline storage: they arrive at the next login.
func TestStreamManagementTimeoutGoesOffline(t *testing.T) {
	h := newHarness(t, func(c *xmpp.Config) { c.ResumeTimeout = 300 * time.Millisecond })
	alice, _ := smLogin(t, h, "alice")
	alice.bind("phone")
	alice.write(xmlstream.New(nsSM, "enable", "resume", "true"))
	alice.read()
	alice.write(xmlstream.New(xmlstream.NSClient, "presence"))
	alice.readUntil("own presence", func(el *xmlstream.Element) bool { return el.Name == "presence" })
	bob := h.dial("bob", false, nil)
	bob.Send(chat("alice@"+testDomain, "unacked"))
	alice.readUntil("unacked", func(el *xmlstream.Element) bool { return len(bodies([]*xmlstream.Element{el})) == 1 })
	alice.conn.Close()
	waitFor(t, "the session to end", func() bool { return h.srv.Stats().Sessions == 1 })
	bob.Send(chat("alice@"+testDomain, "later"))

	a := h.dial("alice", false, nil)
	a.Send(xmlstream.New(xmlstream.NSClient, "presence"))
	var got []string
	for len(got) < 2 {
		el := expect(t, a, "offline messages", func(el *xmlstream.Element) bool { return el.Name == "message" })
		got = append(got, bodies([]*xmlstream.Element{el})...)
		if el.Child("urn:xmpp:delay", "delay") == nil {
			t.Fatalf("offline message without delay: %s", el)
		}
	}
	if got[0] != "unacked" || got[1] != "later" {
		t.Fatalf("offline: %v", got)
	}
}

func TestStreamManagementAcks(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := smLogin(t, h, "carol")
	c.write(xmlstream.New(nsSM, "enable"))
	if el := c.read(); !el.Is(nsSM, "failed") {
		t.Fatalf("enable before bind: %s", el)
	}
	c.bind("x")
	c.write(xmlstream.New(nsSM, "enable"))
	if el := c.read(); !el.Is(nsSM, "enabled") || el.Attr("resume") != "" {
		t.Fatalf("enable: %s", el)
	}
	c.write(xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "id", "p1").Add(xmlstream.New("urn:xmpp:ping", "ping")),
		xmlstream.New(nsSM, "r"))
	els := c.readUntil("a", func(el *xmlstream.Element) bool { return el.Is(nsSM, "a") })
	if a := els[len(els)-1]; a.Attr("h") != "1" {
		t.Fatalf("ack: %s", a)
	}
	// The server asks for an ack after writing the ping result.
	sawR := false
	for _, el := range els {
		sawR = sawR || el.Is(nsSM, "r")
	}
	if !sawR {
		c.readUntil("r", func(el *xmlstream.Element) bool { return el.Is(nsSM, "r") })
	}
	// An ack beyond what was sent (xmpp.js miscounts) keeps the session.
	c.write(xmlstream.New(nsSM, "a", "h", "9999"),
		xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "id", "p2").Add(xmlstream.New("urn:xmpp:ping", "ping")))
	c.readUntil("ping result", func(el *xmlstream.Element) bool { return el.Attr("id") == "p2" })
}

func waitFor(t *testing.T, what string, fn func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !fn() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// A server shutting down while a session waits for its resumption keeps
// that session's unacked messages in offline storage.
func TestStreamManagementShutdownKeepsMessages(t *testing.T) {
	kv := store.NewMemory()
	h := newHarness(t, func(c *xmpp.Config) { c.Store = kv; c.ResumeTimeout = time.Hour })
	alice, _ := smLogin(t, h, "alice")
	alice.bind("phone")
	alice.write(xmlstream.New(nsSM, "enable", "resume", "true"))
	alice.read()
	alice.write(xmlstream.New(xmlstream.NSClient, "presence"))
	alice.readUntil("own presence", func(el *xmlstream.Element) bool { return el.Name == "presence" })
	bob := h.dial("bob", false, nil)
	bob.Send(chat("alice@"+testDomain, "keep me"))
	alice.readUntil("message", func(el *xmlstream.Element) bool { return el.Name == "message" })
	alice.conn.Close()
	time.Sleep(200 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	h.srv.Shutdown(ctx)

	h2 := newHarness(t, func(c *xmpp.Config) { c.Store = kv })
	a := h2.dial("alice", false, nil)
	a.Send(xmlstream.New(xmlstream.NSClient, "presence"))
	expect(t, a, "the message kept at shutdown", hasBody("keep me"))
}

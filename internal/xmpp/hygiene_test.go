package xmpp_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

// rawSession opens a TCP stream and returns everything the server writes
// after it sends the given bytes, until it closes the connection.
func rawSession(t *testing.T, addr string, payload string) string {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	header := `<?xml version='1.0'?><stream:stream to='` + testDomain + `' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`
	if _, err := io.WriteString(conn, header+payload); err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(conn)
	return string(b)
}

func TestBadInputGetsStreamErrors(t *testing.T) {
	h := newHarness(t, func(c *xmpp.Config) { c.Limits = xmlstream.Limits{MaxElementBytes: 4096} })
	bystander := h.dial("bob", false, nil)
	cases := []struct{ name, payload, want string }{
		{"not well-formed", `<message><body>x</message></body>`, "not-well-formed"},
		{"doctype", `<!DOCTYPE lol [<!ENTITY a "aaaa">]>`, "restricted-xml"},
		{"entity", `<message><body>&a;</body></message>`, "restricted-xml"}, // RFC 6120 §4.9.3.18
		{"processing instruction", `<?evil stuff?>`, "restricted-xml"},
		{"too large", `<message><body>` + strings.Repeat("x", 5000) + `</body></message>`, "policy-violation"},
		{"too deep", strings.Repeat("<a>", 100), "policy-violation"},
		{"stanza before auth", `<message to='bob@example.test'><body>hi</body></message>`, "not-authorized"},
	}
	for _, c := range cases {
		out := rawSession(t, h.tcp, c.payload)
		if !strings.Contains(out, "<stream:error") || !strings.Contains(out, "<"+c.want) || !strings.HasSuffix(out, "</stream:stream>") {
			t.Errorf("%s: server wrote %q, want stream error %s then close", c.name, out, c.want)
		}
	}
	// Wrong domain.
	conn, _ := net.Dial("tcp", h.tcp)
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(conn, `<stream:stream to='other.test' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`)
	b, _ := io.ReadAll(conn)
	conn.Close()
	if !strings.Contains(string(b), "host-unknown") {
		t.Errorf("wrong domain: %q", b)
	}
	// Everyone else carried on.
	if _, err := iq(ctx5(t), t, bystander, "get", testDomain, xmlstream.New("urn:xmpp:ping", "ping")); err != nil {
		t.Fatalf("bystander after the bad streams: %v", err)
	}
}

func TestIdleSessionIsPingedThenClosed(t *testing.T) {
	h := newHarness(t, func(c *xmpp.Config) {
		c.PingInterval = 200 * time.Millisecond
		c.PingTimeout = 200 * time.Millisecond
	})
	// A live client answers pings itself and stays connected.
	live := h.dial("alice", false, nil)
	// A silent one: logged in by hand, it never answers.
	deadline := time.After(5 * time.Second)
	conn, err := net.Dial("tcp", h.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	rawLogin(t, conn)
	gotPing := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		gotPing <- string(b)
	}()
	select {
	case out := <-gotPing:
		if !strings.Contains(out, "urn:xmpp:ping") || !strings.Contains(out, "connection-timeout") {
			t.Fatalf("silent session: server wrote %q, want a ping then connection-timeout", out)
		}
	case <-deadline:
		t.Fatal("a silent session was not closed")
	}
	time.Sleep(600 * time.Millisecond)
	if _, err := iq(ctx5(t), t, live, "get", testDomain, xmlstream.New("urn:xmpp:ping", "ping")); err != nil {
		t.Fatalf("a client that answers pings was dropped: %v", err)
	}
}

// rawLogin authenticates over plain TCP with PLAIN (allowed on loopback)
// and binds, reading nothing else afterwards.
func rawLogin(t *testing.T, conn net.Conn) jid.JID {
	t.Helper()
	dec := xmlstream.NewDecoder(conn, xmlstream.Limits{})
	open := `<stream:stream to='` + testDomain + `' version='1.0' xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`
	step := func(send string, until func(*xmlstream.Element) bool) {
		io.WriteString(conn, send)
		for {
			el, err := dec.ReadElement()
			if err != nil {
				t.Fatalf("raw login: %v", err)
			}
			if until(el) {
				return
			}
		}
	}
	io.WriteString(conn, open)
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	step("", func(el *xmlstream.Element) bool { return el.Name == "features" })
	// base64("\x00carol\x00secret-carol")
	step(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>AGNhcm9sAHNlY3JldC1jYXJvbA==</auth>`,
		func(el *xmlstream.Element) bool { return el.Name == "success" })
	dec.Reset(conn)
	io.WriteString(conn, open)
	if _, err := dec.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	step("", func(el *xmlstream.Element) bool { return el.Name == "features" })
	var bound jid.JID
	step(`<iq type='set' id='b'><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></iq>`,
		func(el *xmlstream.Element) bool {
			if el.Name != "iq" {
				return false
			}
			bound, _ = jid.Parse(el.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind").ChildText("urn:ietf:params:xml:ns:xmpp-bind", "jid"))
			return true
		})
	return bound
}

func TestResourceConflictReplacesOldSession(t *testing.T) {
	h := newHarness(t, nil)
	first := h.dial("alice", false, func(c *xmppclient.Config) { c.Resource = "phone" })
	second := h.dial("alice", true, func(c *xmppclient.Config) { c.Resource = "phone" })
	select {
	case <-first.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the old session was not closed")
	}
	var ce *xmppclient.Error
	if !errors.As(first.Err(), &ce) || ce.Condition != "conflict" {
		t.Fatalf("old session ended with %v, want conflict", first.Err())
	}
	if second.JID().Resource != "phone" {
		t.Fatalf("new session bound %v", second.JID())
	}
	if _, err := iq(ctx5(t), t, second, "get", testDomain, xmlstream.New("urn:xmpp:ping", "ping")); err != nil {
		t.Fatal(err)
	}
}

func TestBadIQGetsBadRequest(t *testing.T) {
	h := newHarness(t, nil)
	c := h.dial("alice", false, nil)
	two := xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "to", testDomain).
		Add(xmlstream.New("urn:xmpp:ping", "ping"), xmlstream.New("urn:xmpp:ping", "ping"))
	_, err := c.IQ(ctx5(t), two)
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Fatalf("IQ with two payloads: %v", err)
	}
}

// CheckAlive closes at once a session that does not answer, long before
// the idle ping would, and leaves a live one alone.
func TestCheckAliveClosesOnlyASilentSession(t *testing.T) {
	h := newHarness(t, func(c *xmpp.Config) {
		c.PingInterval = time.Hour
		c.ProbeTimeout = 300 * time.Millisecond
	})
	live := h.dial("alice", false, nil)
	conn, err := net.Dial("tcp", h.tcp)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	silent := rawLogin(t, conn)
	closed := make(chan string, 1)
	go func() {
		b, _ := io.ReadAll(conn)
		closed <- string(b)
	}()
	h.srv.CheckAlive(live.JID())
	h.srv.CheckAlive(silent)
	h.srv.CheckAlive(jid.MustParse("nobody@" + testDomain + "/x")) // no such session: nothing
	select {
	case out := <-closed:
		if !strings.Contains(out, "urn:xmpp:ping") || !strings.Contains(out, "connection-timeout") {
			t.Fatalf("silent session: server wrote %q, want a ping then connection-timeout", out)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("CheckAlive did not close a session that never answers")
	}
	time.Sleep(500 * time.Millisecond)
	if _, err := iq(ctx5(t), t, live, "get", testDomain, xmlstream.New("urn:xmpp:ping", "ping")); err != nil {
		t.Fatalf("a session that answered the check was dropped: %v", err)
	}
	if n := h.srv.Stats().ProbeClosed; n != 1 {
		t.Fatalf("ProbeClosed = %d, want 1", n)
	}
}

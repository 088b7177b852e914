package extfocus

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

const (
	secret      = "s3cret"
	nsComponent = "jabber:component:accept"
)

// fakeServer accepts the focus as a XEP-0114 component and plays the MUC
// service: it answers disco#items with rooms, and hands every other
// stanza to the test.
type fakeServer struct {
	t     *testing.T
	ln    net.Listener
	conns chan *fakeConn

	mu    sync.Mutex
	rooms []string // what disco#items lists; guarded by mu
}

type fakeConn struct {
	tr   stream.Transport
	in   chan *xmlstream.Element
	wmu  sync.Mutex
	seen []*xmlstream.Element // read but not yet expected; owned by the test goroutine
}

func newFakeServer(t *testing.T) *fakeServer {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &fakeServer{t: t, ln: ln, conns: make(chan *fakeConn, 4)}
	t.Cleanup(func() { ln.Close() })
	go s.accept()
	return s
}

func (s *fakeServer) setRooms(rooms ...string) {
	s.mu.Lock()
	s.rooms = rooms
	s.mu.Unlock()
}

func (s *fakeServer) accept() {
	for {
		conn, err := s.ln.Accept()
		if err != nil {
			return
		}
		tr := stream.NewTCP(conn, stream.TCPConfig{Namespace: nsComponent})
		h, err := tr.ReadOpen()
		if err != nil || h.To != "focus.example.test" {
			conn.Close()
			continue
		}
		tr.WriteOpen(stream.Header{From: h.To, ID: "stream-1"})
		el, err := tr.ReadElement()
		sum := sha1.Sum([]byte("stream-1" + secret))
		if err != nil || !el.Is(nsComponent, "handshake") || el.Text != hex.EncodeToString(sum[:]) {
			conn.Close()
			continue
		}
		tr.Write(xmlstream.New(nsComponent, "handshake"))
		c := &fakeConn{tr: tr, in: make(chan *xmlstream.Element, 256)}
		go s.read(c)
		s.conns <- c
	}
}

// read answers disco#items and queues the rest.
func (s *fakeServer) read(c *fakeConn) {
	defer close(c.in)
	for {
		el, err := c.tr.ReadElement()
		if err != nil {
			return
		}
		if q := el.Child("http://jabber.org/protocol/disco#items", "query"); q != nil && el.Name == "iq" {
			res := xmlstream.New(nsComponent, "iq", "type", "result", "id", el.Attr("id"), "from", el.Attr("to"), "to", el.Attr("from"))
			items := xmlstream.New("http://jabber.org/protocol/disco#items", "query")
			s.mu.Lock()
			for _, r := range s.rooms {
				items.Add(xmlstream.New("http://jabber.org/protocol/disco#items", "item", "jid", r))
			}
			s.mu.Unlock()
			c.send(res.Add(items))
			continue
		}
		c.in <- el
	}
}

func (c *fakeConn) send(el *xmlstream.Element) {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	c.tr.Write(el)
}

// expect returns the first stanza matching ok, in the order they came;
// the others stay for later expectations (the pool and the room watcher
// send concurrently).
func (c *fakeConn) expect(t *testing.T, what string, ok func(*xmlstream.Element) bool) *xmlstream.Element {
	t.Helper()
	for i, el := range c.seen {
		if ok(el) {
			c.seen = append(c.seen[:i], c.seen[i+1:]...)
			return el
		}
	}
	timeout := time.After(5 * time.Second)
	for {
		select {
		case el, open := <-c.in:
			if !open {
				t.Fatalf("connection closed while waiting for %s", what)
			}
			if ok(el) {
				return el
			}
			c.seen = append(c.seen, el)
		case <-timeout:
			t.Fatalf("never: %s", what)
		}
	}
}

func presenceTo(to, typ string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool {
		return el.Name == "presence" && el.Attr("to") == to && el.Attr("type") == typ && el.Attr("from") == "focus.example.test"
	}
}

// mucPresence is a room's presence of nick, with muc#user's item.
func mucPresence(room, nick, real, typ string, statuses ...string) *xmlstream.Element {
	x := xmlstream.New(nsMUCUser, "x")
	item := xmlstream.New(nsMUCUser, "item", "affiliation", "none", "role", "participant")
	if typ == "unavailable" {
		item.SetAttr("role", "none")
	}
	if real != "" {
		item.SetAttr("jid", real)
	}
	x.Add(item)
	for _, s := range statuses {
		x.Add(xmlstream.New(nsMUCUser, "status", "code", s))
	}
	p := xmlstream.New(nsComponent, "presence", "from", room+"/"+nick, "to", "focus.example.test").Add(x)
	if typ != "" {
		p.SetAttr("type", typ)
	}
	return p
}

func TestRoomsThroughAComponentConnection(t *testing.T) {
	srv := newFakeServer(t)
	srv.setRooms("room1@conference.example.test", "jvbbrewery@conference.example.test")
	svc, err := New(Config{Server: srv.ln.Addr().String(), Domain: "focus.example.test", Secret: secret,
		UserDomain: "example.test", MUC: "conference.example.test",
		Brewery:     jid.MustParse("jvbbrewery@conference.example.test"),
		BridgeUsers: []jid.JID{jid.MustParse("jvb@example.test")}, PollInterval: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if h := svc.Health(context.Background()); h.OK || len(h.Missing) != 2 || !strings.Contains(h.Missing[0], "the XMPP server") {
		t.Fatalf("health before connecting: %+v", h)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { svc.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })

	c := <-srv.conns
	// The pool joins the brewery; the watcher joins the listed room, and
	// not the brewery as a conference.
	c.expect(t, "the brewery joined", presenceTo("jvbbrewery@conference.example.test/focus", ""))
	c.expect(t, "room1 joined", presenceTo("room1@conference.example.test/focus", ""))
	if h := svc.Health(ctx); h.XMPP != "connected" || h.Rooms != 1 || len(h.Missing) != 1 {
		t.Fatalf("health once connected: %+v", h)
	}

	// An occupant with its real JID, then our own presence: the focus
	// probes it (disco#info to its real JID, from focus.<domain>).
	c.send(mucPresence("room1@conference.example.test", "alice", "alice@example.test/web", ""))
	c.send(mucPresence("room1@conference.example.test", "focus", "focus.example.test", "", "110"))
	probe := c.expect(t, "alice probed", func(el *xmlstream.Element) bool {
		return el.Name == "iq" && el.Attr("to") == "alice@example.test/web" && el.Child(nsDiscoInfo, "query") != nil
	})
	if probe.Attr("from") != "focus.example.test" {
		t.Fatalf("the probe comes from %q", probe.Attr("from"))
	}
	c.send(xmlstream.New(nsComponent, "iq", "type", "error", "id", probe.Attr("id"), "from", "alice@example.test/web", "to", "focus.example.test").Add(
		xmlstream.New(nsComponent, "error", "type", "cancel").Add(xmlstream.New("urn:ietf:params:xml:ns:xmpp-stanzas", "service-unavailable"))))

	// An occupant whose real JID is hidden is not probed; when alice
	// leaves, nobody the focus can call is left, and the focus leaves.
	c.send(mucPresence("room1@conference.example.test", "hidden", "", ""))
	c.send(mucPresence("room1@conference.example.test", "alice", "alice@example.test/web", "unavailable"))
	c.expect(t, "room1 left when empty", presenceTo("room1@conference.example.test/focus", "unavailable"))

	// A XEP-0249 invitation joins a room the list does not show.
	c.send(xmlstream.New(nsComponent, "message", "from", "bob@example.test/web", "to", "focus.example.test").Add(
		xmlstream.New(nsXConf, "x", "jid", "room2@conference.example.test")))
	c.expect(t, "room2 joined on invitation", presenceTo("room2@conference.example.test/focus", ""))
	// A room it made itself (status 201: the room was gone) is left.
	c.send(mucPresence("room2@conference.example.test", "focus", "focus.example.test", "", "110", "201"))
	c.expect(t, "room2, made by the focus, left", presenceTo("room2@conference.example.test/focus", "unavailable"))

	// The connection breaks: the focus reconnects and joins again.
	srv.setRooms("room3@conference.example.test")
	c.tr.Close()
	c2 := <-srv.conns
	c2.expect(t, "room3 joined after reconnecting", presenceTo("room3@conference.example.test/focus", ""))
}

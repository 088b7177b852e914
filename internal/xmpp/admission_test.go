package xmpp_test

import (
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/admission"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

// Connections that never log in are capped per source and shed from the
// largest holder when the budget is full; logged-in sessions hold no place
// and keep talking.
func TestUnauthenticatedSessionsAreCappedAndLoggedInOnesKept(t *testing.T) {
	gate := admission.New(admission.Config{Name: "unauthenticated", PerSource: 3, Budget: 5,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	h := newHarness(t, func(c *xmpp.Config) { c.Unauthenticated = gate })
	alice := h.dial("alice", false, nil)
	bob := h.dial("bob", true, nil)
	if st := gate.Stats(); st.Held != 0 {
		t.Fatalf("logged-in sessions hold %d places", st.Held)
	}
	idle := func(from net.IP) net.Conn {
		d := net.Dialer{LocalAddr: &net.TCPAddr{IP: from}}
		c, err := d.Dial("tcp4", h.tcp)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Close() })
		return c
	}
	closedSoon := func(c net.Conn) bool {
		c.SetReadDeadline(time.Now().Add(3 * time.Second))
		_, err := io.Copy(io.Discard, c)
		return err == nil // EOF: the server closed it
	}
	one := net.IPv4(127, 0, 0, 1)
	var first []net.Conn
	for range 3 {
		first = append(first, idle(one))
	}
	waitGate(t, gate, 3)
	if !closedSoon(idle(one)) {
		t.Error("a fourth idle connection from one address was not closed")
	}
	// Two from 127.0.0.2 fill the budget; a third sheds 127.0.0.1's oldest.
	two := net.IPv4(127, 0, 0, 2)
	idle(two)
	idle(two)
	waitGate(t, gate, 5)
	idle(two)
	shed := make(chan bool, len(first))
	for _, c := range first {
		go func() { shed <- closedSoon(c) }()
	}
	n := 0
	for range first {
		if <-shed {
			n++
		}
	}
	if n != 1 {
		t.Errorf("%d of the largest holder's connections were shed, want 1", n)
	}
	// 127.0.0.3 logs in at once; the logged-in sessions talk on.
	carol, err := h.tryDial("carol", false, func(c *xmppclient.Config) { c.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 3)} })
	if err != nil {
		t.Fatalf("login from another address under a full budget: %v", err)
	}
	defer carol.Close()
	for _, to := range []*xmppclient.Client{bob, carol} {
		msg := xmlstream.New(xmlstream.NSClient, "message", "to", to.JID().String(), "type", "chat").
			Add(xmlstream.New(xmlstream.NSClient, "body").SetText("still here"))
		if err := alice.Send(msg); err != nil {
			t.Fatal(err)
		}
		expect(t, to, "alice's message", func(el *xmlstream.Element) bool { return el.Name == "message" })
	}
	st := gate.Stats()
	if st.Refused["per_source"] != 1 || st.Shed["budget"] < 1 {
		t.Errorf("gate %+v", st)
	}
}

func waitGate(t *testing.T, g *admission.Gate, held int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for g.Stats().Held != held {
		if time.Now().After(deadline) {
			t.Fatalf("gate holds %d, want %d", g.Stats().Held, held)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Guests (SASL ANONYMOUS) are logged in, but anyone can be one: they hold
// a place in the guests gate while they stay. Past the per-source cap a
// guest login fails and may be retried; a full budget sheds the oldest
// guest of the largest holder, never a user with an account.
func TestGuestsCappedPerSourceAndShedOnlyForGuests(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	unauth := admission.New(admission.Config{Name: "unauthenticated", PerSource: 8, Budget: 16, Logger: quiet})
	guests := admission.New(admission.Config{Name: "guests", PerSource: 3, Budget: 4, Logger: quiet})
	h := newHarness(t, func(c *xmpp.Config) { c.Unauthenticated, c.Guests = unauth, guests })
	from := func(ip string) func(*xmppclient.Config) {
		return func(c *xmppclient.Config) { c.LocalAddr = &net.TCPAddr{IP: net.ParseIP(ip)} }
	}
	alice := h.dial("alice", false, from("127.0.0.1"))
	var first []*xmppclient.Client
	for range 3 {
		first = append(first, h.dial("", false, from("127.0.0.1")))
	}
	if _, err := h.tryDial("", false, from("127.0.0.1")); err == nil || !strings.Contains(err.Error(), "temporary-auth-failure") {
		t.Fatalf("a fourth guest from one address: %v, want temporary-auth-failure", err)
	}
	waitGate(t, unauth, 0) // the refused guest's connection ended and left
	// 127.0.0.2's first guest fills the budget, its second sheds the oldest
	// guest of 127.0.0.1.
	h.dial("", false, from("127.0.0.2"))
	h.dial("", false, from("127.0.0.2"))
	shed := 0
	for _, c := range first {
		select {
		case <-c.Done():
			shed++
		case <-time.After(2 * time.Second):
		}
	}
	if shed != 1 {
		t.Errorf("%d guests of the largest holder shed, want 1", shed)
	}
	select {
	case <-alice.Done():
		t.Fatal("a user with an account was shed for guests")
	default:
	}
	if st := guests.Stats(); st.Held != 4 || st.Shed["budget"] != 1 || st.Refused["per_source"] != 1 {
		t.Errorf("guests gate %+v", st)
	}
}

package xmpp_test

import (
	"errors"
	"fmt"
	"testing"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

func TestLoginMechanisms(t *testing.T) {
	h := newHarness(t, nil)
	for _, ws := range []bool{false, true} {
		for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "ANONYMOUS"} {
			t.Run(fmt.Sprintf("%s/ws=%v", mech, ws), func(t *testing.T) {
				user := "alice"
				if mech == "ANONYMOUS" {
					user = ""
				}
				c := h.dial(user, ws, func(cfg *xmppclient.Config) { cfg.Mechanism = mech })
				j := c.JID()
				if j.Domain != testDomain || j.Resource == "" {
					t.Fatalf("bound %v", j)
				}
				if user != "" && j.Local != user {
					t.Fatalf("bound %v, want alice@", j)
				}
				if user == "" && j.Local == "" {
					t.Fatalf("anonymous user bound without a localpart: %v", j)
				}
				if _, err := iq(ctx5(t), t, c, "get", testDomain, xmlstream.New("urn:xmpp:ping", "ping")); err != nil {
					t.Fatalf("ping after login: %v", err)
				}
			})
		}
	}
}

func TestWrongPasswordRefused(t *testing.T) {
	for _, mech := range []string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN"} {
		h := newHarness(t, nil) // a fresh throttle for each mechanism
		for _, user := range []string{"alice", "nobody"} {
			_, err := h.tryDial(user, false, func(cfg *xmppclient.Config) {
				cfg.Mechanism = mech
				cfg.Password = "wrong"
			})
			var ce *xmppclient.Error
			if !errors.As(err, &ce) || ce.Step != "sasl" || ce.Condition != "not-authorized" {
				t.Errorf("%s %s: got %v, want SASL not-authorized", mech, user, err)
			}
		}
	}
}

func TestFailedLoginsAreThrottled(t *testing.T) {
	h := newHarness(t, nil)
	wrong := func(cfg *xmppclient.Config) { cfg.Password = "wrong" }
	var ce *xmppclient.Error
	for i := 0; i < 5; i++ {
		if _, err := h.tryDial("alice", false, wrong); !errors.As(err, &ce) || ce.Condition != "not-authorized" {
			t.Fatalf("attempt %d: %v", i, err)
		}
	}
	// Now even the right password is refused for a while, without saying
	// whether it was right.
	if _, err := h.tryDial("alice", true, nil); !errors.As(err, &ce) || ce.Condition != "temporary-auth-failure" {
		t.Fatalf("after 5 failures: %v, want temporary-auth-failure", err)
	}
}

func TestAnonymousCanBeTurnedOff(t *testing.T) {
	off := newHarness(t, func(c *xmpp.Config) { c.AllowAnonymous = false })
	_, err := off.tryDial("", false, nil)
	var ce *xmppclient.Error
	if !errors.As(err, &ce) || ce.Condition != "no-usable-mechanism" {
		t.Fatalf("anonymous login with ANONYMOUS off: %v", err)
	}
}

func TestMessageRouting(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.dial("alice", false, nil)
	bob := h.dial("bob", true, nil)
	for _, c := range []*xmppclient.Client{alice, bob} {
		c.Send(xmlstream.New(xmlstream.NSClient, "presence"))
	}
	// To a full JID over TCP -> WebSocket.
	msg := xmlstream.New(xmlstream.NSClient, "message", "to", bob.JID().String(), "type", "chat", "id", "m1").
		Add(xmlstream.New(xmlstream.NSClient, "body").SetText("hello <bob> & co"))
	alice.Send(msg)
	got := expect(t, bob, "alice's message", func(el *xmlstream.Element) bool { return el.Name == "message" })
	if got.ChildText("", "body") != "hello <bob> & co" || got.Attr("from") != alice.JID().String() {
		t.Fatalf("bob got %s", got)
	}
	// To a bare JID.
	alice.Send(xmlstream.New(xmlstream.NSClient, "message", "to", "bob@"+testDomain, "type", "chat").
		Add(xmlstream.New(xmlstream.NSClient, "body").SetText("bare")))
	got = expect(t, bob, "bare message", func(el *xmlstream.Element) bool { return el.Name == "message" })
	if got.ChildText("", "body") != "bare" {
		t.Fatalf("bob got %s", got)
	}
	// A forged from is a stream error for the sender only.
	alice.Send(xmlstream.New(xmlstream.NSClient, "message", "to", bob.JID().String(), "from", "carol@"+testDomain+"/x").
		Add(xmlstream.New(xmlstream.NSClient, "body").SetText("forged")))
	<-alice.Done()
	var ce *xmppclient.Error
	if !errors.As(alice.Err(), &ce) || ce.Condition != "invalid-from" {
		t.Fatalf("forged from: %v", alice.Err())
	}
	expectNone(t, bob, 200e6, "forged message", func(el *xmlstream.Element) bool { return el.ChildText("", "body") == "forged" })
	if _, err := iq(ctx5(t), t, bob, "get", testDomain, xmlstream.New("urn:xmpp:ping", "ping")); err != nil {
		t.Fatalf("bob after alice's error: %v", err)
	}
}

func TestIQErrors(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.dial("alice", false, nil)
	cases := []struct {
		to   string
		want stanza.Condition
	}{
		{testDomain, stanza.ServiceUnavailable},                       // unknown namespace to the server
		{"", stanza.ServiceUnavailable},                               // same, implicit server
		{"bob@" + testDomain + "/nowhere", stanza.ServiceUnavailable}, // offline resource
		{"bob@" + testDomain, stanza.ServiceUnavailable},              // bare JID, unknown namespace
		{"nobody@" + testDomain, stanza.ServiceUnavailable},           // no such account
		{"someone@elsewhere.example", stanza.RemoteServerNotFound},    // no federation
	}
	for _, c := range cases {
		_, err := iq(ctx5(t), t, alice, "get", c.to, xmlstream.New("urn:example:unknown", "query"))
		var se *stanza.Error
		if !errors.As(err, &se) || se.Condition != c.want {
			t.Errorf("IQ to %q: got %v, want %s", c.to, err, c.want)
		}
	}
	// Malformed "to".
	_, err := iq(ctx5(t), t, alice, "get", "@@bad", xmlstream.New("urn:xmpp:ping", "ping"))
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.JIDMalformed {
		t.Errorf("malformed to: %v", err)
	}
}

func TestDiscoAndPing(t *testing.T) {
	h := newHarness(t, nil)
	h.srv.AddService("conference."+testDomain, stanza.HandlerFunc(func(*xmlstream.Element) {}), xmpp.DiscoIdentity{Name: "Rooms"})
	alice := h.dial("alice", true, nil)
	res, err := iq(ctx5(t), t, alice, "get", testDomain, xmlstream.New("http://jabber.org/protocol/disco#info", "query"))
	if err != nil {
		t.Fatal(err)
	}
	q := res.FirstChild()
	if id := q.Child("", "identity"); id == nil || id.Attr("category") != "server" {
		t.Fatalf("disco#info: %s", res)
	}
	features := map[string]bool{}
	for _, f := range q.ChildrenNamed("", "feature") {
		features[f.Attr("var")] = true
	}
	for _, want := range []string{"urn:xmpp:ping", "jabber:iq:roster", "http://jabber.org/protocol/disco#items"} {
		if !features[want] {
			t.Errorf("disco#info lacks %s", want)
		}
	}
	res, err = iq(ctx5(t), t, alice, "get", testDomain, xmlstream.New("http://jabber.org/protocol/disco#items", "query"))
	if err != nil {
		t.Fatal(err)
	}
	if it := res.FirstChild().Child("", "item"); it == nil || it.Attr("jid") != "conference."+testDomain {
		t.Fatalf("disco#items: %s", res)
	}
}

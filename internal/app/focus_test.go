package app

import (
	"context"
	"errors"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// jingleFeatures make the focus call a client (docs/SIGNALLING.md §1).
var jingleFeatures = []string{"urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1", "urn:xmpp:jingle:apps:rtp:audio",
	"urn:xmpp:jingle:apps:rtp:video", "urn:xmpp:jingle:transports:ice-udp:1", "urn:xmpp:jingle:apps:dtls:0"}

// rogue is a raw client that joins a room advertising Jingle and hands
// the test the focus's Jingle requests instead of answering them properly.
type rogue struct {
	c      *xmppclient.Client
	jingle chan *xmlstream.Element
}

func joinRogue(t *testing.T, ws string, room jid.JID, nick string) *rogue {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r := &rogue{c: c, jingle: make(chan *xmlstream.Element, 16)}
	go func() {
		for st := range c.Incoming() {
			p := st.FirstChild()
			switch {
			case st.Name == "iq" && st.Attr("type") == "get" && p.Is("http://jabber.org/protocol/disco#info", "query"):
				q := xmlstream.New("http://jabber.org/protocol/disco#info", "query")
				for _, f := range jingleFeatures {
					q.Add(xmlstream.New("http://jabber.org/protocol/disco#info", "feature", "var", f))
				}
				c.Send(stanza.IQResult(st, q))
			case st.Name == "iq" && st.Attr("type") == "set" && p.Is("urn:xmpp:jingle:1", "jingle"):
				c.Send(stanza.IQResult(st))
				r.jingle <- p
			}
		}
	}()
	c.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", room.WithResource(nick).String()))
	return r
}

func (r *rogue) nextJingle(t *testing.T, action string) *xmlstream.Element {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case j := <-r.jingle:
			if j.Attr("action") == action {
				return j
			}
		case <-timeout:
			t.Fatalf("no %s from the focus", action)
		}
	}
}

func (r *rogue) send(t *testing.T, j *xmlstream.Element) error {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", "focus."+testDomain).Add(j)
	_, err := r.c.IQ(ctx, iq)
	return err
}

func TestMalformedAnswerEndsOnlyThatSession(t *testing.T) {
	_, ws := startParley(t)
	room := jid.MustParse("robust@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{
		"ann": joinPeer(t, ws, room, "ann", true),
		"ben": joinPeer(t, ws, room, "ben", true),
	}
	before := waitFlowing(t, peers)

	bad := joinRogue(t, ws, room, "mallory")
	init := bad.nextJingle(t, "session-initiate")
	// An answer whose content has no transport and a nonsense codec list.
	accept := xmlstream.New("urn:xmpp:jingle:1", "jingle", "action", "session-accept", "sid", init.Attr("sid")).Add(
		xmlstream.New("urn:xmpp:jingle:1", "content", "creator", "initiator", "name", "0").Add(
			xmlstream.New("urn:xmpp:jingle:apps:rtp:1", "description", "media", "audio").Add(
				xmlstream.New("urn:xmpp:jingle:apps:rtp:1", "payload-type", "id", "999", "name", "x"))))
	err := bad.send(t, accept)
	var se *stanza.Error
	if !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Fatalf("malformed session-accept: got %v, want bad-request", err)
	}
	bad.nextJingle(t, "session-terminate")

	// Someone else's live session: refused, and it stays alive for its owner.
	eve := joinRogue(t, ws, room, "eve")
	eve.nextJingle(t, "session-initiate")
	trent := joinRogue(t, ws, room, "trent")
	trentSID := trent.nextJingle(t, "session-initiate").Attr("sid")
	spoof := xmlstream.New("urn:xmpp:jingle:1", "jingle", "action", "session-terminate", "sid", trentSID)
	if err := eve.send(t, spoof); !errors.As(err, &se) || se.Condition != stanza.ItemNotFound {
		t.Fatalf("terminating another's session: got %v, want item-not-found", err)
	}
	own := xmlstream.New("urn:xmpp:jingle:1", "jingle", "action", "session-terminate", "sid", trentSID)
	if err := trent.send(t, own); err != nil {
		t.Fatalf("trent's own terminate after the spoof: %v", err)
	}

	time.Sleep(time.Second)
	requireGrowth(t, before, waitFlowing(t, peers), "after the bad clients")
}

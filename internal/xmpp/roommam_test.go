package xmpp_test

import (
	"strconv"
	"testing"
	"time"

	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
)

// MAM for rooms: groupchat messages are archived with the room's
// stanza-id; an occupant pages through them; a stranger may not.
func TestRoomArchive(t *testing.T) {
	h := newHarness(t, nil)
	svc, err := muc.New(muc.Config{Domain: "conference." + testDomain, Router: h.srv, Archive: h.srv.RoomArchive()})
	if err != nil {
		t.Fatal(err)
	}
	h.srv.AddService("conference."+testDomain, svc, xmpp.DiscoIdentity{})
	room := "talk@conference." + testDomain
	alice := online(t, h, "alice", "a")
	carol := online(t, h, "carol", "c")
	alice.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", room+"/Alice").Add(xmlstream.New("http://jabber.org/protocol/muc", "x")))
	expect(t, alice, "join", func(el *xmlstream.Element) bool { return el.Name == "message" && el.Attr("type") == "groupchat" })
	// An instant room (XEP-0045 §10.1.2).
	if _, err := iq(ctx5(t), t, alice, "set", room, xmlstream.New("http://jabber.org/protocol/muc#owner", "query").Add(
		xmlstream.New("jabber:x:data", "x", "type", "submit"))); err != nil {
		t.Fatal(err)
	}
	for i := range 30 {
		alice.Send(xmlstream.New(xmlstream.NSClient, "message", "to", room, "type", "groupchat").Add(
			xmlstream.New(xmlstream.NSClient, "body").SetText("r" + strconv.Itoa(i))))
	}
	last := expect(t, alice, "reflection", hasBody("r29"))
	if sid := last.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Attr("by") != room {
		t.Fatalf("no room stanza-id: %s", last)
	}
	var got []string
	after := ""
	for page := 0; page < 5; page++ {
		q := xmlstream.New(nsMAM, "query", "queryid", "p"+strconv.Itoa(page))
		set := xmlstream.New(nsRSM, "set").Add(xmlstream.New(nsRSM, "max").SetText("10"))
		if after != "" {
			set.Add(xmlstream.New(nsRSM, "after").SetText(after))
		}
		res, err := iq(ctx5(t), t, alice, "set", room, q.Add(set))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond)
		for {
			select {
			case el := <-alice.Incoming():
				if r := el.Child(nsMAM, "result"); r != nil {
					if el.Attr("from") != room {
						t.Fatalf("result from %s", el.Attr("from"))
					}
					got = append(got, r.Child("urn:xmpp:forward:0", "forwarded").Child(xmlstream.NSClient, "message").ChildText(xmlstream.NSClient, "body"))
				}
				continue
			default:
			}
			break
		}
		fin := res.Child(nsMAM, "fin")
		if fin.Attr("complete") == "true" {
			break
		}
		after = fin.Child(nsRSM, "set").ChildText(nsRSM, "last")
	}
	if len(got) != 30 || got[0] != "r0" || got[29] != "r29" {
		t.Fatalf("room archive: %v", got)
	}
	if _, err := iq(ctx5(t), t, carol, "set", room, xmlstream.New(nsMAM, "query")); err == nil {
		t.Fatal("a stranger read the room's archive")
	}
}

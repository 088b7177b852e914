package muc

import (
	"fmt"
	"testing"
	"time"

	"parley.dev/parley/internal/stanza"
)

func TestIQRoutingBetweenOccupants(t *testing.T) {
	h := newHarness(t)
	room := h.room("iq")
	h.mustJoin("focus@focus.example.test/f", room+"/focus")
	h.mustJoin("bob@example.test/b", room+"/Bob")

	// Two requesters using the same id must not collide.
	out1 := h.send("<iq type='set' id='same' from='focus@focus.example.test/f' to='%s/Bob'><jingle xmlns='urn:xmpp:jingle:1' action='session-initiate'/></iq>", room)
	out2 := h.send("<iq type='get' id='same' from='owner@example.test/o' to='%s/Bob'><ping xmlns='urn:xmpp:ping'/></iq>", room)
	if len(out1) != 1 || len(out2) != 1 {
		t.Fatalf("want one forwarded request each:\n%s%s", dump(out1), dump(out2))
	}
	fwd1, fwd2 := out1[0], out2[0]
	if fwd1.Attr("to") != "bob@example.test/b" || fwd1.Attr("from") != room+"/focus" || fwd1.Child("urn:xmpp:jingle:1", "jingle") == nil {
		t.Errorf("forwarded request = %s", fwd1)
	}
	if fwd1.Attr("id") == fwd2.Attr("id") {
		t.Fatalf("forwarded ids collide: %s", fwd1.Attr("id"))
	}

	// Someone other than Bob cannot answer for him.
	if out := h.send("<iq type='result' id='%s' from='owner@example.test/o' to='%s/focus'/>", fwd1.Attr("id"), room); len(out) != 0 {
		t.Errorf("forged answer was routed:\n%s", dump(out))
	}
	out := h.send("<iq type='result' id='%s' from='bob@example.test/b' to='%s/focus'/>", fwd1.Attr("id"), room)
	if len(out) != 1 || out[0].Attr("to") != "focus@focus.example.test/f" || out[0].Attr("from") != room+"/Bob" || out[0].Attr("id") != "same" || out[0].Attr("type") != "result" {
		t.Fatalf("answer routed back as:\n%s", dump(out))
	}
	out = h.send("<iq type='error' id='%s' from='bob@example.test/b' to='%s/owner'><ping xmlns='urn:xmpp:ping'/><error type='cancel'><service-unavailable xmlns='%s'/></error></iq>", fwd2.Attr("id"), room, stanza.NSStanzas)
	if len(out) != 1 || out[0].Attr("to") != "owner@example.test/o" || errCond(out[0]) != "service-unavailable" || out[0].Attr("id") != "same" {
		t.Fatalf("error answer routed back as:\n%s", dump(out))
	}
	// Answered once: a replay goes nowhere.
	if out := h.send("<iq type='result' id='%s' from='bob@example.test/b' to='%s/focus'/>", fwd1.Attr("id"), room); len(out) != 0 {
		t.Errorf("replayed answer was routed:\n%s", dump(out))
	}
	if got := h.svc.Stats().UnmatchedIQ; got != 2 {
		t.Errorf("UnmatchedIQ = %d, want 2", got)
	}
	// The occupant is still there: IQ errors do not make ghosts.
	if ri, _ := h.svc.Room("iq"); len(ri.Occupants) != 3 {
		t.Errorf("occupants = %+v", ri.Occupants)
	}
}

func TestIQToOccupantRefusals(t *testing.T) {
	h := newHarness(t)
	room := h.room("iqref")
	expectError(t, h.send("<iq type='get' id='1' from='eve@example.test/e' to='%s/owner'><ping xmlns='urn:xmpp:ping'/></iq>", room), "eve@example.test/e", stanza.NotAcceptable)
	expectError(t, h.send("<iq type='get' id='2' from='owner@example.test/o' to='%s/ghost'><ping xmlns='urn:xmpp:ping'/></iq>", room), "owner@example.test/o", stanza.ItemNotFound)
	expectError(t, h.send("<iq type='bogus' id='3' from='owner@example.test/o' to='%s/owner'/>", room), "owner@example.test/o", stanza.BadRequest)
}

func TestPendingIQFailsWhenTargetLeaves(t *testing.T) {
	h := newHarness(t)
	room := h.room("leaving")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.send("<iq type='set' id='j1' from='owner@example.test/o' to='%s/Bob'><jingle xmlns='urn:xmpp:jingle:1'/></iq>", room)
	out := h.send("<presence type='unavailable' from='bob@example.test/b' to='%s/Bob'/>", room)
	var iqErr = findTo(out, "owner@example.test/o", "iq")
	if iqErr == nil || iqErr.Attr("id") != "j1" || iqErr.Attr("from") != room+"/Bob" || errCond(iqErr) != "item-not-found" {
		t.Fatalf("requester not told the target left:\n%s", dump(out))
	}
}

func TestPendingIQExpiryAndBound(t *testing.T) {
	h := newHarness(t)
	room := h.room("bound")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	first := h.send("<iq type='get' id='first' from='owner@example.test/o' to='%s/Bob'><ping xmlns='urn:xmpp:ping'/></iq>", room)[0]
	for i := 1; i < maxPendingIQs; i++ {
		h.svc.HandleStanza(parse(t, fmt.Sprintf("<iq type='get' id='q%d' from='owner@example.test/o' to='%s/Bob'><ping xmlns='urn:xmpp:ping'/></iq>", i, room)))
	}
	out := h.send("<iq type='get' id='over' from='owner@example.test/o' to='%s/Bob'><ping xmlns='urn:xmpp:ping'/></iq>", room)
	expectError(t, out, "owner@example.test/o", stanza.ResourceConstraint)
	if h.svc.Stats().PendingFull != 1 {
		t.Errorf("PendingFull = %d", h.svc.Stats().PendingFull)
	}
	// After the timeout the old entries are forgotten and room is made.
	h.advance(pendingIQTimeout + time.Second)
	out = h.send("<iq type='result' id='%s' from='bob@example.test/b' to='%s/owner'/>", first.Attr("id"), room)
	if len(out) != 0 {
		t.Errorf("expired request's answer was routed:\n%s", dump(out))
	}
	out = h.send("<iq type='get' id='later' from='owner@example.test/o' to='%s/Bob'><ping xmlns='urn:xmpp:ping'/></iq>", room)
	if len(out) != 1 || out[0].Attr("to") != "bob@example.test/b" {
		t.Fatalf("request after expiry not forwarded:\n%s", dump(out))
	}
	if got := h.svc.Stats().ExpiredIQ; got != maxPendingIQs {
		t.Errorf("ExpiredIQ = %d, want %d", got, maxPendingIQs)
	}
}

func TestUnknownAndMalformedIQs(t *testing.T) {
	h := newHarness(t)
	room := h.room("iqs")
	for _, tc := range []struct {
		name, to, payload, typ string
		cond                   stanza.Condition
	}{
		{"unknown ns to service", testDomain, "<query xmlns='urn:example:nope'/>", "get", stanza.ServiceUnavailable},
		{"unknown ns to room", room, "<query xmlns='urn:example:nope'/>", "get", stanza.ServiceUnavailable},
		{"vcard to room", room, "<vCard xmlns='vcard-temp'/>", "get", stanza.ServiceUnavailable},
		{"bad type to service", testDomain, "<query xmlns='" + NSDiscoInfo + "'/>", "fetch", stanza.BadRequest},
		{"bad type to room", room, "<query xmlns='" + NSDiscoInfo + "'/>", "fetch", stanza.BadRequest},
		{"no payload to service", testDomain, "", "get", stanza.BadRequest},
		{"no payload to room", room, "", "get", stanza.BadRequest},
		{"two payloads", room, "<a xmlns='x'/><b xmlns='y'/>", "get", stanza.BadRequest},
		{"disco set", testDomain, "<query xmlns='" + NSDiscoInfo + "'/>", "set", stanza.BadRequest},
		{"missing room", "nowhere@" + testDomain, "<query xmlns='" + NSDiscoInfo + "'/>", "get", stanza.ItemNotFound},
		{"disco node", room, "<query xmlns='" + NSDiscoInfo + "' node='x'/>", "get", stanza.ItemNotFound},
		{"other domain", "room@elsewhere.test", "<query xmlns='" + NSDiscoInfo + "'/>", "get", stanza.JIDMalformed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := h.send("<iq type='%s' id='x' from='bob@example.test/b' to='%s'>%s</iq>", tc.typ, tc.to, tc.payload)
			e := expectError(t, out, "bob@example.test/b", tc.cond)
			if e.Attr("id") != "x" || e.Name != "iq" {
				t.Errorf("error reply = %s", e)
			}
		})
	}
	// Errors and results are never answered.
	for _, typ := range []string{"error", "result"} {
		for _, to := range []string{testDomain, room, "nowhere@" + testDomain} {
			if out := h.send("<iq type='%s' id='x' from='bob@example.test/b' to='%s'/>", typ, to); len(out) != 0 {
				t.Errorf("%s to %s answered:\n%s", typ, to, dump(out))
			}
		}
	}
}

func TestMalformedStanzasAreDropped(t *testing.T) {
	h := newHarness(t)
	for _, s := range []string{
		"<iq type='get' id='1' to='" + testDomain + "'><query xmlns='" + NSDiscoInfo + "'/></iq>", // no from
		"<iq type='get' id='1' from='not a jid@@' to='" + testDomain + "'/>",
		"<foo from='bob@example.test/b' to='" + testDomain + "'/>",
	} {
		if out := h.send("%s", s); len(out) != 0 {
			t.Errorf("%s answered:\n%s", s, dump(out))
		}
	}
	if got := h.svc.Stats().Malformed; got != 3 {
		t.Errorf("Malformed = %d, want 3", got)
	}
	// A message to the service itself is refused; a presence ignored.
	expectError(t, h.send("<message from='bob@example.test/b' to='%s'><body>x</body></message>", testDomain), "bob@example.test/b", stanza.ServiceUnavailable)
	if out := h.send("<presence from='bob@example.test/b' to='%s'/>", testDomain); len(out) != 0 {
		t.Errorf("presence to the service answered:\n%s", dump(out))
	}
}

func TestClosedServiceRefuses(t *testing.T) {
	h := newHarness(t)
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.Close(); err != ErrClosed {
		t.Errorf("second Close = %v", err)
	}
	expectError(t, h.join("bob@example.test/b", "r@"+testDomain+"/Bob", true), "bob@example.test/b", stanza.ServiceUnavailable)
	if len(h.svc.Rooms()) != 0 {
		t.Error("room created after Close")
	}
}

func TestPendingOrderStaysBounded(t *testing.T) {
	var table pendingIQs
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	expired := 0
	onExpire := func() { expired++ }
	oldID, ok := table.add(&pendingIQ{origID: "old"}, now, onExpire)
	if !ok {
		t.Fatal("add refused")
	}
	// Many requests answered at once while the first stays open.
	for range 5 * maxPendingIQs {
		id, ok := table.add(&pendingIQ{}, now, onExpire)
		if !ok {
			t.Fatal("add refused")
		}
		delete(table.byID, id)
	}
	if len(table.order) > 2*maxPendingIQs {
		t.Errorf("order grew to %d", len(table.order))
	}
	if table.byID[oldID] == nil || table.byID[oldID].origID != "old" || expired != 0 {
		t.Errorf("open request lost (expired %d)", expired)
	}
}

// XEP-0410: a joined occupant's ping to its own nick is answered by the
// room; a non-occupant's is refused (it then knows to rejoin).
func TestSelfPing(t *testing.T) {
	h := newHarness(t)
	room := h.room("selfping")
	out := h.send("<iq type='get' id='sp' from='owner@example.test/o' to='%s/owner'><ping xmlns='urn:xmpp:ping'/></iq>", room)
	if len(out) != 1 || out[0].Attr("type") != "result" || out[0].Attr("to") != "owner@example.test/o" ||
		out[0].Attr("from") != room+"/owner" || out[0].Attr("id") != "sp" {
		t.Fatalf("self-ping: %v", out)
	}
	expectError(t, h.send("<iq type='get' id='sp2' from='eve@example.test/e' to='%s/eve'><ping xmlns='urn:xmpp:ping'/></iq>", room), "eve@example.test/e", stanza.NotAcceptable)
}

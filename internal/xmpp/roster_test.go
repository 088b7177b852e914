package xmpp_test

import (
	"testing"

	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const nsRoster = "jabber:iq:roster"

func rosterItems(t *testing.T, c *xmppclient.Client) map[string]*xmlstream.Element {
	t.Helper()
	res, err := iq(ctx5(t), t, c, "get", "", xmlstream.New(nsRoster, "query"))
	if err != nil {
		t.Fatalf("roster get: %v", err)
	}
	out := map[string]*xmlstream.Element{}
	for _, it := range res.FirstChild().ChildrenNamed(nsRoster, "item") {
		out[it.Attr("jid")] = it
	}
	return out
}

func isPush(jidStr, sub string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool {
		if el.Name != "iq" || el.Attr("type") != "set" {
			return false
		}
		it := el.FirstChild().Child(nsRoster, "item")
		return it != nil && it.Attr("jid") == jidStr && it.Attr("subscription") == sub
	}
}

func presenceOf(from, typ string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool {
		f := el.Attr("from")
		if i := len(from); len(f) >= i && f[:i] == from {
			return el.Name == "presence" && el.Attr("type") == typ
		}
		return false
	}
}

func TestRosterAndSubscription(t *testing.T) {
	h := newHarness(t, nil)
	alice := h.dial("alice", false, nil)
	bob := h.dial("bob", true, nil)
	aliceBare, bobBare := "alice@"+testDomain, "bob@"+testDomain
	rosterItems(t, alice) // both become interested resources
	rosterItems(t, bob)
	alice.Send(xmlstream.New(xmlstream.NSClient, "presence"))
	bob.Send(xmlstream.New(xmlstream.NSClient, "presence"))

	// alice adds bob: roster set, then a push.
	set := xmlstream.New(nsRoster, "query").Add(
		xmlstream.New(nsRoster, "item", "jid", bobBare, "name", "Bob").Add(xmlstream.New(nsRoster, "group").SetText("Friends")))
	if _, err := iq(ctx5(t), t, alice, "set", "", set); err != nil {
		t.Fatalf("roster set: %v", err)
	}
	expect(t, alice, "push of bob (none)", isPush(bobBare, "none"))

	// alice subscribes; bob sees the request; bob approves.
	alice.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", bobBare, "type", "subscribe"))
	req := expect(t, bob, "subscribe from alice", presenceOf(aliceBare, "subscribe"))
	if req.Attr("from") != aliceBare {
		t.Fatalf("subscription request must come from the bare JID: %s", req)
	}
	bob.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", aliceBare, "type", "subscribed"))
	expect(t, bob, "push of alice (from)", isPush(aliceBare, "from"))
	expect(t, alice, "push of bob (to)", isPush(bobBare, "to"))
	expect(t, alice, "bob's presence", presenceOf(bobBare+"/", ""))

	items := rosterItems(t, alice)
	if it := items[bobBare]; it == nil || it.Attr("subscription") != "to" || it.Attr("name") != "Bob" || it.ChildText(nsRoster, "group") != "Friends" {
		t.Fatalf("alice's roster: %v", items)
	}
	if it := rosterItems(t, bob)[aliceBare]; it == nil || it.Attr("subscription") != "from" {
		t.Fatalf("bob's roster: %v", it)
	}

	// The reverse direction makes it both.
	bob.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", aliceBare, "type", "subscribe"))
	expect(t, alice, "subscribe from bob", presenceOf(bobBare, "subscribe"))
	alice.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", bobBare, "type", "subscribed"))
	expect(t, alice, "push of bob (both)", isPush(bobBare, "both"))
	expect(t, bob, "push of alice (both)", isPush(aliceBare, "both"))

	// Presence changes now reach the contact; going offline sends unavailable.
	alice.Send(xmlstream.New(xmlstream.NSClient, "presence").Add(xmlstream.New(xmlstream.NSClient, "show").SetText("away")))
	away := expect(t, bob, "alice away", presenceOf(aliceBare+"/", ""))
	for away.ChildText("", "show") != "away" {
		away = expect(t, bob, "alice away", presenceOf(aliceBare+"/", ""))
	}
	alice.Close()
	expect(t, bob, "alice unavailable", presenceOf(aliceBare+"/", "unavailable"))

	// Removing the contact unsubscribes both ways.
	rm := xmlstream.New(nsRoster, "query").Add(xmlstream.New(nsRoster, "item", "jid", aliceBare, "subscription", "remove"))
	if _, err := iq(ctx5(t), t, bob, "set", "", rm); err != nil {
		t.Fatalf("roster remove: %v", err)
	}
	expect(t, bob, "push of removal", isPush(aliceBare, "remove"))
	alice2 := h.dial("alice", false, nil)
	if it := rosterItems(t, alice2)[bobBare]; it == nil || it.Attr("subscription") != "none" {
		t.Fatalf("after bob removed alice, alice's item for bob: %v", it)
	}
}

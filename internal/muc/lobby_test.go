package muc

import (
	"testing"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

func TestLobby(t *testing.T) {
	ids := knownIdentities{"guest-1@example.test/g": {Kind: IdentityGuest},
		"tok-n@example.test/n": {Kind: IdentityToken, Token: &token.Identity{UserID: "n", Name: "Nadia K."}}}
	h := newHarness(t, func(c *Config) { c.Identify = ids.identify })
	if _, err := h.svc.DeclareRoom("club", RoomSettings{Lobby: ptr(true), Owners: ptr([]string{"host"})}); err != nil {
		t.Fatal(err)
	}
	room := "club@" + testDomain
	// A guest knocks before any moderator is there: it waits.
	out := h.join("guest-1@example.test/g", room+"/Gus", true)
	w := findTo(out, "guest-1@example.test/g", "message")
	if w == nil || w.Child(NSLobby, "waiting") == nil || findSelfPresence(out, "guest-1@example.test/g") != nil {
		t.Fatalf("the guest was not told to wait:\n%s", dump(out))
	}
	// The host comes in and sees the knock with the name.
	out = h.mustJoin("host@example.test/h", room+"/Host")
	k := findWith(out, "host@example.test/h", NSLobby, "knock")
	if k == nil || k.Child(NSLobby, "knock").Attr("name") != "Gus" {
		t.Fatalf("the host does not see the knock:\n%s", dump(out))
	}
	gusID := k.Child(NSLobby, "knock").Attr("id")
	// A token user knocks: the host sees its verified name.
	out = h.join("tok-n@example.test/n", room+"/nk", true)
	k = findWith(out, "host@example.test/h", NSLobby, "knock")
	if k == nil || k.Child(NSLobby, "knock").Attr("name") != "Nadia K." {
		t.Fatalf("the knock lacks the token's name:\n%s", dump(out))
	}
	nadiaID := k.Child(NSLobby, "knock").Attr("id")
	// The waiting guest cannot admit itself.
	out = h.send("<iq type='set' id='a' from='guest-1@example.test/g' to='%s'><admit xmlns='%s' id='%s'/></iq>", room, NSLobby, gusID)
	expectError(t, out, "guest-1@example.test/g", stanza.Forbidden)
	// Admit: the guest's join completes.
	out = h.send("<iq type='set' id='a' from='host@example.test/h' to='%s'><admit xmlns='%s' id='%s'/></iq>", room, NSLobby, gusID)
	if findSelfPresence(out, "guest-1@example.test/g") == nil {
		t.Fatalf("admitted guest did not enter:\n%s", dump(out))
	}
	// Deny: the token user gets the join's error, with the reason.
	out = h.send("<iq type='set' id='d' from='host@example.test/h' to='%s'><deny xmlns='%s' id='%s'><reason>not today</reason></deny></iq>", room, NSLobby, nadiaID)
	e := findWith(out, "tok-n@example.test/n", NSLobby, "denied")
	if e == nil || errCond(e) != string(stanza.NotAllowed) || stanza.ParseError(e).Text != "not today" {
		t.Fatalf("denial:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("club"); len(ri.Occupants) != 2 || len(ri.Lobby) != 0 {
		t.Fatalf("room after the decisions: %+v", ri)
	}
	// A knock that gives up disappears; the admitted guest comes back without knocking.
	h.join("x@example.test/x", room+"/X", true)
	if ri, _ := h.svc.Room("club"); len(ri.Lobby) != 1 {
		t.Fatalf("lobby %+v", ri.Lobby)
	}
	h.send("<presence type='unavailable' from='x@example.test/x' to='%s/X'/>", room)
	if ri, _ := h.svc.Room("club"); len(ri.Lobby) != 0 {
		t.Fatalf("lobby after leaving %+v", ri.Lobby)
	}
	h.send("<presence type='unavailable' from='guest-1@example.test/g' to='%s/Gus'/>", room)
	h.mustJoin("guest-1@example.test/g", room+"/Gus")
	// The admin API's path decides too; and a session ending leaves the lobby.
	h.join("y@example.test/y", room+"/Y", true)
	ri, _ := h.svc.Room("club")
	if err := h.svc.DecideKnock("club", ri.Lobby[0].ID, true, ""); err != nil {
		t.Fatal(err)
	}
	h.join("z@example.test/z", room+"/Z", true)
	h.svc.RemoveOccupantsOf(mustJID("z@example.test/z"))
	if ri, _ := h.svc.Room("club"); len(ri.Lobby) != 0 || len(ri.Occupants) != 3 {
		t.Fatalf("room %+v", ri)
	}
}

// findWith returns the first stanza to "to" with a child ns:name.
func findWith(out []*xmlstream.Element, to, ns, name string) *xmlstream.Element {
	for _, st := range allTo(out, to) {
		if st.Child(ns, name) != nil {
			return st
		}
	}
	return nil
}

func TestLobbyThroughTheConfigForm(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Identify = knownIdentities{"guest-1@example.test/g": {Kind: IdentityGuest, Anonymous: true}}.identify
	})
	room := h.room("form")
	h.configure("owner@example.test/o", room, map[string]string{fieldLobby: "1"})
	out := h.join("guest-1@example.test/g", room+"/Gus", true)
	if findWith(out, "guest-1@example.test/g", NSLobby, "waiting") == nil || findWith(out, "owner@example.test/o", NSLobby, "knock") == nil {
		t.Fatalf("no knock with the lobby on:\n%s", dump(out))
	}
	// A participant may not turn the lobby off (lock_room).
	out = h.join("bob@example.test/b", room+"/Bob", true) // an account without affiliation knocks too
	id := findWith(out, "owner@example.test/o", NSLobby, "knock").Child(NSLobby, "knock").Attr("id")
	out = h.send("<iq type='set' id='a' from='owner@example.test/o' to='%s'><admit xmlns='%s' id='%s'/></iq>", room, NSLobby, id)
	if findSelfPresence(out, "bob@example.test/b") == nil {
		t.Fatalf("bob not admitted:\n%s", dump(out))
	}
	expectError(t, h.submit("bob@example.test/b", room, map[string]string{fieldLobby: "0"}), "bob@example.test/b", stanza.Forbidden)
	// Turning it off lets the waiting guest in.
	out = h.submit("owner@example.test/o", room, map[string]string{fieldLobby: "0"})
	if findSelfPresence(out, "guest-1@example.test/g") == nil {
		t.Fatalf("the waiting guest did not come in when the lobby went off:\n%s", dump(out))
	}
	h.configure("owner@example.test/o", room, map[string]string{fieldGuests: "0"})
	h.send("<presence type='unavailable' from='guest-1@example.test/g' to='%s/Gus'/>", room)
	expectError(t, h.join("guest-1@example.test/g", room+"/Gus", true), "guest-1@example.test/g", stanza.RegistrationRequired)
}

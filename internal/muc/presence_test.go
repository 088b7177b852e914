package muc

import (
	"slices"
	"testing"

	"parley.dev/parley/internal/stanza"
)

func TestNewValidatesConfig(t *testing.T) {
	r := &fakeRouter{}
	for _, tc := range []struct {
		name  string
		cfg   Config
		field string
	}{
		{"no domain", Config{Router: r}, "Domain"},
		{"domain with local", Config{Domain: "a@conference.example.test", Router: r}, "Domain"},
		{"no router", Config{Domain: testDomain}, "Router"},
	} {
		_, err := New(tc.cfg)
		ce, ok := err.(*ConfigError)
		if !ok || ce.Field != tc.field {
			t.Errorf("%s: got %v, want ConfigError on %s", tc.name, err, tc.field)
		}
	}
}

func TestInstantRoomWithoutMUCElement(t *testing.T) {
	h := newHarness(t)
	out := h.join("alice@example.test/a", "room@"+testDomain+"/Alice", false)
	self := findSelfPresence(out, "alice@example.test/a")
	if self == nil {
		t.Fatalf("no self-presence:\n%s", dump(out))
	}
	if !hasStatus(self, 201) || self.Attr("from") != "room@"+testDomain+"/Alice" {
		t.Errorf("self-presence lacks 201 or has the wrong from: %s", self)
	}
	it := item(self)
	if it.Attr("affiliation") != "owner" || it.Attr("role") != "moderator" || it.Attr("jid") != "alice@example.test/a" {
		t.Errorf("creator item = %s", it)
	}
	last := out[len(out)-1]
	if last.Name != "message" || last.Child("", "subject") == nil || last.ChildText("", "subject") != "" {
		t.Errorf("join must end with an empty subject, got %s", last)
	}
	ri, ok := h.svc.Room("room")
	if !ok || ri.Locked {
		t.Fatalf("room should exist unlocked: %+v %v", ri, ok)
	}
	h.mustJoin("bob@example.test/b", "room@"+testDomain+"/Bob")
	evs := h.takeEvents()
	if len(evs) != 3 || evs[0].Kind != RoomCreated || evs[1].Kind != OccupantJoined || evs[2].Nick != "Bob" {
		t.Errorf("events = %+v", evs)
	}
}

func TestLockedRoomUntilConfigured(t *testing.T) {
	h := newHarness(t)
	room := "locked@" + testDomain
	out := h.join("alice@example.test/a", room+"/Alice", true)
	if self := findSelfPresence(out, "alice@example.test/a"); self == nil || !hasStatus(self, 201) {
		t.Fatalf("creator must get 201:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("locked"); !ri.Locked {
		t.Fatal("room created with the MUC element must be locked")
	}
	out = h.join("bob@example.test/b", room+"/Bob", true)
	expectError(t, out, "bob@example.test/b", stanza.ItemNotFound)
	out = h.send("<iq type='get' id='d' from='bob@example.test/b' to='%s'><query xmlns='%s'/></iq>", room, NSDiscoInfo)
	expectError(t, out, "bob@example.test/b", stanza.ItemNotFound)

	// The instant-room request unlocks it.
	out = h.send("<iq type='set' id='i' from='alice@example.test/a' to='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'/></query></iq>", room, NSMUCOwner)
	if res := findTo(out, "alice@example.test/a", "iq"); res == nil || res.Attr("type") != "result" || res.Attr("id") != "i" {
		t.Fatalf("instant room request not accepted:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("locked"); ri.Locked {
		t.Fatal("room still locked")
	}
	h.mustJoin("bob@example.test/b", room+"/Bob")
}

func TestCancelInitialConfigDestroysRoom(t *testing.T) {
	h := newHarness(t)
	room := "gone@" + testDomain
	h.join("alice@example.test/a", room+"/Alice", true)
	out := h.send("<iq type='set' id='c' from='alice@example.test/a' to='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='cancel'/></query></iq>", room, NSMUCOwner)
	if res := findTo(out, "alice@example.test/a", "iq"); res == nil || res.Attr("type") != "result" {
		t.Fatalf("cancel not acknowledged:\n%s", dump(out))
	}
	if p := findTo(out, "alice@example.test/a", "presence"); p == nil || p.Attr("type") != "unavailable" {
		t.Errorf("creator not told the room is gone:\n%s", dump(out))
	}
	if _, ok := h.svc.Room("gone"); ok {
		t.Fatal("room survived a cancelled initial configuration")
	}
}

func TestJoinSequence(t *testing.T) {
	h := newHarness(t)
	room := h.room("seq")
	h.send("<message type='groupchat' from='owner@example.test/o' to='%s'><body>hello</body></message>", room)
	h.send("<message type='groupchat' from='owner@example.test/o' to='%s'><subject>Topic</subject></message>", room)
	h.mustJoin("bob@example.test/b", room+"/Bob")

	out := h.join("carol@example.test/c", room+"/Carol", false)
	mine := allTo(out, "carol@example.test/c")
	var kinds []string
	for _, st := range mine {
		kinds = append(kinds, st.Name+":"+st.Attr("from"))
	}
	want := []string{
		"presence:" + room + "/Bob", "presence:" + room + "/owner", // existing occupants, by nick
		"presence:" + room + "/Carol", // self last
		"message:" + room + "/owner",  // history
		"message:" + room + "/owner",  // subject, from whoever set it
	}
	if !slices.Equal(kinds, want) {
		t.Fatalf("join sequence:\n got %v\nwant %v", kinds, want)
	}
	if !hasStatus(mine[2], 110) || hasStatus(mine[2], 100) || hasStatus(mine[2], 201) {
		t.Errorf("self-presence codes = %v", statuses(mine[2]))
	}
	delay := mine[3].Child(NSDelay, "delay")
	if mine[3].ChildText("", "body") != "hello" || delay == nil || delay.Attr("stamp") != "2026-01-02T03:04:05.000Z" || delay.Attr("from") != room {
		t.Errorf("history message = %s", mine[3])
	}
	if mine[4].ChildText("", "subject") != "Topic" {
		t.Errorf("subject = %s", mine[4])
	}
	// Semi-anonymous: the participant Bob does not see Carol's real JID, the
	// moderator does.
	if p := findTo(out, "bob@example.test/b", "presence"); p == nil || item(p).Attr("jid") != "" {
		t.Errorf("participant saw a real JID: %v", p)
	}
	if p := findTo(out, "owner@example.test/o", "presence"); p == nil || item(p).Attr("jid") != "carol@example.test/c" {
		t.Errorf("moderator did not see the real JID: %v", p)
	}
	// The owner's presence as Carol sees it has no jid.
	if item(mine[1]).Attr("jid") != "" {
		t.Errorf("newcomer saw the owner's real JID: %s", mine[1])
	}
}

func TestNonAnonymousRoomShowsJIDsAndStatus100(t *testing.T) {
	h := newHarness(t)
	room := h.room("open")
	h.configure("owner@example.test/o", room, map[string]string{fieldWhoIs: "anyone"})
	h.mustJoin("bob@example.test/b", room+"/Bob")
	out := h.join("carol@example.test/c", room+"/Carol", false)
	self := findSelfPresence(out, "carol@example.test/c")
	if !hasStatus(self, 100) {
		t.Errorf("non-anonymous room must send 100: %v", statuses(self))
	}
	if p := findTo(out, "bob@example.test/b", "presence"); item(p).Attr("jid") != "carol@example.test/c" {
		t.Errorf("participant should see real JIDs: %s", p)
	}
}

func TestNickConflicts(t *testing.T) {
	h := newHarness(t)
	room := h.room("nicks")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.takeEvents()
	for _, from := range []string{"eve@example.test/e", "bob@example.test/other"} {
		out := h.join(from, room+"/Bob", true)
		p := expectError(t, out, from, stanza.Conflict)
		if p.Name != "presence" || p.Attr("from") != room+"/Bob" {
			t.Errorf("conflict error = %s", p)
		}
		// The holder is named, so that the server can check it is alive.
		evs := h.takeEvents()
		if len(evs) != 1 || evs[0].Kind != NickConflict || evs[0].RealJID.String() != "bob@example.test/b" || evs[0].Nick != "Bob" {
			t.Errorf("events after a conflict = %+v, want one NickConflict naming bob@example.test/b", evs)
		}
	}
	// The same full JID re-sending presence is an update, broadcast to all.
	out := h.send("<presence from='bob@example.test/b' to='%s/Bob'><show>away</show><x xmlns='%s'><password>secret</password></x></presence>", room, NSMUC)
	for _, to := range []string{"owner@example.test/o", "bob@example.test/b"} {
		p := findTo(out, to, "presence")
		if p == nil || p.ChildText("", "show") != "away" || p.Attr("type") != "" {
			t.Fatalf("update not broadcast to %s:\n%s", to, dump(out))
		}
		if p.Child(NSMUC, "x") != nil {
			t.Errorf("join element (with its password) leaked: %s", p)
		}
	}
	if !hasStatus(findTo(out, "bob@example.test/b", "presence"), 110) {
		t.Error("update echo to self lacks 110")
	}
}

func TestJoinNeedsNick(t *testing.T) {
	h := newHarness(t)
	room := h.room("nonick")
	out := h.send("<presence from='bob@example.test/b' to='%s'/>", room)
	expectError(t, out, "bob@example.test/b", stanza.JIDMalformed)
	out = h.send("<presence from='bob@example.test/b' to='absent@%s'/>", testDomain)
	expectError(t, out, "bob@example.test/b", stanza.JIDMalformed)
}

func TestLeaveAndTemporaryRoomVanishes(t *testing.T) {
	h := newHarness(t)
	room := h.room("temp")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.takeEvents()
	out := h.send("<presence type='unavailable' from='bob@example.test/b' to='%s/Bob'><status>bye</status></presence>", room)
	if len(out) != 2 {
		t.Fatalf("leave should produce 2 presences:\n%s", dump(out))
	}
	self := findTo(out, "bob@example.test/b", "presence")
	other := findTo(out, "owner@example.test/o", "presence")
	if self.Attr("type") != "unavailable" || !hasStatus(self, 110) || other.Attr("type") != "unavailable" || hasStatus(other, 110) {
		t.Errorf("leave presences:\n%s", dump(out))
	}
	if other.ChildText("", "status") != "bye" || item(other).Attr("role") != "none" {
		t.Errorf("leave presence lacks status text or role none: %s", other)
	}
	// Again: nothing happens.
	if out := h.send("<presence type='unavailable' from='bob@example.test/b' to='%s/Bob'/>", room); len(out) != 0 {
		t.Errorf("second unavailable produced:\n%s", dump(out))
	}
	h.send("<presence type='unavailable' from='owner@example.test/o' to='%s/owner'/>", room)
	if _, ok := h.svc.Room("temp"); ok {
		t.Fatal("temporary room survived its last occupant")
	}
	evs := h.takeEvents()
	if len(evs) != 3 || evs[0].Kind != OccupantLeft || evs[2].Kind != RoomDestroyed {
		t.Errorf("events = %+v", evs)
	}
	// A new join re-creates it, with the newcomer as owner.
	out = h.join("bob@example.test/b", room+"/Bob", false)
	if self := findSelfPresence(out, "bob@example.test/b"); !hasStatus(self, 201) || item(self).Attr("affiliation") != "owner" {
		t.Errorf("re-created room: %s", self)
	}
}

func TestRemoveOccupantsOfIsIdempotent(t *testing.T) {
	h := newHarness(t)
	r1, r2 := h.room("one"), h.room("two")
	h.mustJoin("bob@example.test/b", r1+"/Bob")
	h.mustJoin("bob@example.test/b", r2+"/Bobby")
	h.router.take()
	h.svc.RemoveOccupantsOf(mustJID("bob@example.test/b"))
	out := h.router.take()
	if len(out) != 2 {
		t.Fatalf("want one unavailable per room to the owner:\n%s", dump(out))
	}
	for _, p := range out {
		if p.Attr("to") != "owner@example.test/o" || p.Attr("type") != "unavailable" {
			t.Errorf("unexpected %s", p)
		}
	}
	h.svc.RemoveOccupantsOf(mustJID("bob@example.test/b"))
	if out := h.send("<presence type='unavailable' from='bob@example.test/b' to='%s/Bob'/>", r1); len(out) != 0 {
		t.Errorf("late unavailable produced:\n%s", dump(out))
	}
	if out := h.router.take(); len(out) != 0 {
		t.Errorf("second RemoveOccupantsOf produced:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("one"); len(ri.Occupants) != 1 {
		t.Errorf("occupants = %+v", ri.Occupants)
	}
}

func TestNickChange(t *testing.T) {
	h := newHarness(t)
	room := h.room("rename")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.takeEvents()
	out := h.send("<presence from='bob@example.test/b' to='%s/owner'/>", room)
	expectError(t, out, "bob@example.test/b", stanza.Conflict)

	out = h.send("<presence from='bob@example.test/b' to='%s/Robert'/>", room)
	for _, to := range []string{"owner@example.test/o", "bob@example.test/b"} {
		mine := allTo(out, to)
		if len(mine) != 2 {
			t.Fatalf("want 2 presences to %s:\n%s", to, dump(out))
		}
		gone, back := mine[0], mine[1]
		if gone.Attr("type") != "unavailable" || gone.Attr("from") != room+"/Bob" || !hasStatus(gone, 303) || item(gone).Attr("nick") != "Robert" {
			t.Errorf("303 presence to %s = %s", to, gone)
		}
		if back.Attr("type") != "" || back.Attr("from") != room+"/Robert" {
			t.Errorf("new-nick presence to %s = %s", to, back)
		}
	}
	if !hasStatus(allTo(out, "bob@example.test/b")[0], 110) {
		t.Error("self 303 presence lacks 110")
	}
	evs := h.takeEvents()
	if len(evs) != 1 || evs[0].Kind != OccupantChanged || evs[0].PrevNick != "Bob" || evs[0].Nick != "Robert" {
		t.Errorf("events = %+v", evs)
	}
	// The old nick is free, the new one routes.
	h.mustJoin("carol@example.test/c", room+"/Bob")
}

func TestPresenceToMissingRoomIsIgnored(t *testing.T) {
	h := newHarness(t)
	for _, typ := range []string{"unavailable", "error", "probe"} {
		if out := h.send("<presence type='%s' from='bob@example.test/b' to='none@%s/x'/>", typ, testDomain); len(out) != 0 {
			t.Errorf("%s presence to a missing room produced:\n%s", typ, dump(out))
		}
	}
	if len(h.svc.Rooms()) != 0 {
		t.Error("a room was created by a non-join presence")
	}
}

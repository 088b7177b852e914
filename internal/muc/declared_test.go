package muc

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

func ptr[T any](v T) *T { return &v }

// knownIdentities is a fake server's answer to Config.Identify.
type knownIdentities map[string]Identity

func (ids knownIdentities) identify(real jid.JID) Identity { return ids[real.String()] }

func TestDeclaredRoomExistsEmptyAndSurvivesRestart(t *testing.T) {
	var guestNoVideo perm.Overrides
	guestNoVideo.Set(perm.PublishVideo, false)
	dir := t.TempDir()
	withDir := func(c *Config) { c.DataDir = dir; c.ReloadInterval = -1 }
	h := newHarness(t, withDir)
	ri, err := h.svc.DeclareRoom("lounge", RoomSettings{Title: ptr("Game lounge"), Lobby: ptr(true), MaxUsers: ptr(12),
		Owners: ptr([]string{"host", "token:u-9"}), Password: ptr("hunter2"),
		RoleDefaults: perm.Defaults{perm.Guest: guestNoVideo}})
	if err != nil {
		t.Fatal(err)
	}
	if len(ri.Occupants) != 0 || ri.Declared == nil || !ri.Config.Lobby || ri.Config.MaxUsers != 12 || ri.Config.Name != "Game lounge" {
		t.Fatalf("declared room %+v", ri)
	}
	if ri.Affiliations[mustJID("host@example.test")] != AffOwner || ri.Affiliations[mustJID(token.SubjectLocalpart("u-9")+"@example.test")] != AffOwner {
		t.Fatalf("owners %v", ri.Affiliations)
	}
	if _, err := h.svc.DeclareRoom("lounge", RoomSettings{}); !errors.Is(err, ErrRoomExists) {
		t.Fatalf("declaring twice: %v", err)
	}
	if _, err := h.svc.DeclareRoom("Bad Name", RoomSettings{}); err == nil {
		t.Fatal("a bad name was accepted")
	}
	h.svc.Close()
	data, _ := os.ReadFile(roomFile(dir, "lounge"))
	if strings.Contains(string(data), "hunter2") || !strings.Contains(string(data), "password_hash") {
		t.Fatalf("room file holds the clear password or no hash:\n%s", data)
	}
	h2 := newHarness(t, withDir)
	ri, ok := h2.svc.Room("lounge")
	if !ok || ri.Declared == nil || !ri.Config.Lobby || ri.Config.MaxUsers != 12 || ri.Config.RoleDefaults[perm.Guest].Revoke != perm.Of(perm.PublishVideo) {
		t.Fatalf("after restart: %+v %v", ri, ok)
	}
	// The owner enters with the password it does not need; others need it.
	h2.mustJoin("host@example.test/h", "lounge@"+testDomain+"/Host")
	expectError(t, h2.join("x@example.test/x", "lounge@"+testDomain+"/X", true), "x@example.test/x", stanza.NotAuthorized)
	// The host leaving leaves the declared room in place.
	h2.send("<presence type='unavailable' from='host@example.test/h' to='lounge@%s/Host'/>", testDomain)
	if _, ok := h2.svc.Room("lounge"); !ok {
		t.Fatal("the declared room went with its last occupant")
	}
}

func TestClearTextPasswordFilesAreMigrated(t *testing.T) {
	dir := t.TempDir()
	old := `{"name":"old","config":{"persistent":true,"password_protected":true,"password":"s3cret","public":true},"affiliations":{"owner@example.test":"owner"}}`
	if err := os.WriteFile(roomFile(dir, "old"), []byte(old), 0o600); err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *Config) { c.DataDir = dir; c.ReloadInterval = -1 })
	h.svc.Close() // writes what is pending
	data, _ := os.ReadFile(roomFile(dir, "old"))
	if strings.Contains(string(data), "s3cret") || !strings.Contains(string(data), "$2a$") {
		t.Fatalf("file not migrated:\n%s", data)
	}
	h2 := newHarness(t, func(c *Config) { c.DataDir = dir; c.ReloadInterval = -1 })
	expectError(t, h2.join("bob@example.test/b", "old@"+testDomain+"/Bob", true), "bob@example.test/b", stanza.NotAuthorized)
	out := h2.send("<presence from='bob@example.test/b' to='old@%s/Bob'><x xmlns='%s'><password>s3cret</password></x></presence>", testDomain, NSMUC)
	if findSelfPresence(out, "bob@example.test/b") == nil {
		t.Fatalf("the migrated password refused:\n%s", dump(out))
	}
}

func TestRoomAddedByAnotherProcessAppears(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(c *Config) { c.DataDir = dir; c.ReloadInterval = 10 * time.Millisecond; c.DeclaredOnly = true })
	expectError(t, h.join("a@example.test/a", "later@"+testDomain+"/A", true), "a@example.test/a", stanza.ItemNotFound)
	files := RoomFiles{Dir: dir, Domain: testDomain}
	if _, err := files.Add("later", RoomSettings{Title: ptr("Later"), Owners: ptr([]string{"a"})}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the added room", func() bool { _, ok := h.svc.Room("later"); return ok })
	h.mustJoin("b@example.test/b", "later@"+testDomain+"/B")
	if _, err := files.Set("later", RoomSettings{Lobby: ptr(true)}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the changed room", func() bool { ri, _ := h.svc.Room("later"); return ri.Config.Lobby })
	if err := files.Delete("later"); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deleted room gone", func() bool { _, ok := h.svc.Room("later"); return !ok })
	if list, _ := files.List(); len(list) != 0 {
		t.Fatalf("files left: %+v", list)
	}
	// The service's own writes are not taken for outside changes: a room it
	// declares stays declared and its file stays.
	if _, err := h.svc.DeclareRoom("own", RoomSettings{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(100 * time.Millisecond)
	if _, ok := h.svc.Room("own"); !ok {
		t.Fatal("own room lost")
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(m) != 1 {
		t.Fatalf("files %v", m)
	}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestTokenIdentityInRooms(t *testing.T) {
	ids := knownIdentities{
		"tok-a@example.test/1":   {Kind: IdentityToken, Token: &token.Identity{UserID: "a", Name: "Ada", Room: "standup", Moderator: true}},
		"tok-b@example.test/1":   {Kind: IdentityToken, Token: &token.Identity{UserID: "b", Name: "Bob", Room: "standup"}},
		"guest-1@example.test/g": {Kind: IdentityGuest},
	}
	var refused []error
	h := newHarness(t, func(c *Config) {
		c.Identify = ids.identify
		c.OnTokenRefused = func(err error) { refused = append(refused, err) }
	})
	if _, err := h.svc.DeclareRoom("standup", RoomSettings{Guests: ptr(false)}); err != nil {
		t.Fatal(err)
	}
	out := h.mustJoin("tok-a@example.test/1", "standup@"+testDomain+"/ada")
	self := findSelfPresence(out, "tok-a@example.test/1")
	if it := item(self); it.Attr("role") != string(RoleModerator) || it.Attr("affiliation") != string(AffOwner) {
		t.Fatalf("a moderator token's presence: %s", self)
	}
	out = h.mustJoin("tok-b@example.test/1", "standup@"+testDomain+"/bob")
	p := findTo(out, "tok-a@example.test/1", "presence")
	idEl := p.Child(NSIdentity, "identity")
	if idEl == nil || idEl.Attr("name") != "Bob" || idEl.Attr("kind") != "token" || item(p).Attr("role") != string(RoleParticipant) {
		t.Fatalf("Bob's presence as Ada sees it: %s", p)
	}
	// A forged identity element is dropped.
	out = h.send("<presence from='tok-b@example.test/1' to='standup@%s/bob'><identity xmlns='%s' kind='token' name='Admin'/></presence>", testDomain, NSIdentity)
	if p := findTo(out, "tok-a@example.test/1", "presence"); len(p.ChildrenNamed(NSIdentity, "identity")) != 1 || p.Child(NSIdentity, "identity").Attr("name") != "Bob" {
		t.Fatalf("forged identity kept: %s", p)
	}
	expectError(t, h.join("guest-1@example.test/g", "standup@"+testDomain+"/g", true), "guest-1@example.test/g", stanza.RegistrationRequired)
	// A token for standup does not open another room.
	h.room("other")
	expectError(t, h.join("tok-b@example.test/1", "other@"+testDomain+"/bob", true), "tok-b@example.test/1", stanza.NotAuthorized)
	if len(refused) != 1 || h.svc.Stats().TokenRoomRefused != 1 {
		t.Fatalf("room refusals %v / %d", refused, h.svc.Stats().TokenRoomRefused)
	}
	if r, _ := token.ReasonOf(refused[0]); r != token.ReasonRoom {
		t.Fatalf("refusal %v", refused[0])
	}
	// The token's moderator grant is not stored: gone when Ada leaves.
	h.send("<presence type='unavailable' from='tok-a@example.test/1' to='standup@%s/ada'/>", testDomain)
	if ri, _ := h.svc.Room("standup"); ri.Affiliations[mustJID("tok-a@example.test")] != "" {
		t.Fatalf("token affiliation stored: %v", ri.Affiliations)
	}
}

func TestHandoverAndEndMeeting(t *testing.T) {
	h := newHarness(t)
	if _, err := h.svc.DeclareRoom("hall", RoomSettings{Owners: ptr([]string{"host"})}); err != nil {
		t.Fatal(err)
	}
	room := "hall@" + testDomain
	h.mustJoin("host@example.test/h", room+"/Host")
	h.mustJoin("first@example.test/f", room+"/First")
	h.advance(time.Second)
	h.mustJoin("second@example.test/s", room+"/Second")
	out := h.send("<presence type='unavailable' from='host@example.test/h' to='%s/Host'/>", room)
	var p *xmlstream.Element
	for _, st := range allTo(out, "second@example.test/s") {
		if st.Attr("from") == room+"/First" {
			p = st
		}
	}
	if p == nil || item(p).Attr("role") != "moderator" {
		t.Fatalf("handover to the longest present:\n%s", dump(out))
	}
	// A participant may not end the meeting; the new moderator is no admin either.
	out = h.send("<iq type='set' id='e' from='second@example.test/s' to='%s'><end xmlns='%s'/></iq>", room, NSRoom)
	expectError(t, out, "second@example.test/s", stanza.Forbidden)
	h.mustJoin("host@example.test/h", room+"/Host")
	out = h.send("<iq type='set' id='e' from='host@example.test/h' to='%s'><end xmlns='%s'><reason>time is up</reason></end></iq>", room, NSRoom)
	for _, who := range []string{"host@example.test/h", "first@example.test/f", "second@example.test/s"} {
		var got bool
		for _, st := range allTo(out, who) {
			if e := st.Child(NSRoom, "ended"); st.Name == "presence" && st.Attr("type") == "unavailable" && e != nil && e.ChildText(NSRoom, "reason") == "time is up" && e.Attr("by") == "Host" {
				got = true
			}
		}
		if !got {
			t.Fatalf("%s not told the meeting ended:\n%s", who, dump(out))
		}
	}
	ri, ok := h.svc.Room("hall")
	if !ok || len(ri.Occupants) != 0 {
		t.Fatalf("after the end: %+v %v", ri, ok)
	}
}

func TestReturningUserKeepsRoleAndMutes(t *testing.T) {
	h := newHarness(t)
	if _, err := h.svc.DeclareRoom("club", RoomSettings{Owners: ptr([]string{"host"})}); err != nil {
		t.Fatal(err)
	}
	room := "club@" + testDomain
	h.mustJoin("host@example.test/h", room+"/Host")
	h.mustJoin("gus@example.test/1", room+"/Gus")
	h.mustJoin("mia@example.test/1", room+"/Mia")
	// Gus is muted, Mia made moderator for the visit.
	if err := h.svc.MuteOccupant("club", "Gus", 0, true); err != nil {
		t.Fatal(err)
	}
	if err := h.svc.SetOccupantRole("club", "Mia", RoleModerator, ""); err != nil {
		t.Fatal(err)
	}
	for _, who := range []string{"gus@example.test/1", "mia@example.test/1"} {
		nick := map[bool]string{true: "Gus", false: "Mia"}[strings.HasPrefix(who, "gus")]
		h.send("<presence type='unavailable' from='%s' to='%s/%s'/>", who, room, nick)
		// Back on another connection (a new resource), same bare JID.
		h.mustJoin(strings.TrimSuffix(who, "/1")+"/2", room+"/"+nick)
	}
	ri, _ := h.svc.Room("club")
	byNick := map[string]OccupantInfo{}
	for _, o := range ri.Occupants {
		byNick[o.Nick] = o
	}
	if byNick["Gus"].Muted == 0 {
		t.Error("leaving and coming back lifted Gus's mute")
	}
	if byNick["Mia"].Role != RoleModerator {
		t.Errorf("Mia came back as %s", byNick["Mia"].Role)
	}
	// After the meeting ends, a new one starts afresh.
	h.svc.EndMeeting("club", "")
	h.mustJoin("gus@example.test/3", room+"/Gus")
	if ri, _ := h.svc.Room("club"); ri.Occupants[0].Muted != 0 {
		t.Error("a mute outlived the meeting")
	}
}

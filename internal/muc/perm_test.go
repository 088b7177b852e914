package muc

import (
	"strings"
	"testing"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// identities makes Identify: guest* users are anonymous, and overrides
// are by bare JID (what tokens will give).
func identities(overrides map[string]perm.Overrides) func(*Config) {
	return func(c *Config) {
		c.Identify = func(real jid.JID) Identity {
			return Identity{Anonymous: strings.HasPrefix(real.Local, "guest"), Overrides: overrides[real.Bare().String()]}
		}
	}
}

func permOf(st *xmlstream.Element) *xmlstream.Element {
	if st == nil {
		return nil
	}
	return st.Child(NSPerm, "perm")
}

func (h *harness) permIQ(from, room, payload string) []*xmlstream.Element {
	h.t.Helper()
	return h.send("<iq type='set' id='perm' from='%s' to='%s'>%s</iq>", from, room, payload)
}

func TestPresenceCarriesPermissions(t *testing.T) {
	h := newHarness(t, identities(nil))
	room := h.room("perm")
	h.admin("owner@example.test/o", room, "<item affiliation='member' jid='mem@example.test'/>")
	// A forged <perm/> in the client's own presence is dropped.
	out := h.send("<presence from='guest1@example.test/g' to='%s/G'><perm xmlns='%s' role='owner' allow='kick'/></presence>", room, NSPerm)
	self := findSelfPresence(out, "guest1@example.test/g")
	if n := len(self.ChildrenNamed(NSPerm, "perm")); n != 1 {
		t.Fatalf("%d <perm/> in the self-presence:\n%s", n, dump(out))
	}
	if p := permOf(self); p.Attr("role") != "guest" || p.Attr("allow") != perm.ForRole(perm.Guest).String() {
		t.Errorf("guest's perm: %s", p)
	}
	out = h.mustJoin("mem@example.test/m", room+"/Mem")
	if p := permOf(findSelfPresence(out, "mem@example.test/m")); p.Attr("role") != "participant" {
		t.Errorf("member's perm: %s", p)
	}
	if p := permOf(findTo(out, "owner@example.test/o", "presence")); p == nil || p.Attr("role") != "participant" {
		t.Errorf("the others do not see Mem's perm:\n%s", dump(out))
	}
	ri, _ := h.svc.Room("perm")
	for _, o := range ri.Occupants {
		if o.Nick == "G" && o.Permissions != perm.ForRole(perm.Guest) {
			t.Errorf("RoomInfo: %+v", o)
		}
	}
}

func TestRefusalsAreForbiddenAndCounted(t *testing.T) {
	h := newHarness(t, identities(map[string]perm.Overrides{
		"quiet@example.test": {Revoke: perm.Of(perm.Chat)}, // a token's override
	}))
	room := h.room("ref")
	h.mustJoin("guest1@example.test/g", room+"/G")
	h.mustJoin("quiet@example.test/q", room+"/Q")
	expectError(t, h.admin("guest1@example.test/g", room, "<item nick='Q' role='none'/>"), "guest1@example.test/g", stanza.Forbidden)
	expectError(t, h.send("<message type='groupchat' from='quiet@example.test/q' to='%s'><body>hi</body></message>", room),
		"quiet@example.test/q", stanza.Forbidden)
	// A viewer (voice revoked) in an unmoderated room chats, but may not
	// send private messages.
	h.admin("owner@example.test/o", room, "<item nick='G' role='visitor'/>")
	if out := h.send("<message type='groupchat' from='guest1@example.test/g' to='%s'><body>hi</body></message>", room); findTo(out, "owner@example.test/o", "message") == nil {
		t.Errorf("a viewer could not chat:\n%s", dump(out))
	}
	e := expectError(t, h.send("<message type='chat' from='guest1@example.test/g' to='%s/owner'><body>psst</body></message>", room),
		"guest1@example.test/g", stanza.Forbidden)
	if !strings.Contains(stanza.ParseError(e).Text, "private_chat") {
		t.Errorf("the refusal does not name the permission: %s", e)
	}
	// An IQ to oneself (XEP-0410 self-ping) is not a private request.
	if out := h.send("<iq type='get' id='sp' from='guest1@example.test/g' to='%s/G'><ping xmlns='urn:xmpp:ping'/></iq>", room); errCond(findTo(out, "guest1@example.test/g", "iq")) != "" {
		t.Errorf("self-ping refused:\n%s", dump(out))
	}
	got := h.svc.Stats().Refused
	if got["kick"] != 1 || got["chat"] != 1 || got["private_chat"] != 1 || len(got) != 3 {
		t.Errorf("refusals %v", got)
	}
	// In a moderated room, viewers lose chat (XEP-0045 voice).
	h.configure("owner@example.test/o", room, map[string]string{fieldModerated: "1"})
	expectError(t, h.send("<message type='groupchat' from='guest1@example.test/g' to='%s'><body>hi</body></message>", room),
		"guest1@example.test/g", stanza.Forbidden)
}

func TestRoleDefaultsRefuseGuests(t *testing.T) {
	cfg := DefaultRoomConfig()
	cfg.RoleDefaults = perm.Defaults{perm.Guest: {Revoke: perm.Of(perm.Join)}}
	h := newHarness(t, identities(nil), func(c *Config) { c.DefaultRoomConfig = &cfg })
	room := h.room("noguests")
	expectError(t, h.join("guest1@example.test/g", room+"/G", false), "guest1@example.test/g", stanza.Forbidden)
	h.mustJoin("user@example.test/u", room+"/U")
	if h.svc.Stats().Refused["join"] != 1 {
		t.Errorf("refusals %v", h.svc.Stats().Refused)
	}
}

func TestMuteUnmuteAndOverride(t *testing.T) {
	h := newHarness(t, identities(map[string]perm.Overrides{
		"helper@example.test": {Grant: perm.Of(perm.GrantRoles)},
	}))
	room := h.room("mute")
	h.mustJoin("guest1@example.test/g", room+"/G")
	h.mustJoin("helper@example.test/h", room+"/H")
	h.takeEvents()
	out := h.permIQ("owner@example.test/o", room, "<mute xmlns='"+NSPerm+"' nick='G' media='audio'/>")
	if res := findTo(out, "owner@example.test/o", "iq"); res == nil || res.Attr("type") != "result" {
		t.Fatalf("mute refused:\n%s", dump(out))
	}
	if p := permOf(findSelfPresence(out, "guest1@example.test/g")); p == nil || p.Attr("muted") != "audio" {
		t.Fatalf("G not told of the mute:\n%s", dump(out))
	}
	evs := h.takeEvents()
	if len(evs) != 1 || evs[0].Kind != OccupantChanged || evs[0].Muted != perm.Of(perm.PublishAudio) || !evs[0].Permissions.Has(perm.PublishAudio) {
		t.Fatalf("events %+v", evs)
	}
	// Others may not mute; nobody may unmute someone else, only ask.
	expectError(t, h.permIQ("helper@example.test/h", room, "<mute xmlns='"+NSPerm+"' nick='G'/>"), "helper@example.test/h", stanza.Forbidden)
	expectError(t, h.permIQ("helper@example.test/h", room, "<unmute xmlns='"+NSPerm+"' nick='G'/>"), "helper@example.test/h", stanza.Forbidden)
	out = h.permIQ("owner@example.test/o", room, "<unmute xmlns='"+NSPerm+"' nick='G' media='audio'/>")
	ask := findTo(out, "guest1@example.test/g", "message")
	if ask == nil || ask.Child(NSPerm, "unmute").Attr("by") != "owner" {
		t.Fatalf("no request to unmute:\n%s", dump(out))
	}
	if len(h.takeEvents()) != 0 {
		t.Error("asking changed something")
	}
	out = h.permIQ("guest1@example.test/g", room, "<unmute xmlns='"+NSPerm+"' media='audio'/>")
	if p := permOf(findSelfPresence(out, "guest1@example.test/g")); p == nil || p.Attr("muted") != "" {
		t.Fatalf("unmute:\n%s", dump(out))
	}
	// H holds grant_roles (a token's override) but not kick: it may
	// revoke, not grant what it lacks.
	expectError(t, h.permIQ("helper@example.test/h", room,
		"<override xmlns='"+NSPerm+"' nick='G'><permission name='kick' allow='true'/></override>"), "helper@example.test/h", stanza.Forbidden)
	out = h.permIQ("helper@example.test/h", room,
		"<override xmlns='"+NSPerm+"' nick='G'><permission name='publish_video' allow='false'/></override>")
	if p := permOf(findSelfPresence(out, "guest1@example.test/g")); p == nil || strings.Contains(p.Attr("allow"), "publish_video") {
		t.Fatalf("override:\n%s", dump(out))
	}
	// G may not unmute video now that it may not publish it.
	h.permIQ("guest1@example.test/g", room, "<mute xmlns='"+NSPerm+"' media='video'/>")
	expectError(t, h.permIQ("guest1@example.test/g", room, "<unmute xmlns='"+NSPerm+"' media='video'/>"), "guest1@example.test/g", stanza.Forbidden)
	expectError(t, h.permIQ("owner@example.test/o", room, "<mute xmlns='"+NSPerm+"' nick='G' media='smell'/>"), "owner@example.test/o", stanza.BadRequest)
	expectError(t, h.permIQ("owner@example.test/o", room, "<mute xmlns='"+NSPerm+"' nick='nobody'/>"), "owner@example.test/o", stanza.ItemNotFound)
	expectError(t, h.permIQ("guest1@example.test/g", room, "<mute xmlns='"+NSPerm+"' nick='owner'/>"), "guest1@example.test/g", stanza.NotAllowed)
}

func TestLockRoom(t *testing.T) {
	h := newHarness(t, identities(map[string]perm.Overrides{
		"owner@example.test": {Revoke: perm.Of(perm.LockRoom)},
	}))
	room := h.room("lock")
	h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='ada@example.test'/>")
	h.mustJoin("ada@example.test/a", room+"/Ada")
	// The owner may rename but, without lock_room, not set a password.
	h.configure("owner@example.test/o", room, map[string]string{fieldName: "Lock"})
	expectError(t, h.submit("owner@example.test/o", room, map[string]string{fieldPasswordProt: "1", fieldSecret: "x"}),
		"owner@example.test/o", stanza.Forbidden)
	// An admin (moderator) may set the password, but nothing else.
	h.configure("ada@example.test/a", room, map[string]string{fieldPasswordProt: "1", fieldSecret: "x"})
	expectError(t, h.submit("ada@example.test/a", room, map[string]string{fieldName: "Mine"}), "ada@example.test/a", stanza.Forbidden)
	if ri, _ := h.svc.Room("lock"); !ri.Config.PasswordProtected || ri.Config.Name != "Lock" {
		t.Errorf("config %+v", ri.Config)
	}
	if h.svc.Stats().Refused["lock_room"] != 1 {
		t.Errorf("refusals %v", h.svc.Stats().Refused)
	}
}

func TestIdentityModerator(t *testing.T) {
	h := newHarness(t, func(c *Config) {
		c.Identify = func(real jid.JID) Identity { return Identity{Anonymous: true, Moderator: real.Local == "mod"} }
	})
	room := h.room("tok")
	out := h.mustJoin("mod@example.test/m", room+"/Mod")
	self := findSelfPresence(out, "mod@example.test/m")
	if item(self).Attr("role") != "moderator" || permOf(self).Attr("role") != "moderator" {
		t.Fatalf("a token's moderator claim: %s", self)
	}
	h.mustJoin("guest@example.test/g", room+"/G")
	out = h.admin("mod@example.test/m", room, "<item nick='G' role='none'/>")
	if res := findTo(out, "mod@example.test/m", "iq"); res == nil || res.Attr("type") != "result" {
		t.Fatalf("the token moderator could not kick:\n%s", dump(out))
	}
}

func TestRoleDefaultsPersist(t *testing.T) {
	dir := t.TempDir()
	cfg := DefaultRoomConfig()
	cfg.Persistent = true
	cfg.RoleDefaults = perm.Defaults{perm.Guest: {Revoke: perm.Of(perm.PublishVideo)}}
	h := newHarness(t, func(c *Config) { c.DataDir, c.DefaultRoomConfig = dir, &cfg })
	h.room("kept")
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	h2 := newHarness(t, func(c *Config) { c.DataDir = dir }, identities(nil))
	ri, ok := h2.svc.Room("kept")
	if !ok || ri.Config.RoleDefaults[perm.Guest] != cfg.RoleDefaults[perm.Guest] {
		t.Fatalf("restored role defaults: %+v", ri.Config.RoleDefaults)
	}
	out := h2.mustJoin("guest1@example.test/g", "kept@"+testDomain+"/G")
	if p := permOf(findSelfPresence(out, "guest1@example.test/g")); strings.Contains(p.Attr("allow"), "publish_video") {
		t.Errorf("the restored defaults do not apply: %s", p)
	}
}

package muc

import (
	"slices"
	"testing"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// adminRoom makes a room with owner "owner", admin "Ada", member "Mem" and
// participant "Pat".
func adminRoom(t *testing.T, h *harness, name string) string {
	t.Helper()
	room := h.room(name)
	for _, it := range []string{
		"<item affiliation='admin' jid='ada@example.test'/>",
		"<item affiliation='member' jid='mem@example.test'/>",
	} {
		if out := h.admin("owner@example.test/o", room, it); findTo(out, "owner@example.test/o", "iq").Attr("type") != "result" {
			t.Fatalf("setting %s failed:\n%s", it, dump(out))
		}
	}
	h.mustJoin("ada@example.test/a", room+"/Ada")
	h.mustJoin("mem@example.test/m", room+"/Mem")
	h.mustJoin("pat@example.test/p", room+"/Pat")
	return room
}

func iqResultTo(out []*xmlstream.Element, to string) bool {
	r := findTo(out, to, "iq")
	return r != nil && r.Attr("type") == "result"
}

func TestKick(t *testing.T) {
	h := newHarness(t)
	room := adminRoom(t, h, "kick")
	// A participant may not kick (XEP-0045 §8.2: forbidden).
	expectError(t, h.admin("pat@example.test/p", room, "<item nick='Mem' role='none'/>"), "pat@example.test/p", stanza.Forbidden)
	// Nobody kicks admins or owners, not even another admin.
	expectError(t, h.admin("ada@example.test/a", room, "<item nick='owner' role='none'/>"), "ada@example.test/a", stanza.NotAllowed)
	expectError(t, h.admin("owner@example.test/o", room, "<item nick='Ada' role='none'/>"), "owner@example.test/o", stanza.NotAllowed)
	expectError(t, h.admin("ada@example.test/a", room, "<item nick='nobody' role='none'/>"), "ada@example.test/a", stanza.ItemNotFound)
	expectError(t, h.admin("ada@example.test/a", room, "<item nick='Ada' role='none'/>"), "ada@example.test/a", stanza.Conflict)

	out := h.admin("ada@example.test/a", room, "<item nick='Pat' role='none'><reason>spam</reason></item>")
	if !iqResultTo(out, "ada@example.test/a") {
		t.Fatalf("kick refused:\n%s", dump(out))
	}
	kicked := findTo(out, "pat@example.test/p", "presence")
	if kicked == nil || kicked.Attr("type") != "unavailable" || !hasStatus(kicked, 307) || !hasStatus(kicked, 110) {
		t.Fatalf("kicked occupant not told:\n%s", dump(out))
	}
	it := item(kicked)
	if it.Attr("role") != "none" || it.ChildText(NSMUCUser, "reason") != "spam" || it.Child(NSMUCUser, "actor").Attr("nick") != "Ada" {
		t.Errorf("kick item = %s", it)
	}
	for _, to := range []string{"owner@example.test/o", "mem@example.test/m"} {
		if p := findTo(out, to, "presence"); p == nil || !hasStatus(p, 307) || hasStatus(p, 110) {
			t.Errorf("%s not told of the kick:\n%s", to, dump(out))
		}
	}
	if ri, _ := h.svc.Room("kick"); len(ri.Occupants) != 3 {
		t.Errorf("occupants = %+v", ri.Occupants)
	}
	// A kick is not a ban: Pat may come back.
	h.mustJoin("pat@example.test/p", room+"/Pat")
}

func TestModeratorWithoutAffiliationCannotKickHigher(t *testing.T) {
	h := newHarness(t)
	room := adminRoom(t, h, "mods")
	// The owner makes Pat (affiliation none) a moderator.
	out := h.admin("owner@example.test/o", room, "<item nick='Pat' role='moderator'/>")
	if !iqResultTo(out, "owner@example.test/o") {
		t.Fatalf("grant moderator refused:\n%s", dump(out))
	}
	if p := findTo(out, "mem@example.test/m", "presence"); p == nil || item(p).Attr("role") != "moderator" {
		t.Errorf("role change not broadcast:\n%s", dump(out))
	}
	// The new moderator now learns everyone's real JID.
	var seen []string
	for _, p := range allTo(out, "pat@example.test/p") {
		if p.Attr("from") != room+"/Pat" {
			seen = append(seen, item(p).Attr("jid"))
		}
	}
	if want := []string{"ada@example.test/a", "mem@example.test/m", "owner@example.test/o"}; !slices.Equal(seen, want) {
		t.Errorf("new moderator saw JIDs %v, want %v", seen, want)
	}
	// Pat, a moderator with affiliation none, cannot kick the member Mem.
	expectError(t, h.admin("pat@example.test/p", room, "<item nick='Mem' role='none'/>"), "pat@example.test/p", stanza.NotAllowed)
	// Nor make others moderators.
	expectError(t, h.admin("pat@example.test/p", room, "<item nick='Mem' role='moderator'/>"), "pat@example.test/p", stanza.NotAllowed)
	// An admin revokes Pat's moderation.
	if out := h.admin("ada@example.test/a", room, "<item nick='Pat' role='participant'/>"); !iqResultTo(out, "ada@example.test/a") {
		t.Fatalf("revoke moderator refused:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("mods"); roleOf(ri, "Pat") != RoleParticipant {
		t.Errorf("Pat's role = %s", roleOf(ri, "Pat"))
	}
}

func roleOf(ri RoomInfo, nick string) Role {
	for _, o := range ri.Occupants {
		if o.Nick == nick {
			return o.Role
		}
	}
	return ""
}

func TestVoiceInModeratedRoom(t *testing.T) {
	h := newHarness(t)
	room := h.room("voice")
	h.configure("owner@example.test/o", room, map[string]string{fieldModerated: "1"})
	out := h.mustJoin("vic@example.test/v", room+"/Vic")
	if item(findSelfPresence(out, "vic@example.test/v")).Attr("role") != "visitor" {
		t.Fatal("newcomer to a moderated room is not a visitor")
	}
	msg := "<message type='groupchat' from='vic@example.test/v' to='" + room + "'><body>may I?</body></message>"
	expectError(t, h.send("%s", msg), "vic@example.test/v", stanza.Forbidden)
	if out := h.admin("owner@example.test/o", room, "<item nick='Vic' role='participant'/>"); !iqResultTo(out, "owner@example.test/o") {
		t.Fatalf("grant voice refused:\n%s", dump(out))
	}
	if out := h.send("%s", msg); len(out) != 2 {
		t.Fatalf("voiced occupant could not speak:\n%s", dump(out))
	}
	h.admin("owner@example.test/o", room, "<item nick='Vic' role='visitor'/>")
	expectError(t, h.send("%s", msg), "vic@example.test/v", stanza.Forbidden)
	// Admins and owners cannot lose their voice.
	h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='ada@example.test'/>")
	h.mustJoin("ada@example.test/a", room+"/Ada")
	expectError(t, h.admin("owner@example.test/o", room, "<item nick='Ada' role='visitor'/>"), "owner@example.test/o", stanza.NotAllowed)
}

func TestBan(t *testing.T) {
	h := newHarness(t)
	room := adminRoom(t, h, "ban")
	// Members and participants cannot ban.
	expectError(t, h.admin("mem@example.test/m", room, "<item affiliation='outcast' jid='pat@example.test'/>"), "mem@example.test/m", stanza.Forbidden)
	// Admins cannot ban admins or owners.
	expectError(t, h.admin("ada@example.test/a", room, "<item affiliation='outcast' jid='owner@example.test'/>"), "ada@example.test/a", stanza.NotAllowed)

	out := h.admin("ada@example.test/a", room, "<item affiliation='outcast' jid='pat@example.test'><reason>bye</reason></item>")
	if !iqResultTo(out, "ada@example.test/a") {
		t.Fatalf("ban refused:\n%s", dump(out))
	}
	banned := findTo(out, "pat@example.test/p", "presence")
	if banned == nil || banned.Attr("type") != "unavailable" || !hasStatus(banned, 301) || item(banned).Attr("affiliation") != "outcast" {
		t.Fatalf("banned occupant not told:\n%s", dump(out))
	}
	if p := findTo(out, "owner@example.test/o", "presence"); p == nil || !hasStatus(p, 301) {
		t.Errorf("others not told of the ban:\n%s", dump(out))
	}
	expectError(t, h.join("pat@example.test/other", room+"/Pat2", true), "pat@example.test/other", stanza.Forbidden)

	// The outcast list shows Pat; the admin sees it, a member does not.
	out = h.send("<iq type='get' id='l' from='ada@example.test/a' to='%s'><query xmlns='%s'><item affiliation='outcast'/></query></iq>", room, NSMUCAdmin)
	res := findTo(out, "ada@example.test/a", "iq")
	items := res.Child(NSMUCAdmin, "query").ChildrenNamed(NSMUCAdmin, "item")
	if len(items) != 1 || items[0].Attr("jid") != "pat@example.test" {
		t.Errorf("outcast list = %s", res)
	}
	out = h.send("<iq type='get' id='l' from='mem@example.test/m' to='%s'><query xmlns='%s'><item affiliation='member'/></query></iq>", room, NSMUCAdmin)
	expectError(t, out, "mem@example.test/m", stanza.Forbidden)

	// Lifting the ban lets Pat back in.
	h.admin("ada@example.test/a", room, "<item affiliation='none' jid='pat@example.test'/>")
	h.mustJoin("pat@example.test/p", room+"/Pat")
}

func TestAffiliationLists(t *testing.T) {
	h := newHarness(t)
	room := adminRoom(t, h, "lists")
	h.admin("owner@example.test/o", room, "<item affiliation='member' jid='zed@example.test'/>")
	for _, tc := range []struct {
		aff  string
		want []string
	}{
		{"member", []string{"mem@example.test", "zed@example.test"}},
		{"admin", []string{"ada@example.test"}},
		{"owner", []string{"owner@example.test"}},
	} {
		out := h.send("<iq type='get' id='l' from='ada@example.test/a' to='%s'><query xmlns='%s'><item affiliation='%s'/></query></iq>", room, NSMUCAdmin, tc.aff)
		res := findTo(out, "ada@example.test/a", "iq")
		if res == nil || res.Attr("type") != "result" {
			t.Fatalf("%s list refused:\n%s", tc.aff, dump(out))
		}
		var got []string
		for _, it := range res.Child(NSMUCAdmin, "query").ChildrenNamed(NSMUCAdmin, "item") {
			got = append(got, it.Attr("jid"))
		}
		if len(got) != len(tc.want) || got[0] != tc.want[0] || got[len(got)-1] != tc.want[len(tc.want)-1] {
			t.Errorf("%s list = %v, want %v", tc.aff, got, tc.want)
		}
	}
	// Role list for moderators.
	out := h.send("<iq type='get' id='r' from='ada@example.test/a' to='%s'><query xmlns='%s'><item role='participant'/></query></iq>", room, NSMUCAdmin)
	items := findTo(out, "ada@example.test/a", "iq").Child(NSMUCAdmin, "query").ChildrenNamed(NSMUCAdmin, "item")
	if len(items) != 2 || items[0].Attr("nick") != "Mem" || items[1].Attr("nick") != "Pat" {
		t.Errorf("participant list:\n%s", dump(out))
	}
	expectError(t, h.send("<iq type='get' id='r' from='pat@example.test/p' to='%s'><query xmlns='%s'><item role='moderator'/></query></iq>", room, NSMUCAdmin), "pat@example.test/p", stanza.Forbidden)
	expectError(t, h.send("<iq type='get' id='r' from='ada@example.test/a' to='%s'><query xmlns='%s'><item affiliation='bogus'/></query></iq>", room, NSMUCAdmin), "ada@example.test/a", stanza.BadRequest)
}

func TestAffiliationChangesRoles(t *testing.T) {
	h := newHarness(t)
	room := adminRoom(t, h, "promote")
	out := h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='pat@example.test'/>")
	if p := findTo(out, "mem@example.test/m", "presence"); p == nil || item(p).Attr("affiliation") != "admin" || item(p).Attr("role") != "moderator" {
		t.Fatalf("promotion not broadcast:\n%s", dump(out))
	}
	// Admins may not create admins.
	expectError(t, h.admin("ada@example.test/a", room, "<item affiliation='admin' jid='mem@example.test'/>"), "ada@example.test/a", stanza.NotAllowed)
	out = h.admin("owner@example.test/o", room, "<item affiliation='none' jid='pat@example.test'/>")
	if p := findTo(out, "mem@example.test/m", "presence"); p == nil || item(p).Attr("role") != "participant" {
		t.Fatalf("demotion not broadcast:\n%s", dump(out))
	}
	// A bad item refuses the whole request.
	out = h.send("<iq type='set' id='m' from='owner@example.test/o' to='%s'><query xmlns='%s'><item affiliation='member' jid='x@example.test'/><item affiliation='bogus' jid='y@example.test'/></query></iq>", room, NSMUCAdmin)
	expectError(t, out, "owner@example.test/o", stanza.BadRequest)
	if ri, _ := h.svc.Room("promote"); ri.Affiliations[mustJID("x@example.test")] != "" {
		t.Error("part of a refused request was applied")
	}
	for _, bad := range []string{"<item/>", "<item role='moderator' affiliation='admin' nick='Pat'/>", "<item affiliation='member'/>", "<item affiliation='member' jid='@@'/>"} {
		out := h.admin("owner@example.test/o", room, bad)
		if c := errCond(findTo(out, "owner@example.test/o", "iq")); c != "bad-request" && c != "jid-malformed" {
			t.Errorf("%s: %s", bad, dump(out))
		}
	}
}

func TestLastOwnerCannotLeaveOwnership(t *testing.T) {
	h := newHarness(t)
	room := h.room("owners")
	expectError(t, h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='owner@example.test'/>"), "owner@example.test/o", stanza.Conflict)
	h.admin("owner@example.test/o", room, "<item affiliation='owner' jid='second@example.test'/>")
	if out := h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='owner@example.test'/>"); !iqResultTo(out, "owner@example.test/o") {
		t.Fatalf("stepping down with another owner left was refused:\n%s", dump(out))
	}
}

func TestServerAdminsOwnEveryRoom(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Admins = []jid.JID{mustJID("root@example.test")} })
	room := h.room("anyroom")
	out := h.send("<iq type='get' id='f' from='root@example.test/laptop' to='%s'><query xmlns='%s'/></iq>", room, NSMUCOwner)
	if !iqResultTo(out, "root@example.test/laptop") {
		t.Fatalf("server admin denied the config form:\n%s", dump(out))
	}
	out = h.mustJoin("root@example.test/laptop", room+"/root")
	if it := item(findSelfPresence(out, "root@example.test/laptop")); it.Attr("affiliation") != "owner" || it.Attr("role") != "moderator" {
		t.Errorf("server admin item = %s", it)
	}
	// Nobody can ban a server admin.
	expectError(t, h.admin("owner@example.test/o", room, "<item affiliation='outcast' jid='root@example.test'/>"), "owner@example.test/o", stanza.NotAllowed)
}

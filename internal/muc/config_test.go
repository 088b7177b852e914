package muc

import (
	"errors"
	"fmt"
	"strconv"
	"testing"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

func formValues(x *xmlstream.Element) map[string]string {
	vals := map[string]string{}
	for _, f := range x.ChildrenNamed(NSDataForms, "field") {
		vals[f.Attr("var")] = f.ChildText(NSDataForms, "value")
	}
	return vals
}

func TestConfigFormRoundTrip(t *testing.T) {
	h := newHarness(t)
	room := h.room("cfg")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	expectError(t, h.send("<iq type='get' id='f' from='bob@example.test/b' to='%s'><query xmlns='%s'/></iq>", room, NSMUCOwner), "bob@example.test/b", stanza.Forbidden)
	expectError(t, h.submit("bob@example.test/b", room, nil), "bob@example.test/b", stanza.Forbidden)

	out := h.send("<iq type='get' id='f' from='owner@example.test/o' to='%s'><query xmlns='%s'/></iq>", room, NSMUCOwner)
	form := findTo(out, "owner@example.test/o", "iq").Child(NSMUCOwner, "query").Child(NSDataForms, "x")
	vals := formValues(form)
	for _, f := range []string{fieldName, fieldDesc, fieldPasswordProt, fieldSecret, fieldMembersOnly, fieldModerated,
		fieldMaxUsers, fieldPersistent, fieldPublic, fieldWhoIs, fieldChangeSubject} {
		if _, ok := vals[f]; !ok {
			t.Errorf("form lacks %s", f)
		}
	}
	if vals[fieldFormType] != NSRoomConfig || vals[fieldWhoIs] != "moderators" || vals[fieldPublic] != "1" || vals[fieldMaxUsers] != "none" {
		t.Errorf("form values = %v", vals)
	}

	out = h.submit("owner@example.test/o", room, map[string]string{
		fieldName: "Cfg Room", fieldDesc: "about", fieldMaxUsers: "30", fieldWhoIs: "anyone",
		fieldPublic: "0", fieldPersistent: "true", fieldChangeSubject: "1", "x-unknown": "ignored",
	})
	if !iqResultTo(out, "owner@example.test/o") {
		t.Fatalf("submit refused:\n%s", dump(out))
	}
	note := findTo(out, "bob@example.test/b", "message")
	if note == nil || note.Attr("from") != room || !hasStatus(note, 104) || !hasStatus(note, 172) {
		t.Errorf("occupants not told of the change:\n%s", dump(out))
	}
	ri, _ := h.svc.Room("cfg")
	want := RoomConfig{Name: "Cfg Room", Description: "about", MaxUsers: 30, WhoIs: WhoIsAnyone, Persistent: true, ChangeSubject: true}
	if !configEqual(ri.Config, want) {
		t.Errorf("config = %+v\nwant %+v", ri.Config, want)
	}
	out = h.send("<iq type='get' id='f' from='owner@example.test/o' to='%s'><query xmlns='%s'/></iq>", room, NSMUCOwner)
	vals = formValues(findTo(out, "owner@example.test/o", "iq").Child(NSMUCOwner, "query").Child(NSDataForms, "x"))
	if vals[fieldName] != "Cfg Room" || vals[fieldMaxUsers] != "30" || vals[fieldWhoIs] != "anyone" || vals[fieldPersistent] != "1" {
		t.Errorf("form after submit = %v", vals)
	}
}

func TestConfigFormRejectsBadValues(t *testing.T) {
	h := newHarness(t)
	room := h.room("badcfg")
	for _, tc := range []struct {
		fields map[string]string
		cond   stanza.Condition
	}{
		{map[string]string{fieldMaxUsers: "-3"}, stanza.NotAcceptable},
		{map[string]string{fieldMaxUsers: "lots"}, stanza.NotAcceptable},
		{map[string]string{fieldWhoIs: "everyone"}, stanza.NotAcceptable},
		{map[string]string{fieldModerated: "maybe"}, stanza.NotAcceptable},
		{map[string]string{fieldPasswordProt: "1"}, stanza.NotAcceptable}, // no secret
	} {
		expectError(t, h.submit("owner@example.test/o", room, tc.fields), "owner@example.test/o", tc.cond)
	}
	out := h.send("<iq type='set' id='x' from='owner@example.test/o' to='%s'><query xmlns='%s'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>urn:other</value></field></x></query></iq>", room, NSMUCOwner)
	expectError(t, out, "owner@example.test/o", stanza.BadRequest)
	out = h.send("<iq type='set' id='x' from='owner@example.test/o' to='%s'><query xmlns='%s'/></iq>", room, NSMUCOwner)
	expectError(t, out, "owner@example.test/o", stanza.BadRequest)
	if ri, _ := h.svc.Room("badcfg"); !configEqual(ri.Config, DefaultRoomConfig()) {
		t.Errorf("a refused form changed the config: %+v", ri.Config)
	}
}

func TestPasswordProtectedRoom(t *testing.T) {
	h := newHarness(t)
	room := h.room("secret")
	h.configure("owner@example.test/o", room, map[string]string{fieldPasswordProt: "1", fieldSecret: "s3cret"})
	for _, x := range []string{"", "<x xmlns='" + NSMUC + "'/>", "<x xmlns='" + NSMUC + "'><password>wrong</password></x>"} {
		out := h.send("<presence from='bob@example.test/b' to='%s/Bob'>%s</presence>", room, x)
		expectError(t, out, "bob@example.test/b", stanza.NotAuthorized)
	}
	out := h.send("<presence from='bob@example.test/b' to='%s/Bob'><x xmlns='%s'><password>s3cret</password></x></presence>", room, NSMUC)
	if findSelfPresence(out, "bob@example.test/b") == nil {
		t.Fatalf("right password refused:\n%s", dump(out))
	}
	if p := findTo(out, "owner@example.test/o", "presence"); p.Child(NSMUC, "x") != nil {
		t.Error("the password was broadcast")
	}
}

func TestMembersOnlyRoom(t *testing.T) {
	h := newHarness(t)
	room := h.room("club")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.admin("owner@example.test/o", room, "<item affiliation='member' jid='mem@example.test'/>")
	out := h.submit("owner@example.test/o", room, map[string]string{fieldMembersOnly: "1"})
	p := findTo(out, "bob@example.test/b", "presence")
	if p == nil || p.Attr("type") != "unavailable" || !hasStatus(p, 322) {
		t.Fatalf("non-member not removed on the switch to members-only:\n%s", dump(out))
	}
	expectError(t, h.join("bob@example.test/b", room+"/Bob", true), "bob@example.test/b", stanza.RegistrationRequired)
	h.mustJoin("mem@example.test/m", room+"/Mem")
	// Losing membership removes the occupant with 321.
	out = h.admin("owner@example.test/o", room, "<item affiliation='none' jid='mem@example.test'/>")
	if p := findTo(out, "mem@example.test/m", "presence"); p == nil || !hasStatus(p, 321) {
		t.Errorf("ex-member not removed:\n%s", dump(out))
	}
}

func TestMaxUsers(t *testing.T) {
	h := newHarness(t)
	room := h.room("small")
	h.configure("owner@example.test/o", room, map[string]string{fieldMaxUsers: "2"})
	h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='ada@example.test'/>")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	expectError(t, h.join("carol@example.test/c", room+"/Carol", true), "carol@example.test/c", stanza.ServiceUnavailable)
	h.mustJoin("ada@example.test/a", room+"/Ada") // admins may always enter
}

func TestDestroyRoom(t *testing.T) {
	h := newHarness(t)
	room := h.room("doomed")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	destroy := "<iq type='set' id='d' from='%s' to='" + room + "'><query xmlns='" + NSMUCOwner + "'><destroy jid='new@" + testDomain + "'><reason>moving</reason></destroy></query></iq>"
	expectError(t, h.send(destroy, "bob@example.test/b"), "bob@example.test/b", stanza.Forbidden)
	h.takeEvents()
	out := h.send(destroy, "owner@example.test/o")
	if !iqResultTo(out, "owner@example.test/o") {
		t.Fatalf("destroy refused:\n%s", dump(out))
	}
	for _, to := range []string{"owner@example.test/o", "bob@example.test/b"} {
		p := findTo(out, to, "presence")
		if p == nil || p.Attr("type") != "unavailable" {
			t.Fatalf("%s not told:\n%s", to, dump(out))
		}
		d := p.Child(NSMUCUser, "x").Child(NSMUCUser, "destroy")
		if d == nil || d.Attr("jid") != "new@"+testDomain || d.ChildText(NSMUCUser, "reason") != "moving" || item(p).Attr("affiliation") != "none" {
			t.Errorf("destroy presence = %s", p)
		}
	}
	if _, ok := h.svc.Room("doomed"); ok {
		t.Fatal("room survived destruction")
	}
	evs := h.takeEvents()
	if len(evs) != 3 || evs[2].Kind != RoomDestroyed {
		t.Errorf("events = %+v", evs)
	}
	if h.svc.Stats().Sessions != 0 {
		t.Errorf("sessions still tracked: %+v", h.svc.Stats())
	}
}

func TestDisco(t *testing.T) {
	h := newHarness(t)
	pub := h.room("public")
	hidden := h.room("hidden")
	h.configure("owner@example.test/o", hidden, map[string]string{fieldPublic: "0"})
	h.join("owner@example.test/o", "lockedroom@"+testDomain+"/owner", true)

	out := h.send("<iq type='get' id='i' from='bob@example.test/b' to='%s'><query xmlns='%s'/></iq>", testDomain, NSDiscoInfo)
	q := findTo(out, "bob@example.test/b", "iq").Child(NSDiscoInfo, "query")
	id := q.Child(NSDiscoInfo, "identity")
	if id.Attr("category") != "conference" || id.Attr("type") != "text" || !hasFeature(q, NSMUC) {
		t.Errorf("service info = %s", q)
	}
	out = h.send("<iq type='get' id='i' from='bob@example.test/b' to='%s'><query xmlns='%s'/></iq>", testDomain, NSDiscoItems)
	items := findTo(out, "bob@example.test/b", "iq").Child(NSDiscoItems, "query").ChildrenNamed(NSDiscoItems, "item")
	if len(items) != 1 || items[0].Attr("jid") != pub {
		t.Errorf("public rooms:\n%s", dump(out))
	}

	h.mustJoin("bob@example.test/b", pub+"/Bob")
	info := func() *xmlstream.Element {
		out := h.send("<iq type='get' id='r' from='bob@example.test/b' to='%s'><query xmlns='%s'/></iq>", pub, NSDiscoInfo)
		return findTo(out, "bob@example.test/b", "iq").Child(NSDiscoInfo, "query")
	}
	q = info()
	for _, f := range []string{NSMUC, "muc_unsecured", "muc_temporary", "muc_open", "muc_unmoderated", "muc_semianonymous"} {
		if !hasFeature(q, f) {
			t.Errorf("room info lacks %s: %s", f, q)
		}
	}
	if n := formValues(q.Child(NSDataForms, "x"))["muc#roominfo_occupants"]; n != "2" {
		t.Errorf("occupants = %q", n)
	}
	h.configure("owner@example.test/o", pub, map[string]string{fieldPasswordProt: "1", fieldSecret: "x", fieldPersistent: "1",
		fieldMembersOnly: "0", fieldModerated: "1", fieldWhoIs: "anyone", fieldDesc: "d"})
	q = info()
	for _, f := range []string{"muc_passwordprotected", "muc_persistent", "muc_moderated", "muc_nonanonymous"} {
		if !hasFeature(q, f) {
			t.Errorf("room info lacks %s: %s", f, q)
		}
	}
	if formValues(q.Child(NSDataForms, "x"))["muc#roominfo_description"] != "d" || formValues(q.Child(NSDataForms, "x"))[fieldFormType] != NSRoomInfo {
		t.Errorf("roominfo form = %s", q.Child(NSDataForms, "x"))
	}

	// Room items: occupants in a non-anonymous room, none in a semi-anonymous one.
	for _, tc := range []struct {
		room string
		n    int
	}{{pub, 2}, {hidden, 0}} {
		out := h.send("<iq type='get' id='it' from='bob@example.test/b' to='%s'><query xmlns='%s'/></iq>", tc.room, NSDiscoItems)
		items := findTo(out, "bob@example.test/b", "iq").Child(NSDiscoItems, "query").ChildrenNamed(NSDiscoItems, "item")
		if len(items) != tc.n {
			t.Errorf("%s items:\n%s", tc.room, dump(out))
		}
		if tc.n > 0 && items[0].Attr("jid") != pub+"/Bob" {
			t.Errorf("item = %s", items[0])
		}
	}

	// disco#info to room/nick goes to the occupant like any IQ.
	out = h.send("<iq type='get' id='c' from='bob@example.test/b' to='%s/owner'><query xmlns='%s'/></iq>", pub, NSDiscoInfo)
	if len(out) != 1 || out[0].Attr("to") != "owner@example.test/o" || out[0].Attr("from") != pub+"/Bob" || out[0].Attr("type") != "get" {
		t.Errorf("disco to occupant:\n%s", dump(out))
	}
}

func hasFeature(q *xmlstream.Element, f string) bool {
	for _, e := range q.ChildrenNamed(NSDiscoInfo, "feature") {
		if e.Attr("var") == f {
			return true
		}
	}
	return false
}

func TestParseMaxUsers(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
		ok   bool
	}{{"", 0, true}, {"none", 0, true}, {"0", 0, true}, {"50", 50, true}, {strconv.Itoa(maxUsersLimit), maxUsersLimit, true},
		{strconv.Itoa(maxUsersLimit + 1), 0, false}, {"-1", 0, false}, {"1e3", 0, false}} {
		got, err := parseMaxUsers(tc.in)
		if got != tc.want || (err == nil) != tc.ok {
			t.Errorf("parseMaxUsers(%q) = %d, %v", tc.in, got, err)
		}
	}
}

// The room's lastN (parley#last-n): a moderator holding lock_room sets it
// without being an owner, a participant may not, a bad value changes
// nothing, and each change reaches OnEvent as RoomConfigured with LastN.
func TestRoomLastN(t *testing.T) {
	h := newHarness(t)
	room := h.room("lastn")
	h.admin("owner@example.test/o", room, "<item affiliation='admin' jid='ada@example.test'/>")
	h.mustJoin("ada@example.test/a", room+"/Ada")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.takeEvents()
	configured := func() []int {
		var out []int
		for _, ev := range h.takeEvents() {
			if ev.Kind == RoomConfigured {
				out = append(out, ev.LastN)
			}
		}
		return out
	}
	lastN := func() int {
		ri, ok := h.svc.Room("lastn")
		if !ok {
			t.Fatal("the room is gone")
		}
		return ri.Config.LastN
	}
	h.configure("ada@example.test/a", room, map[string]string{fieldLastN: "3"})
	if got := lastN(); got != 3 {
		t.Fatalf("lastN %d after the moderator set 3", got)
	}
	if got := configured(); fmt.Sprint(got) != "[3]" {
		t.Errorf("RoomConfigured events %v, want [3]", got)
	}
	expectError(t, h.submit("bob@example.test/b", room, map[string]string{fieldLastN: "9"}), "bob@example.test/b", stanza.Forbidden)
	for _, bad := range []string{"-1", "1001", "two"} {
		expectError(t, h.submit("owner@example.test/o", room, map[string]string{fieldLastN: bad}), "owner@example.test/o", stanza.NotAcceptable)
	}
	if got := lastN(); got != 3 {
		t.Errorf("lastN %d after refused changes, want 3", got)
	}
	// The same value again is no change; 0 removes the cap.
	h.configure("owner@example.test/o", room, map[string]string{fieldLastN: "3", fieldName: "Named"})
	h.configure("owner@example.test/o", room, map[string]string{fieldLastN: "0"})
	if got := configured(); fmt.Sprint(got) != "[0]" {
		t.Errorf("RoomConfigured events %v, want [0]", got)
	}
	// The form shows it; an occupant joining carries it in its event.
	h.configure("owner@example.test/o", room, map[string]string{fieldLastN: "2"})
	out := h.send("<iq type='get' id='g' from='owner@example.test/o' to='%s'><query xmlns='%s'/></iq>", room, NSMUCOwner)
	if f := fieldValue(t, out, fieldLastN); f != "2" {
		t.Errorf("the form's %s is %q, want 2", fieldLastN, f)
	}
	h.takeEvents()
	h.mustJoin("cy@example.test/c", room+"/Cy")
	for _, ev := range h.takeEvents() {
		if ev.Kind == OccupantJoined && ev.LastN != 2 {
			t.Errorf("Cy's join event says lastN %d, want 2", ev.LastN)
		}
	}
}

// fieldValue reads a field of the configuration form in out.
func fieldValue(t *testing.T, out []*xmlstream.Element, name string) string {
	t.Helper()
	for _, st := range out {
		q := st.Child(NSMUCOwner, "query")
		if q == nil || q.Child(NSDataForms, "x") == nil {
			continue
		}
		for _, f := range q.Child(NSDataForms, "x").ChildrenNamed(NSDataForms, "field") {
			if f.Attr("var") == name {
				if v := f.Child(NSDataForms, "value"); v != nil {
					return v.Text
				}
				return ""
			}
		}
	}
	t.Fatalf("no configuration form with %s in:\n%s", name, dump(out))
	return ""
}

// The admin API and `parley room set` change the room's lastN too
// (ChangeRoom); the call under way follows (RoomConfigured); a bad value
// changes nothing.
func TestChangeRoomLastN(t *testing.T) {
	h := newHarness(t)
	h.room("declared")
	h.takeEvents()
	n := 4
	ri, err := h.svc.ChangeRoom("declared", RoomSettings{LastN: &n})
	if err != nil || ri.Config.LastN != 4 {
		t.Fatalf("ChangeRoom lastN 4: %v, %+v", err, ri.Config)
	}
	var got []int
	for _, ev := range h.takeEvents() {
		if ev.Kind == RoomConfigured {
			got = append(got, ev.LastN)
		}
	}
	if fmt.Sprint(got) != "[4]" {
		t.Errorf("RoomConfigured events %v, want [4]", got)
	}
	bad := MaxLastN + 1
	var se *SettingsError
	if _, err := h.svc.ChangeRoom("declared", RoomSettings{LastN: &bad}); !errors.As(err, &se) {
		t.Errorf("lastN %d: %v, want a SettingsError", bad, err)
	}
	if ri, _ := h.svc.Room("declared"); ri.Config.LastN != 4 {
		t.Errorf("lastN %d after a refused change, want 4", ri.Config.LastN)
	}
}

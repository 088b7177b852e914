package muc

import (
	"testing"
	"time"

	"parley.dev/parley/internal/stanza"
)

func TestGroupchatReflection(t *testing.T) {
	h := newHarness(t)
	room := h.room("chat")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	out := h.send("<message type='groupchat' id='m1' from='bob@example.test/b' to='%s'><body>hi all</body></message>", room)
	if len(out) != 2 {
		t.Fatalf("want reflection to both occupants:\n%s", dump(out))
	}
	for _, to := range []string{"owner@example.test/o", "bob@example.test/b"} {
		m := findTo(out, to, "message")
		if m == nil || m.Attr("from") != room+"/Bob" || m.Attr("id") != "m1" || m.ChildText("", "body") != "hi all" || m.Attr("type") != "groupchat" {
			t.Errorf("reflection to %s = %v", to, m)
		}
	}
}

func TestGroupchatRefusals(t *testing.T) {
	h := newHarness(t)
	room := h.room("strict")
	h.configure("owner@example.test/o", room, map[string]string{fieldModerated: "1"})
	h.mustJoin("bob@example.test/b", room+"/Bob") // a visitor
	for _, tc := range []struct {
		name, stanza string
		to           string
		cond         stanza.Condition
	}{
		{"outsider", "<message type='groupchat' from='eve@example.test/e' to='" + room + "'><body>x</body></message>", "eve@example.test/e", stanza.NotAcceptable},
		{"visitor", "<message type='groupchat' from='bob@example.test/b' to='" + room + "'><body>x</body></message>", "bob@example.test/b", stanza.Forbidden},
		{"visitor subject", "<message type='groupchat' from='bob@example.test/b' to='" + room + "'><subject>x</subject></message>", "bob@example.test/b", stanza.Forbidden},
		{"chat to room", "<message type='chat' from='owner@example.test/o' to='" + room + "'><body>x</body></message>", "owner@example.test/o", stanza.BadRequest},
		{"missing room", "<message type='groupchat' from='bob@example.test/b' to='nowhere@" + testDomain + "'><body>x</body></message>", "bob@example.test/b", stanza.ItemNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			expectError(t, h.send("%s", tc.stanza), tc.to, tc.cond)
		})
	}
}

func TestHistoryLimits(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.HistorySize = 3 })
	room := h.room("hist")
	for _, body := range []string{"one", "two", "three", "four"} {
		h.send("<message type='groupchat' from='owner@example.test/o' to='%s'><body>%s</body></message>", room, body)
		h.advance(time.Minute)
	}
	// A message without a body (a chat state) is reflected but not kept.
	h.send("<message type='groupchat' from='owner@example.test/o' to='%s'><active xmlns='http://jabber.org/protocol/chatstates'/></message>", room)
	for _, tc := range []struct {
		name, x string
		want    []string
	}{
		{"default", "", []string{"two", "three", "four"}},
		{"maxstanzas", "<x xmlns='" + NSMUC + "'><history maxstanzas='1'/></x>", []string{"four"}},
		{"maxchars 0", "<x xmlns='" + NSMUC + "'><history maxchars='0'/></x>", nil},
		{"seconds", "<x xmlns='" + NSMUC + "'><history seconds='150'/></x>", []string{"three", "four"}},
		{"since", "<x xmlns='" + NSMUC + "'><history since='2026-01-02T03:06:00Z'/></x>", []string{"three", "four"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out := h.send("<presence from='r@example.test/%s' to='%s/%s'>%s</presence>", tc.name, room, "reader"+tc.name, tc.x)
			var got []string
			for _, st := range allTo(out, "r@example.test/"+tc.name) {
				if st.Name == "message" && st.Child("", "body") != nil {
					got = append(got, st.ChildText("", "body"))
				}
			}
			if len(got) != len(tc.want) {
				t.Fatalf("history = %v, want %v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Fatalf("history = %v, want %v", got, tc.want)
				}
			}
		})
	}
}

func TestSubjectPermissions(t *testing.T) {
	h := newHarness(t)
	room := h.room("topic")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	subj := "<message type='groupchat' from='bob@example.test/b' to='" + room + "'><subject>mine</subject></message>"
	expectError(t, h.send("%s", subj), "bob@example.test/b", stanza.Forbidden)

	h.configure("owner@example.test/o", room, map[string]string{fieldChangeSubject: "1"})
	out := h.send("%s", subj)
	if m := findTo(out, "owner@example.test/o", "message"); m == nil || m.ChildText("", "subject") != "mine" || m.Attr("from") != room+"/Bob" {
		t.Fatalf("subject change not reflected:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("topic"); ri.Subject != "mine" {
		t.Errorf("subject = %q", ri.Subject)
	}
	out = h.join("carol@example.test/c", room+"/Carol", false)
	last := out[len(out)-1]
	if last.ChildText("", "subject") != "mine" || last.Attr("from") != room+"/Bob" {
		t.Errorf("newcomer's subject = %s", last)
	}
}

func TestPrivateMessages(t *testing.T) {
	h := newHarness(t)
	room := h.room("pm")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	out := h.send("<message type='chat' id='p1' from='bob@example.test/b' to='%s/owner'><body>psst</body></message>", room)
	if len(out) != 1 {
		t.Fatalf("want one relayed message:\n%s", dump(out))
	}
	m := out[0]
	if m.Attr("to") != "owner@example.test/o" || m.Attr("from") != room+"/Bob" || m.Attr("id") != "p1" || m.ChildText("", "body") != "psst" || m.Child(NSMUCUser, "x") == nil {
		t.Errorf("relayed = %s", m)
	}
	expectError(t, h.send("<message type='chat' from='bob@example.test/b' to='%s/nobody'><body>x</body></message>", room), "bob@example.test/b", stanza.ItemNotFound)
	expectError(t, h.send("<message type='chat' from='eve@example.test/e' to='%s/owner'><body>x</body></message>", room), "eve@example.test/e", stanza.NotAcceptable)
	expectError(t, h.send("<message type='groupchat' from='bob@example.test/b' to='%s/owner'><body>x</body></message>", room), "bob@example.test/b", stanza.BadRequest)
}

func TestGhostOccupantsAreRemoved(t *testing.T) {
	h := newHarness(t)
	room := h.room("ghosts")
	h.mustJoin("bob@example.test/b", room+"/Bob")
	h.mustJoin("carol@example.test/c", room+"/Carol")

	// A refusal that does not mean "gone" keeps the occupant.
	out := h.send("<message type='error' from='bob@example.test/b' to='%s/owner'><error type='cancel'><feature-not-implemented xmlns='%s'/></error></message>", room, stanza.NSStanzas)
	if len(out) != 0 {
		t.Errorf("error message was answered or forwarded:\n%s", dump(out))
	}
	if ri, _ := h.svc.Room("ghosts"); len(ri.Occupants) != 3 {
		t.Fatal("occupant removed for a harmless error")
	}
	// A bounced message: Bob is gone.
	out = h.send("<message type='error' from='bob@example.test/b' to='%s/owner'><error type='wait'><recipient-unavailable xmlns='%s'/></error></message>", room, stanza.NSStanzas)
	if p := findTo(out, "owner@example.test/o", "presence"); p == nil || p.Attr("type") != "unavailable" || !hasStatus(p, 333) {
		t.Errorf("others not told of the ghost's removal:\n%s", dump(out))
	}
	if findTo(out, "bob@example.test/b", "") != nil {
		t.Error("the dead session was written to")
	}
	// A bounced presence: Carol is gone.
	h.send("<presence type='error' from='carol@example.test/c' to='%s/owner'><error type='cancel'><gone xmlns='%s'/></error></presence>", room, stanza.NSStanzas)
	ri, _ := h.svc.Room("ghosts")
	if len(ri.Occupants) != 1 || h.svc.Stats().GhostsRemoved != 2 {
		t.Errorf("occupants = %+v, stats = %+v", ri.Occupants, h.svc.Stats())
	}
}

func TestMediatedInvitation(t *testing.T) {
	h := newHarness(t)
	room := h.room("party")
	h.configure("owner@example.test/o", room, map[string]string{fieldMembersOnly: "1", fieldPasswordProt: "1", fieldSecret: "pw"})
	out := h.send("<message from='owner@example.test/o' to='%s'><x xmlns='%s'><invite to='dave@example.test'><reason>come</reason></invite></x></message>", room, NSMUCUser)
	m := findTo(out, "dave@example.test", "message")
	if m == nil || m.Attr("from") != room {
		t.Fatalf("no invitation:\n%s", dump(out))
	}
	inv := m.Child(NSMUCUser, "x").Child(NSMUCUser, "invite")
	if inv.Attr("from") != "owner@example.test/o" || inv.ChildText(NSMUCUser, "reason") != "come" {
		t.Errorf("invitation = %s", m)
	}
	if m.Child(NSMUCUser, "x").Child(NSMUCUser, "password") != nil {
		t.Error("the invitation carries a password: the room keeps only its hash")
	}
	if ri, _ := h.svc.Room("party"); ri.Affiliations[mustJID("dave@example.test")] != AffMember {
		t.Error("invitee to a members-only room did not become a member")
	}
	out = h.send("<presence from='dave@example.test/d' to='%s/Dave'><x xmlns='%s'><password>pw</password></x></presence>", room, NSMUC)
	if findSelfPresence(out, "dave@example.test/d") == nil {
		t.Fatalf("invited member could not join:\n%s", dump(out))
	}
	// A plain participant may not invite to a members-only room.
	out = h.send("<message from='dave@example.test/d' to='%s'><x xmlns='%s'><invite to='eve@example.test'/></x></message>", room, NSMUCUser)
	expectError(t, out, "dave@example.test/d", stanza.Forbidden)
}

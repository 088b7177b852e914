package muc

import (
	"testing"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

// fuzzSenders are the from addresses a fuzzed stanza may carry: the owner,
// an occupant, an outsider, a server admin.
var fuzzSenders = []string{"owner@example.test/o", "bob@example.test/b", "eve@example.test/e", "root@example.test/r"}

func FuzzHandleStanza(f *testing.F) {
	room := "fz@" + testDomain
	for _, s := range []string{
		"<presence to='" + room + "/x'><x xmlns='" + NSMUC + "'><history maxstanzas='2' since='2020-01-01T00:00:00Z'/><password>p</password></x></presence>",
		"<presence to='" + room + "/Bob' type='unavailable'/>",
		"<presence to='" + room + "/Other'/>",
		"<presence to='" + room + "/owner' type='error'><error type='cancel'><gone xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>",
		"<message to='" + room + "' type='groupchat'><body>x</body></message>",
		"<message to='" + room + "' type='groupchat'><subject>s</subject></message>",
		"<message to='" + room + "/Bob' type='chat'><body>x</body></message>",
		"<message to='" + room + "'><x xmlns='" + NSMUCUser + "'><invite to='z@example.test'/></x></message>",
		"<iq to='" + room + "/Bob' type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>",
		"<iq to='" + room + "/owner' type='result' id='muc1'/>",
		"<iq to='" + room + "' type='set' id='2'><query xmlns='" + NSMUCAdmin + "'><item nick='Bob' role='none'/><item affiliation='outcast' jid='bob@example.test'/></query></iq>",
		"<iq to='" + room + "' type='get' id='3'><query xmlns='" + NSMUCAdmin + "'><item affiliation='member'/></query></iq>",
		"<iq to='" + room + "' type='set' id='4'><query xmlns='" + NSMUCOwner + "'><x xmlns='jabber:x:data' type='submit'><field var='muc#roomconfig_maxusers'><value>1</value></field><field var='muc#roomconfig_membersonly'><value>1</value></field></x></query></iq>",
		"<iq to='" + room + "' type='set' id='5'><query xmlns='" + NSMUCOwner + "'><destroy jid='a@b'><reason>r</reason></destroy></query></iq>",
		"<iq to='" + room + "' type='get' id='6'><query xmlns='" + NSDiscoInfo + "'/></iq>",
		"<iq to='" + testDomain + "' type='get' id='7'><query xmlns='" + NSDiscoItems + "'/></iq>",
	} {
		for i := range fuzzSenders {
			f.Add([]byte(s), uint8(i))
		}
	}
	f.Fuzz(func(t *testing.T, data []byte, sender uint8) {
		st, err := xmlstream.ParseElementIn(data, xmlstream.Limits{}, xmlstream.NSClient)
		if err != nil {
			return
		}
		from := fuzzSenders[int(sender)%len(fuzzSenders)]
		st.SetAttr("from", from)
		router := &fakeRouter{}
		svc, err := New(Config{Domain: testDomain, Router: router, Admins: []jid.JID{mustJID("root@example.test")}})
		if err != nil {
			t.Fatal(err)
		}
		defer svc.Close()
		for _, s := range []string{
			"<presence from='owner@example.test/o' to='" + room + "/owner'/>",
			"<presence from='bob@example.test/b' to='" + room + "/Bob'/>",
			"<iq type='get' id='q' from='bob@example.test/b' to='" + room + "/owner'><ping xmlns='urn:xmpp:ping'/></iq>",
		} {
			svc.HandleStanza(parse(t, s))
		}
		router.take()
		svc.HandleStanza(st)
		for _, out := range router.take() {
			if out.Attr("to") == "" || out.Attr("from") == "" {
				t.Fatalf("unaddressed output %s", out)
			}
			if (st.Attr("type") == "error" || st.Name == "iq" && st.Attr("type") == "result") &&
				out.Attr("type") == "error" && out.Attr("to") == from && out.Attr("id") == st.Attr("id") {
				t.Fatalf("answered %s with %s", st, out)
			}
		}
		checkInvariants(t, svc)
	})
}

// checkInvariants verifies the service's tables agree with each other.
func checkInvariants(t *testing.T, svc *Service) {
	t.Helper()
	svc.mu.Lock()
	rooms := make([]*room, 0, len(svc.rooms))
	for _, r := range svc.rooms {
		rooms = append(rooms, r)
	}
	tracked := 0
	for _, set := range svc.occupantOf {
		tracked += len(set)
	}
	svc.mu.Unlock()
	present := 0
	for _, r := range rooms {
		r.mu.Lock()
		if r.isNew || r.gone {
			t.Errorf("room %s left in state new=%v gone=%v", r.jid, r.isNew, r.gone)
		}
		if len(r.occupants) != len(r.byJID) {
			t.Errorf("room %s: %d nicks but %d JIDs", r.jid, len(r.occupants), len(r.byJID))
		}
		for nick, o := range r.occupants {
			if o.nick != nick || r.byJID[o.real] != o {
				t.Errorf("room %s: occupant tables disagree on %q", r.jid, nick)
			}
			if r.affiliationOf(o.real) == AffOutcast {
				t.Errorf("room %s: outcast %s is present", r.jid, o.real)
			}
		}
		if len(r.occupants) == 0 && !r.config.Persistent {
			t.Errorf("empty temporary room %s kept", r.jid)
		}
		owners := 0
		for _, a := range r.affiliations {
			if a == AffOwner {
				owners++
			}
		}
		if owners == 0 {
			t.Errorf("room %s has no owner", r.jid)
		}
		present += len(r.occupants)
		r.mu.Unlock()
	}
	if present != tracked {
		t.Errorf("%d occupants present but %d tracked", present, tracked)
	}
}

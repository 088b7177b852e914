package app

import (
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"parley.dev/parley/internal/admin"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// The seed 003 scenario, end to end: a game platform declares a room that
// exists with nobody in it; hosts join with accounts, guests through the
// lobby; a guest cannot kick, mute, lock or end; a restart keeps the room
// and its settings.
func TestSeed003DeclaredRoomHostsAndGuests(t *testing.T) {
	data := t.TempDir()
	addUsers(t, data, "host1", "host2")
	srv := startRoomsServer(t, data, nil)
	room := "arena@conference." + testDomain

	// The platform declares the room through the admin API.
	var created admin.RoomView
	if code := call(t, "POST", srv.admin+"/api/rooms", adminToken, map[string]any{
		"name": "arena", "title": "Arena #1", "lobby": true, "max_users": 8, "owners": []string{"host1", "host2"},
	}, &created); code != http.StatusCreated {
		t.Fatalf("create: %d %+v", code, created)
	}
	var shown admin.RoomView
	if code := call(t, "GET", srv.admin+"/api/rooms/arena", adminToken, nil, &shown); code != 200 ||
		!shown.Declared || !shown.Lobby || shown.Title != "Arena #1" || len(shown.Participants) != 0 || len(shown.Owners) != 2 {
		t.Fatalf("show: %d %+v", code, shown)
	}

	// A host logs in with its account and enters as owner and moderator.
	host := mustLogin(t, srv.ws, func(c *xmppclient.Config) { c.Username, c.Password = "host1", "pw-host1" })
	host.send(joinPresence(room, "Host", ""))
	self := host.wait("the host's self-presence", selfPresence(room, "Host"))
	if it := self.Child(muc.NSMUCUser, "x").Child(muc.NSMUCUser, "item"); it.Attr("affiliation") != "owner" || it.Attr("role") != "moderator" {
		t.Fatalf("host's item: %s", self)
	}

	// A guest knocks, the host sees the knock and admits it.
	guest := mustLogin(t, srv.ws, nil)
	guest.send(joinPresence(room, "Gamer42", ""))
	guest.wait("the lobby's waiting message", hasChild(muc.NSLobby, "waiting"))
	knock := host.wait("the knock", hasChild(muc.NSLobby, "knock")).Child(muc.NSLobby, "knock")
	if knock.Attr("nick") != "Gamer42" || knock.Attr("kind") != "guest" {
		t.Fatalf("knock: %s", knock)
	}
	if res := host.iq("set", room, "<admit xmlns='"+muc.NSLobby+"' id='"+knock.Attr("id")+"'/>"); res.Attr("type") != "result" {
		t.Fatalf("admit: %s", res)
	}
	gself := guest.wait("the guest's self-presence", selfPresence(room, "Gamer42"))
	if it := gself.Child(muc.NSMUCUser, "x").Child(muc.NSMUCUser, "item"); it.Attr("role") != "participant" || it.Attr("affiliation") != "none" {
		t.Fatalf("guest's item: %s", gself)
	}

	// A second guest knocks; the platform admits it through the admin API.
	guest2 := mustLogin(t, srv.ws, nil)
	guest2.send(joinPresence(room, "Gamer43", ""))
	guest2.wait("the second guest waits", hasChild(muc.NSLobby, "waiting"))
	k2 := host.wait("the second knock", hasChild(muc.NSLobby, "knock")).Child(muc.NSLobby, "knock")
	if code := call(t, "POST", srv.admin+"/api/rooms/arena/lobby/"+k2.Attr("id")+"/admit", adminToken, nil, nil); code != 204 {
		t.Fatalf("admit through the API: %d", code)
	}
	guest2.wait("the second guest's self-presence", selfPresence(room, "Gamer43"))

	// A guest may not kick, mute, lock or end: neither the host nor a
	// fellow guest, through XEP-0045 or parley's own requests.
	attempts := map[string]string{}
	for _, target := range []string{"Host", "Gamer43"} {
		attempts["kick "+target] = "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='" + target + "' role='none'/></query>"
		attempts["revoke voice of "+target] = "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='" + target + "' role='visitor'/></query>"
		attempts["mute "+target] = "<mute xmlns='" + muc.NSPerm + "' nick='" + target + "'/>"
	}
	attempts["lock"] = "<query xmlns='http://jabber.org/protocol/muc#owner'><x xmlns='jabber:x:data' type='submit'><field var='FORM_TYPE'><value>http://jabber.org/protocol/muc#roomconfig</value></field><field var='muc#roomconfig_membersonly'><value>1</value></field></x></query>"
	attempts["end"] = "<end xmlns='" + muc.NSRoom + "'/>"
	attempts["admit"] = "<admit xmlns='" + muc.NSLobby + "' id='k1'/>"
	for what, payload := range attempts {
		res := guest.iq("set", room, payload)
		// Acting on an owner is refused by XEP-0045's own rule first.
		cond := errorCondition(res)
		if res.Attr("type") != "error" || cond != "forbidden" && !(cond == "not-allowed" && strings.HasSuffix(what, "Host")) {
			t.Errorf("guest %s: %s", what, res)
		}
	}
	var ri admin.RoomView
	call(t, "GET", srv.admin+"/api/rooms/arena", adminToken, nil, &ri)
	if len(ri.Participants) != 3 || ri.MembersOnly || ri.Participants[0].Muted != 0 || ri.Participants[1].Muted != 0 || ri.Participants[2].Role != "moderator" {
		t.Fatalf("after the guest's attempts: %+v", ri)
	}

	// A second host enters without knocking; the guest's name is in the
	// participants list.
	host2 := mustLogin(t, srv.ws, func(c *xmppclient.Config) { c.Username, c.Password = "host2", "pw-host2" })
	host2.send(joinPresence(room, "Host2", ""))
	host2.wait("host2's self-presence", selfPresence(room, "Host2"))

	// Restart: the room and its settings are still there, empty.
	srv.p.shutdown()
	srv2 := startRoomsServer(t, data, nil)
	var after admin.RoomView
	if code := call(t, "GET", srv2.admin+"/api/rooms/arena", adminToken, nil, &after); code != 200 {
		t.Fatalf("after restart: %d", code)
	}
	if !after.Declared || !after.Lobby || after.Title != "Arena #1" || after.MaxUsers != 8 || len(after.Owners) != 2 || len(after.Participants) != 0 {
		t.Fatalf("after restart: %+v", after)
	}
	// Its rules hold: a guest knocks again.
	g2 := mustLogin(t, srv2.ws, nil)
	g2.send(joinPresence(room, "Late", ""))
	g2.wait("the lobby after the restart", hasChild(muc.NSLobby, "waiting"))
}

func jitsiToken(t *testing.T, claims jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, claims).SignedString([]byte(jwtSecret))
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// A Jitsi-style token logs in with the name from context.user, and a
// token with moderator: true gets moderation; a bad token is refused at
// SASL and is never a guest.
func TestJitsiTokenLogin(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	room := "standup@conference." + testDomain
	exp := time.Now().Add(time.Hour).Unix()
	mod := mustLogin(t, srv.ws, func(c *xmppclient.Config) {
		c.Token = jitsiToken(t, jwt.MapClaims{"iss": "platform", "aud": "jitsi", "sub": "meet.example", "room": "standup", "exp": exp,
			"moderator": true, "context": map[string]any{"user": map[string]any{"id": "u-1", "name": "Mia Moderator"}}})
	})
	// A first joiner creates rooms in any case; declare the room so that
	// the moderator flag, not creation, makes the moderator.
	call(t, "POST", srv.admin+"/api/rooms", adminToken, map[string]any{"name": "standup"}, nil)
	mod.send(joinPresence(room, "mia", ""))
	self := mod.wait("mia's self-presence", selfPresence(room, "mia"))
	if it := self.Child(muc.NSMUCUser, "x").Child(muc.NSMUCUser, "item"); it.Attr("role") != "moderator" {
		t.Fatalf("moderator token's presence: %s", self)
	}
	user := mustLogin(t, srv.ws, func(c *xmppclient.Config) {
		c.Token = jitsiToken(t, jwt.MapClaims{"sub": "meet.example", "room": "*", "exp": exp,
			"context": map[string]any{"user": map[string]any{"id": "u-2", "name": "Pat Participant", "avatar": "https://img.example/p.png"}}})
	})
	user.send(joinPresence(room, "pat", ""))
	p := mod.wait("pat's presence", func(el *xmlstream.Element) bool { return el.Name == "presence" && el.Attr("from") == room+"/pat" })
	id := p.Child(muc.NSIdentity, "identity")
	if id == nil || id.Attr("name") != "Pat Participant" || id.Attr("avatar") != "https://img.example/p.png" || id.Attr("kind") != "token" {
		t.Fatalf("pat's presence lacks the token's name: %s", p)
	}
	if it := p.Child(muc.NSMUCUser, "x").Child(muc.NSMUCUser, "item"); it.Attr("role") != "participant" {
		t.Fatalf("pat's role: %s", p)
	}
	// Moderation works for the token moderator: it kicks pat.
	if res := mod.iq("set", room, "<query xmlns='http://jabber.org/protocol/muc#admin'><item nick='pat' role='none'/></query>"); res.Attr("type") != "result" {
		t.Fatalf("the moderator token cannot kick: %s", res)
	}
	// A token for another room cannot enter this one.
	other := mustLogin(t, srv.ws, func(c *xmppclient.Config) {
		c.Token = jitsiToken(t, jwt.MapClaims{"sub": "x", "room": "elsewhere", "exp": exp})
	})
	other.send(joinPresence(room, "o", ""))
	e := other.wait("the join error", func(el *xmlstream.Element) bool { return el.Attr("type") == "error" })
	if errorCondition(e) != "not-authorized" || srv.p.tokens.Refusals()["room"] != 1 {
		t.Fatalf("wrong-room join: %s; refusals %v", e, srv.p.tokens.Refusals())
	}
	// An expired token is refused at SASL, not downgraded to a guest.
	_, err := login(t, srv.ws, func(c *xmppclient.Config) {
		c.Token = jitsiToken(t, jwt.MapClaims{"sub": "x", "exp": time.Now().Add(-time.Hour).Unix()})
	})
	var xe *xmppclient.Error
	if !errors.As(err, &xe) || xe.Condition != "not-authorized" || !strings.Contains(xe.Text, "expired") {
		t.Fatalf("expired token: %v", err)
	}
	var stats struct {
		Tokens map[string]uint64
		MUC    struct{ TokenRoomRefused uint64 }
	}
	if code := call(t, "GET", srv.admin+"/api/stats", adminToken, nil, &stats); code != 200 ||
		stats.Tokens["expired"] != 1 || stats.Tokens["room"] != 1 || stats.MUC.TokenRoomRefused != 1 {
		t.Fatalf("stats: %d %+v", code, stats)
	}
}

// A guest who created a room reconnects with its resumption token: same
// JID, and still the room's owner.
func TestGuestResumesOwnership(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	room := "pickup@conference." + testDomain
	g := mustLogin(t, srv.ws, nil)
	g.send("<presence xmlns='jabber:client' to='" + room + "/Gus'/>") // an instant room: Gus owns it
	g.wait("Gus's self-presence", selfPresence(room, "Gus"))
	res := g.iq("get", "", "<resume xmlns='urn:parley:resume:0'/>")
	raw := res.Child("urn:parley:resume:0", "resume").Attr("token")
	first := g.c.JID()
	other := mustLogin(t, srv.ws, nil)
	other.send(joinPresence(room, "Ola", ""))
	other.wait("Ola's self-presence", selfPresence(room, "Ola"))
	g.c.Close()
	back := mustLogin(t, srv.ws, func(c *xmppclient.Config) { c.Address += "?resume=" + raw })
	if back.c.JID().Bare() != first.Bare() {
		t.Fatalf("resumed as %s, was %s", back.c.JID(), first)
	}
	back.send(joinPresence(room, "Gus", ""))
	self := back.wait("Gus back", selfPresence(room, "Gus"))
	if it := self.Child(muc.NSMUCUser, "x").Child(muc.NSMUCUser, "item"); it.Attr("affiliation") != "owner" {
		t.Fatalf("the returning guest lost ownership: %s", self)
	}
}

package app

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// The permission matrix: every permission by every role, each tried
// through the layer that enforces it (a MUC stanza, a Jingle request,
// media published by an in-process peer), allowed or refused as
// perm.ForRole says. docs/PERMISSIONS.md shows the same table, generated
// from perm (TestPermissionsDoc in internal/perm).

const (
	nsMUCAdmin = "http://jabber.org/protocol/muc#admin"
	nsMUCOwner = "http://jabber.org/protocol/muc#owner"
	nsPermTest = "urn:parley:perm:0"
	nsJingleT  = "urn:xmpp:jingle:1"
)

// notEnforcedHere are the permissions no layer of this server acts on yet,
// and why; every other permission must be tried by the matrix.
var notEnforcedHere = map[perm.Permission]string{
	perm.AdmitLobby: "the lobby is built by the identities part of issue 12",
}

// outcome is what one attempt gave: allowed, or refused with a condition.
type outcome struct {
	allowed   bool
	condition string // the stanza error condition of a refusal
}

func (o outcome) String() string {
	if o.allowed {
		return "allowed"
	}
	return "refused (" + o.condition + ")"
}

func refusedBy(err error) outcome {
	var se *stanza.Error
	if errors.As(err, &se) {
		return outcome{condition: string(se.Condition)}
	}
	return outcome{condition: "error: " + fmt.Sprint(err)}
}

func TestPermissionMatrix(t *testing.T) {
	server, ws := startParleyWith(t, func(c *Config) {
		c.Recordings = stubRecordings
		c.Phones = stubPhones{}
	})
	tested := map[perm.Permission]bool{}
	for _, role := range perm.Roles() {
		t.Run(string(role), func(t *testing.T) {
			want := perm.ForRole(role)
			check := func(p perm.Permission, got outcome) {
				t.Helper()
				tested[p] = true
				switch {
				case want.Has(p) && !got.allowed:
					t.Errorf("%s: %s should be allowed, was %s", role, p, got)
				case !want.Has(p) && got.allowed:
					t.Errorf("%s: %s should be refused, was allowed", role, p)
				case !want.Has(p) && got.condition != string(stanza.Forbidden):
					t.Errorf("%s: %s refused with %s, want forbidden", role, p, got.condition)
				}
			}
			mucMatrix(t, ws, role, check)
			mediaMatrix(t, ws, role, check)
		})
	}
	// Every refusal was counted, by permission, where it happened.
	mucRefused, focusRefused := server.muc.Stats().Refused, server.focus.Stats().Refused
	for _, p := range []perm.Permission{perm.PrivateChat, perm.MuteOthers, perm.AskUnmute,
		perm.GrantRoles, perm.LockRoom, perm.Kick, perm.Ban, perm.EndMeeting, perm.Record, perm.DialOut} {
		if mucRefused[p.String()] == 0 {
			t.Errorf("the MUC counted no refusal of %s: %v", p, mucRefused)
		}
	}
	for _, p := range []perm.Permission{perm.PublishAudio, perm.PublishVideo, perm.PublishScreen} {
		if focusRefused[p.String()] == 0 {
			t.Errorf("the focus counted no refusal of %s: %v", p, focusRefused)
		}
	}
	for _, p := range perm.All() {
		_, skipped := notEnforcedHere[p]
		if !tested[p] && !skipped {
			t.Errorf("the matrix never tries %s", p)
		}
		if tested[p] && skipped {
			t.Errorf("%s is tried, but listed as not enforced", p)
		}
	}
}

// rawOcc is a plain XMPP client in a room, reading its own stanzas.
type rawOcc struct {
	self *xmlstream.Element // the self-presence of the join
	t    *testing.T
	c    *xmppclient.Client
	in   chan *xmlstream.Element
	room jid.JID
	nick string
}

func dialRaw(t *testing.T, ws string) *rawOcc {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	o := &rawOcc{t: t, c: c, in: make(chan *xmlstream.Element, 4096)}
	go func() {
		for st := range c.Incoming() {
			select {
			case o.in <- st:
			default: // a test that reads nothing more
			}
		}
	}()
	t.Cleanup(func() { c.Close() })
	return o
}

// join enters room as nick and waits for the self-presence.
func (o *rawOcc) join(room jid.JID, nick string) error {
	o.room, o.nick = room, nick
	o.c.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", room.WithResource(nick).String()))
	st := o.await("self-presence in "+room.String(), func(st *xmlstream.Element) bool {
		return st.Name == "presence" && st.Attr("from") == room.WithResource(nick).String() &&
			(st.Attr("type") == "error" || st.Attr("type") == "")
	})
	if st == nil {
		return errors.New("no answer to the join")
	}
	if st.Attr("type") == "error" {
		return stanza.ParseError(st)
	}
	o.self = st
	return nil
}

// await reads stanzas until one matches, or 5 s pass (nil).
func (o *rawOcc) await(what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	timer := time.NewTimer(5 * time.Second)
	defer timer.Stop()
	for {
		select {
		case st := <-o.in:
			if match(st) {
				return st
			}
		case <-timer.C:
			return nil
		}
	}
}

// iq sends a set IQ with payload to the room (or to), and returns what came back.
func (o *rawOcc) iq(to string, payload *xmlstream.Element) outcome {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := o.c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", to).Add(payload))
	if err != nil {
		return refusedBy(err)
	}
	return outcome{allowed: true}
}

// awaitRole waits for a presence of nick (or takes our self-presence)
// announcing the parley role, and checks its permissions.
func (o *rawOcc) awaitRole(nick string, role perm.Role) error {
	match := func(st *xmlstream.Element) bool {
		p := st.Child(nsPermTest, "perm")
		return st.Name == "presence" && st.Attr("from") == o.room.WithResource(nick).String() &&
			p != nil && p.Attr("role") == string(role)
	}
	st := o.self
	if st == nil || !match(st) {
		st = o.await(nick+" as "+string(role), match)
	}
	if st == nil {
		return fmt.Errorf("no presence of %s with role %s", nick, role)
	}
	if got, want := st.Child(nsPermTest, "perm").Attr("allow"), perm.ForRole(role).String(); got != want {
		return fmt.Errorf("%s announced allow=%q, want %q", nick, got, want)
	}
	return nil
}

// mucMatrix tries the MUC layer's permissions as role.
func mucMatrix(t *testing.T, ws string, role perm.Role, check func(perm.Permission, outcome)) {
	room := jid.JID{Local: "muc-" + string(role), Domain: "conference." + testDomain}
	boss, actor := dialRaw(t, ws), dialRaw(t, ws)
	if err := boss.join(room, "boss"); err != nil {
		t.Fatalf("boss joining: %v", err)
	}
	if aff, _ := perm.ToMUC(role, true); aff != "" && aff != perm.AffNone {
		item := xmlstream.New(nsMUCAdmin, "item", "affiliation", aff, "jid", actor.c.JID().Bare().String())
		if got := boss.iq(room.String(), xmlstream.New(nsMUCAdmin, "query").Add(item)); !got.allowed {
			t.Fatalf("boss giving %s: %s", aff, got)
		}
	}
	targets := map[string]*rawOcc{}
	for _, nick := range []string{"t-main", "t-kick", "t-ban"} {
		targets[nick] = dialRaw(t, ws)
		if err := targets[nick].join(room, nick); err != nil {
			t.Fatalf("%s joining: %v", nick, err)
		}
	}
	err := actor.join(room, "actor")
	check(perm.Join, outcomeOf(err))
	if err != nil {
		t.Fatalf("actor could not join: %v", err)
	}
	if role == perm.Viewer { // voice revoked: the XEP-0045 way to a viewer
		item := xmlstream.New(nsMUCAdmin, "item", "nick", "actor", "role", "visitor")
		if got := boss.iq(room.String(), xmlstream.New(nsMUCAdmin, "query").Add(item)); !got.allowed {
			t.Fatalf("boss revoking voice: %s", got)
		}
	}
	if err := actor.awaitRole("actor", role); err != nil {
		t.Fatal(err)
	}

	check(perm.Chat, actor.groupchat())
	check(perm.PrivateChat, actor.private(targets["t-main"]))
	check(perm.MuteOthers, actor.iq(room.String(), xmlstream.New(nsPermTest, "mute", "nick", "t-main", "media", "audio")))
	asked := actor.iq(room.String(), xmlstream.New(nsPermTest, "unmute", "nick", "t-main", "media", "audio"))
	if asked.allowed && targets["t-main"].await("the unmute request", func(st *xmlstream.Element) bool {
		return st.Name == "message" && st.Child(nsPermTest, "unmute") != nil
	}) == nil {
		t.Error("ask_unmute allowed, but t-main got no request")
	}
	check(perm.AskUnmute, asked)
	check(perm.GrantRoles, actor.iq(room.String(), xmlstream.New(nsMUCAdmin, "query").Add(
		xmlstream.New(nsMUCAdmin, "item", "nick", "t-main", "role", "participant"))))
	lock := xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
		formField("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
		formField("muc#roomconfig_passwordprotectedroom", "1"),
		formField("muc#roomconfig_roomsecret", "s3cret"))
	check(perm.LockRoom, actor.iq(room.String(), xmlstream.New(nsMUCOwner, "query").Add(lock)))
	check(perm.Kick, actor.iq(room.String(), xmlstream.New(nsMUCAdmin, "query").Add(
		xmlstream.New(nsMUCAdmin, "item", "nick", "t-kick", "role", "none"))))
	check(perm.Ban, actor.iq(room.String(), xmlstream.New(nsMUCAdmin, "query").Add(
		xmlstream.New(nsMUCAdmin, "item", "jid", targets["t-ban"].c.JID().Bare().String(), "affiliation", "outcast"))))
	check(perm.Record, actor.iq(room.String(), xmlstream.New(muc.NSRecord, "record", "action", "start")))
	check(perm.Record, actor.iq(room.String(), xmlstream.New(muc.NSRecord, "record", "action", "remove", "id", "stub")))
	check(perm.DialOut, actor.iq(room.String(), xmlstream.New(muc.NSPhone, "dial", "to", "+33123456789")))
	check(perm.EndMeeting, actor.iq(room.String(), xmlstream.New(nsMUCOwner, "query").Add(
		xmlstream.New(nsMUCOwner, "destroy"))))
}

// stubPhones stands for the SIP gateway, which internal/sip's tests run:
// here only the room's check matters.
type stubPhones struct{}

func (stubPhones) PhoneDialIn(room string) (string, string, error) { return "", "123456", nil }
func (stubPhones) PhoneDial(room, to, by string) (string, error)   { return "Phone ***6789", nil }

// stubRecordings stands for the record package's Manager, which the
// record package's own tests run: here only the room's check matters.
func stubRecordings(RecordingsEnv) (Recordings, error) { return stubRecorder{}, nil }

type stubRecorder struct{}

func (stubRecorder) StartRecording(room, by string) (string, error)         { return "stub", nil }
func (stubRecorder) Start(room, by, url string) (string, error)             { return "stub", nil }
func (stubRecorder) Composite(context.Context, string, string) (any, error) { return nil, nil }
func (stubRecorder) StopRecording(room, id string) error                    { return nil }
func (stubRecorder) Stop(ctx context.Context, room, id string) error        { return nil }
func (stubRecorder) Recordings(room string) (any, error)                    { return []any{}, nil }
func (stubRecorder) Recording(room, id string) (any, error)                 { return nil, nil }
func (stubRecorder) File(room, id, name string) (string, error)             { return "", nil }
func (stubRecorder) Remove(room, id string) error                           { return nil }
func (stubRecorder) IsRecorder(jid.JID) bool                                { return false }
func (stubRecorder) Close()                                                 {}

func outcomeOf(err error) outcome {
	if err != nil {
		return refusedBy(err)
	}
	return outcome{allowed: true}
}

func formField(name, value string) *xmlstream.Element {
	return xmlstream.New("jabber:x:data", "field", "var", name).Add(
		xmlstream.New("jabber:x:data", "value").SetText(value))
}

// groupchat says something and reports whether the room reflected it.
func (o *rawOcc) groupchat() outcome {
	body := "hello from " + o.nick
	o.c.Send(xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat", "to", o.room.String()).Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText(body)))
	st := o.await("the reflection of our message", func(st *xmlstream.Element) bool {
		return st.Name == "message" && (st.Attr("type") == "error" ||
			st.Attr("from") == o.room.WithResource(o.nick).String() && st.ChildText(xmlstream.NSClient, "body") == body)
	})
	return messageOutcome(st)
}

// private sends a private message to target and reports whether it
// arrived (or the error the sender got).
func (o *rawOcc) private(target *rawOcc) outcome {
	body := "psst from " + o.nick
	o.c.Send(xmlstream.New(xmlstream.NSClient, "message", "type", "chat", "to", o.room.WithResource(target.nick).String()).Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText(body)))
	if target.await("the private message", func(st *xmlstream.Element) bool {
		return st.Name == "message" && st.ChildText(xmlstream.NSClient, "body") == body
	}) != nil {
		return outcome{allowed: true}
	}
	return messageOutcome(o.await("the refusal", func(st *xmlstream.Element) bool {
		return st.Name == "message" && st.Attr("type") == "error"
	}))
}

func messageOutcome(st *xmlstream.Element) outcome {
	switch {
	case st == nil:
		return outcome{condition: "no answer"}
	case st.Attr("type") == "error":
		return refusedBy(stanza.ParseError(st))
	}
	return outcome{allowed: true}
}

// mediaMatrix publishes as role (a camera peer with audio and video, a
// screen-share peer) and checks what the room's owner receives, and what
// the focus answers to a source-add of each kind.
func mediaMatrix(t *testing.T, ws string, role perm.Role, check func(perm.Permission, outcome)) {
	room := jid.JID{Local: "media-" + string(role), Domain: "conference." + testDomain}
	boss := joinPeer(t, ws, room, "boss", true)
	bossClient := boss.Conn().Client()
	cam, screen := dialClient(t, ws), dialClient(t, ws)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if role == perm.Viewer {
		// A moderated room: newcomers without affiliation are visitors.
		form := xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
			formField("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
			formField("muc#roomconfig_moderatedroom", "1"))
		if _, err := bossClient.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", room.String()).Add(
			xmlstream.New(nsMUCOwner, "query").Add(form))); err != nil {
			t.Fatalf("making the room moderated: %v", err)
		}
	}
	if aff, _ := perm.ToMUC(role, true); aff != "" && aff != perm.AffNone {
		for _, c := range []*xmppclient.Client{cam, screen} {
			item := xmlstream.New(nsMUCAdmin, "item", "affiliation", aff, "jid", c.JID().Bare().String())
			if _, err := bossClient.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", room.String()).Add(
				xmlstream.New(nsMUCAdmin, "query").Add(item))); err != nil {
				t.Fatalf("giving %s: %v", aff, err)
			}
		}
	}
	camPeer := joinWith(t, cam, mediapeer.RoomConfig{Room: room, Nick: "cam", Media: true,
		Audio: mediapeer.SyntheticAudio(), Video: mediapeer.SyntheticVideo()})
	screenPeer := joinWith(t, screen, mediapeer.RoomConfig{Room: room, Nick: "screen", Media: true,
		Video: mediapeer.SyntheticVideo(), VideoType: "desktop"})
	if o, _ := camPeer.Occupant("cam"); o.PermRole != string(role) {
		t.Fatalf("cam joined as %q, want %s", o.PermRole, role)
	}

	// Every actor receives the owner: their sessions work, whatever they
	// may publish.
	for _, p := range []*mediapeer.Peer{camPeer, screenPeer} {
		waitReceives(t, p, "boss/audio", "boss/video")
	}
	expect := map[string]perm.Permission{
		"cam/audio": perm.PublishAudio, "cam/video": perm.PublishVideo, "screen/video": perm.PublishScreen,
	}
	var flowing []string
	for track, p := range expect {
		if perm.ForRole(role).Has(p) {
			flowing = append(flowing, track)
		}
	}
	waitReceives(t, boss, flowing...)
	time.Sleep(1500 * time.Millisecond) // time for anything forbidden to show up
	got := received(boss)
	for track, p := range expect {
		check(p, mediaOutcome(got[track]))
	}

	jingleMatrix(t, role, cam, camPeer, screen, screenPeer)
}

// jingleMatrix: the focus refuses a source-add of a kind the role may not
// publish, and answers the others as before (feature-not-implemented).
func jingleMatrix(t *testing.T, role perm.Role, cam *xmppclient.Client, camPeer *mediapeer.Peer,
	screen *xmppclient.Client, screenPeer *mediapeer.Peer,
) {
	for _, c := range []struct {
		p      perm.Permission
		media  string
		desk   bool
		client *xmppclient.Client
		peer   *mediapeer.Peer
	}{
		{perm.PublishAudio, "audio", false, cam, camPeer},
		{perm.PublishVideo, "video", false, cam, camPeer},
		{perm.PublishScreen, "video", true, screen, screenPeer},
	} {
		got := sourceAdd(t, c.client, c.peer.JingleSID(), c.media, c.desk)
		switch {
		case perm.ForRole(role).Has(c.p) && got.condition != string(stanza.FeatureNotImplemented):
			t.Errorf("%s: source-add for %s answered %s, want feature-not-implemented", role, c.p, got)
		case !perm.ForRole(role).Has(c.p) && got.condition != string(stanza.Forbidden):
			t.Errorf("%s: source-add for %s answered %s, want forbidden", role, c.p, got)
		}
	}
}

func mediaOutcome(packets int64) outcome {
	if packets > 0 {
		return outcome{allowed: true}
	}
	return outcome{condition: string(stanza.Forbidden)} // nothing forwarded: the gate's refusal
}

func dialClient(t *testing.T, ws string) *xmppclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func joinWith(t *testing.T, c *xmppclient.Client, rc mediapeer.RoomConfig) *mediapeer.Peer {
	t.Helper()
	conn, err := mediapeer.NewConn(mediapeer.ConnConfig{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := conn.Join(ctx, rc)
	if err != nil {
		t.Fatalf("%s joining: %v", rc.Nick, err)
	}
	t.Cleanup(func() { p.Close(); conn.Close() })
	return p
}

// waitReceives waits until p received packets of every "nick/kind".
func waitReceives(t *testing.T, p *mediapeer.Peer, tracks ...string) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got := received(p)
		missing := ""
		for _, tr := range tracks {
			if got[tr] < 10 {
				missing = tr
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s receives no %s (has %v)", p.Nick(), missing, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sourceAdd sends the focus a Jitsi-style source-add of one source.
func sourceAdd(t *testing.T, c *xmppclient.Client, sid, media string, desktop bool) outcome {
	t.Helper()
	if sid == "" {
		t.Fatal("no Jingle session")
	}
	src := xmlstream.New("urn:xmpp:jingle:apps:rtp:ssma:0", "source", "ssrc", "424242")
	if desktop {
		src.SetAttr("videoType", "desktop")
	}
	j := xmlstream.New(nsJingleT, "jingle", "action", "source-add", "sid", sid).Add(
		xmlstream.New(nsJingleT, "content", "creator", "responder", "name", "extra-"+media).Add(
			xmlstream.New("urn:xmpp:jingle:apps:rtp:1", "description", "media", media).Add(src)))
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_, err := c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", "focus."+testDomain).Add(j))
	if err == nil {
		return outcome{allowed: true}
	}
	return refusedBy(err)
}

// TestVoiceGivesAndTakesMedia: a viewer (a visitor in a moderated room)
// has no m-line to publish on; given voice, it gets them in a content-add
// and its media flows; its voice revoked, the forwarding stops at once.
func TestVoiceGivesAndTakesMedia(t *testing.T) {
	_, ws := startParley(t)
	room := jid.JID{Local: "voice", Domain: "conference." + testDomain}
	boss := joinPeer(t, ws, room, "boss", true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	form := xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
		formField("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
		formField("muc#roomconfig_moderatedroom", "1"))
	if _, err := boss.Conn().Client().IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", room.String()).Add(
		xmlstream.New(nsMUCOwner, "query").Add(form))); err != nil {
		t.Fatal(err)
	}
	cam := joinWith(t, dialClient(t, ws), mediapeer.RoomConfig{Room: room, Nick: "cam", Media: true,
		Audio: mediapeer.SyntheticAudio(), Video: mediapeer.SyntheticVideo()})
	waitReceives(t, cam, "boss/audio", "boss/video")
	if got := received(boss); got["cam/audio"]+got["cam/video"] != 0 {
		t.Fatalf("a viewer's media arrived: %v", got)
	}
	if err := boss.SetRole(ctx, "cam", mediapeer.RoleParticipant, ""); err != nil {
		t.Fatal(err)
	}
	waitReceives(t, boss, "cam/audio", "cam/video")
	if err := boss.SetRole(ctx, "cam", mediapeer.RoleVisitor, ""); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second)
	a := received(boss)
	time.Sleep(time.Second)
	b := received(boss)
	for _, k := range []string{"cam/audio", "cam/video"} {
		if b[k] != a[k] {
			t.Errorf("%s still forwarded a second after voice was revoked: %d then %d", k, a[k], b[k])
		}
	}
}

// TestAnswerStartingForbiddenMediaIsRefused: a viewer allowed to share its
// screen (not its camera) is offered a video m-line; its content-accept
// sending a camera (no videoType) is refused with forbidden and counted,
// and nothing of it is forwarded, while it still receives everyone.
func TestAnswerStartingForbiddenMediaIsRefused(t *testing.T) {
	server, ws := startParley(t)
	room := jid.JID{Local: "screenonly", Domain: "conference." + testDomain}
	boss := joinPeer(t, ws, room, "boss", true)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	form := xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
		formField("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
		formField("muc#roomconfig_moderatedroom", "1"))
	if _, err := boss.Conn().Client().IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", room.String()).Add(
		xmlstream.New(nsMUCOwner, "query").Add(form))); err != nil {
		t.Fatal(err)
	}
	cam := joinWith(t, dialClient(t, ws), mediapeer.RoomConfig{Room: room, Nick: "cam", Media: true,
		Audio: mediapeer.SyntheticAudio(), Video: mediapeer.SyntheticVideo()})
	waitReceives(t, cam, "boss/audio", "boss/video")
	if err := boss.Override(ctx, "cam", perm.Overrides{Grant: perm.Of(perm.PublishScreen)}); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for server.focus.Stats().Refused["publish_video"] == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("the camera answer was not refused: %v", server.focus.Stats().Refused)
		}
		time.Sleep(100 * time.Millisecond)
	}
	before := received(cam)["boss/audio"]
	for received(cam)["boss/audio"] < before+20 { // still in the call
		if time.Now().After(deadline) {
			t.Fatal("cam stopped receiving after the refusal")
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got := received(boss); got["cam/video"]+got["cam/audio"] != 0 {
		t.Errorf("forbidden media arrived: %v", got)
	}
}

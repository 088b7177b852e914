package sdk_test

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/sdk"
)

func TestConnectAnonymousOrWithPasswordOverWebSocketAndTCP(t *testing.T) {
	srv := startServer(t, map[string]string{"alice": "s3cret"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tlsCfg := &tls.Config{InsecureSkipVerify: true}
	cases := []struct {
		name string
		cfg  sdk.Config
		want string // the bare JID, or "" for a guest
	}{
		{"guest over WebSocket", sdk.Config{Server: srv.WebSocket, Domain: srv.Domain}, ""},
		{"alice over WebSocket", sdk.Config{Server: srv.WebSocket, Domain: srv.Domain, Username: "alice", Password: "s3cret"}, "alice@" + srv.Domain},
		{"alice over TCP", sdk.Config{Server: srv.TCP, Domain: srv.Domain, Username: "alice", Password: "s3cret", TLS: tlsCfg}, "alice@" + srv.Domain},
		{"guest over TCP", sdk.Config{Server: srv.TCP, Domain: srv.Domain, TLS: tlsCfg}, ""},
	}
	for _, tc := range cases {
		c, err := sdk.Connect(ctx, tc.cfg)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		bare, _, _ := strings.Cut(c.JID(), "/")
		if tc.want != "" && bare != tc.want {
			t.Errorf("%s: bound %s, want %s", tc.name, c.JID(), tc.want)
		}
		if tc.want == "" && bare == "alice@"+srv.Domain {
			t.Errorf("%s: a guest was bound as alice", tc.name)
		}
		// The connection works: it can enter a room.
		join(t, c, sdk.RoomConfig{Room: "hall", Nick: fmt.Sprint("n", len(tc.name))})
		if err := c.Close(); err != nil {
			t.Errorf("%s: close: %v", tc.name, err)
		}
		if _, open := <-c.Events(); open {
			for range c.Events() {
			}
		}
		if c.Err() != nil {
			t.Errorf("%s: Err after Close = %v", tc.name, c.Err())
		}
	}
	_, err := sdk.Connect(ctx, sdk.Config{Server: srv.WebSocket, Domain: srv.Domain, Username: "alice", Password: "wrong"})
	var ce *sdk.ConnectError
	if !errors.As(err, &ce) || ce.Step != "sasl" || ce.Condition != "not-authorized" {
		t.Fatalf("wrong password: got %v, want a sasl not-authorized ConnectError", err)
	}
}

func TestConfigErrorsAreReportedBeforeAnythingIsSent(t *testing.T) {
	ctx := context.Background()
	for _, server := range []string{"", "http://example.com/x", "no-port"} {
		var ce *sdk.ConfigError
		if _, err := sdk.Connect(ctx, sdk.Config{Server: server}); !errors.As(err, &ce) || ce.Field != "Server" {
			t.Errorf("Server %q: got %v, want a ConfigError for Server", server, err)
		}
	}
	srv := startServer(t, nil)
	c := connect(t, srv)
	bad := []struct {
		cfg   sdk.RoomConfig
		field string
	}{
		{sdk.RoomConfig{Room: "", Nick: "x"}, "Room"},
		{sdk.RoomConfig{Room: "a@b@c", Nick: "x"}, "Room"},
		{sdk.RoomConfig{Room: "r", Nick: ""}, "Nick"},
		{sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Video: sdk.SyntheticAudio()}}, "Media.Video"},
		{sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Audio: sdk.IVFFile("x.ivf", false)}}, "Media.Audio"},
		{sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Audio: sdk.SyntheticSimulcast()}}, "Media.Audio"},
		{sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Video: sdk.SimulcastVideo(sdk.SyntheticVideo())}}, "Media.Video"},
		{sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Video: sdk.SimulcastVideo(sdk.SyntheticVideo(), sdk.SyntheticAudio())}}, "Media.Video"},
		{sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Video: sdk.SimulcastVideo(sdk.SyntheticVideo(), sdk.Source{})}}, "Media.Video"},
	}
	for _, b := range bad {
		var ce *sdk.ConfigError
		if _, err := c.Join(ctx, b.cfg); !errors.As(err, &ce) || ce.Field != b.field {
			t.Errorf("%+v: got %v, want a ConfigError for %s", b.cfg, err, b.field)
		}
	}
	var me *sdk.MediaError
	_, err := c.Join(ctx, sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Video: sdk.IVFFile(t.TempDir()+"/none.ivf", false)}})
	if !errors.As(err, &me) {
		t.Errorf("a missing file: got %v, want a MediaError", err)
	}
	_, err = c.Join(ctx, sdk.RoomConfig{Room: "r", Nick: "x", Media: &sdk.Media{Video: sdk.IVFData([]byte("not an ivf file at all, not even close"), false)}})
	if !errors.As(err, &me) {
		t.Errorf("a file that is not IVF: got %v, want a MediaError", err)
	}
	if n := len(c.Rooms()); n != 0 {
		t.Errorf("failed joins left %d rooms behind", n)
	}
	// The client is unharmed.
	join(t, c, sdk.RoomConfig{Room: "r", Nick: "x"})
	if _, err := c.Join(ctx, sdk.RoomConfig{Room: "r", Nick: "y"}); !errors.Is(err, sdk.ErrAlreadyJoined) {
		t.Errorf("joining a room twice: got %v, want ErrAlreadyJoined", err)
	}
}

func TestOccupantsChatAndSubject(t *testing.T) {
	srv := startServer(t, nil)
	ann, ben := connect(t, srv), connect(t, srv)
	annRoom := join(t, ann, sdk.RoomConfig{Room: "lobby", Nick: "ann"})
	if annRoom.Name() != "lobby@conference."+srv.Domain {
		t.Fatalf("room name %q", annRoom.Name())
	}
	self := waitEvent(t, ann, "ann sees herself", is(sdk.EventJoined, "ann"))
	if !self.Occupant.Self || self.Existing || self.Occupant.Affiliation != sdk.AffiliationOwner {
		t.Fatalf("ann's own join: %+v (the creator owns the room)", self)
	}
	if err := annRoom.SetSubject("daily standup"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, ann, "the new subject", func(ev sdk.Event) bool { return ev.Kind == sdk.EventSubject && ev.Text != "" })

	benRoom := join(t, ben, sdk.RoomConfig{Room: "lobby@conference." + srv.Domain, Nick: "ben"})
	if ev := waitEvent(t, ben, "ben sees ann", is(sdk.EventJoined, "ann")); !ev.Existing || ev.Occupant.Self {
		t.Errorf("ann as ben sees her: %+v, want Existing", ev)
	}
	if ev := waitEvent(t, ben, "ben sees himself", is(sdk.EventJoined, "ben")); !ev.Occupant.Self || ev.Existing {
		t.Errorf("ben's own join: %+v", ev)
	}
	if ev := waitEvent(t, ben, "ben gets the subject", func(ev sdk.Event) bool { return ev.Kind == sdk.EventSubject }); ev.Text != "daily standup" || ev.Room != benRoom || ev.Occupant.Nick != "ann" {
		t.Errorf("subject event %+v", ev)
	}
	if benRoom.Subject() != "daily standup" {
		t.Errorf("Subject() = %q", benRoom.Subject())
	}
	if ev := waitEvent(t, ann, "ann sees ben", is(sdk.EventJoined, "ben")); ev.Existing || ev.Room != annRoom {
		t.Errorf("ben as ann sees him: %+v", ev)
	}
	if got := annRoom.Occupants(); len(got) != 2 || got[0].Nick != "ann" || got[1].Nick != "ben" || !got[0].Self || got[1].Self {
		t.Errorf("ann's occupants: %+v", got)
	}

	if err := benRoom.Say("hello all"); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, ann, "ben's message", is(sdk.EventMessage, "ben")); ev.Text != "hello all" || ev.Private || ev.Delayed {
		t.Errorf("message: %+v", ev)
	}
	if err := annRoom.SayTo("ben", "psst"); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, ben, "ann's whisper", is(sdk.EventMessage, "ann")); ev.Text != "psst" || !ev.Private {
		t.Errorf("private message: %+v", ev)
	}

	// A latecomer gets the history, marked as delayed.
	cat := connect(t, srv)
	join(t, cat, sdk.RoomConfig{Room: "lobby", Nick: "cat"})
	if ev := waitEvent(t, cat, "history", is(sdk.EventMessage, "ben")); !ev.Delayed || ev.Text != "hello all" {
		t.Errorf("history: %+v", ev)
	}

	if err := benRoom.Leave(); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, ann, "ben leaves", is(sdk.EventLeft, "ben")); ev.Reason != sdk.ReasonLeft {
		t.Errorf("leave: %+v", ev)
	}
	select {
	case <-benRoom.Done():
	default:
		t.Error("a room we left is not Done")
	}
	if err := benRoom.Say("still here?"); !errors.Is(err, sdk.ErrClosed) {
		t.Errorf("Say after Leave: %v, want ErrClosed", err)
	}
	if len(ben.Rooms()) != 0 {
		t.Errorf("ben still lists %d rooms", len(ben.Rooms()))
	}
}

func TestModeration(t *testing.T) {
	srv := startServer(t, nil)
	owner, guest, other := connect(t, srv), connect(t, srv), connect(t, srv)
	ownerRoom := join(t, owner, sdk.RoomConfig{Room: "game", Nick: "host"})
	guestRoom := join(t, guest, sdk.RoomConfig{Room: "game", Nick: "player"})
	join(t, other, sdk.RoomConfig{Room: "game", Nick: "watcher"})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// A participant may not kick.
	var me *sdk.ModerationError
	if err := guestRoom.Kick(ctx, "watcher", ""); !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Fatalf("a participant's kick: got %v, want forbidden", err)
	}
	// Grant and revoke moderation.
	if err := ownerRoom.SetRole(ctx, "player", sdk.RoleModerator, "trusted"); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, guest, "player becomes moderator", is(sdk.EventChanged, "player")); ev.Occupant.Role != sdk.RoleModerator || ev.Text != "trusted" {
		t.Errorf("grant: %+v", ev)
	}
	if err := guestRoom.Kick(ctx, "watcher", "spoilers"); err != nil {
		t.Fatalf("a moderator's kick: %v", err)
	}
	if ev := waitEvent(t, other, "watcher is kicked", func(ev sdk.Event) bool { return ev.Kind == sdk.EventRemoved }); ev.Reason != sdk.ReasonKicked || ev.Text != "spoilers" {
		t.Errorf("kicked: %+v", ev)
	}
	if ev := waitEvent(t, owner, "host sees the kick", is(sdk.EventLeft, "watcher")); ev.Reason != sdk.ReasonKicked {
		t.Errorf("kick seen by others: %+v", ev)
	}
	// A moderator without affiliation may not ban the owner.
	if err := guestRoom.Ban(ctx, "host", ""); !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Errorf("a moderator banning: got %v, want forbidden", err)
	}
	if err := ownerRoom.SetRole(ctx, "player", sdk.RoleParticipant, ""); err != nil {
		t.Fatal(err)
	}
	if ev := waitEvent(t, guest, "player loses moderation", is(sdk.EventChanged, "player")); ev.Occupant.Role != sdk.RoleParticipant {
		t.Errorf("revoke: %+v", ev)
	}
	// Membership, then a ban: the banned one cannot come back.
	if err := ownerRoom.SetAffiliation(ctx, "player", sdk.AffiliationMember, ""); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, owner, "player becomes member", func(ev sdk.Event) bool {
		return is(sdk.EventChanged, "player")(ev) && ev.Occupant.Affiliation == sdk.AffiliationMember
	})
	if o, _ := ownerRoom.Occupant("player"); o.Affiliation != sdk.AffiliationMember || o.Role != sdk.RoleParticipant {
		t.Errorf("player as the owner sees him: %+v", o)
	}
	if err := ownerRoom.Ban(ctx, "player", "cheating"); err != nil {
		t.Fatal(err)
	}
	waitEvent(t, guest, "player is banned", func(ev sdk.Event) bool { return ev.Kind == sdk.EventRemoved && ev.Reason == sdk.ReasonBanned })
	<-guestRoom.Done()
	if guestRoom.Reason() != sdk.ReasonBanned {
		t.Errorf("Reason() = %q", guestRoom.Reason())
	}
	var je *sdk.JoinError
	if _, err := guest.Join(ctx, sdk.RoomConfig{Room: "game", Nick: "player2"}); !errors.As(err, &je) || je.Condition != "forbidden" {
		t.Errorf("rejoining when banned: got %v, want forbidden", err)
	}
	// The kicked one may come back.
	join(t, other, sdk.RoomConfig{Room: "game", Nick: "watcher"})
	if err := ownerRoom.Kick(ctx, "nobody", ""); !errors.As(err, &me) || me.Condition != "item-not-found" {
		t.Errorf("kicking nobody: got %v, want item-not-found", err)
	}
	if err := ownerRoom.SetAffiliationJID(ctx, "friend@"+srv.Domain, sdk.AffiliationAdmin, ""); err != nil {
		t.Errorf("an affiliation for an absent address: %v", err)
	}
}

func TestOneConnectionHoldsManyRooms(t *testing.T) {
	srv := startServer(t, nil)
	bot, visitor := connect(t, srv), connect(t, srv)
	const rooms = 30
	for i := range rooms {
		join(t, bot, sdk.RoomConfig{Room: fmt.Sprintf("room%02d", i), Nick: "keeper"})
	}
	if n := len(bot.Rooms()); n != rooms {
		t.Fatalf("bot is in %d rooms, want %d", n, rooms)
	}
	// The visitor goes to every third room; the bot sees each arrival in
	// the right room.
	seen := map[string]bool{}
	for i := 0; i < rooms; i += 3 {
		join(t, visitor, sdk.RoomConfig{Room: fmt.Sprintf("room%02d", i), Nick: "visitor"})
		ev := waitEvent(t, bot, "visitor arrives", is(sdk.EventJoined, "visitor"))
		if want := fmt.Sprintf("room%02d@conference.%s", i, srv.Domain); ev.Room.Name() != want {
			t.Errorf("arrival reported in %s, want %s", ev.Room.Name(), want)
		}
		seen[ev.Room.Name()] = true
	}
	if len(seen) != rooms/3 {
		t.Errorf("arrivals in %d rooms, want %d", len(seen), rooms/3)
	}
	for _, r := range bot.Rooms() {
		if n := len(r.Tracks()); n != 0 {
			t.Errorf("%s: a signalling-only room has %d tracks", r.Name(), n)
		}
	}
}

func TestServerGoingAwayEndsRoomsAndEvents(t *testing.T) {
	srv := startServer(t, nil)
	c := connect(t, srv)
	r := join(t, c, sdk.RoomConfig{Room: "brief", Nick: "bot"})
	srv.Close()
	ev := waitEvent(t, c, "removal", func(ev sdk.Event) bool { return ev.Kind == sdk.EventRemoved })
	if ev.Reason != sdk.ReasonDisconnected && ev.Reason != sdk.ReasonShutdown {
		t.Errorf("removal reason %q", ev.Reason)
	}
	for range c.Events() {
	}
	<-r.Done()
	<-c.Done()
	if err := r.Say("anyone?"); err == nil {
		t.Error("Say on a dead connection succeeded")
	}
}

// Joining a room that its creator has not unlocked yet is refused with
// item-not-found (XEP-0045 §10.1.3); the SDK knocks again, so a crowd that
// arrives at once all gets in.
func TestACrowdJoinsANewRoomAtOnce(t *testing.T) {
	srv := startServer(t, nil)
	const n = 8
	clients := make([]*sdk.Client, n)
	for i := range clients {
		clients[i] = connect(t, srv)
	}
	errs := make(chan error, n)
	for i, c := range clients {
		go func() {
			ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
			defer cancel()
			_, err := c.Join(ctx, sdk.RoomConfig{Room: "crowd", Nick: fmt.Sprint("p", i)})
			errs <- err
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	for _, c := range clients {
		r := c.Rooms()[0]
		waitFor(t, "everyone sees everyone", func() (bool, string) {
			return len(r.Occupants()) == n, fmt.Sprint(len(r.Occupants()), " occupants")
		})
	}
}

package sdk_test

import (
	"context"
	"crypto/tls"
	"errors"
	"testing"
	"time"

	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

// A bot-admin creates and configures a room, mints a token, a user logs in
// with it, the admin changes its permissions, and a moderator in the room
// ends the meeting.
func TestAdminSDK(t *testing.T) {
	srv, err := testserver.Start(testserver.Config{AdminToken: "admin-secret-token", JWTSecret: "jwt secret of at least 16 bytes"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := sdk.NewAdmin(sdk.AdminConfig{URL: srv.Admin, Token: "wrong"}); err != nil {
		t.Fatal(err)
	}
	bad, _ := sdk.NewAdmin(sdk.AdminConfig{URL: srv.Admin, Token: "wrong"})
	var ae *sdk.AdminError
	if _, err := bad.Rooms(ctx); !errors.As(err, &ae) || ae.Status != 401 {
		t.Fatalf("a wrong token: %v", err)
	}
	admin, err := sdk.NewAdmin(sdk.AdminConfig{URL: srv.Admin, Token: "admin-secret-token"})
	if err != nil {
		t.Fatal(err)
	}
	room, err := admin.CreateRoom(ctx, "quiz", sdk.RoomSettings{Title: sdk.Ptr("Quiz night"), MaxUsers: sdk.Ptr(20),
		RoleDefaults: map[string]map[string]bool{"participant": {"publish_screen": false}}})
	if err != nil {
		t.Fatal(err)
	}
	if !room.Declared || room.Title != "Quiz night" || room.MaxUsers != 20 {
		t.Fatalf("created %+v", room)
	}
	if _, err := admin.CreateRoom(ctx, "quiz", sdk.RoomSettings{}); !errors.As(err, &ae) || ae.Status != 409 {
		t.Fatalf("created twice: %v", err)
	}
	if room, err = admin.ConfigureRoom(ctx, "quiz", sdk.RoomSettings{Guests: sdk.Ptr(false)}); err != nil || room.Guests {
		t.Fatalf("configure: %+v %v", room, err)
	}

	host, _, err := admin.MintToken(ctx, sdk.TokenRequest{User: "host-1", Name: "Quizmaster", Room: "quiz", Moderator: true})
	if err != nil {
		t.Fatal(err)
	}
	player, _, err := admin.MintToken(ctx, sdk.TokenRequest{User: "p-1", Name: "Player One", Room: "quiz"})
	if err != nil {
		t.Fatal(err)
	}
	// Over TCP: the token goes with SASL OAUTHBEARER.
	hc, err := sdk.Connect(ctx, sdk.Config{Server: srv.TCP, Domain: srv.Domain, Token: host, TLS: &tls.Config{InsecureSkipVerify: true}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hc.Close() })
	pc, err := sdk.Connect(ctx, sdk.Config{Server: srv.WebSocket, Domain: srv.Domain, Token: player})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { pc.Close() })
	// Guests are off in this room: an anonymous client is refused.
	gc := connect(t, srv)
	if _, err := gc.Join(ctx, sdk.RoomConfig{Room: "quiz", Nick: "anon"}); err == nil {
		t.Fatal("a guest entered a room without guests")
	}
	hr := join(t, hc, sdk.RoomConfig{Room: "quiz", Nick: "qm"})
	pr := join(t, pc, sdk.RoomConfig{Room: "quiz", Nick: "p1"})
	st, err := admin.Room(ctx, "quiz")
	if err != nil || len(st.Participants) != 2 {
		t.Fatalf("room %+v %v", st, err)
	}
	if p := st.Participants[0]; p.Nick != "p1" || p.Name != "Player One" || p.Kind != "token" || contains(p.Permissions, "publish_screen") || !contains(p.Permissions, "publish_video") {
		t.Fatalf("player %+v", p)
	}
	if err := admin.SetPermissions(ctx, "quiz", "p1", map[string]bool{"publish_audio": false}); err != nil {
		t.Fatal(err)
	}
	if err := admin.Mute(ctx, "quiz", "p1", "video"); err != nil {
		t.Fatal(err)
	}
	st, _ = admin.Room(ctx, "quiz")
	if p := st.Participants[0]; contains(p.Permissions, "publish_audio") || !contains(p.Muted, "publish_video") {
		t.Fatalf("player after the changes %+v", p)
	}
	// The player may not end the meeting; the moderator may.
	if err := pr.EndMeeting(ctx, "no"); err == nil {
		t.Fatal("a participant ended the meeting")
	}
	if err := hr.EndMeeting(ctx, "thanks for playing"); err != nil {
		t.Fatal(err)
	}
	ev := waitEvent(t, pc, "the end", func(ev sdk.Event) bool { return ev.Kind == sdk.EventRemoved })
	if ev.Text != "thanks for playing" {
		t.Fatalf("removed: %+v", ev)
	}
	st, _ = admin.Room(ctx, "quiz")
	if len(st.Participants) != 0 || !st.Declared {
		t.Fatalf("after the end %+v", st)
	}
	if err := admin.DeleteRoom(ctx, "quiz", ""); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Room(ctx, "quiz"); !errors.As(err, &ae) || ae.Status != 404 {
		t.Fatalf("after delete: %v", err)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// An SDK client knocks at a lobby: Join waits until the admin admits it.
func TestSDKJoinWaitsInTheLobby(t *testing.T) {
	srv, err := testserver.Start(testserver.Config{AdminToken: "admin-secret-token"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, _ := sdk.NewAdmin(sdk.AdminConfig{URL: srv.Admin, Token: "admin-secret-token"})
	if _, err := admin.CreateRoom(ctx, "door", sdk.RoomSettings{Lobby: sdk.Ptr(true)}); err != nil {
		t.Fatal(err)
	}
	c := connect(t, srv)
	joined := make(chan error, 1)
	go func() {
		_, err := c.Join(ctx, sdk.RoomConfig{Room: "door", Nick: "knocker"})
		joined <- err
	}()
	var st sdk.RoomStatus
	for deadline := time.Now().Add(10 * time.Second); len(st.Waiting) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("nobody waits in the lobby")
		}
		st, _ = admin.Room(ctx, "door")
	}
	select {
	case err := <-joined:
		t.Fatalf("Join returned before anyone decided: %v", err)
	default:
	}
	if err := admin.Admit(ctx, "door", st.Waiting[0].ID); err != nil {
		t.Fatal(err)
	}
	if err := <-joined; err != nil {
		t.Fatalf("admitted, yet: %v", err)
	}
}

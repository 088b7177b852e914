package sdk_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"parley.dev/parley/sdk"
)

// packets returns what room received so far of owner's live kind track.
func packets(room *sdk.Room, owner, kind string) int64 {
	var n int64
	for _, tr := range room.Tracks() {
		if tr.Owner() == owner && tr.Kind() == kind && !tr.Ended() {
			n += tr.Stats().Packets
		}
	}
	return n
}

// stopsWithin checks that what room receives of owner's kind stops
// growing within a second of now (then stays still for a second), while
// owner's other kind keeps flowing when keeps is set.
func stopsWithin(t *testing.T, room *sdk.Room, owner, kind, keeps string) {
	t.Helper()
	time.Sleep(time.Second)
	a, other := packets(room, owner, kind), packets(room, owner, keeps)
	time.Sleep(time.Second)
	if b := packets(room, owner, kind); b != a {
		t.Fatalf("%s still receives %s's %s a second after the mute: %d then %d packets", room.Nick(), owner, kind, a, b)
	}
	if keeps != "" && packets(room, owner, keeps) <= other {
		t.Fatalf("%s's %s stopped too", owner, keeps)
	}
}

// grows waits until room receives more of owner's kind than before.
func grows(t *testing.T, room *sdk.Room, owner, kind string) {
	t.Helper()
	before := packets(room, owner, kind)
	waitFor(t, owner+"'s "+kind+" flowing again", func() (bool, string) {
		n := packets(room, owner, kind)
		return n > before+10, fmt.Sprintf("%d packets, was %d", n, before)
	})
}

// TestModeratorMutesServerSide: a moderator's mute stops the forwarding of
// the participant's audio at the server while its client keeps sending;
// the participant is told, and asked to unmute; its unmute brings the
// audio back. A withdrawn permission stops it likewise, until granted
// again. A guest may not mute anyone.
func TestModeratorMutesServerSide(t *testing.T) {
	srv := startServer(t, nil)
	ann, ben, cat := connect(t, srv), connect(t, srv), connect(t, srv)
	media := func() *sdk.Media { return &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo()} }
	annRoom := join(t, ann, sdk.RoomConfig{Room: "mute", Nick: "ann", Media: media()}) // the owner
	benRoom := join(t, ben, sdk.RoomConfig{Room: "mute", Nick: "ben", Media: media()})
	catRoom := join(t, cat, sdk.RoomConfig{Room: "mute", Nick: "cat", Media: media()})
	waitFor(t, "cat receives ben", func() (bool, string) { return flowing(catRoom, "ben") })
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	var me *sdk.ModerationError
	if err := catRoom.Mute(ctx, "ben", sdk.MediaAudio); !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Fatalf("a guest muting: %v, want forbidden", err)
	}
	if err := annRoom.Mute(ctx, "ben", sdk.MediaAudio); err != nil {
		t.Fatal(err)
	}
	stopsWithin(t, catRoom, "ben", "audio", "video")
	stopsWithin(t, annRoom, "ben", "audio", "video")
	waitFor(t, "ben told he is muted", func() (bool, string) {
		o, _ := benRoom.Occupant("ben")
		return o.IsMuted(sdk.MediaAudio), fmt.Sprintf("%+v", o)
	})

	if err := annRoom.AskUnmute(ctx, "ben", sdk.MediaAudio); err != nil {
		t.Fatal(err)
	}
	asked := waitEvent(t, ben, "the request to unmute", func(ev sdk.Event) bool { return ev.Kind == sdk.EventUnmuteAsked })
	if asked.Actor != "ann" || asked.Text != "audio" {
		t.Errorf("unmute request %+v", asked)
	}
	if err := benRoom.Unmute(ctx, sdk.MediaAudio); err != nil {
		t.Fatal(err)
	}
	grows(t, catRoom, "ben", "audio")

	// A withdrawn permission: the same at the media, and ben cannot lift it.
	if err := annRoom.SetPermissions(ctx, "ben", map[string]bool{sdk.PermPublishAudio: false}); err != nil {
		t.Fatal(err)
	}
	stopsWithin(t, catRoom, "ben", "audio", "video")
	waitFor(t, "ben told he may not publish audio", func() (bool, string) {
		o, _ := benRoom.Occupant("ben")
		return !o.Can(sdk.PermPublishAudio) && o.Can(sdk.PermPublishVideo), fmt.Sprintf("%+v", o)
	})
	if err := benRoom.Mute(ctx, "", sdk.MediaAudio); err != nil { // muting oneself is always allowed
		t.Fatal(err)
	}
	if err := benRoom.Unmute(ctx, sdk.MediaAudio); !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Fatalf("unmuting without publish_audio: %v, want forbidden", err)
	}
	if err := annRoom.SetPermissions(ctx, "ben", map[string]bool{sdk.PermPublishAudio: true}); err != nil {
		t.Fatal(err)
	}
	grows(t, catRoom, "ben", "audio") // a grant lifts the matching mute
	if err := catRoom.SetPermissions(ctx, "ben", map[string]bool{sdk.PermPublishVideo: false}); !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Fatalf("a guest changing permissions: %v, want forbidden", err)
	}
}

// TestScreenShareNeedsItsOwnPermission: a video declared a screen share is
// forwarded by publish_screen, a camera by publish_video.
func TestScreenShareNeedsItsOwnPermission(t *testing.T) {
	srv := startServer(t, nil)
	ann, dan, eve := connect(t, srv), connect(t, srv), connect(t, srv)
	annRoom := join(t, ann, sdk.RoomConfig{Room: "screens", Nick: "ann",
		Media: &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo()}})
	join(t, dan, sdk.RoomConfig{Room: "screens", Nick: "dan",
		Media: &sdk.Media{Video: sdk.SyntheticVideo(), ScreenShare: true}})
	join(t, eve, sdk.RoomConfig{Room: "screens", Nick: "eve",
		Media: &sdk.Media{Video: sdk.SyntheticVideo()}})
	waitFor(t, "ann receives dan and eve", func() (bool, string) {
		d, e := packets(annRoom, "dan", "video"), packets(annRoom, "eve", "video")
		return d > 0 && e > 0, fmt.Sprintf("dan %d, eve %d", d, e)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, nick := range []string{"dan", "eve"} {
		if err := annRoom.SetPermissions(ctx, nick, map[string]bool{sdk.PermPublishScreen: false}); err != nil {
			t.Fatal(err)
		}
	}
	stopsWithin(t, annRoom, "dan", "video", "")
	grows(t, annRoom, "eve", "video")
	o, _ := annRoom.Occupant("dan")
	if o.Can(sdk.PermPublishScreen) || !slices.Contains(o.Permissions, sdk.PermPublishVideo) {
		t.Errorf("dan's permissions as ann sees them: %v", o.Permissions)
	}
}

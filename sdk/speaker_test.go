package sdk_test

import (
	"testing"

	"parley.dev/parley/sdk"
)

// The SDK's audio carries levels, the SFU picks the speaker, and the focus
// tells everyone in the room, late joiners included.
func TestDominantSpeakerReachesEveryone(t *testing.T) {
	srv := startServer(t, nil)
	ann, ben, cat := connect(t, srv), connect(t, srv), connect(t, srv)
	annRoom := join(t, ann, sdk.RoomConfig{Room: "talk", Nick: "ann", Media: &sdk.Media{Audio: sdk.SyntheticAudio()}})
	benRoom := join(t, ben, sdk.RoomConfig{Room: "talk", Nick: "ben", Media: &sdk.Media{Video: sdk.SyntheticVideo()}})
	catRoom := join(t, cat, sdk.RoomConfig{Room: "talk", Nick: "cat"}) // signalling only

	for _, c := range []*sdk.Client{ann, ben, cat} {
		ev := waitEvent(t, c, "ann named the dominant speaker", is(sdk.EventDominantSpeaker, "ann"))
		if ev.Occupant.Nick != "ann" {
			t.Errorf("event %+v", ev)
		}
	}
	for _, r := range []*sdk.Room{annRoom, benRoom, catRoom} {
		if got := r.DominantSpeaker(); got != "ann" {
			t.Errorf("DominantSpeaker() = %q, want ann", got)
		}
	}
	dan := connect(t, srv)
	danRoom := join(t, dan, sdk.RoomConfig{Room: "talk", Nick: "dan", Media: &sdk.Media{Video: sdk.SyntheticVideo()}})
	waitEvent(t, dan, "a late joiner learns the speaker", is(sdk.EventDominantSpeaker, "ann"))
	if got := danRoom.DominantSpeaker(); got != "ann" {
		t.Errorf("dan: DominantSpeaker() = %q", got)
	}
}

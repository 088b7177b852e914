package sdk_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"

	"parley.dev/parley/sdk"
)

// keyframeHeights records the height of every VP8 keyframe received, per
// publisher.
type keyframeHeights struct {
	mu   sync.Mutex
	seen map[string][]int // by owner nick; guarded by mu
}

func (k *keyframeHeights) onRTP(t sdk.Track, pkt *rtp.Packet) {
	if t.Kind() != "video" {
		return
	}
	var vp8 codecs.VP8Packet
	frame, err := vp8.Unmarshal(pkt.Payload)
	if err != nil || vp8.S != 1 || vp8.PID != 0 || len(frame) < 10 || frame[0]&1 != 0 {
		return // not the start of a keyframe
	}
	if frame[3] != 0x9d || frame[4] != 0x01 || frame[5] != 0x2a {
		return
	}
	h := int(binary.LittleEndian.Uint16(frame[8:10]) & 0x3fff)
	k.mu.Lock()
	k.seen[t.Owner()] = append(k.seen[t.Owner()], h)
	k.mu.Unlock()
}

// last returns the height of the latest keyframe from nick, and how many
// keyframes came.
func (k *keyframeHeights) last(nick string) (int, int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	s := k.seen[nick]
	if len(s) == 0 {
		return 0, 0
	}
	return s[len(s)-1], len(s)
}

// A simulcast publisher's layers reach the SFU as layers: a subscriber
// gets one video of it, the quarter layer when it asks for low quality
// and a larger one when it asks for high.
func TestSimulcastLayersFollowTheRequest(t *testing.T) {
	srv := startServer(t, nil)
	ann, ben := connect(t, srv), connect(t, srv)
	join(t, ann, sdk.RoomConfig{Room: "sim", Nick: "ann", Media: &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticSimulcast()}})
	heights := &keyframeHeights{seen: map[string][]int{}}
	benRoom := join(t, ben, sdk.RoomConfig{Room: "sim", Nick: "ben", Media: &sdk.Media{OnRTP: heights.onRTP}})
	waitFor(t, "ben receives ann", func() (bool, string) { return flowing(benRoom, "ann") })

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, step := range []struct {
		quality string
		ok      func(h int) bool
	}{
		{"low", func(h int) bool { return h == 180 }},
		{"high", func(h int) bool { return h > 180 }},
		{"low", func(h int) bool { return h == 180 }},
	} {
		if err := benRoom.SetReceiveVideo(ctx, sdk.ReceiveVideo{Quality: step.quality}); err != nil {
			t.Fatalf("SetReceiveVideo(%s): %v", step.quality, err)
		}
		_, before := heights.last("ann")
		waitFor(t, "a keyframe of the layer for quality "+step.quality, func() (bool, string) {
			h, n := heights.last("ann")
			return n > before+1 && step.ok(h), fmt.Sprintf("latest keyframe %d lines, %d keyframes", h, n)
		})
	}
	videos := 0
	for _, tr := range benRoom.Tracks() {
		if tr.Owner() == "ann" && tr.Kind() == "video" {
			videos++
		}
	}
	if videos != 1 {
		t.Errorf("ben has %d video tracks of ann, want 1 (the layers are one video)", videos)
	}
	if err := benRoom.SetReceiveVideo(ctx, sdk.ReceiveVideo{Quality: "best"}); err == nil {
		t.Error("SetReceiveVideo accepted quality best")
	}
}

// A subscriber's own lastN: of three cameras it keeps receiving one, and
// still the audio of all three.
func TestReceiveVideoLastN(t *testing.T) {
	srv := startServer(t, nil)
	nicks := []string{"ann", "ben", "cat"}
	for _, n := range nicks {
		join(t, connect(t, srv), sdk.RoomConfig{Room: "lastn", Nick: n, Media: &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo()}})
	}
	dan := join(t, connect(t, srv), sdk.RoomConfig{Room: "lastn", Nick: "dan", Media: &sdk.Media{}})
	waitFor(t, "dan receives everyone", func() (bool, string) { return flowing(dan, nicks...) })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := dan.SetReceiveVideo(ctx, sdk.ReceiveVideo{LastN: 1}); err != nil {
		t.Fatal(err)
	}
	counts := func() map[string]int64 {
		out := map[string]int64{}
		for _, tr := range dan.Tracks() {
			out[tr.Owner()+"/"+tr.Kind()] += tr.Stats().Packets
		}
		return out
	}
	// The SFU applies the request at its next allocation; give it time.
	time.Sleep(1500 * time.Millisecond)
	before := counts()
	time.Sleep(2 * time.Second)
	after := counts()
	videos := 0
	for _, n := range nicks {
		if after[n+"/audio"] <= before[n+"/audio"] {
			t.Errorf("no audio from %s under lastN 1", n)
		}
		if after[n+"/video"] > before[n+"/video"] {
			videos++
		}
	}
	if videos != 1 {
		t.Errorf("video from %d publishers under lastN 1 (%v then %v), want 1", videos, before, after)
	}
}

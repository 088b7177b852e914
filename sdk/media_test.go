package sdk_test

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"parley.dev/parley/sdk"
)

// rtpLog keeps what OnRTP saw, per publisher nick and kind.
type rtpLog struct {
	mu        sync.Mutex
	payloads  map[string][]uint8  // payload types
	frames    map[string][]uint32 // RTP timestamps, one per frame (the first packet of each)
	keyframes map[string][]string // "WIDTHxHEIGHT" of each VP8 keyframe start
}

func newRTPLog() *rtpLog {
	return &rtpLog{payloads: map[string][]uint8{}, frames: map[string][]uint32{}, keyframes: map[string][]string{}}
}

func (l *rtpLog) onRTP(t sdk.Track, pkt *rtp.Packet) {
	key := t.Owner() + "/" + t.Kind()
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.payloads[key]) < 10 {
		l.payloads[key] = append(l.payloads[key], pkt.PayloadType)
	}
	if ts := l.frames[key]; len(ts) == 0 || ts[len(ts)-1] != pkt.Timestamp {
		l.frames[key] = append(ts, pkt.Timestamp)
	}
	if t.Kind() == "video" {
		if size, ok := vp8Keyframe(pkt.Payload); ok {
			l.keyframes[key] = append(l.keyframes[key], size)
		}
	}
}

func (l *rtpLog) count(key string) (frames, keyframes int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.frames[key]), len(l.keyframes[key])
}

// vp8Keyframe reads an RTP VP8 payload (RFC 7741 §4.2) and, if it starts a
// keyframe, returns the picture size from the keyframe header (RFC 6386
// §9.1): proof that real, decodable VP8 went through.
func vp8Keyframe(p []byte) (string, bool) {
	if len(p) < 1 {
		return "", false
	}
	start, partition := p[0]&0x10 != 0, p[0]&0x07
	i := 1
	if p[0]&0x80 != 0 { // X: extension byte
		if len(p) < 2 {
			return "", false
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I: picture id, 1 or 2 bytes
			if len(p) <= i {
				return "", false
			}
			if p[i]&0x80 != 0 {
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if x&0x30 != 0 { // T or K
			i++
		}
	}
	if !start || partition != 0 || len(p) < i+10 {
		return "", false
	}
	h := p[i:]
	if h[0]&0x01 != 0 || h[3] != 0x9d || h[4] != 0x01 || h[5] != 0x2a {
		return "", false
	}
	w := int(h[6]) | int(h[7]&0x3f)<<8
	ht := int(h[8]) | int(h[9]&0x3f)<<8
	return fmt.Sprintf("%dx%d", w, ht), true
}

func TestMediaBothWaysWithTheSyntheticSources(t *testing.T) {
	srv := startServer(t, nil)
	log := newRTPLog()
	ann, ben, cat := connect(t, srv), connect(t, srv), connect(t, srv)
	synthetic := &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo()}
	annRoom := join(t, ann, sdk.RoomConfig{Room: "call", Nick: "ann",
		Media: &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo(), OnRTP: log.onRTP}})
	benRoom := join(t, ben, sdk.RoomConfig{Room: "call", Nick: "ben", Media: synthetic})
	catRoom := join(t, cat, sdk.RoomConfig{Room: "call", Nick: "cat"}) // signalling only

	added := waitEvent(t, ann, "ben's track", is(sdk.EventTrackAdded, "ben"))
	if added.Track.Owner() != "ben" || added.Room != annRoom {
		t.Errorf("track event %+v", added)
	}
	waitFor(t, "ann receives ben", func() (bool, string) { return flowing(annRoom, "ben") })
	waitFor(t, "ben receives ann", func() (bool, string) { return flowing(benRoom, "ann") })
	waitFor(t, "two of ben's keyframes and 40 frames", func() (bool, string) {
		frames, keys := log.count("ben/video")
		return keys >= 2 && frames >= 40, fmt.Sprintf("%d frames, %d keyframes", frames, keys)
	})
	log.mu.Lock()
	for _, size := range log.keyframes["ben/video"] {
		if size != "640x360" {
			t.Errorf("a keyframe of %s, want 640x360", size)
		}
	}
	log.mu.Unlock()
	for _, tr := range annRoom.Tracks() {
		if tr.Kind() == "video" && tr.MimeType() != "video/VP8" || tr.Kind() == "audio" && tr.MimeType() != "audio/opus" {
			t.Errorf("track %s/%s has codec %s", tr.Owner(), tr.Kind(), tr.MimeType())
		}
		if st := tr.Stats(); st.Lost != 0 || st.Expected != st.Packets {
			t.Errorf("%s/%s lost packets on loopback: %+v", tr.Owner(), tr.Kind(), st)
		}
	}
	if n := len(catRoom.Tracks()); n != 0 {
		t.Errorf("a signalling-only occupant has %d tracks", n)
	}
	for _, tr := range annRoom.Tracks() {
		if tr.Owner() == "cat" {
			t.Errorf("a track from the signalling-only occupant")
		}
	}
	// ben leaves: his tracks end for ann.
	benRoom.Leave()
	waitEvent(t, ann, "ben's tracks end", is(sdk.EventTrackEnded, "ben"))
	waitFor(t, "every track of ben ended", func() (bool, string) {
		for _, tr := range annRoom.Tracks() {
			if tr.Owner() == "ben" && !tr.Ended() {
				return false, tr.Kind() + " still live"
			}
		}
		return true, ""
	})
}

func TestFilesLoopWithContinuousTimestamps(t *testing.T) {
	srv := startServer(t, nil)
	log := newRTPLog()
	viewer, player := connect(t, srv), connect(t, srv)
	join(t, viewer, sdk.RoomConfig{Room: "cinema", Nick: "viewer", Media: &sdk.Media{OnRTP: log.onRTP}})
	const dir = "../internal/mediapeer/testdata/"
	join(t, player, sdk.RoomConfig{Room: "cinema", Nick: "player", Media: &sdk.Media{
		Video: sdk.IVFFile(dir+"pattern.ivf", true), Audio: sdk.OggFile(dir+"tone.ogg", true)}})
	// The files last 2 s (60 frames, 100 packets): more than that crosses
	// a loop.
	waitFor(t, "90 video frames and 150 audio packets", func() (bool, string) {
		v, _ := log.count("player/video")
		a, _ := log.count("player/audio")
		return v >= 90 && a >= 150, fmt.Sprintf("%d frames, %d packets", v, a)
	})
	log.mu.Lock()
	defer log.mu.Unlock()
	for key, step := range map[string]uint32{"player/video": 3000, "player/audio": 960} {
		ts := log.frames[key]
		for i := 1; i < len(ts); i++ {
			if d := ts[i] - ts[i-1]; d+1 < step || d > step+1 {
				t.Fatalf("%s: timestamp step %d at frame %d, want %d (±1)", key, d, i, step)
			}
		}
	}
	if n := len(log.keyframes["player/video"]); n < 2 {
		t.Errorf("%d keyframes from the file", n)
	}
}

func TestOneConnectionWithMediaInOneRoomAndSignallingInAnother(t *testing.T) {
	srv := startServer(t, nil)
	bot, caller, chatter := connect(t, srv), connect(t, srv), connect(t, srv)
	synthetic := &sdk.Media{Audio: sdk.SyntheticAudio(), Video: sdk.SyntheticVideo()}
	callRoom := join(t, bot, sdk.RoomConfig{Room: "call", Nick: "bot", Media: synthetic})
	chatRoom := join(t, bot, sdk.RoomConfig{Room: "chat", Nick: "bot"})
	callerRoom := join(t, caller, sdk.RoomConfig{Room: "call", Nick: "caller", Media: synthetic})
	chatterRoom := join(t, chatter, sdk.RoomConfig{Room: "chat", Nick: "chatter", Media: synthetic})
	extra := join(t, caller, sdk.RoomConfig{Room: "chat", Nick: "caller", Media: synthetic})

	waitFor(t, "bot receives caller", func() (bool, string) { return flowing(callRoom, "caller") })
	waitFor(t, "caller receives bot", func() (bool, string) { return flowing(callerRoom, "bot") })
	// In the chat room the two others call each other; the bot takes no part.
	waitFor(t, "chatter receives caller", func() (bool, string) { return flowing(chatterRoom, "caller") })
	if n := len(chatRoom.Tracks()); n != 0 {
		t.Errorf("the bot's signalling-only room has %d tracks", n)
	}
	for _, r := range []*sdk.Room{chatterRoom, extra} {
		for _, tr := range r.Tracks() {
			if tr.Owner() == "bot" {
				t.Errorf("%s receives a track from the bot's signalling-only presence", r.Nick())
			}
		}
	}
}

func TestCustomFrameSource(t *testing.T) {
	srv := startServer(t, nil)
	log := newRTPLog()
	viewer, maker := connect(t, srv), connect(t, srv)
	join(t, viewer, sdk.RoomConfig{Room: "lab", Nick: "viewer", Media: &sdk.Media{OnRTP: log.onRTP}})
	opened := make(chan struct{}, 1)
	join(t, maker, sdk.RoomConfig{Room: "lab", Nick: "maker", Media: &sdk.Media{
		Audio: sdk.OpusFrames(func() (sdk.FrameReader, error) {
			opened <- struct{}{}
			return &silence{}, nil
		})}})
	<-opened
	waitFor(t, "maker's audio", func() (bool, string) {
		n, _ := log.count("maker/audio")
		return n >= 20, fmt.Sprint(n, " packets")
	})
	log.mu.Lock()
	defer log.mu.Unlock()
	if got := log.payloads["maker/audio"][0]; got != 111 {
		t.Errorf("payload type %d, want Opus's 111", got)
	}
}

// silence is an endless Opus source of 20 ms silent CELT frames.
type silence struct{ n int }

func (s *silence) Next() (sdk.Frame, error) {
	s.n++
	return sdk.Frame{Data: []byte{0xf8, 0xff, 0xfe}, Duration: 20 * time.Millisecond}, nil
}

package record

import (
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/mediapeer"
)

// rtpStream packetizes n frames of a source as a publisher would.
func rtpStream(t *testing.T, src mediapeer.Source, n int, pay rtp.Payloader, rate uint32) [][]*rtp.Packet {
	t.Helper()
	pk := rtp.NewPacketizer(1200, 96, 1234, pay, rtp.NewRandomSequencer(), rate)
	var frames [][]*rtp.Packet
	for range n {
		f, err := src.Next()
		if err != nil {
			t.Fatal(err)
		}
		frames = append(frames, pk.Packetize(f.Data, uint32(f.Duration*time.Duration(rate)/time.Second)))
	}
	return frames
}

// TestAudioLossAndReorder: packets swapped in pairs and a few lost still
// make a file that decodes and lasts the stream's time: lost packets
// become silence, late ones are put back in order.
func TestAudioLossAndReorder(t *testing.T) {
	needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "a.ogg")
	o, err := newOpusTrack(path)
	if err != nil {
		t.Fatal(err)
	}
	var pkts []*rtp.Packet
	for _, f := range rtpStream(t, mediapeer.SyntheticAudio(), 250, &codecs.OpusPayloader{}, opusRate) {
		pkts = append(pkts, f...)
	}
	for i := 10; i+1 < len(pkts); i += 7 {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	lost := map[int]bool{40: true, 41: true, 100: true, 200: true}
	for i, p := range pkts {
		if !lost[i] {
			if err := o.push(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	if o.silences != int64(len(lost)) {
		t.Errorf("%d silent frames for %d lost packets", o.silences, len(lost))
	}
	got, _ := probe(t, path)
	if d := got - 5*time.Second; d < -30*time.Millisecond || d > 30*time.Millisecond {
		t.Errorf("duration %v, want 5 s", got)
	}
	decodes(t, path)
}

// TestVideoLoss: a frame with a lost packet is left out, and so is every
// frame after it until the next keyframe, for which the track asks: the
// file decodes without an error.
func TestVideoLoss(t *testing.T) {
	needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "v.webm")
	plis := 0
	v, err := newVideoTrack(path, webrtc.MimeTypeVP8, func() { plis++ })
	if err != nil {
		t.Fatal(err)
	}
	frames := rtpStream(t, mediapeer.SyntheticVideo(), 120, &codecs.VP8Payloader{}, videoRate)
	rng := rand.New(rand.NewPCG(1, 2))
	for i, f := range frames {
		for k, p := range f {
			if (i == 40 || i == 75) && k == len(f)/2 {
				continue // lost
			}
			if i%9 == 0 && k > 0 && rng.IntN(2) == 0 {
				f[k-1], f[k] = p, f[k-1] // reordered in the frame
			}
		}
		for k, p := range f {
			if (i == 40 || i == 75) && k == len(f)/2 {
				continue
			}
			if err := v.push(p); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := v.close(); err != nil {
		t.Fatal(err)
	}
	if v.dropped < 2 || plis == 0 {
		t.Errorf("%d frames dropped, %d keyframe requests after loss", v.dropped, plis)
	}
	t.Logf("%d frames written, %d dropped, %d PLI", v.frames, v.dropped, plis)
	decodes(t, path)
	got, _ := probe(t, path)
	if want := time.Duration(v.lastTS) * time.Second / videoRate; got-want > 50*time.Millisecond || want-got > 50*time.Millisecond {
		t.Errorf("duration %v, want %v", got, want)
	}
}

package mediapeer

import (
	"bytes"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

const frame30 = time.Second / 30

func readAll(t *testing.T, s Source, limit int) []Frame {
	t.Helper()
	var out []Frame
	for len(out) < limit {
		f, err := s.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, f)
	}
	return out
}

func TestSyntheticVideoIsRealVP8At30FramesPerSecond(t *testing.T) {
	v := SyntheticVideo()
	if v.MimeType() != webrtc.MimeTypeVP8 {
		t.Fatalf("mime %s", v.MimeType())
	}
	frames := readAll(t, v, 150) // 5 s: the 2 s clip loops
	var bytes int
	keyframes := 0
	for i, f := range frames {
		if d := f.Duration - frame30; d < -time.Microsecond || d > time.Microsecond {
			t.Fatalf("frame %d lasts %v", i, f.Duration)
		}
		bytes += len(f.Data)
		// RFC 6386 §9.1: a keyframe has the P bit clear and the start code
		// 9d 01 2a, then the 14-bit width and height.
		if f.Data[0]&1 == 0 {
			keyframes++
			if !bytesEqual(f.Data[3:6], []byte{0x9d, 0x01, 0x2a}) {
				t.Fatalf("keyframe %d without the start code", i)
			}
			w := int(f.Data[6]) | int(f.Data[7]&0x3f)<<8
			h := int(f.Data[8]) | int(f.Data[9]&0x3f)<<8
			if w != 640 || h != 360 {
				t.Fatalf("keyframe %d is %dx%d", i, w, h)
			}
		}
	}
	if frames[0].Data[0]&1 != 0 {
		t.Error("the clip does not start with a keyframe")
	}
	if keyframes != 5 {
		t.Errorf("%d keyframes in 5 s, want one a second", keyframes)
	}
	kbps := bytes * 8 / 5 / 1000
	if kbps < 800 || kbps > 1200 {
		t.Errorf("%d kbit/s, want about 1000", kbps)
	}
}

func bytesEqual(a, b []byte) bool { return bytes.Equal(a, b) }

func TestSyntheticAudioIs50OpusPacketsPerSecond(t *testing.T) {
	a := SyntheticAudio()
	if a.MimeType() != webrtc.MimeTypeOpus {
		t.Fatalf("mime %s", a.MimeType())
	}
	for i, f := range readAll(t, a, 250) {
		if f.Duration != 20*time.Millisecond {
			t.Fatalf("packet %d lasts %v", i, f.Duration)
		}
		if len(f.Data) < 3 || len(f.Data) > 400 {
			t.Fatalf("packet %d has %d bytes", i, len(f.Data))
		}
	}
}

func TestIVFSourceEndsOrLoops(t *testing.T) {
	once, err := NewIVFSource(bytes.NewReader(patternIVF), false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, once, 1000)); n != 60 {
		t.Fatalf("%d frames in the 2 s clip, want 60", n)
	}
	f, err := os.Open("testdata/pattern.ivf")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	looped, err := NewIVFSource(f, true)
	if err != nil {
		t.Fatal(err)
	}
	frames := readAll(t, looped, 200)
	if len(frames) != 200 {
		t.Fatalf("a looping source ended after %d frames", len(frames))
	}
	for i, fr := range frames {
		if fr.Duration < frame30-time.Microsecond || fr.Duration > frame30+time.Microsecond {
			t.Fatalf("frame %d (across a loop) lasts %v", i, fr.Duration)
		}
		if !bytes.Equal(fr.Data, frames[i%60].Data) {
			t.Fatalf("frame %d differs from frame %d of the first pass", i, i%60)
		}
	}
}

func TestIVFSourceRefusesWhatItCannotPlay(t *testing.T) {
	var se *SourceError
	if _, err := NewIVFSource(bytes.NewReader([]byte("DKIF short")), false); !errors.As(err, &se) {
		t.Errorf("a truncated header: %v", err)
	}
	vp9 := bytes.Clone(patternIVF)
	copy(vp9[8:12], "VP90")
	if _, err := NewIVFSource(bytes.NewReader(vp9), false); !errors.As(err, &se) {
		t.Errorf("VP9: %v", err)
	}
	if _, err := NewIVFSource(io.LimitReader(bytes.NewReader(patternIVF), 1000), true); !errors.As(err, &se) {
		t.Errorf("looping over a reader that cannot seek: %v", err)
	}
	// A file cut in the middle of a frame plays its whole frames, then
	// reports the damage.
	cut, err := NewIVFSource(bytes.NewReader(patternIVF[:len(patternIVF)-10]), false)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for ; n < 100; n++ {
		if _, err = cut.Next(); err != nil {
			break
		}
	}
	if !errors.As(err, &se) || n != 58 {
		t.Errorf("a cut file: %d frames then %v, want 58 then a SourceError", n, err)
	}
}

func TestOggSourceEndsOrLoops(t *testing.T) {
	once, err := NewOggSource(bytes.NewReader(toneOgg), false)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, once, 1000)); n < 100 || n > 101 {
		t.Fatalf("%d packets in the 2 s tone, want 100", n)
	}
	looped, err := NewOggSource(bytes.NewReader(toneOgg), true)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(readAll(t, looped, 350)); n != 350 {
		t.Fatalf("a looping source ended after %d packets", n)
	}
}

func TestOggSourceRefusesSeveralPacketsPerPage(t *testing.T) {
	packed, err := os.ReadFile("testdata/tone-packed.ogg")
	if err != nil {
		t.Fatal(err)
	}
	s, err := NewOggSource(bytes.NewReader(packed), false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = s.Next()
	if !errors.Is(err, ErrOggPacking) {
		t.Fatalf("got %v, want ErrOggPacking", err)
	}
	var se *SourceError
	if _, err := NewOggSource(bytes.NewReader([]byte("OggS but nothing else")), false); !errors.As(err, &se) {
		t.Errorf("garbage: %v", err)
	}
}

func TestOpusDuration(t *testing.T) {
	cases := []struct {
		pkt  []byte
		want time.Duration
	}{
		{[]byte{0xf8, 0xff, 0xfe}, 20 * time.Millisecond}, // CELT FB 20 ms, one frame
		{[]byte{0x78}, 20 * time.Millisecond},             // hybrid SWB 20 ms
		{[]byte{0x08}, 20 * time.Millisecond},             // SILK NB 20 ms
		{[]byte{0x18}, 60 * time.Millisecond},             // SILK NB 60 ms
		{[]byte{0x80}, 2500 * time.Microsecond},           // CELT NB 2.5 ms
		{[]byte{0xf9}, 40 * time.Millisecond},             // two 20 ms frames
		{[]byte{0xfb, 0x03}, 60 * time.Millisecond},       // code 3: three 20 ms frames
		{[]byte{0x0b, 0x02}, 40 * time.Millisecond},       // code 3: two 20 ms SILK frames
		{[]byte{0x83, 0x30}, 120 * time.Millisecond},      // 48 frames of 2.5 ms
	}
	for _, c := range cases {
		got, err := opusDuration(c.pkt)
		if err != nil || got != c.want {
			t.Errorf("% x: %v, %v; want %v", c.pkt, got, err, c.want)
		}
	}
	for _, bad := range [][]byte{{}, {0xfb}, {0xfb, 0x00}, {0xfb, 0x3f}} {
		if d, err := opusDuration(bad); err == nil {
			t.Errorf("% x: %v, want an error", bad, d)
		}
	}
}

func TestIVFSourceRefusesHugeFrames(t *testing.T) {
	huge := bytes.Clone(patternIVF[:32+12])
	huge[32], huge[33], huge[34], huge[35] = 0xff, 0xff, 0xff, 0xff // a 4 GiB frame
	var se *SourceError
	if _, err := NewIVFSource(bytes.NewReader(huge), false); !errors.As(err, &se) {
		t.Fatalf("a 4 GiB frame header: %v, want a SourceError", err)
	}
}

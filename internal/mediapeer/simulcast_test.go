package mediapeer

import (
	"testing"
	"time"
)

// vp8Size reads a VP8 keyframe's width and height (RFC 6386 §9.1); ok is
// false for an interframe.
func vp8Size(f []byte) (w, h int, ok bool) {
	if len(f) < 10 || f[0]&1 != 0 || f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return 0, 0, false
	}
	return int(f[6]) | int(f[7]&0x3f)<<8, int(f[8]) | int(f[9]&0x3f)<<8, true
}

// The three synthetic layers: real VP8 keyframes of 320x180, 640x360 and
// 1280x720, one a second, at rising bitrates around the browser's.
func TestSyntheticLayersSizesAndBitrates(t *testing.T) {
	want := []struct{ w, h, minKbps, maxKbps int }{{320, 180, 100, 250}, {640, 360, 700, 1300}, {1280, 720, 1200, 2000}}
	for i, src := range SyntheticLayers() {
		frames := readAll(t, src, 120) // 4 s
		bytes, keys := 0, 0
		for k, f := range frames {
			bytes += len(f.Data)
			if w, h, ok := vp8Size(f.Data); ok {
				keys++
				if w != want[i].w || h != want[i].h {
					t.Errorf("layer %d: keyframe %d is %dx%d", i, k, w, h)
				}
			}
		}
		kbps := bytes * 8 / 4 / 1000
		if keys != 4 || kbps < want[i].minKbps || kbps > want[i].maxKbps {
			t.Errorf("layer %d: %d keyframes in 4 s, %d kbit/s", i, keys, kbps)
		}
	}
}

// A keyframe request makes the loop's next frame a keyframe, and the
// frames stay 1/30 s apart.
func TestLoopJumpsToAKeyframeOnRequest(t *testing.T) {
	src := SyntheticLayers()[1].(*loop)
	for range 5 {
		src.Next()
	}
	src.RequestKeyframe()
	f, _ := src.Next()
	if _, _, ok := vp8Size(f.Data); !ok {
		t.Fatal("the frame after a request is not a keyframe")
	}
	if f.Duration < 33*time.Millisecond || f.Duration > 34*time.Millisecond {
		t.Errorf("it lasts %v", f.Duration)
	}
	f, _ = src.Next()
	if _, _, ok := vp8Size(f.Data); ok {
		t.Error("the request was served twice")
	}
	audio := SyntheticAudio().(*loop)
	audio.RequestKeyframe()
	if _, err := audio.Next(); err != nil {
		t.Error(err)
	}
}

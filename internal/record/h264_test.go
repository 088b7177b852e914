package record

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"
	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
)

// x264 makes an Annex-B H.264 stream with ffmpeg: a test pattern of the
// given size, profile and length at 30 frames a second, a keyframe every
// second, no B-frames (WebRTC sends none).
func x264(t *testing.T, size, profile string, seconds int) []byte {
	t.Helper()
	out := filepath.Join(t.TempDir(), "in.h264")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-t", strconv.Itoa(seconds), "-c:v", "libx264", "-profile:v", profile, "-bf", "0", "-g", "30",
		"-pix_fmt", "yuv420p", "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

// accessUnits splits an Annex-B stream into frames (one slice a frame, as
// x264 makes them by default), each still in Annex-B form.
func accessUnits(stream []byte) [][]byte {
	var nals [][]byte
	for _, part := range bytes.Split(stream, []byte{0, 0, 1}) {
		part = bytes.TrimRight(part, "\x00")
		if len(part) > 0 {
			nals = append(nals, part)
		}
	}
	var aus [][]byte
	var cur []byte
	vcl := false
	for _, n := range nals {
		isVCL := n[0]&0x1f == 1 || n[0]&0x1f == nalIDR
		if vcl && (!isVCL || n[1]&0x80 != 0) { // a new picture starts
			aus, cur, vcl = append(aus, cur), nil, false
		}
		cur = append(append(cur, 0, 0, 0, 1), n...)
		vcl = vcl || isVCL
	}
	return append(aus, cur)
}

// TestRecordH264 feeds a videoTrack the RTP packets of pion's H.264
// payloader (single NAL units, STAP-A for the parameter sets, FU-A for the
// large slices) over two ffmpeg streams, 640x360 baseline then 320x180
// high profile, with packets reordered and one lost: the Matroska file is
// H.264 for ffprobe, starts at 640x360, follows the change of size, lasts
// the stream's time, has Cues and a Duration, and decodes with no error.
func TestRecordH264(t *testing.T) {
	needFFmpeg(t)
	stream := append(x264(t, "640x360", "baseline", 3), x264(t, "320x180", "high", 2)...)
	aus := accessUnits(stream)
	if len(aus) != 150 {
		t.Fatalf("%d access units, want 150", len(aus))
	}
	pz := rtp.NewPacketizer(1200, 102, 0x1234, &codecs.H264Payloader{}, rtp.NewFixedSequencer(1000), videoRate)
	var pkts []*rtp.Packet
	for _, au := range aus {
		pkts = append(pkts, pz.Packetize(au, 3000)...)
	}
	kinds := map[byte]int{}
	for _, p := range pkts {
		kinds[p.Payload[0]&0x1f]++
	}
	if kinds[24] == 0 || kinds[28] == 0 || kinds[1] == 0 {
		t.Fatalf("packet kinds %v: want single NAL units (1), STAP-A (24) and FU-A (28)", kinds)
	}
	// Swap neighbours now and then; lose one packet of a frame in the
	// middle of the first second's group of pictures.
	for i := 10; i+1 < len(pkts); i += 37 {
		pkts[i], pkts[i+1] = pkts[i+1], pkts[i]
	}
	lost := -1
	for i, p := range pkts {
		if p.Timestamp == pkts[0].Timestamp+15*3000 {
			lost = i
			break
		}
	}
	pkts = append(pkts[:lost:lost], pkts[lost+1:]...)

	path := filepath.Join(t.TempDir(), "cam.mkv")
	plis := 0
	v, err := newVideoTrack(path, "video/h264", func() { plis++ })
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pkts {
		if err := v.push(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := v.close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("%d packets %v, %d frames written, %d keyframes, %d dropped, %d keyframe requests, resizes %+v, %v",
		len(pkts), kinds, v.frames, v.keys, v.dropped, plis, v.resizes, v.duration())
	if v.firstWidth != 640 || v.firstHeight != 360 {
		t.Errorf("first size %dx%d, want 640x360", v.firstWidth, v.firstHeight)
	}
	if len(v.resizes) != 1 || v.resizes[0].Width != 320 || v.resizes[0].Height != 180 || v.resizes[0].AtMS != 3000 {
		t.Errorf("resizes %+v, want one to 320x180 at 3000 ms", v.resizes)
	}
	if v.keys != 5 || v.dropped == 0 || v.dropped > 15 || plis == 0 {
		t.Errorf("%d keyframes, %d dropped after the loss, %d requests: want 5, 1 to 15, at least 1", v.keys, v.dropped, plis)
	}

	got, codecNames := probe(t, path)
	if len(codecNames) != 1 || codecNames[0] != "h264" {
		t.Errorf("streams %v, want one h264", codecNames)
	}
	if d := got - 5*time.Second; d > 100*time.Millisecond || d < -100*time.Millisecond {
		t.Errorf("ffprobe reads %v, want 5 s", got)
	}
	decodes(t, path)
	sizes := decodedSizes(t, path)
	if sizes["640x360"] < 60 || sizes["320x180"] != 60 || len(sizes) != 2 {
		t.Errorf("decoded frame sizes %v, want about 75 of 640x360 then 60 of 320x180", sizes)
	}
	checkMatroska(t, path, v.duration().Milliseconds())

	// Half a block at the end (a write cut short by a full disk) is cut
	// off again.
	whole, _ := os.ReadFile(path)
	if err := os.WriteFile(path, append(whole, 0xa3, 0x88, 0x81, 0x00, 0x00), 0o640); err != nil {
		t.Fatal(err)
	}
	if cut, err := trimFile(path, false); err != nil || cut != 5 {
		t.Errorf("trimming half a block: %d bytes cut, %v; want 5", cut, err)
	}
	decodes(t, path)
}

// decodedSizes counts the frames ffmpeg decodes, by size.
func decodedSizes(t *testing.T, path string) map[string]int {
	t.Helper()
	out, err := exec.Command("ffprobe", "-v", "error", "-select_streams", "v", "-show_entries", "frame=width,height",
		"-of", "json", path).Output()
	if err != nil {
		t.Fatalf("ffprobe frames: %v", err)
	}
	var res struct{ Frames []struct{ Width, Height int } }
	if err := json.Unmarshal(out, &res); err != nil {
		t.Fatal(err)
	}
	sizes := map[string]int{}
	for _, f := range res.Frames {
		sizes[fmt.Sprintf("%dx%d", f.Width, f.Height)]++
	}
	return sizes
}

// checkMatroska reads the file's structure: DocType matroska, the AVC
// codec with its configuration record, Duration and Cues.
func checkMatroska(t *testing.T, path string, durationMS int64) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var doc struct {
		Header  webm.EBMLHeader `ebml:"EBML"`
		Segment webm.Segment    `ebml:"Segment"`
	}
	if err := ebml.Unmarshal(f, &doc); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	if doc.Header.DocType != "matroska" {
		t.Errorf("DocType %q", doc.Header.DocType)
	}
	if tr := doc.Segment.Tracks.TrackEntry; len(tr) != 1 || tr[0].CodecID != h264Codec || len(tr[0].CodecPrivate) < 8 || tr[0].CodecPrivate[0] != 1 {
		t.Errorf("tracks %+v", tr)
	}
	if d := doc.Segment.Info.Duration; d < float64(durationMS)-50 || d > float64(durationMS)+50 {
		t.Errorf("Duration %v ms, want %d", d, durationMS)
	}
	if doc.Segment.Cues == nil || len(doc.Segment.Cues.CuePoint) < 3 {
		t.Errorf("Cues %+v, want a point a second", doc.Segment.Cues)
	}
}

// TestSPSSize reads the picture size of SPSs with and without cropping
// and with the high profile's extra fields.
func TestSPSSize(t *testing.T) {
	needFFmpeg(t)
	for _, c := range []struct{ size, profile string }{{"640x360", "baseline"}, {"320x180", "high"}, {"1280x720", "main"}, {"176x144", "high444"}} {
		stream := x264Pix(t, c.size, c.profile)
		var sps []byte
		for _, part := range bytes.Split(stream, []byte{0, 0, 1}) {
			if len(part) > 0 && part[0]&0x1f == nalSPS {
				sps = bytes.TrimRight(part, "\x00")
				break
			}
		}
		w, h, ok := spsSize(sps)
		if got := fmt.Sprintf("%dx%d", w, h); !ok || got != c.size {
			t.Errorf("%s %s: read %s (%v)", c.size, c.profile, got, ok)
		}
	}
	if _, _, ok := spsSize([]byte{0x67, 0x42}); ok {
		t.Error("a truncated SPS gave a size")
	}
}

// x264Pix is x264 for one second, in 4:4:4 for the high444 profile.
func x264Pix(t *testing.T, size, profile string) []byte {
	t.Helper()
	pix := "yuv420p"
	if profile == "high444" {
		pix = "yuv444p"
	}
	out := filepath.Join(t.TempDir(), "in.h264")
	cmd := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "testsrc2=size="+size+":rate=30",
		"-frames:v", "1", "-c:v", "libx264", "-profile:v", profile, "-pix_fmt", pix, "-f", "h264", out)
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, b)
	}
	data, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	return data
}

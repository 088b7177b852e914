package record_test

import (
	"context"
	"encoding/binary"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/testserver"
)

// colourSource makes a VP8 file of one solid colour and returns it as a
// looping source: the composite test knows who sent what.
func colourSource(t *testing.T, colour string) mediapeer.Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), colour+".ivf")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "color=c="+colour+":s=320x240:r=30",
		"-t", "2", "-c:v", "libvpx", "-b:v", "300k", "-g", "30", "-auto-alt-ref", "0", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	src, err := mediapeer.NewIVFSource(f, true)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// toneSource makes an Ogg/Opus file of one sine tone and returns it as a
// looping source: the composite test knows who said what.
func toneSource(t *testing.T, hz int) mediapeer.Source {
	t.Helper()
	path := filepath.Join(t.TempDir(), strconv.Itoa(hz)+".ogg")
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-f", "lavfi", "-i", "sine=frequency="+strconv.Itoa(hz)+":sample_rate=48000",
		"-t", "2", "-c:a", "libopus", "-b:a", "64k", "-page_duration", "20000", path).CombinedOutput()
	if err != nil {
		t.Fatalf("ffmpeg: %v: %s", err, out)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	src, err := mediapeer.NewOggSource(f, true)
	if err != nil {
		t.Fatal(err)
	}
	return src
}

// The tones alice and bob send, and one neither sends, to compare.
const aliceHz, bobHz, nobodyHz = 523, 1250, 800

// recordCall records red alice and blue bob, each with a tone of their
// own, for a few seconds, and returns the recording's folder.
func recordCall(t *testing.T, srv *testserver.Server, name string) string {
	t.Helper()
	room := jid.MustParse(name + "@conference." + srv.Domain)
	publisher(t, srv, room, "alice", toneSource(t, aliceHz), colourSource(t, "red"))
	publisher(t, srv, room, "bob", toneSource(t, bobHz), colourSource(t, "blue"))
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := record.Start(ctx, record.Config{Client: dial(t, srv), Room: room, ID: "c1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	rec.Stop("stopped")
	<-rec.Done()
	return dir
}

// frameAt decodes the picture at second sec as RGB.
func frameAt(t *testing.T, path string, sec float64, w, h int) []byte {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-ss", strconv.FormatFloat(sec, 'f', 2, 64), "-i", path,
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-").Output()
	if err != nil || len(out) != w*h*3 {
		t.Fatalf("frame at %.2f s: %v, %d bytes", sec, err, len(out))
	}
	return out
}

// meanVolume returns the audio's mean volume in dB (ffmpeg's volumedetect).
func meanVolume(t *testing.T, path string) float64 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-hide_banner", "-i", path, "-map", "0:a", "-af", "volumedetect", "-f", "null", "-").CombinedOutput()
	if err != nil {
		t.Fatalf("volumedetect: %v: %s", err, out)
	}
	m := regexp.MustCompile(`mean_volume: (-?[0-9.]+) dB`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("no mean volume: %s", out)
	}
	v, _ := strconv.ParseFloat(string(m[1]), 64)
	return v
}

// TestComposite: the composite of a recording decodes end to end without
// an error, shows each participant's colour in its tile, and mixes each
// one's tone into its audio.
func TestComposite(t *testing.T) {
	record.NeedFFmpeg(t)
	srv := startServer(t)
	dir := recordCall(t, srv, "comp1")
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	out, err := record.Composite(ctx, dir, record.CompositeConfig{})
	if err != nil {
		t.Fatal(err)
	}
	record.Decodes(t, out)
	got, codecs := record.Probe(t, out)
	m, _ := record.ReadManifest(dir)
	if m.Composite != record.CompositeFile {
		t.Errorf("manifest composite %q", m.Composite)
	}
	t.Logf("composite %v, streams %v", got, codecs)
	if len(codecs) != 2 || codecs[0] != "h264" || codecs[1] != "aac" {
		t.Errorf("streams %v, want h264 and aac", codecs)
	}
	// Alice's tile is left, Bob's right (in the order they joined), 1 s
	// before the end, when both were there.
	frame := frameAt(t, out, got.Seconds()-1, 1280, 720)
	px := func(x, y int) (int, int, int) {
		i := (y*1280 + x) * 3
		return int(frame[i]), int(frame[i+1]), int(frame[i+2])
	}
	if r, g, b := px(320, 300); r < 180 || g > 80 || b > 80 {
		t.Errorf("alice's tile is (%d,%d,%d), want red", r, g, b)
	}
	if r, g, b := px(960, 300); b < 180 || r > 80 || g > 80 {
		t.Errorf("bob's tile is (%d,%d,%d), want blue", r, g, b)
	}
	if v := meanVolume(t, out); v < -50 {
		t.Errorf("mean volume %v dB: no audio", v)
	}
	// The mix holds each one's tone, over the last 1.5 s before the
	// final half second, when both were there.
	pcm := audioAt(t, out, got.Seconds()-2, 1.5)
	quiet := tonePower(pcm, nobodyHz)
	for who, hz := range map[string]int{"alice": aliceHz, "bob": bobHz} {
		db := 10 * math.Log10(tonePower(pcm, hz)/quiet)
		t.Logf("%s's %d Hz: %.1f dB above %d Hz", who, hz, db, nobodyHz)
		if db < 20 {
			t.Errorf("%s's %d Hz tone is %.1f dB above %d Hz in the mix: not there", who, hz, db, nobodyHz)
		}
	}
}

// audioAt decodes seconds of a file's audio from from, as 48 kHz mono.
func audioAt(t *testing.T, path string, from, seconds float64) []int16 {
	t.Helper()
	out, err := exec.Command("ffmpeg", "-nostdin", "-v", "error", "-ss", strconv.FormatFloat(from, 'f', 2, 64), "-t",
		strconv.FormatFloat(seconds, 'f', 2, 64), "-i", path, "-map", "0:a", "-ac", "1", "-ar", "48000", "-f", "s16le", "-").Output()
	if err != nil || len(out) < 48000 {
		t.Fatalf("audio at %.2f s: %v, %d bytes", from, err, len(out))
	}
	pcm := make([]int16, len(out)/2)
	for i := range pcm {
		pcm[i] = int16(binary.LittleEndian.Uint16(out[2*i:]))
	}
	return pcm
}

// tonePower is the power of one frequency in 48 kHz samples (Goertzel).
func tonePower(pcm []int16, hz int) float64 {
	k := 2 * math.Cos(2*math.Pi*float64(hz)/48000)
	var s1, s2 float64
	for _, x := range pcm {
		s1, s2 = float64(x)+k*s1-s2, s1
	}
	return (s1*s1 + s2*s2 - k*s1*s2) / float64(len(pcm)*len(pcm))
}

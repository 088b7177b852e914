//go:build sip

package sip_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/rtp"

	"parley.dev/parley/internal/sip/opus"
	"parley.dev/parley/sdk"
)

// toneFrac is the share of a block's energy at freq (Goertzel), 1 for a
// pure tone at that frequency, about 0 for anything else.
func toneFrac(x []int16, rate, freq float64) float64 {
	w := 2 * math.Pi * freq / rate
	c := 2 * math.Cos(w)
	var s1, s2, energy float64
	for _, v := range x {
		f := float64(v)
		s1, s2 = f+c*s1-s2, s1
		energy += f * f
	}
	if energy == 0 {
		return 0
	}
	power := s1*s1 + s2*s2 - c*s1*s2
	return 2 * power / (float64(len(x)) * energy)
}

// toneBlocks counts the 100 ms blocks of x (at 8 kHz) that are loud
// enough and mostly a tone at freq.
func toneBlocks(x []int16, freq float64) int {
	const n = 800
	count := 0
	for ; len(x) >= n; x = x[n:] {
		var energy float64
		for _, v := range x[:n] {
			energy += float64(v) * float64(v)
		}
		if math.Sqrt(energy/n) > 100 && toneFrac(x[:n], 8000, freq) > 0.5 {
			count++
		}
	}
	return count
}

// writeWAV writes seconds of a sine at freq, 8 kHz 16-bit mono, its
// loudness moving as a voice's does.
func writeWAV(t *testing.T, path string, freq float64, seconds int) {
	t.Helper()
	writeWAVAt(t, path, freq, seconds, 8000, 1)
}

// writeWAVAt is writeWAV at a sample rate, with channels copies of each
// sample (baresip's file source wants its codec's rate and channels).
func writeWAVAt(t *testing.T, path string, freq float64, seconds, rate, channels int) {
	t.Helper()
	n := rate * seconds
	var b bytes.Buffer
	le := binary.LittleEndian
	size := 2 * n * channels
	b.WriteString("RIFF")
	_ = binary.Write(&b, le, uint32(36+size))
	b.WriteString("WAVEfmt ")
	for _, v := range []any{uint32(16), uint16(1), uint16(channels), uint32(rate), uint32(2 * rate * channels), uint16(2 * channels), uint16(16)} {
		_ = binary.Write(&b, le, v)
	}
	b.WriteString("data")
	_ = binary.Write(&b, le, uint32(size))
	for i := range n {
		// The tone swells and fades three times a second, as speech does:
		// the gateway's Opus encoder has DTX on, and libopus takes a
		// steady tone for background noise within seconds.
		t := float64(i) / float64(rate)
		v := int16(8000 * (0.6 + 0.4*math.Sin(2*math.Pi*3*t)) * math.Sin(2*math.Pi*freq*t))
		for range channels {
			_ = binary.Write(&b, le, v)
		}
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// readWAV returns the first channel of a 16-bit WAV file at 8 kHz (a
// 48 kHz file is decimated: the tones checked are far below 4 kHz).
func readWAV(t *testing.T, path string) []int16 {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	f := bytes.Index(data, []byte("fmt "))
	i := bytes.Index(data, []byte("data"))
	if f < 0 || i < 0 || len(data) < f+16 || len(data) < i+8 {
		t.Fatalf("%s: no fmt or data chunk", path)
	}
	channels := int(binary.LittleEndian.Uint16(data[f+10:]))
	rate := int(binary.LittleEndian.Uint32(data[f+12:]))
	if channels < 1 || rate%8000 != 0 {
		t.Fatalf("%s: %d channels at %d Hz", path, channels, rate)
	}
	all := make([]int16, (len(data)-i-8)/2)
	_ = binary.Read(bytes.NewReader(data[i+8:]), binary.LittleEndian, all)
	// Each 8 kHz sample is the mean of the first channel's samples in its
	// 1/8000 s (a crude low-pass before decimation).
	per := rate / 8000
	pcm := make([]int16, 0, len(all)/(channels*per))
	for j := 0; j+channels*per <= len(all); j += channels * per {
		sum := 0
		for k := range per {
			sum += int(all[j+k*channels])
		}
		pcm = append(pcm, int16(sum/per))
	}
	return pcm
}

// baresipOpts are a baresip's extras: more config lines (modules), more
// account parameters (";mediaenc=srtp-mand"), and the SIP port (0: any).
type baresipOpts struct {
	config, account string
	codecs          string // audio_codecs; default PCMU
	rate, channels  int    // of the file the phone sends; default 8000, 1
	port            int
}

// baresip runs a headless baresip that calls uri for seconds, sending
// in.wav (a 1 kHz tone) and recording what it hears; it returns the
// recording's path.
func baresip(t *testing.T, uri string, seconds int) (string, error) {
	t.Helper()
	return baresipWith(t, uri, seconds, baresipOpts{})
}

// baresipWith is baresip with extras; with uri "" it dials nobody and
// answers the first call by itself.
func baresipWith(t *testing.T, uri string, seconds int, opts baresipOpts) (string, error) {
	t.Helper()
	path, err := exec.LookPath("baresip")
	if err != nil {
		t.Fatal("baresip is not installed (scripts/test.sh installs baresip-core)")
	}
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.wav"), filepath.Join(dir, "out")
	if opts.rate == 0 {
		opts.rate, opts.channels = 8000, 1
	}
	writeWAVAt(t, in, 1000, seconds+5, opts.rate, opts.channels)
	port := opts.port
	if port == 0 {
		port = freePortPair(t)
	}
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	config := fmt.Sprintf(`poll_method epoll
sip_listen 127.0.0.1:%d
audio_player aubridge,nil
audio_source aufile,%s
audio_alert aubridge,nil
module_path /usr/lib/baresip/modules
module g711.so
module aufile.so
module aubridge.so
module sndfile.so
module menu.so
module_app account.so
snd_path %s
%s
`, port, in, out, opts.config)
	if err := os.WriteFile(filepath.Join(dir, "config"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	if opts.codecs == "" {
		opts.codecs = "PCMU"
	}
	account := "<sip:+4915112345678@127.0.0.1>;regint=0;audio_codecs=" + opts.codecs + opts.account + "\n"
	if err := os.WriteFile(filepath.Join(dir, "accounts"), []byte(account), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Duration(seconds+30)*time.Second)
	defer cancel()
	args := []string{"-f", dir, "-t", fmt.Sprint(seconds)}
	if uri != "" {
		args = append(args, "-e", "/dial "+uri)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	log, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("baresip: %v\n%s", err, log)
	}
	recs, _ := filepath.Glob(filepath.Join(out, "*-dec.wav"))
	if len(recs) != 1 {
		return "", fmt.Errorf("baresip recorded %d files\n%s", len(recs), log)
	}
	return recs[0], nil
}

// A real SIP phone (baresip, a 1 kHz tone from a WAV file) calls in: a
// participant sending the SDK's 440 Hz tone hears the phone's 1 kHz, and
// the phone's recording holds the 440 Hz.
func TestAudioBothWays(t *testing.T) {
	h := start(t, nil)
	audioBothWays(t, h, "sip:lab@"+h.gw.Addr(), baresipOpts{})
}

// audioBothWays has a baresip (with opts) call uri, and checks that the
// room and the phone hear each other's tone.
func audioBothWays(t *testing.T, h *harness, uri string, opts baresipOpts) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Connect(ctx, sdk.Config{Server: h.srv.WebSocket, Domain: h.srv.Domain})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	dec, err := opus.Codec{}.NewDecoder(8000)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var heard []int16 // the phone's audio, as the room receives it
	buf := make([]int16, 960)
	_, err = c.Join(ctx, sdk.RoomConfig{Room: "lab", Nick: "tone", Media: &sdk.Media{
		Audio: sdk.SyntheticAudio(),
		OnRTP: func(tr sdk.Track, pkt *rtp.Packet) {
			if tr.Owner() != phoneNick {
				return
			}
			n, err := dec.Decode(pkt.Payload, buf)
			if err == nil {
				mu.Lock()
				heard = append(heard, buf[:n]...)
				mu.Unlock()
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	rec, err := baresipWith(t, uri, 8, opts)
	if err != nil {
		t.Fatal(err)
	}
	h.idle(t)
	mu.Lock()
	defer mu.Unlock()
	inRoom := toneBlocks(heard, 1000)
	atPhone := toneBlocks(readWAV(t, rec), 440)
	t.Logf("the room heard %.1f s of the phone, %d blocks of 100 ms holding its 1 kHz tone; the phone recorded %d blocks holding the room's 440 Hz",
		float64(len(heard))/8000, inRoom, atPhone)
	if inRoom < 30 {
		t.Errorf("the room heard the phone's tone in %d blocks of 100 ms, want >= 30 (3 s of 8)", inRoom)
	}
	if atPhone < 30 {
		t.Errorf("the phone heard the room's tone in %d blocks of 100 ms, want >= 30 (3 s of 8)", atPhone)
	}
}

// A phone that speaks only Opus (baresip, audio_codecs=opus: a gateway
// without Opus would answer 488) is heard, and hears the room.
func TestOpusPhone(t *testing.T) {
	h := start(t, nil)
	audioBothWays(t, h, "sip:lab@"+h.gw.Addr(), baresipOpts{config: "module opus.so", codecs: "opus/48000/2", rate: 48000, channels: 2})
}

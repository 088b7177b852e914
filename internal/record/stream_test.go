package record_test

import (
	"context"
	"fmt"
	"net"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
)

// TestStreamRTMP streams a running recording live to an RTMP server the
// test starts (ffmpeg -listen 1): what the server receives decodes, with
// each participant's colour in its tile, and audio.
func TestStreamRTMP(t *testing.T) {
	record.NeedFFmpeg(t)
	srv := startServer(t)
	room := jid.MustParse("live1@conference." + srv.Domain)
	publisher(t, srv, room, "alice", mediapeer.SyntheticAudio(), colourSource(t, "red"))
	publisher(t, srv, room, "bob", mediapeer.SyntheticAudio(), colourSource(t, "blue"))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	url := fmt.Sprintf("rtmp://127.0.0.1:%d/live/meeting", port)
	received := filepath.Join(t.TempDir(), "received.flv")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	server := exec.CommandContext(ctx, "ffmpeg", "-nostdin", "-v", "error", "-listen", "1", "-i", url, "-c", "copy", "-f", "flv", received)
	var serverErr strings.Builder
	server.Stderr = &serverErr
	if err := server.Start(); err != nil {
		t.Fatal(err)
	}
	serverDone := make(chan error, 1)
	go func() { serverDone <- server.Wait() }()

	dir := t.TempDir()
	rec, err := record.Start(ctx, record.Config{Client: dial(t, srv), Room: room, ID: "s1", Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	// The live grid holds the tracks that have media when the stream
	// starts; this test checks both tiles, so it starts once alice's and
	// bob's four tracks are being written (on a busy machine bob's video
	// came late and the grid had alice alone).
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		m := rec.Manifest()
		writing := 0
		for _, tr := range m.Tracks {
			if tr.Frames > 0 {
				writing++
			}
		}
		if writing >= 4 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the recorder writes %d of 4 tracks: %+v", writing, m.Tracks)
		}
	}
	streamDone := make(chan error, 1)
	go func() {
		var err error
		for attempt := 0; attempt < 5; attempt++ { // the RTMP server may not listen yet
			if err = record.Stream(ctx, rec, url, 10*time.Second, record.CompositeConfig{}); err == nil ||
				!strings.Contains(err.Error(), "Connection refused") {
				break
			}
			time.Sleep(300 * time.Millisecond)
		}
		streamDone <- err
	}()
	time.Sleep(6 * time.Second)
	rec.Stop("stopped")
	if err := <-streamDone; err != nil {
		t.Fatalf("stream: %v", err)
	}
	select {
	case err := <-serverDone:
		if err != nil {
			t.Fatalf("RTMP server: %v: %s", err, serverErr.String())
		}
	case <-time.After(20 * time.Second):
		t.Fatal("the RTMP server did not see the stream end")
	}
	record.Decodes(t, received)
	got, codecs := record.Probe(t, received)
	t.Logf("received %v of %v", got, codecs)
	if len(codecs) != 2 || codecs[0] != "h264" || codecs[1] != "aac" || got < 2*time.Second {
		t.Fatalf("received %v of %v", got, codecs)
	}
	frame := frameAt(t, received, got.Seconds()-1.5, 1280, 720)
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
	if v := meanVolume(t, received); v < -50 {
		t.Errorf("mean volume %v dB: no audio", v)
	}
}

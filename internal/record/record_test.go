package record_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/at-wat/ebml-go"
	"github.com/at-wat/ebml-go/webm"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/internal/xmppclient"
)

// dial logs in anonymously to the test server.
func dial(t *testing.T, srv *testserver.Server) *xmppclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: srv.TCP, Domain: srv.Domain, NoStartTLS: true})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// publisher joins a room with media from the given sources.
func publisher(t *testing.T, srv *testserver.Server, room jid.JID, nick string, audio, video mediapeer.Source) *mediapeer.Peer {
	t.Helper()
	c := dial(t, srv)
	t.Cleanup(func() { c.Close() })
	conn, err := mediapeer.NewConn(mediapeer.ConnConfig{Client: c})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	p, err := conn.Join(ctx, mediapeer.RoomConfig{Room: room, Nick: nick, Media: true, Audio: audio, Video: video})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

// TestRecordTracks records two Pion peers: every file is read by ffprobe,
// decodes without error, and lasts the track's time in the call within
// 1 s; the manifest names who sent what.
func TestRecordTracks(t *testing.T) {
	record.NeedFFmpeg(t)
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	room := jid.MustParse("rec1@conference." + srv.Domain)
	publisher(t, srv, room, "alice", mediapeer.SyntheticAudio(), mediapeer.SyntheticVideo())
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := record.Start(ctx, record.Config{Client: dial(t, srv), Room: room, ID: "r1", Dir: dir, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(1500 * time.Millisecond)
	bob := publisher(t, srv, room, "bob", mediapeer.SyntheticAudio(), mediapeer.SyntheticVideo())
	time.Sleep(3 * time.Second)
	bob.Close()
	bobLeft := time.Now()
	time.Sleep(1500 * time.Millisecond)
	stopped := time.Now()
	rec.Stop("stopped")
	<-rec.Done()
	t.Logf("stopping took %v", time.Since(stopped).Round(time.Millisecond))

	m, err := record.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if m.State != record.StateStopped || m.ID != "r1" || m.Room != "rec1" {
		t.Fatalf("manifest %+v", m)
	}
	seen := map[string]bool{}
	for _, tr := range m.Tracks {
		seen[tr.Nick+"/"+tr.Kind] = true
		path := filepath.Join(dir, tr.File)
		got, codecs := record.Probe(t, path)
		record.Decodes(t, path)
		want := map[string]string{"audio": "opus", "video": "vp8"}[tr.Kind]
		if len(codecs) != 1 || codecs[0] != want {
			t.Errorf("%s: streams %v, want one %s", tr.File, codecs, want)
		}
		// The track's time in the call: from its first packet to the end
		// of the recording, or its publisher's leaving.
		end := stopped
		if tr.Nick == "bob" {
			end = bobLeft
		}
		inCall := end.Sub(m.Started.Add(time.Duration(tr.StartMS) * time.Millisecond))
		t.Logf("%s: ffprobe %v, in the call %v, manifest %d ms from %d ms, %d frames, %d silent, %d dropped",
			tr.File, got.Round(time.Millisecond), inCall.Round(time.Millisecond), tr.DurationMS, tr.StartMS, tr.Frames, tr.Silence, tr.Dropped)
		if d := got - inCall; d > time.Second || d < -time.Second {
			t.Errorf("%s lasts %v, but was %v in the call", tr.File, got, inCall)
		}
		if d := got - time.Duration(tr.DurationMS)*time.Millisecond; d > 100*time.Millisecond || d < -100*time.Millisecond {
			t.Errorf("%s: ffprobe %v, manifest %d ms", tr.File, got, tr.DurationMS)
		}
		if tr.Kind == "video" {
			if tr.Width != 640 || tr.Height != 360 {
				t.Errorf("%s: %dx%d, want 640x360", tr.File, tr.Width, tr.Height)
			}
			checkWebM(t, path, tr.DurationMS)
		}
	}
	for _, k := range []string{"alice/audio", "alice/video", "bob/audio", "bob/video"} {
		if !seen[k] {
			t.Errorf("no track %s in %v", k, fmt.Sprint(seen))
		}
	}
	if len(m.Participants) < 3 {
		t.Errorf("participants %+v", m.Participants)
	}
}

// checkWebM reads a WebM file's structure: its Duration, and Cues that
// point at clusters, so that players can seek.
func checkWebM(t *testing.T, path string, durationMS int64) {
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
	if d := doc.Segment.Info.Duration; d < float64(durationMS)-50 || d > float64(durationMS)+50 {
		t.Errorf("%s: Duration %v ms, want %d", path, d, durationMS)
	}
	if doc.Segment.Cues == nil || len(doc.Segment.Cues.CuePoint) == 0 {
		t.Errorf("%s: no Cues", path)
	} else if n := len(doc.Segment.Cues.CuePoint); n > len(doc.Segment.Cluster) {
		t.Errorf("%s: %d cue points for %d clusters", path, n, len(doc.Segment.Cluster))
	}
}

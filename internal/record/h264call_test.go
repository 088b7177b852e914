package record_test

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/testserver"
)

// h264Source plays x264's frames at 30 a second, in a loop.
type h264Source struct {
	mu     sync.Mutex
	frames [][]byte // read-only
	i      int      // guarded by mu
}

func (s *h264Source) MimeType() string { return webrtc.MimeTypeH264 }

func (s *h264Source) Next() (mediapeer.Frame, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.frames) == 0 {
		return mediapeer.Frame{}, io.EOF
	}
	f := s.frames[s.i%len(s.frames)]
	s.i++
	return mediapeer.Frame{Data: f, Duration: time.Second / 30}, nil
}

// TestRecordH264Call records a Pion peer that publishes H.264 through the
// SFU: the recorder takes the codec the SFU forwards and writes a
// Matroska file that ffprobe reads as H.264 at the sent size, lasting the
// track's time in the call, and that ffmpeg decodes without error.
func TestRecordH264Call(t *testing.T) {
	record.NeedFFmpeg(t)
	src := &h264Source{frames: record.H264Frames(t, "640x360", 2)}
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	room := jid.MustParse("rech264@conference." + srv.Domain)
	publisher(t, srv, room, "carol", nil, src)
	dir := t.TempDir()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	rec, err := record.Start(ctx, record.Config{Client: dial(t, srv), Room: room, ID: "h1", Dir: dir, By: "test"})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(4 * time.Second)
	stopped := time.Now()
	rec.Stop("stopped")
	<-rec.Done()
	m, err := record.ReadManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Tracks) != 1 {
		t.Fatalf("tracks %+v, want carol's video", m.Tracks)
	}
	tr := m.Tracks[0]
	t.Logf("%+v", tr)
	if filepath.Ext(tr.File) != ".mkv" || tr.Kind != "video" || tr.Width != 640 || tr.Height != 360 || tr.Error != "" {
		t.Fatalf("track %+v, want a 640x360 .mkv", tr)
	}
	path := filepath.Join(dir, tr.File)
	got, codecs := record.Probe(t, path)
	if len(codecs) != 1 || codecs[0] != "h264" {
		t.Errorf("streams %v, want one h264", codecs)
	}
	inCall := stopped.Sub(m.Started.Add(time.Duration(tr.StartMS) * time.Millisecond))
	if d := got - inCall; d > time.Second || d < -time.Second {
		t.Errorf("%s lasts %v, but was %v in the call", tr.File, got, inCall)
	}
	record.Decodes(t, path)
}

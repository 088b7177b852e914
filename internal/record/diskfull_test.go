package record_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/testserver"
)

// tmpfs mounts a file system of the given size for the test (it needs
// root, as scripts/test.sh runs), unmounted at the end.
func tmpfs(t *testing.T, size string) string {
	t.Helper()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size="+size); err != nil {
		t.Fatalf("mounting a %s tmpfs for a full disk (needs root, as scripts/test.sh runs): %v", size, err)
	}
	t.Cleanup(func() {
		if err := syscall.Unmount(dir, 0); err != nil {
			t.Errorf("unmount %s: %v", dir, err)
		}
	})
	return dir
}

// TestRecordDiskFull records onto a 1 MiB file system until it is full:
// a recording does not start without enough free space; one that fills
// the disk ends cleanly, failed, saying why in its manifest and in the
// room; and every file written so far is read by ffprobe and decodes.
func TestRecordDiskFull(t *testing.T) {
	record.NeedFFmpeg(t)
	disk := tmpfs(t, "1m")
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	room := jid.MustParse("full1@conference." + srv.Domain)
	heard := make(chan string, 64)
	c := dial(t, srv)
	defer c.Close()
	conn, err := mediapeer.NewConn(mediapeer.ConnConfig{Client: c, OnEvent: func(ev mediapeer.Event) {
		if ev.Kind == mediapeer.EventMessage {
			select {
			case heard <- ev.Occupant.Nick + ": " + ev.Text:
			default:
			}
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	alice, err := conn.Join(ctx, mediapeer.RoomConfig{Room: room, Nick: "alice", Media: true,
		Audio: mediapeer.SyntheticAudio(), Video: mediapeer.SyntheticVideo()})
	if err != nil {
		t.Fatal(err)
	}
	defer alice.Close()

	// Checked before starting: 1 MiB free is less than 4 MiB.
	_, err = record.Start(ctx, record.Config{Client: dial(t, srv), Room: room, ID: "big", Dir: filepath.Join(disk, "big"), MinFree: 4 << 20})
	if !errors.Is(err, record.ErrDiskFull) {
		t.Fatalf("starting with 1 MiB free and 4 MiB needed: %v, want %v", err, record.ErrDiskFull)
	}

	// Running: the disk fills (the free-space floor is below what a
	// packet takes, so the writes meet ENOSPC).
	dir := filepath.Join(disk, "r1")
	started := time.Now()
	rec, err := record.Start(ctx, record.Config{Client: dial(t, srv), Room: room, ID: "r1", Dir: dir, MinFree: 1})
	if err != nil {
		t.Fatal(err)
	}
	select {
	case <-rec.Done():
	case <-time.After(60 * time.Second):
		rec.Stop("test timeout")
		t.Fatal("the recording did not end when the disk filled")
	}
	t.Logf("the disk filled in %v", time.Since(started).Round(100*time.Millisecond))
	m, err := record.ReadManifest(dir)
	if err != nil {
		t.Fatalf("no manifest after a full disk: %v", err)
	}
	if m.State != record.StateFailed || m.Reason != record.ErrDiskFull.Error() || m.Ended.IsZero() {
		t.Errorf("manifest state %q reason %q ended %v", m.State, m.Reason, m.Ended)
	}
	if len(m.Tracks) != 2 {
		t.Fatalf("tracks %+v", m.Tracks)
	}
	for _, tr := range m.Tracks {
		path := filepath.Join(dir, tr.File)
		got, codecs := record.Probe(t, path)
		record.Decodes(t, path)
		st, _ := os.Stat(path)
		t.Logf("%s: %d bytes, ffprobe %v, manifest %d ms, error %q", tr.File, st.Size(), got.Round(time.Millisecond), tr.DurationMS, tr.Error)
		if len(codecs) != 1 || got < time.Second {
			t.Errorf("%s: streams %v, %v long", tr.File, codecs, got)
		}
		if d := got - time.Duration(tr.DurationMS)*time.Millisecond; d > 300*time.Millisecond || d < -300*time.Millisecond {
			t.Errorf("%s: ffprobe %v, manifest %d ms", tr.File, got, tr.DurationMS)
		}
	}
	// The room was told why.
	waitFor(t, "the room to hear why the recording stopped", func() bool {
		for {
			select {
			case text := <-heard:
				if strings.Contains(text, record.ErrDiskFull.Error()) {
					t.Logf("the room heard %q", text)
					return true
				}
			default:
				return false
			}
		}
	})
}

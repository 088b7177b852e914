package record_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

// sdkJoin connects an SDK client over WebSocket and joins room without media.
func sdkJoin(t *testing.T, srv *testserver.Server, room, nick string) *sdk.Room {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Connect(ctx, sdk.Config{Server: "ws" + strings.TrimPrefix(srv.HTTP, "http") + "/xmpp-websocket", Domain: srv.Domain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	r, err := c.Join(ctx, sdk.RoomConfig{Room: room, Nick: nick})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func sdkForbidden(t *testing.T, what string, err error) {
	t.Helper()
	var me *sdk.ModerationError
	if !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Fatalf("%s: %v, want forbidden", what, err)
	}
}

// get fetches a path of the web port.
func get(t *testing.T, srv *testserver.Server, path string) (int, []byte) {
	t.Helper()
	res, err := http.Get(srv.HTTP + path)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	return res.StatusCode, body
}

// TestRecordingFilesFromTheRoom: through the SDK (the room's IQ, as the
// web client does), a guest may neither list nor remove recordings; the
// owner lists them with a link to each file, downloads them over the web
// port with those links (which name one file, and cannot be altered),
// and removes a recording.
func TestRecordingFilesFromTheRoom(t *testing.T) {
	srv := startServer(t)
	owner := sdkJoin(t, srv, "files1", "olive") // the creator: owner
	room := jid.MustParse("files1@conference." + srv.Domain)
	publisher(t, srv, room, "pat", mediapeer.SyntheticAudio(), mediapeer.SyntheticVideo())
	guest := sdkJoin(t, srv, "files1", "gus")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	id, err := owner.StartRecording(ctx)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * time.Second)
	if err := owner.StopRecording(ctx, id); err != nil {
		t.Fatal(err)
	}
	var list []sdk.Recording
	waitFor(t, "the recording to end", func() bool {
		list, err = owner.ListRecordings(ctx)
		return err == nil && len(list) == 1 && list[0].State == record.StateStopped
	})

	_, err = guest.ListRecordings(ctx)
	sdkForbidden(t, "a guest listing recordings", err)
	sdkForbidden(t, "a guest removing a recording", guest.RemoveRecording(ctx, id))

	rec := list[0]
	t.Logf("%+v", rec)
	if rec.ID != id || rec.By != "olive" || rec.Started.IsZero() || rec.Ended.IsZero() {
		t.Errorf("recording %+v", rec)
	}
	kinds := map[string]int{}
	for _, f := range rec.Files {
		kinds[f.Kind]++
		var buf bytes.Buffer
		if err := owner.DownloadRecording(ctx, f, &buf); err != nil {
			t.Errorf("download %s: %v", f.Name, err)
			continue
		}
		if buf.Len() == 0 || (f.Bytes != 0 && int64(buf.Len()) != f.Bytes) {
			t.Errorf("%s: %d bytes downloaded, listed %d", f.Name, buf.Len(), f.Bytes)
		}
	}
	if kinds["audio"] != 1 || kinds["video"] != 1 || kinds["manifest"] != 1 {
		t.Errorf("files %+v", rec.Files)
	}
	// A link is for its file, untouched.
	link := rec.Files[0].URL
	if code, _ := get(t, srv, link); code != http.StatusOK {
		t.Errorf("GET %s: %d", link, code)
	}
	other := strings.Replace(link, rec.Files[0].Name, "manifest.json", 1)
	tampered := link[:len(link)-1] + string("0123456789abcdef"[(strings.IndexByte("0123456789abcdef", link[len(link)-1])+1)%16])
	later := strings.Replace(link, "expires=", "expires=9", 1)
	for _, bad := range []string{other, tampered, later, strings.Split(link, "?")[0]} {
		if code, body := get(t, srv, bad); code != http.StatusForbidden {
			t.Errorf("GET %s: %d %s, want 403", bad, code, body)
		}
	}

	if err := owner.RemoveRecording(ctx, id); err != nil {
		t.Fatal(err)
	}
	if list, err := owner.ListRecordings(ctx); err != nil || len(list) != 0 {
		t.Errorf("after removal: %+v, %v", list, err)
	}
	if code, _ := get(t, srv, link); code != http.StatusNotFound {
		t.Errorf("GET of a removed recording's file: %d, want 404", code)
	}
}

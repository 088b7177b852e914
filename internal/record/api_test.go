package record_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"testing"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/record"
	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/internal/xmlstream"
)

const adminToken = "recording-admin-token"

// startServer runs parley with recordings and the admin API.
func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	srv, err := testserver.Start(testserver.Config{AdminToken: adminToken,
		Recordings: func(env app.RecordingsEnv) (app.Recordings, error) {
			return record.NewManager(record.ManagerConfig{Dir: env.Dir, MUCDomain: env.MUCDomain, Dial: env.Dial, Logger: env.Logger})
		}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

// api calls the admin API and decodes its JSON answer into out.
func api(t *testing.T, srv *testserver.Server, method, path, token string, out any) int {
	t.Helper()
	req, _ := http.NewRequest(method, srv.Admin+path, nil)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if out != nil && res.StatusCode < 300 {
		if err := json.Unmarshal(body, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, body)
		}
	}
	return res.StatusCode
}

// recorderSeen waits until p sees an occupant stamped with recording id
// (any id with ""), and returns the stamp.
func recorderSeen(t *testing.T, p *mediapeer.Peer, id string) string {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for time.Now().Before(deadline) {
		for _, o := range p.Occupants() {
			if o.Recording != "" && (id == "" || o.Recording == id) {
				return o.Recording
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s never saw recording %q", p.Nick(), id)
	return ""
}

func forbidden(t *testing.T, what string, err error) {
	t.Helper()
	var me *mediapeer.ModerationError
	if !errors.As(err, &me) || me.Condition != "forbidden" {
		t.Fatalf("%s: %v, want forbidden", what, err)
	}
}

// TestRecordingPermissions: a participant without "record" can neither
// start nor stop a recording, nor show a recording stamp of its own; an
// owner can, through the room; the admin API needs its token.
func TestRecordingPermissions(t *testing.T) {
	srv := startServer(t)
	room := jid.MustParse("perm1@conference." + srv.Domain)
	olive := publisher(t, srv, room, "olive", mediapeer.SyntheticAudio(), mediapeer.SyntheticVideo()) // creator: owner
	gus := publisher(t, srv, room, "gus", mediapeer.SyntheticAudio(), nil)                            // guest
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	// The room: refused for lack of the permission.
	_, err := gus.StartRecording(ctx)
	forbidden(t, "a guest starting a recording", err)
	forbidden(t, "a guest stopping recordings", gus.StopRecording(ctx, ""))

	// Presence: a stamp from someone who may not record is not passed on.
	c := dial(t, srv)
	conn, _ := mediapeer.NewConn(mediapeer.ConnConfig{Client: c})
	faker, err := conn.Join(ctx, mediapeer.RoomConfig{Room: room, Nick: "faker",
		Presence: []*xmlstream.Element{xmlstream.New(record.NS, "recording", "id", "fake")}})
	if err != nil {
		t.Fatal(err)
	}
	waitOccupant(t, olive, "faker")
	if o, _ := olive.Occupant("faker"); o.Recording != "" {
		t.Errorf("a guest's recording stamp reached the others: %+v", o)
	}
	faker.Close()

	// The admin API: its token, then a room that exists.
	if code := api(t, srv, "POST", "/api/rooms/perm1/recordings", "", nil); code != http.StatusUnauthorized {
		t.Errorf("POST without the token: %d", code)
	}
	if code := api(t, srv, "POST", "/api/rooms/nosuchroom/recordings", adminToken, nil); code != http.StatusNotFound {
		t.Errorf("POST for a room that does not exist: %d", code)
	}

	// The owner, through the room (the SDK's and the web client's way).
	id, err := olive.StartRecording(ctx)
	if err != nil || id == "" {
		t.Fatalf("the owner's recording: %q, %v", id, err)
	}
	recorderSeen(t, gus, id) // everyone sees it
	forbidden(t, "a guest stopping the owner's recording", gus.StopRecording(ctx, id))
	if err := olive.StopRecording(ctx, id); err != nil {
		t.Fatal(err)
	}
	var m record.Manifest
	waitFor(t, "the recording to stop", func() bool {
		return api(t, srv, "GET", "/api/rooms/perm1/recordings/"+id, adminToken, &m) == 200 && m.State == record.StateStopped
	})
	if m.By != "olive" {
		t.Errorf("manifest by %q", m.By)
	}
}

// TestRecordingAdminAPI: start, list, stop, download, remove.
func TestRecordingAdminAPI(t *testing.T) {
	record.NeedFFmpeg(t)
	srv := startServer(t)
	room := jid.MustParse("api1@conference." + srv.Domain)
	olive := publisher(t, srv, room, "olive", mediapeer.SyntheticAudio(), mediapeer.SyntheticVideo())
	var started struct{ ID string }
	if code := api(t, srv, "POST", "/api/rooms/api1/recordings", adminToken, &started); code != http.StatusCreated || started.ID == "" {
		t.Fatalf("POST: %d %+v", code, started)
	}
	recorderSeen(t, olive, started.ID)
	var list []record.Manifest
	if code := api(t, srv, "GET", "/api/rooms/api1/recordings", adminToken, &list); code != 200 || len(list) != 1 || list[0].ID != started.ID {
		t.Fatalf("GET list: %d %+v", code, list)
	}
	time.Sleep(3 * time.Second)
	var m record.Manifest
	if code := api(t, srv, "DELETE", "/api/rooms/api1/recordings/"+started.ID, adminToken, &m); code != 200 || m.State != record.StateStopped {
		t.Fatalf("DELETE (stop): %d %+v", code, m)
	}
	if len(m.Tracks) != 2 {
		t.Fatalf("tracks %+v", m.Tracks)
	}
	waitFor(t, "the recorder to leave", func() bool {
		for _, o := range olive.Occupants() {
			if o.Recording != "" {
				return false
			}
		}
		return true
	})
	var withComposite record.Manifest
	if code := api(t, srv, "POST", "/api/rooms/api1/recordings/"+started.ID+"/composite", adminToken, &withComposite); code != 200 ||
		withComposite.Composite != record.CompositeFile {
		t.Errorf("composite: %d %+v", code, withComposite)
	}
	m.Tracks = append(m.Tracks, record.TrackInfo{File: record.CompositeFile}) // downloadable too
	for _, tr := range m.Tracks {
		req, _ := http.NewRequest("GET", srv.Admin+"/api/rooms/api1/recordings/"+started.ID+"/files/"+tr.File, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		n, _ := io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 || n == 0 || (tr.Bytes != 0 && n != tr.Bytes) {
			t.Errorf("download %s: %d, %d bytes, manifest %d", tr.File, res.StatusCode, n, tr.Bytes)
		}
	}
	for _, bad := range []string{"..%2F..%2Faccounts.json", "manifest.json.tmp", "nosuch.webm"} {
		if code := api(t, srv, "GET", "/api/rooms/api1/recordings/"+started.ID+"/files/"+bad, adminToken, nil); code == 200 {
			t.Errorf("download of %s answered 200", bad)
		}
	}
	if code := api(t, srv, "DELETE", "/api/rooms/api1/recordings/"+started.ID+"/files", adminToken, nil); code != http.StatusNoContent {
		t.Errorf("remove: %d", code)
	}
	if code := api(t, srv, "GET", "/api/rooms/api1/recordings/"+started.ID, adminToken, nil); code != http.StatusNotFound {
		t.Errorf("GET after removal: %d", code)
	}
}

func waitOccupant(t *testing.T, p *mediapeer.Peer, nick string) {
	t.Helper()
	waitFor(t, p.Nick()+" to see "+nick, func() bool { _, ok := p.Occupant(nick); return ok })
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

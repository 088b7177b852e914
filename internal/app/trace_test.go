package app

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/focus"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/sfu"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

func adminCall(t *testing.T, method, url, body string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, url, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// TestSignallingTraceFromTheAdminAPI: a trace taken during a call holds
// the session-initiate and session-accept, and no ICE password.
func TestSignallingTraceFromTheAdminAPI(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	if code, _ := adminCall(t, "GET", srv.admin+"/api/rooms/traced/trace", ""); code != http.StatusNotFound {
		t.Fatalf("a room never traced: %d, want 404", code)
	}
	if code, b := adminCall(t, "POST", srv.admin+"/api/rooms/traced/trace", `{"seconds": 120}`); code != http.StatusAccepted {
		t.Fatalf("start: %d %s", code, b)
	}
	room := jid.MustParse("traced@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{"ann": joinPeer(t, srv.ws, room, "ann", true), "ben": joinPeer(t, srv.ws, room, "ben", true)}
	waitFlowing(t, peers)
	code, b := adminCall(t, "GET", srv.admin+"/api/rooms/traced/trace", "")
	if code != http.StatusOK {
		t.Fatalf("get: %d %s", code, b)
	}
	var tr focus.Trace
	if err := json.Unmarshal(b, &tr); err != nil {
		t.Fatalf("trace is not JSON: %v", err)
	}
	var initiate, accept int
	for _, e := range tr.Entries {
		switch {
		case e.Dir == "out" && strings.Contains(e.Stanza, `action="session-initiate"`):
			initiate++
		case e.Dir == "in" && strings.Contains(e.Stanza, `action="session-accept"`):
			accept++
		}
	}
	if initiate != 2 || accept != 2 || tr.Room != room.String() {
		t.Fatalf("trace of %s: %d session-initiate, %d session-accept in %d entries", tr.Room, initiate, accept, len(tr.Entries))
	}
	if !strings.Contains(string(b), `pwd=\"[redacted]\"`) || strings.Contains(string(b), adminToken) {
		t.Fatalf("ICE passwords not redacted, or the admin token leaked:\n%.2000s", b)
	}
	for _, e := range tr.Entries {
		if strings.Contains(e.Stanza, "pwd=") && !strings.Contains(e.Stanza, `pwd="[redacted]"`) {
			t.Fatalf("an ICE password in the trace: %.300s", e.Stanza)
		}
	}
}

// TestSignallingTraceByAModerator: the room's owner starts and reads a
// trace with an IQ to the focus; a participant without the record
// permission is refused.
func TestSignallingTraceByAModerator(t *testing.T) {
	_, ws := startParley(t)
	room := jid.MustParse("modtrace@conference." + testDomain)
	owner := joinRogue(t, ws, room, "owner") // first in: the room's owner
	owner.nextJingle(t, "session-initiate")
	guest := joinRogue(t, ws, room, "guest")
	guest.nextJingle(t, "session-initiate")
	ask := func(r *rogue, typ string) (*xmlstream.Element, error) {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		return r.c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", typ, "to", "focus."+testDomain).Add(
			xmlstream.New("urn:parley:focus:0", "trace", "room", room.String(), "seconds", "60")))
	}
	if _, err := ask(guest, "set"); stanza.AsError(err).Condition != stanza.Forbidden {
		t.Fatalf("a participant started a trace: %v", err)
	}
	if _, err := ask(owner, "set"); err != nil {
		t.Fatalf("the owner could not start a trace: %v", err)
	}
	res, err := ask(owner, "get")
	if err != nil {
		t.Fatal(err)
	}
	var tr focus.Trace
	if err := json.Unmarshal([]byte(res.ChildText("urn:parley:focus:0", "trace")), &tr); err != nil || tr.Room != room.String() {
		t.Fatalf("trace answer %s: %v", res, err)
	}
}

// TestConferenceStats: GET /stats/conferences/ROOM on the admin listener
// describes each participant's path, codecs and packets.
func TestConferenceStats(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	room := jid.MustParse("statsroom@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{"ann": joinPeer(t, srv.ws, room, "ann", true), "ben": joinPeer(t, srv.ws, room, "ben", true)}
	waitFlowing(t, peers)
	resp, err := http.Get(srv.admin + "/stats")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("/stats without the admin token: %s", resp.Status)
	}
	if code, _ := adminCall(t, "GET", srv.admin+"/stats/conferences/nosuchroom", ""); code != http.StatusNotFound {
		t.Fatalf("a room without a conference: %d", code)
	}
	code, b := adminCall(t, "GET", srv.admin+"/stats/conferences/statsroom", "")
	if code != http.StatusOK {
		t.Fatalf("%d %s", code, b)
	}
	var c focus.ConferenceInfo
	if err := json.Unmarshal(b, &c); err != nil {
		t.Fatal(err)
	}
	if c.Room != room.String() || len(c.Participants) != 2 || c.Started.IsZero() {
		t.Fatalf("conference %s", b)
	}
	for _, p := range c.Participants {
		var m sfu.Report // the local bridge reports the SFU's
		if err := json.Unmarshal(p.Media, &m); err != nil {
			t.Fatalf("participant %s: %v: %s", p.Nick, err, b)
		}
		if p.State != "active" || m.Route.Local != "host/udp" || m.Counters.PacketsSent == 0 {
			t.Fatalf("participant %s: %s", p.Nick, b)
		}
		codecs := map[string]uint64{}
		for _, s := range m.Published {
			codecs[s.Codec] += s.Packets
		}
		if codecs["audio/opus"] == 0 || codecs["video/VP8"] == 0 {
			t.Fatalf("%s publishes %v: %s", p.Nick, codecs, b)
		}
	}
	if code, b := adminCall(t, "GET", srv.admin+"/stats", ""); code != http.StatusOK || !strings.Contains(string(b), `"statsroom@conference.`) {
		t.Fatalf("/stats: %d %.300s", code, b)
	}
}

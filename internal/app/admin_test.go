package app

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"parley.dev/parley/internal/admin"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

func TestAdminAPIAuthAndPort(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	for _, bearer := range []string{"", "wrong-token", adminToken + "x"} {
		var body map[string]string
		if code := call(t, "GET", srv.admin+"/api/rooms", bearer, nil, &body); code != http.StatusUnauthorized || body["error"] == "" {
			t.Errorf("bearer %q: %d %v", bearer, code, body)
		}
		if code := call(t, "POST", srv.admin+"/api/rooms", bearer, map[string]any{"name": "sneaky"}, nil); code != http.StatusUnauthorized {
			t.Errorf("create with bearer %q: %d", bearer, code)
		}
	}
	if _, ok := srv.p.muc.Room("sneaky"); ok {
		t.Fatal("an unauthorized request declared a room")
	}
	var rooms []admin.RoomView
	if code := call(t, "GET", srv.admin+"/api/rooms", adminToken, nil, &rooms); code != 200 || len(rooms) != 0 {
		t.Fatalf("list: %d %v", code, rooms)
	}
	// Unknown endpoints: 401 without the token (nothing is revealed), 404 with it.
	if code := call(t, "GET", srv.admin+"/api/nothing", "", nil, nil); code != http.StatusUnauthorized {
		t.Errorf("unknown endpoint without a token: %d", code)
	}
	if code := call(t, "GET", srv.admin+"/api/nothing", adminToken, nil, nil); code != http.StatusNotFound {
		t.Errorf("unknown endpoint: %d", code)
	}
	// Bad bodies lose nothing and say why.
	if code := call(t, "POST", srv.admin+"/api/rooms", adminToken, map[string]string{"name": strings.Repeat("x", 2<<20)}, nil); code != http.StatusRequestEntityTooLarge {
		t.Errorf("a 2 MiB body: %d", code)
	}
	req, _ := http.NewRequest("POST", srv.admin+"/api/rooms", strings.NewReader("{not json"))
	req.Header.Set("Authorization", "Bearer "+adminToken)
	if res, err := http.DefaultClient.Do(req); err != nil || res.StatusCode != http.StatusBadRequest {
		t.Errorf("bad JSON: %v %v", res, err)
	} else {
		res.Body.Close()
	}
	// The public port does not serve the API, with or without the token.
	for _, path := range []string{"/api/rooms", "/api/rooms/x", "/api/tokens"} {
		req, _ := http.NewRequest("GET", srv.http+path, nil)
		req.Header.Set("Authorization", "Bearer "+adminToken)
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusNotFound || strings.Contains(string(data), "[") {
			t.Errorf("public %s: %d %q", path, res.StatusCode, data)
		}
	}
}

func TestAdminAPIWithoutTokenFileRefusesEverything(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), func(c *Config) { c.AdminTokenFile = "" })
	var body map[string]string
	if code := call(t, "GET", srv.admin+"/api/rooms", "", nil, &body); code != http.StatusUnauthorized || !strings.Contains(body["error"], "--admin-token-file") {
		t.Fatalf("%d %v", code, body)
	}
	if code := call(t, "GET", srv.admin+"/api/rooms", adminToken, nil, nil); code != http.StatusUnauthorized {
		t.Fatalf("any token accepted: %d", code)
	}
}

func TestAdminAPIRoomsAndParticipants(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	api := srv.admin + "/api/rooms"
	room := "ops@conference." + testDomain
	var v admin.RoomView
	if code := call(t, "POST", api, adminToken, map[string]any{"name": "ops", "password": "pw", "lobby": true}, &v); code != 201 || !v.Password || !v.Lobby {
		t.Fatalf("create: %d %+v", code, v)
	}
	if code := call(t, "POST", api, adminToken, map[string]any{"name": "ops"}, nil); code != http.StatusConflict {
		t.Fatalf("create twice: %d", code)
	}
	for _, bad := range []map[string]any{{"name": "Not Valid"}, {"name": "x", "max_users": -1}, {"name": "y", "handover": "sometimes"}, {"name": "z", "colour": "red"}} {
		if code := call(t, "POST", api, adminToken, bad, nil); code != http.StatusBadRequest {
			t.Errorf("bad create %v: %d", bad, code)
		}
	}
	if code := call(t, "PATCH", api+"/ops", adminToken, map[string]any{"password": "", "title": "Ops room"}, &v); code != 200 || v.Password || v.Title != "Ops room" || !v.Lobby {
		t.Fatalf("patch: %d %+v", code, v)
	}
	if code := call(t, "GET", api+"/nope", adminToken, nil, nil); code != 404 {
		t.Fatalf("missing room: %d", code)
	}

	// Mint a token for a moderator, who bypasses the lobby; a guest knocks
	// and the API admits it.
	var minted struct{ Token string }
	if code := call(t, "POST", srv.admin+"/api/tokens", adminToken, map[string]any{"user": "mod-1", "name": "Moe", "room": "ops", "moderator": true}, &minted); code != 200 || minted.Token == "" {
		t.Fatalf("mint: %d", code)
	}
	mod := mustLogin(t, srv.ws, func(c *xmppclient.Config) { c.Token = minted.Token })
	mod.send(joinPresence(room, "moe", ""))
	mod.wait("moe's self-presence", selfPresence(room, "moe"))
	guest := mustLogin(t, srv.ws, nil)
	guest.send(joinPresence(room, "gil", ""))
	guest.wait("waiting", hasChild(muc.NSLobby, "waiting"))
	var waiting []muc.KnockInfo
	if code := call(t, "GET", api+"/ops/lobby", adminToken, nil, &waiting); code != 200 || len(waiting) != 1 || waiting[0].Nick != "gil" {
		t.Fatalf("lobby: %d %+v", code, waiting)
	}
	if code := call(t, "POST", api+"/ops/lobby/"+waiting[0].ID+"/admit", adminToken, nil, nil); code != 204 {
		t.Fatalf("admit: %d", code)
	}
	guest.wait("gil's self-presence", selfPresence(room, "gil"))
	var parts []admin.ParticipantView
	if code := call(t, "GET", api+"/ops/participants", adminToken, nil, &parts); code != 200 || len(parts) != 2 {
		t.Fatalf("participants: %d %+v", code, parts)
	}
	if parts[1].Nick != "moe" || parts[1].Name != "Moe" || parts[1].Kind != "token" || parts[1].Role != "moderator" || parts[0].Kind != "guest" {
		t.Fatalf("participants %+v", parts)
	}
	// Mute (forwarding stopped server-side), permissions, role change,
	// kick: the guest is told each time.
	isGil := func(role string) func(*xmlstream.Element) bool {
		return func(el *xmlstream.Element) bool {
			x := el.Child(muc.NSMUCUser, "x")
			return el.Name == "presence" && el.Attr("from") == room+"/gil" && x != nil && x.Child(muc.NSMUCUser, "item").Attr("role") == role
		}
	}
	if code := call(t, "POST", api+"/ops/participants/gil/mute", adminToken, map[string]string{"media": "audio"}, nil); code != 204 {
		t.Fatalf("mute: %d", code)
	}
	call(t, "GET", api+"/ops/participants", adminToken, nil, &parts)
	if !parts[0].Muted.Has(perm.PublishAudio) || parts[0].Muted.Has(perm.PublishVideo) {
		t.Fatalf("gil after mute: %+v", parts[0])
	}
	if code := call(t, "POST", api+"/ops/participants/gil/mute", adminToken, map[string]string{"media": "smell"}, nil); code != 400 {
		t.Fatalf("bad media: %d", code)
	}
	if code := call(t, "PATCH", api+"/ops/participants/gil/permissions", adminToken, map[string]bool{"publish_video": false}, nil); code != 204 {
		t.Fatalf("permissions: %d", code)
	}
	call(t, "GET", api+"/ops/participants", adminToken, nil, &parts)
	if parts[0].Permissions.Has(perm.PublishVideo) || !parts[0].Permissions.Has(perm.Chat) {
		t.Fatalf("gil after permissions: %+v", parts[0])
	}
	if code := call(t, "POST", api+"/ops/participants/gil/unmute", adminToken, nil, nil); code != 204 {
		t.Fatalf("unmute: %d", code)
	}
	call(t, "GET", api+"/ops/participants", adminToken, nil, &parts)
	if parts[0].Muted != 0 {
		t.Fatalf("gil after unmute: %+v", parts[0])
	}
	if code := call(t, "PUT", api+"/ops/participants/gil/role", adminToken, map[string]string{"role": "moderator"}, nil); code != 204 {
		t.Fatalf("role: %d", code)
	}
	guest.wait("gil moderator", isGil("moderator"))
	if code := call(t, "PUT", api+"/ops/participants/gil/role", adminToken, map[string]string{"role": "king"}, nil); code != 400 {
		t.Fatalf("bad role: %d", code)
	}
	if code := call(t, "POST", api+"/ops/participants/gil/kick", adminToken, map[string]string{"reason": "bye"}, nil); code != 204 {
		t.Fatalf("kick: %d", code)
	}
	guest.wait("gil kicked", func(el *xmlstream.Element) bool {
		return el.Attr("type") == "unavailable" && el.Attr("from") == room+"/gil"
	})
	if code := call(t, "POST", api+"/ops/participants/gil/kick", adminToken, nil, nil); code != 404 {
		t.Fatalf("kick again: %d", code)
	}
	// End the meeting: moe is told why; the declared room stays.
	if code := call(t, "POST", api+"/ops/end", adminToken, map[string]string{"reason": "maintenance"}, nil); code != 204 {
		t.Fatalf("end: %d", code)
	}
	ended := mod.wait("the end", hasChild(muc.NSRoom, "ended"))
	if ended.Child(muc.NSRoom, "ended").ChildText(muc.NSRoom, "reason") != "maintenance" {
		t.Fatalf("ended: %s", ended)
	}
	if code := call(t, "GET", api+"/ops", adminToken, nil, &v); code != 200 || len(v.Participants) != 0 {
		t.Fatalf("after end: %d %+v", code, v)
	}
	if code := call(t, "DELETE", api+"/ops", adminToken, nil, nil); code != 204 {
		t.Fatalf("delete: %d", code)
	}
	if code := call(t, "GET", api+"/ops", adminToken, nil, nil); code != 404 {
		t.Fatalf("after delete: %d", code)
	}
}

package focus

import (
	"testing"
)

// The room's lastN caps every participant's, below the server's when that
// is smaller; the media conference follows each change at once, and a
// conference placed again (another bridge) keeps it.
func TestRoomLastNCapsTheConference(t *testing.T) {
	a, b := &fakeBridge{name: "A"}, &fakeBridge{name: "B"}
	h := newHarness(t, a, b)
	h.f.cfg.LastN = 3           // parley serve --last-n 3; set before any conference reads it
	h.f.SetRoomLastN(h.room, 2) // no call yet: nothing to apply (the next join tells it again)
	init := h.join("alice")
	if res := h.send("alice", answer("session-accept", init.SID, init.Contents)); res.Attr("type") != "result" {
		t.Fatal(res)
	}
	lastN := func(br *fakeBridge) int {
		br.mu.Lock()
		defer br.mu.Unlock()
		if len(br.confs) == 0 {
			return -1
		}
		c := br.confs[len(br.confs)-1]
		c.mu.Lock()
		defer c.mu.Unlock()
		return c.lastN
	}
	want := func(what string, br *fakeBridge, n int) {
		t.Helper()
		eventually(t, what, func() bool { return lastN(br) == n })
	}
	want("the server's lastN before the room sets one", a, 3)
	for _, step := range []struct {
		room, want int
		what       string
	}{
		{2, 2, "the room's 2, below the server's 3"},
		{5, 3, "the server's 3, below the room's 5"},
		{0, 3, "the server's 3, the room's cap removed"},
		{1, 1, "the room's 1"},
	} {
		h.f.SetRoomLastN(h.room, step.room)
		want(step.what, a, step.want)
	}
	a.fail()
	newInit := h.initiated("alice")
	if res := h.send("alice", answer("session-accept", newInit.SID, newInit.Contents)); res.Attr("type") != "result" {
		t.Fatal(res)
	}
	want("the room's 1 on the bridge the call moved to", b, 1)
}

func TestConferenceLastN(t *testing.T) {
	for _, tc := range []struct{ server, room, want int }{
		{0, 0, 0}, {0, 4, 4}, {4, 0, 4}, {4, 2, 2}, {2, 4, 2}, {3, 3, 3},
	} {
		c := &conference{f: &Focus{cfg: Config{LastN: tc.server}}, roomLastN: tc.room}
		if got := c.lastN(); got != tc.want {
			t.Errorf("server %d, room %d: lastN %d, want %d", tc.server, tc.room, got, tc.want)
		}
	}
}

package sdk_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

// startServer runs a whole parley on loopback for one test.
func startServer(t *testing.T, users map[string]string) *testserver.Server {
	t.Helper()
	srv, err := testserver.Start(testserver.Config{Users: users, SCRAMIterations: 4096})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func connect(t *testing.T, srv *testserver.Server) *sdk.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Connect(ctx, sdk.Config{Server: srv.WebSocket, Domain: srv.Domain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func join(t *testing.T, c *sdk.Client, cfg sdk.RoomConfig) *sdk.Room {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	r, err := c.Join(ctx, cfg)
	if err != nil {
		t.Fatalf("%s joining %s: %v", cfg.Nick, cfg.Room, err)
	}
	return r
}

// waitEvent reads c's events until one matches, failing after 10 s. Events
// that do not match are skipped.
func waitEvent(t *testing.T, c *sdk.Client, what string, match func(sdk.Event) bool) sdk.Event {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-c.Events():
			if !ok {
				t.Fatalf("events closed while waiting for %s", what)
			}
			if match(ev) {
				return ev
			}
		case <-timeout:
			t.Fatalf("no event: %s", what)
		}
	}
}

func is(kind sdk.EventKind, nick string) func(sdk.Event) bool {
	return func(ev sdk.Event) bool { return ev.Kind == kind && ev.Occupant.Nick == nick }
}

// waitFor polls cond until it holds, failing after 20 s with what it says.
func waitFor(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		ok, state := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: never happened (%s)", what, state)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// flowing reports whether room receives live audio and video from each nick.
func flowing(room *sdk.Room, nicks ...string) (bool, string) {
	got := map[string]int64{}
	for _, tr := range room.Tracks() {
		if !tr.Ended() {
			got[tr.Owner()+"/"+tr.Kind()] += tr.Stats().Packets
		}
	}
	for _, n := range nicks {
		for _, kind := range []string{"audio", "video"} {
			if got[n+"/"+kind] == 0 {
				return false, fmt.Sprintf("%s has %v", room.Nick(), got)
			}
		}
	}
	return true, ""
}

package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

func TestGreeterHoldsRoomsAndGreets(t *testing.T) {
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	g := &greeter{cfg: sdk.Config{Server: srv.WebSocket, Domain: srv.Domain}, rooms: roomNames("hall", "room", 3),
		nick: "greeter", greeting: "Welcome, %s!", parallel: 2, rejoinAfter: 100 * time.Millisecond,
		ready: make(chan struct{})}
	done := make(chan error, 1)
	go func() { done <- g.session(ctx) }()
	select {
	case <-g.ready:
	case err := <-done:
		t.Fatalf("the greeter stopped: %v", err)
	}

	visitor, err := sdk.Connect(ctx, sdk.Config{Server: srv.WebSocket, Domain: srv.Domain})
	if err != nil {
		t.Fatal(err)
	}
	defer visitor.Close()
	room, err := visitor.Join(ctx, sdk.RoomConfig{Room: "room2", Nick: "ada"})
	if err != nil {
		t.Fatal(err)
	}
	if o, _ := room.Occupant("greeter"); o.Affiliation != sdk.AffiliationOwner {
		t.Errorf("the greeter does not own the room it holds: %+v", o)
	}
	for greeted := false; !greeted; {
		select {
		case ev := <-visitor.Events():
			greeted = ev.Kind == sdk.EventMessage && ev.Occupant.Nick == "greeter" && ev.Text == "Welcome, ada!"
		case <-ctx.Done():
			t.Fatal("no greeting")
		}
	}
	if got := roomNames(" a, b ,,", "x", 2); strings.Join(got, " ") != "a b x1 x2" {
		t.Errorf("roomNames: %q", got)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("session: %v", err)
	}
}

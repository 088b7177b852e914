package sdk_test

import (
	"context"
	"fmt"
	"log"
	"sort"
	"time"

	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

// exampleServer runs a parley on loopback so that the examples run as
// tests; a real program connects to ws://HOST:PORT/xmpp-websocket.
func exampleServer() *testserver.Server {
	srv, err := testserver.Start(testserver.Config{Domain: "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	return srv
}

// A bot joins a room and talks.
func Example() {
	srv := exampleServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	c, err := sdk.Connect(ctx, sdk.Config{Server: srv.WebSocket, Domain: "example.com"})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close()
	room, err := c.Join(ctx, sdk.RoomConfig{Room: "standup", Nick: "bot"})
	if err != nil {
		log.Fatal(err)
	}
	if err := room.Say("good morning"); err != nil {
		log.Fatal(err)
	}
	for ev := range c.Events() {
		if ev.Kind == sdk.EventMessage {
			fmt.Printf("%s in %s: %s\n", ev.Occupant.Nick, ev.Room.Name(), ev.Text)
			break
		}
	}
	me, _ := room.Occupant("bot")
	fmt.Println("our affiliation:", me.Affiliation)
	// Output:
	// bot in standup@conference.example.com: good morning
	// our affiliation: owner
}

// A bot publishes the synthetic test pattern and tone; another one
// receives them as RTP.
func Example_media() {
	srv := exampleServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := sdk.Config{Server: srv.WebSocket, Domain: "example.com"}
	sender, err := sdk.Connect(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer sender.Close()
	receiver, err := sdk.Connect(ctx, cfg)
	if err != nil {
		log.Fatal(err)
	}
	defer receiver.Close()

	_, err = sender.Join(ctx, sdk.RoomConfig{Room: "studio", Nick: "camera",
		Media: &sdk.Media{Video: sdk.SyntheticVideo(), Audio: sdk.SyntheticAudio()}})
	if err != nil {
		log.Fatal(err)
	}
	// Receive only: no sources, just the tracks of the others.
	_, err = receiver.Join(ctx, sdk.RoomConfig{Room: "studio", Nick: "monitor", Media: &sdk.Media{}})
	if err != nil {
		log.Fatal(err)
	}
	var got []string
	for ev := range receiver.Events() {
		if ev.Kind == sdk.EventTrackAdded {
			got = append(got, ev.Track.Kind()+" "+ev.Track.MimeType()+" from "+ev.Track.Owner())
			if len(got) == 2 {
				break
			}
		}
	}
	sort.Strings(got)
	for _, g := range got {
		fmt.Println(g)
	}
	// Output:
	// audio audio/opus from camera
	// video video/VP8 from camera
}

// The room's creator owns it and may kick.
func ExampleRoom_Kick() {
	srv := exampleServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := sdk.Config{Server: srv.WebSocket, Domain: "example.com"}
	host, _ := sdk.Connect(ctx, cfg)
	defer host.Close()
	guest, _ := sdk.Connect(ctx, cfg)
	defer guest.Close()
	game, err := host.Join(ctx, sdk.RoomConfig{Room: "game", Nick: "host"})
	if err != nil {
		log.Fatal(err)
	}
	seat, err := guest.Join(ctx, sdk.RoomConfig{Room: "game", Nick: "player"})
	if err != nil {
		log.Fatal(err)
	}
	if err := game.Kick(ctx, "player", "time is up"); err != nil {
		log.Fatal(err)
	}
	<-seat.Done()
	fmt.Println("player is out:", seat.Reason())
	// Output: player is out: kicked
}

// A bot that greets whoever joins the rooms it holds.
func ExampleClient_Events() {
	srv := exampleServer()
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()

	cfg := sdk.Config{Server: srv.WebSocket, Domain: "example.com"}
	bot, _ := sdk.Connect(ctx, cfg)
	defer bot.Close()
	for _, name := range []string{"lobby", "games", "help"} {
		if _, err := bot.Join(ctx, sdk.RoomConfig{Room: name, Nick: "greeter"}); err != nil {
			log.Fatal(err)
		}
	}
	visitor, _ := sdk.Connect(ctx, cfg)
	defer visitor.Close()
	go visitor.Join(ctx, sdk.RoomConfig{Room: "games", Nick: "ada"})

	for ev := range bot.Events() {
		if ev.Kind == sdk.EventJoined && !ev.Existing && !ev.Occupant.Self {
			ev.Room.Say("welcome, " + ev.Occupant.Nick)
			fmt.Println("greeted", ev.Occupant.Nick, "in", ev.Room.Name())
			break
		}
	}
	// Output: greeted ada in games@conference.example.com
}

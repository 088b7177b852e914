// Command playfile is a bot that joins a parley room and plays a video and
// an audio file (or the SDK's synthetic test pattern and tone) to everyone,
// while it receives the others' tracks and reports them.
//
//	go run ./sdk/examples/playfile -server ws://localhost:8080/xmpp-websocket -room standup \
//	    [-video clip.ivf] [-audio clip.ogg] [-loop] [-for 1m] [-report 1s]
//
// The video must be VP8 in IVF and the audio Opus in Ogg with one packet per
// page; ffmpeg makes both:
//
//	ffmpeg -i in.mp4 -c:v libvpx -b:v 1M -g 30 -an clip.ivf
//	ffmpeg -i in.mp4 -c:a libopus -page_duration 20000 -vn clip.ogg
//
// Every -report interval it prints one JSON line on stdout: the tracks it
// receives, by publisher and kind, with packet counts. Tests start it to
// check a call between a browser and a bot.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"parley.dev/parley/sdk"
)

func main() {
	server := flag.String("server", "ws://localhost:8080/xmpp-websocket", "parley's XMPP WebSocket URL, or HOST:PORT for TCP")
	domain := flag.String("domain", "", "XMPP domain (default: the server's host name)")
	room := flag.String("room", "", "room name or address (required)")
	nick := flag.String("nick", "playfile", "nickname in the room")
	video := flag.String("video", "", "IVF (VP8) file to play (default: the synthetic test pattern)")
	audio := flag.String("audio", "", "Ogg (Opus) file to play (default: the synthetic tone)")
	loop := flag.Bool("loop", false, "play the files again and again")
	duration := flag.Duration("for", 0, "leave after this long (default: until interrupted)")
	report := flag.Duration("report", time.Second, "how often to print what is received (0: never)")
	flag.Parse()
	if *room == "" {
		fmt.Fprintln(os.Stderr, "playfile: -room is required")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if *duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, *duration)
		defer cancel()
	}
	media := &sdk.Media{Video: sdk.SyntheticVideo(), Audio: sdk.SyntheticAudio()}
	if *video != "" {
		media.Video = sdk.IVFFile(*video, *loop)
	}
	if *audio != "" {
		media.Audio = sdk.OggFile(*audio, *loop)
	}
	if err := run(ctx, sdk.Config{Server: *server, Domain: *domain, Logger: slog.New(slog.NewTextHandler(os.Stderr, nil))},
		sdk.RoomConfig{Room: *room, Nick: *nick, Media: media}, *report); err != nil {
		fmt.Fprintln(os.Stderr, "playfile:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, cfg sdk.Config, rc sdk.RoomConfig, every time.Duration) error {
	c, err := sdk.Connect(ctx, cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	room, err := c.Join(ctx, rc)
	if err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "playfile: in %s as %s\n", room.Name(), room.Nick())
	var tick <-chan time.Time
	if every > 0 {
		t := time.NewTicker(every)
		defer t.Stop()
		tick = t.C
	}
	out := json.NewEncoder(os.Stdout)
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-room.Done():
			return fmt.Errorf("out of the room: %s", room.Reason())
		case ev, ok := <-c.Events():
			if !ok {
				return c.Err()
			}
			logEvent(ev)
		case <-tick:
			out.Encode(receiving(room))
		}
	}
}

// trackReport is one received track in a report line.
type trackReport struct {
	From    string `json:"from"`
	Kind    string `json:"kind"`
	Codec   string `json:"codec"`
	Packets int64  `json:"packets"`
	Lost    int64  `json:"lost"`
	Ended   bool   `json:"ended"`
}

func receiving(room *sdk.Room) map[string]any {
	tracks := []trackReport{}
	for _, t := range room.Tracks() {
		st := t.Stats()
		tracks = append(tracks, trackReport{From: t.Owner(), Kind: t.Kind(), Codec: t.MimeType(),
			Packets: st.Packets, Lost: st.Lost, Ended: t.Ended()})
	}
	nicks := []string{}
	for _, o := range room.Occupants() {
		nicks = append(nicks, o.Nick)
	}
	return map[string]any{"room": room.Name(), "occupants": nicks, "tracks": tracks}
}

func logEvent(ev sdk.Event) {
	switch ev.Kind {
	case sdk.EventJoined, sdk.EventLeft:
		fmt.Fprintf(os.Stderr, "playfile: %s %s\n", ev.Occupant.Nick, ev.Kind)
	case sdk.EventTrackAdded:
		fmt.Fprintf(os.Stderr, "playfile: receiving %s from %s\n", ev.Track.Kind(), ev.Track.Owner())
	case sdk.EventMessage:
		fmt.Fprintf(os.Stderr, "playfile: <%s> %s\n", ev.Occupant.Nick, ev.Text)
	}
}

// Command greeter is a bot that holds a set of parley rooms open on one
// connection, signalling only, and greets whoever joins. It comes back when
// it is kicked and reconnects when the connection drops.
//
//	go run ./sdk/examples/greeter -server ws://localhost:8080/xmpp-websocket -rooms lobby,games
//	go run ./sdk/examples/greeter -server ws://localhost:8080/xmpp-websocket -prefix room -count 1000
//
// Once every room is joined it prints how many it holds, how long joining
// took, and its own resident memory.
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"parley.dev/parley/sdk"
)

func main() {
	server := flag.String("server", "ws://localhost:8080/xmpp-websocket", "parley's XMPP WebSocket URL, or HOST:PORT for TCP")
	domain := flag.String("domain", "", "XMPP domain (default: the server's host name)")
	rooms := flag.String("rooms", "", "comma-separated room names")
	prefix := flag.String("prefix", "room", "with -count: rooms PREFIX1 … PREFIXcount")
	count := flag.Int("count", 0, "hold this many numbered rooms")
	nick := flag.String("nick", "greeter", "nickname in every room")
	greeting := flag.String("greeting", "Welcome, %s!", "message to newcomers (%s is their nick)")
	parallel := flag.Int("parallel", 50, "rooms joined at once")
	flag.Parse()
	names := roomNames(*rooms, *prefix, *count)
	if len(names) == 0 {
		fmt.Fprintln(os.Stderr, "greeter: give -rooms or -count")
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	g := &greeter{cfg: sdk.Config{Server: *server, Domain: *domain, Events: 4096,
		Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))},
		rooms: names, nick: *nick, greeting: *greeting, parallel: max(*parallel, 1), rejoinAfter: 5 * time.Second}
	for backoff := time.Second; ctx.Err() == nil; backoff = min(2*backoff, time.Minute) {
		err := g.session(ctx)
		if ctx.Err() != nil {
			break
		}
		fmt.Fprintf(os.Stderr, "greeter: %v; reconnecting in %v\n", err, backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff):
		}
	}
}

func roomNames(list, prefix string, count int) []string {
	var names []string
	for _, n := range strings.Split(list, ",") {
		if n = strings.TrimSpace(n); n != "" {
			names = append(names, n)
		}
	}
	for i := 1; i <= count; i++ {
		names = append(names, fmt.Sprintf("%s%d", prefix, i))
	}
	return names
}

// greeter's fields are set once, before session runs.
type greeter struct {
	cfg         sdk.Config
	rooms       []string
	nick        string
	greeting    string
	parallel    int           // rooms joined at once
	rejoinAfter time.Duration // wait after a kick before coming back
	ready       chan struct{} // if set, closed once every room is joined (for tests)
}

// session connects, joins every room, then greets until the connection
// ends.
func (g *greeter) session(ctx context.Context) error {
	c, err := sdk.Connect(ctx, g.cfg)
	if err != nil {
		return err
	}
	defer c.Close()
	start := time.Now()
	if err := g.joinAll(ctx, c); err != nil {
		return err
	}
	fmt.Printf("greeter: holding %d rooms on one connection (joined in %.1f s, RSS %s)\n",
		len(c.Rooms()), time.Since(start).Seconds(), residentMemory())
	if g.ready != nil {
		close(g.ready)
	}
	rejoin := make(chan string, len(g.rooms))
	for {
		select {
		case <-ctx.Done():
			return nil
		case name := <-rejoin:
			if _, err := c.Join(ctx, sdk.RoomConfig{Room: name, Nick: g.nick}); err != nil {
				fmt.Fprintf(os.Stderr, "greeter: rejoining %s: %v\n", name, err)
			}
		case ev, ok := <-c.Events():
			if !ok {
				return fmt.Errorf("connection ended: %v", c.Err())
			}
			g.handle(ev, rejoin)
		}
	}
}

func (g *greeter) handle(ev sdk.Event, rejoin chan<- string) {
	switch {
	case ev.Kind == sdk.EventJoined && !ev.Existing && !ev.Occupant.Self:
		ev.Room.Say(fmt.Sprintf(g.greeting, ev.Occupant.Nick))
	case ev.Kind == sdk.EventRemoved && (ev.Reason == sdk.ReasonKicked || ev.Reason == sdk.ReasonShutdown):
		name := ev.Room.Name()
		time.AfterFunc(g.rejoinAfter, func() { rejoin <- name })
	}
}

// joinAll joins the rooms, a few at a time.
func (g *greeter) joinAll(ctx context.Context, c *sdk.Client) error {
	sem := make(chan struct{}, g.parallel)
	errs := make(chan error, len(g.rooms))
	for _, name := range g.rooms {
		sem <- struct{}{}
		go func() {
			defer func() { <-sem }()
			jctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			defer cancel()
			_, err := c.Join(jctx, sdk.RoomConfig{Room: name, Nick: g.nick})
			if err != nil {
				err = fmt.Errorf("joining %s: %w", name, err)
			}
			errs <- err
		}()
	}
	var first error
	for range g.rooms {
		if err := <-errs; err != nil && first == nil {
			first = err
		}
	}
	return first
}

// residentMemory reads this process's resident set size on Linux.
func residentMemory() string {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return "unknown"
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			return strings.TrimSpace(v)
		}
	}
	return "unknown"
}

// Command pionpeers puts headless Pion participants (internal/mediapeer)
// into a parley room for the browser tests: each logs in as a guest over
// WebSocket, joins with synthetic audio and video, and counts what it
// receives from everyone else.
//
// It prints {"ready":true} once every peer has joined, then answers each
// "stats" line on stdin with one JSON line: packets received per peer, per
// sending nick, per kind. It leaves the room and exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

func main() {
	ws := flag.String("ws", "", "WebSocket URL, ws://127.0.0.1:PORT/xmpp-websocket (required)")
	domain := flag.String("domain", "localhost", "XMPP domain")
	room := flag.String("room", "", "room localpart (required)")
	n := flag.Int("n", 1, "number of peers")
	prefix := flag.String("prefix", "pion", "nick prefix; peers are PREFIX1, PREFIX2, ...")
	media := flag.Int("media", -1, "how many of the peers (the first ones) take the call's media, the others are only in the room (a large room at little CPU); default all")
	flag.Parse()
	if *ws == "" || *room == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *media < 0 || *media > *n {
		*media = *n
	}
	if err := run(*ws, *domain, *room, *n, *media, *prefix, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pionpeers:", err)
		os.Exit(1)
	}
}

type peer struct {
	nick   string
	client *xmppclient.Client
	media  *mediapeer.Peer
}

func run(ws, domain, room string, n, media int, prefix string, in io.Reader, out io.Writer) error {
	roomJID, err := jid.Parse(room + "@conference." + domain)
	if err != nil {
		return fmt.Errorf("room: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	var peers []*peer
	defer func() {
		for _, p := range peers {
			p.media.Close()
			p.client.Close()
		}
	}()
	for i := 1; i <= n; i++ {
		p, err := join(ws, domain, roomJID, fmt.Sprintf("%s%d", prefix, i), i <= media, logger)
		if err != nil {
			return err
		}
		peers = append(peers, p)
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(map[string]bool{"ready": true}); err != nil {
		return err
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		if strings.TrimSpace(lines.Text()) != "stats" {
			continue
		}
		if err := enc.Encode(map[string]any{"peers": stats(peers)}); err != nil {
			return err
		}
	}
	return lines.Err()
}

func join(ws, domain string, room jid.JID, nick string, media bool, logger *slog.Logger) (*peer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: domain, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("%s: login: %w", nick, err)
	}
	m, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: room, Nick: nick, Media: media, Logger: logger})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: join: %w", nick, err)
	}
	return &peer{nick: nick, client: c, media: m}, nil
}

// counts is what one peer received from one sender.
type counts struct {
	AudioPackets int64 `json:"audioPackets"`
	VideoPackets int64 `json:"videoPackets"`
}

// stats maps receiving peer -> sending nick -> packets; tracks that ended
// are left out, so a sender who left disappears.
func stats(peers []*peer) map[string]map[string]counts {
	out := make(map[string]map[string]counts, len(peers))
	for _, p := range peers {
		from := make(map[string]counts)
		for _, t := range p.media.Tracks() {
			if t.Ended.Load() {
				continue
			}
			nick := t.Owner
			if i := strings.IndexByte(nick, '/'); i >= 0 {
				nick = nick[i+1:]
			}
			c := from[nick]
			switch t.Kind {
			case "audio":
				c.AudioPackets += t.Packets.Load()
			case "video":
				c.VideoPackets += t.Packets.Load()
			}
			from[nick] = c
		}
		out[p.nick] = from
	}
	return out
}

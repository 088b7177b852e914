// Command pionpeers puts headless Pion participants (internal/mediapeer)
// into a parley room for the browser tests: each logs in as a guest over
// WebSocket, joins with synthetic audio and video, and counts what it
// receives from everyone else. Peers with media join one at a time, each
// once the focus has called it, so that the SFU takes them in in order.
//
// It prints {"ready":true} once every peer has joined, then answers each
// line on stdin with one JSON line:
//   - "stats": packets received per peer, per sending nick, per kind;
//   - "speak NICK" / "quiet NICK": that peer's audio becomes the tone
//     (RFC 6464 level: speech) or Opus silence frames (level: silence), so
//     that a test chooses the room's dominant speaker; {"ok":true}, or
//     {"error":"..."} for a peer that does not send audio.
//
// With -quiet the peers start quiet; by default they speak. It leaves the
// room and exits when stdin closes.
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
	"sync/atomic"
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
	quiet := flag.Bool("quiet", false, "the peers start sending silence, until told to speak on stdin")
	flag.Parse()
	if *ws == "" || *room == "" || *n < 1 {
		flag.Usage()
		os.Exit(2)
	}
	if *media < 0 || *media > *n {
		*media = *n
	}
	if err := run(options{ws: *ws, domain: *domain, room: *room, n: *n, media: *media, prefix: *prefix, quiet: *quiet}, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pionpeers:", err)
		os.Exit(1)
	}
}

// options are the command line's.
type options struct {
	ws, domain, room, prefix string
	n, media                 int
	quiet                    bool
}

type peer struct {
	nick   string
	client *xmppclient.Client
	media  *mediapeer.Peer
	voice  *voice // nil for a peer without media
}

func run(o options, in io.Reader, out io.Writer) error {
	roomJID, err := jid.Parse(o.room + "@conference." + o.domain)
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
	for i := 1; i <= o.n; i++ {
		p, err := join(o.ws, o.domain, roomJID, fmt.Sprintf("%s%d", o.prefix, i), i <= o.media, !o.quiet, logger)
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
		if err := enc.Encode(answer(peers, strings.Fields(lines.Text()))); err != nil {
			return err
		}
	}
	return lines.Err()
}

// answer carries out one command line (see the package comment).
func answer(peers []*peer, cmd []string) any {
	switch {
	case len(cmd) == 1 && cmd[0] == "stats":
		return map[string]any{"peers": stats(peers)}
	case len(cmd) == 2 && (cmd[0] == "speak" || cmd[0] == "quiet"):
		for _, p := range peers {
			if p.nick == cmd[1] && p.voice != nil {
				p.voice.speaking.Store(cmd[0] == "speak")
				return map[string]bool{"ok": true}
			}
		}
		return map[string]string{"error": "no peer with audio named " + cmd[1]}
	}
	return map[string]string{"error": fmt.Sprintf("unknown command %q", strings.Join(cmd, " "))}
}

func join(ws, domain string, room jid.JID, nick string, media, speaking bool, logger *slog.Logger) (*peer, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: domain, Logger: logger})
	if err != nil {
		return nil, fmt.Errorf("%s: login: %w", nick, err)
	}
	conn, err := mediapeer.NewConn(mediapeer.ConnConfig{Client: c, Logger: logger})
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: %w", nick, err)
	}
	rc := mediapeer.RoomConfig{Room: room, Nick: nick, Media: media}
	var v *voice
	if media {
		v = &voice{tone: mediapeer.SyntheticAudio()}
		v.speaking.Store(speaking)
		rc.Audio, rc.Video = v, mediapeer.SyntheticVideo()
	}
	m, err := conn.Join(ctx, rc)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("%s: join: %w", nick, err)
	}
	// The focus calls us once the SFU has taken us in: waiting for that
	// makes the SFU's join order (lastN's order before anyone speaks) the
	// peers' order.
	for media && m.JingleSID() == "" {
		select {
		case <-ctx.Done():
			m.Close()
			c.Close()
			return nil, fmt.Errorf("%s: the focus did not call: %w", nick, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return &peer{nick: nick, client: c, media: m, voice: v}, nil
}

// voice is an audio source that plays the synthetic tone while speaking
// and Opus silence frames otherwise: mediapeer marks frames of at most 3
// bytes as silence in the RFC 6464 level it sends, the tone as speech.
type voice struct {
	tone     mediapeer.Source // owned by the publishing goroutine
	speaking atomic.Bool      // set by the command loop, read by the publisher
}

// opusSilence returns one 20 ms Opus frame of silence (a CELT-only TOC
// byte and an empty frame).
func opusSilence() []byte { return []byte{0xf8, 0xff, 0xfe} }

func (v *voice) MimeType() string { return v.tone.MimeType() }

func (v *voice) Next() (mediapeer.Frame, error) {
	f, err := v.tone.Next() // the tone keeps its place, silent or not
	if err != nil || v.speaking.Load() {
		return f, err
	}
	return mediapeer.Frame{Data: opusSilence(), Duration: f.Duration}, nil
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

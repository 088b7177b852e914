// Command permbot is the moderator of the browser permission tests: a
// headless Pion participant (internal/mediapeer) that creates a parley
// room as its owner, publishes synthetic audio and video, counts what it
// receives, and moderates on command.
//
// It prints {"ready":true} once in the room (made moderated first with
// -moderated: newcomers are then viewers), then answers each stdin line
// with one JSON line:
//
//	stats                        {"recv": {"NICK/KIND": packets, ...}}
//	mute NICK MEDIA              {"ok": true} or {"error": "..."}
//	allow NICK PERMISSION BOOL   {"ok": true} or {"error": "..."}
//
// It leaves the room and exits when stdin closes.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

func main() {
	ws := flag.String("ws", "", "WebSocket URL, ws://127.0.0.1:PORT/xmpp-websocket (required)")
	domain := flag.String("domain", "localhost", "XMPP domain")
	room := flag.String("room", "", "room localpart (required)")
	nick := flag.String("nick", "boss", "our nick")
	moderated := flag.Bool("moderated", false, "make the room moderated before anyone else enters")
	flag.Parse()
	if *ws == "" || *room == "" {
		flag.Usage()
		os.Exit(2)
	}
	if err := run(*ws, *domain, *room, *nick, *moderated, os.Stdin, os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "permbot:", err)
		os.Exit(1)
	}
}

func run(ws, domain, room, nick string, moderated bool, in io.Reader, out io.Writer) error {
	roomJID, err := jid.Parse(room + "@conference." + domain)
	if err != nil {
		return fmt.Errorf("room: %w", err)
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: domain, Logger: logger})
	if err != nil {
		return fmt.Errorf("login: %w", err)
	}
	defer c.Close()
	conn, err := mediapeer.NewConn(mediapeer.ConnConfig{Client: c, Logger: logger})
	if err != nil {
		return err
	}
	defer conn.Close()
	instant := false // we configure the new room ourselves, then unlock it
	p, err := conn.Join(ctx, mediapeer.RoomConfig{Room: roomJID, Nick: nick, Media: true, InstantRoom: &instant,
		Audio: mediapeer.SyntheticAudio(), Video: mediapeer.SyntheticVideo()})
	if err != nil {
		return fmt.Errorf("join: %w", err)
	}
	defer p.Close()
	if err := configure(ctx, c, roomJID, moderated); err != nil {
		return fmt.Errorf("configuring the room: %w", err)
	}
	enc := json.NewEncoder(out)
	if err := enc.Encode(map[string]bool{"ready": true}); err != nil {
		return err
	}
	lines := bufio.NewScanner(in)
	for lines.Scan() {
		f := strings.Fields(lines.Text())
		if len(f) == 0 {
			continue
		}
		var reply any
		if f[0] == "stats" {
			reply = map[string]any{"recv": received(p)}
		} else {
			reply = result(command(p, f))
		}
		if err := enc.Encode(reply); err != nil {
			return err
		}
	}
	return lines.Err()
}

// configure submits the room's configuration form, which unlocks it.
func configure(ctx context.Context, c *xmppclient.Client, room jid.JID, moderated bool) error {
	x := xmlstream.New("jabber:x:data", "x", "type", "submit")
	if moderated {
		x.Add(field("FORM_TYPE", "http://jabber.org/protocol/muc#roomconfig"),
			field("muc#roomconfig_moderatedroom", "1"))
	}
	_, err := c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", room.String()).Add(
		xmlstream.New("http://jabber.org/protocol/muc#owner", "query").Add(x)))
	return err
}

func field(name, value string) *xmlstream.Element {
	return xmlstream.New("jabber:x:data", "field", "var", name).Add(xmlstream.New("jabber:x:data", "value").SetText(value))
}

func command(p *mediapeer.Peer, f []string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	switch {
	case f[0] == "mute" && len(f) == 3:
		return p.Mute(ctx, f[1], f[2])
	case f[0] == "allow" && len(f) == 4:
		pm, err := perm.ParsePermission(f[2])
		if err != nil {
			return err
		}
		var o perm.Overrides
		o.Set(pm, f[3] == "true")
		return p.Override(ctx, f[1], o)
	}
	return errors.New("unknown command " + strings.Join(f, " "))
}

func result(err error) map[string]any {
	if err != nil {
		return map[string]any{"error": err.Error()}
	}
	return map[string]any{"ok": true}
}

// received maps "NICK/KIND" to the packets received on live tracks.
func received(p *mediapeer.Peer) map[string]int64 {
	out := map[string]int64{}
	for _, t := range p.Tracks() {
		if t.Ended.Load() {
			continue
		}
		nick := t.Owner[strings.LastIndexByte(t.Owner, '/')+1:]
		out[nick+"/"+t.Kind] += t.Packets.Load()
	}
	return out
}

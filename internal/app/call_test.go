package app

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

const testDomain = "example.test"

// startParley runs the whole server on loopback ports.
func startParley(t *testing.T) (*parley, string) {
	t.Helper()
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	c2sLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := start(Config{
		Domain: testDomain, DataDir: t.TempDir(), PublicIP: "127.0.0.1", AllowAnonymous: true,
		HTTPListener: httpLn, C2SListener: c2sLn,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	return p, "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
}

func joinPeer(t *testing.T, ws string, room jid.JID, nick string, media bool) *mediapeer.Peer {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	p, err := mediapeer.Join(ctx, mediapeer.Config{Client: c, Room: room, Nick: nick, Media: media})
	if err != nil {
		t.Fatalf("%s joining: %v", nick, err)
	}
	t.Cleanup(func() { p.Close(); c.Close() })
	return p
}

// received returns, per "owner nick/kind", the packets a peer got so far.
func received(p *mediapeer.Peer) map[string]int64 {
	out := map[string]int64{}
	for _, tr := range p.Tracks() {
		if tr.Ended.Load() {
			continue
		}
		nick := tr.Owner[strings.LastIndexByte(tr.Owner, '/')+1:]
		out[nick+"/"+tr.Kind] += tr.Packets.Load()
	}
	return out
}

// waitFlowing waits until every peer receives audio and video from every
// other, and returns the counters then.
func waitFlowing(t *testing.T, peers map[string]*mediapeer.Peer) map[string]map[string]int64 {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		snap := map[string]map[string]int64{}
		missing := ""
		for name, p := range peers {
			got := received(p)
			snap[name] = got
			for other := range peers {
				if other == name {
					continue
				}
				for _, kind := range []string{"audio", "video"} {
					if got[other+"/"+kind] == 0 {
						missing = fmt.Sprintf("%s has no %s from %s (has %v)", name, kind, other, got)
					}
				}
			}
		}
		if missing == "" {
			return snap
		}
		if time.Now().After(deadline) {
			t.Fatal(missing)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// requireGrowth checks that every counter in before grew in now.
func requireGrowth(t *testing.T, before, now map[string]map[string]int64, when string) {
	t.Helper()
	for name, counters := range before {
		for k, v := range counters {
			if n, ok := now[name][k]; ok && n <= v {
				t.Errorf("%s: %s's %s stalled at %d", when, name, k, v)
			}
		}
	}
}

func TestGroupCallWithPionPeers(t *testing.T) {
	_, ws := startParley(t)
	room := jid.MustParse("standup@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{}
	for _, nick := range []string{"ann", "ben", "cat"} {
		peers[nick] = joinPeer(t, ws, room, nick, true)
	}
	first := waitFlowing(t, peers)
	time.Sleep(time.Second)
	requireGrowth(t, first, waitFlowing(t, peers), "three-person call")

	// A fourth joins, then one leaves: the others' media never stops.
	peers["dan"] = joinPeer(t, ws, room, "dan", true)
	withDan := waitFlowing(t, peers)
	requireGrowth(t, first, withDan, "while dan joined")
	peers["ben"].Close()
	delete(peers, "ben")
	time.Sleep(time.Second)
	after := waitFlowing(t, peers)
	requireGrowth(t, withDan, after, "after ben left")
	t.Logf("counters after ben left: %v", after)
	// ben's tracks ended everywhere.
	deadline := time.Now().Add(10 * time.Second)
	for name, p := range peers {
		for {
			stale := false
			for _, tr := range p.Tracks() {
				if strings.HasSuffix(tr.Owner, "/ben") && !tr.Ended.Load() {
					stale = true
				}
			}
			if !stale {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s still has a live track from ben", name)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
}

func TestSignallingOnlyOccupantGetsNoMedia(t *testing.T) {
	_, ws := startParley(t)
	room := jid.MustParse("chat@conference." + testDomain)
	media := joinPeer(t, ws, room, "cam", true)
	quiet := joinPeer(t, ws, room, "bot", false)
	other := joinPeer(t, ws, room, "cam2", true)
	waitFlowing(t, map[string]*mediapeer.Peer{"cam": media, "cam2": other})
	if n := len(quiet.Tracks()); n != 0 {
		t.Fatalf("a signalling-only occupant received %d tracks", n)
	}
	for _, tr := range media.Tracks() {
		if strings.HasSuffix(tr.Owner, "/bot") {
			t.Fatalf("a track from the signalling-only occupant: %+v", tr)
		}
	}
}

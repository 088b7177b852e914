package app

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// rawJoin joins room as nick with a plain client and returns it, with the
// stanzas it receives on a channel.
func rawJoin(t *testing.T, ws string, room jid.JID, nick string) (*xmppclient.Client, <-chan *xmlstream.Element) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	c.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", room.WithResource(nick).String()).Add(
		xmlstream.New("http://jabber.org/protocol/muc", "x")))
	return c, c.Incoming()
}

// waitStanza returns the first stanza for which match is true, or fails.
func waitStanza(t *testing.T, in <-chan *xmlstream.Element, what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case st := <-in:
			if match(st) {
				return st
			}
		case <-timeout:
			t.Fatalf("no %s within 10 s", what)
			return nil
		}
	}
}

func health(t *testing.T, base string) (int, string) {
	t.Helper()
	resp, err := http.Get(base + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body struct{ Status string }
	json.NewDecoder(resp.Body).Decode(&body)
	return resp.StatusCode, body.Status
}

// TestDrainLetsTheCallEndThenStops: during a drain the call in progress
// goes on, a new meeting is refused with a reason, /health says draining,
// and Run returns once the call has ended.
func TestDrainLetsTheCallEndThenStops(t *testing.T) {
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	drain := make(chan struct{})
	ready := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		done <- Run(context.Background(), Config{
			Domain: testDomain, DataDir: t.TempDir(), PublicIP: "127.0.0.1", AllowAnonymous: true,
			HTTPListener: httpLn, Drain: drain, Ready: ready, DrainTimeout: time.Minute,
			Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
		})
	}()
	<-ready
	base := "http://" + httpLn.Addr().String()
	ws := "ws://" + httpLn.Addr().String() + "/xmpp-websocket"
	room := jid.MustParse("standup@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{"ann": joinPeer(t, ws, room, "ann", true), "ben": joinPeer(t, ws, room, "ben", true)}
	before := waitFlowing(t, peers)
	_, watcherIn := rawJoin(t, ws, room, "watcher")
	waitStanza(t, watcherIn, "the watcher's own presence", func(st *xmlstream.Element) bool {
		return st.Name == "presence" && st.Attr("from") == room.WithResource("watcher").String()
	})
	if code, status := health(t, base); code != http.StatusOK || status != "ok" {
		t.Fatalf("health before the drain: %d %q", code, status)
	}

	close(drain)
	msg := waitStanza(t, watcherIn, "the drain notice", func(st *xmlstream.Element) bool {
		return st.Name == "message" && st.Child("urn:parley:server:0", "draining") != nil
	})
	if !strings.Contains(msg.ChildText(xmlstream.NSClient, "body"), "goes on") {
		t.Errorf("drain notice body %q", msg.ChildText(xmlstream.NSClient, "body"))
	}
	if code, status := health(t, base); code != http.StatusServiceUnavailable || status != "draining" {
		t.Fatalf("health while draining: %d %q", code, status)
	}
	// A new meeting is refused, with the reason.
	_, newIn := rawJoin(t, ws, jid.MustParse("newroom@conference."+testDomain), "zoe")
	refusal := waitStanza(t, newIn, "the refusal of a new meeting", func(st *xmlstream.Element) bool {
		return st.Name == "presence" && st.Attr("type") == "error"
	})
	if e := refusal.Child(xmlstream.NSClient, "error"); e == nil || e.Child("urn:ietf:params:xml:ns:xmpp-stanzas", "service-unavailable") == nil ||
		!strings.Contains(e.ChildText("urn:ietf:params:xml:ns:xmpp-stanzas", "text"), "no new meetings") {
		t.Fatalf("refusal: %s", refusal)
	}
	// The call goes on.
	time.Sleep(time.Second)
	requireGrowth(t, before, waitFlowing(t, peers), "while draining")
	select {
	case err := <-done:
		t.Fatalf("Run returned with a call in progress: %v", err)
	default:
	}
	// The call ends: parley stops.
	for _, p := range peers {
		p.Close()
	}
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Run did not return after the call ended")
	}
}

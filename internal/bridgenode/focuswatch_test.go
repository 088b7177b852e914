package bridgenode

import (
	"io"
	"log/slog"
	"strings"
	"testing"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// occupant is a brewery presence from nick, its real JID realJID ("" for
// none), unavailable if gone.
func occupant(nick, realJID string, gone bool) *xmlstream.Element {
	p := xmlstream.New(xmlstream.NSClient, "presence", "from", "jvbbrewery@internal.example.test/"+nick)
	if gone {
		p.SetAttr("type", "unavailable")
	}
	item := xmlstream.New(nsMUCUser, "item", "affiliation", "none", "role", "participant")
	if realJID != "" {
		item.SetAttr("jid", realJID)
	}
	return p.Add(xmlstream.New(nsMUCUser, "x").Add(item))
}

// TestMissingNamesServerThenFocus: /health's missing names the XMPP
// server while the bridge is not connected, then the focus while no
// configured focus is in the brewery; a focus occupant (by real JID, not
// by nick) clears it, its leaving brings it back, and other occupants
// (bridges, a guest nicked "focus") change nothing.
func TestMissingNamesServerThenFocus(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	port, err := Listen(PortConfig{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	media, load := port.Media("t")
	n, err := New(Config{XMPP: xmppclient.Config{Address: "ws://127.0.0.1:1/xmpp-websocket", Domain: "example.test", Username: "jvb"},
		Brewery: jid.MustParse("jvbbrewery@internal.example.test"), Focus: []jid.JID{jid.MustParse("focus.example.test")},
		Media: media, Load: load, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	missing := func() string { return strings.Join(n.Health().Missing, "; ") }
	if m := missing(); !strings.Contains(m, "the XMPP server ws://127.0.0.1:1/xmpp-websocket") {
		t.Fatalf("not connected: missing %q, want the server named", m)
	}
	n.setState("connected")
	wantFocus := "the focus focus.example.test: not in the brewery jvbbrewery@internal.example.test"
	steps := []struct {
		what     string
		presence *xmlstream.Element
		want     string // "" for nothing missing
	}{
		{"another bridge", occupant("b2", "jvb@example.test/b2-1234", false), wantFocus},
		{"a guest nicked focus", occupant("focus", "x@guest.example.test/r", false), wantFocus},
		{"an occupant without a real JID", occupant("anon", "", false), wantFocus},
		{"the focus", occupant("f", "focus.example.test", false), ""},
		{"the guest leaves", occupant("focus", "x@guest.example.test/r", true), ""},
		{"the focus leaves, its real JID not repeated", occupant("f", "", true), wantFocus},
		{"the focus back", occupant("f", "focus.example.test", false), ""},
	}
	for _, s := range steps {
		n.brewPresence(s.presence)
		if m := missing(); m != s.want {
			t.Fatalf("after %s: missing %q, want %q", s.what, m, s.want)
		}
	}
	n.forgetFocus() // a new connection
	if m := missing(); m != wantFocus {
		t.Fatalf("on a new connection: missing %q, want %q", m, wantFocus)
	}
}

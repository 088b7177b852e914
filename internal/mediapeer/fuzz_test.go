package mediapeer

import (
	"bytes"
	"io"
	"log/slog"
	"testing"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

// FuzzSources feeds arbitrary bytes to the IVF and Ogg sources: a bot may
// be handed any file. They must never panic and must end (or loop) cleanly.
func FuzzSources(f *testing.F) {
	f.Add(patternIVF[:4000])
	f.Add(toneOgg[:2000])
	f.Add([]byte("DKIF\x00\x00\x20\x00VP80"))
	f.Fuzz(func(t *testing.T, data []byte) {
		for _, loop := range []bool{false, true} {
			srcs := []func() (Source, error){
				func() (Source, error) { return NewIVFSource(bytes.NewReader(data), loop) },
				func() (Source, error) { return NewOggSource(bytes.NewReader(data), loop) },
			}
			for _, open := range srcs {
				s, err := open()
				if err != nil {
					continue
				}
				for range 500 {
					fr, err := s.Next()
					if err != nil {
						break
					}
					if fr.Duration <= 0 {
						t.Fatalf("a frame of %v", fr.Duration)
					}
				}
			}
		}
	})
}

// FuzzRoomStanza feeds arbitrary presences and messages from a room to a
// Peer: whatever the room (or someone spoofing it) sends must not panic,
// and the Peer's view must stay consistent.
func FuzzRoomStanza(f *testing.F) {
	f.Add([]byte(`<presence from='r@c.x/ann'><x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='owner' role='moderator' jid='a@x/1'/><status code='110'/><status code='201'/></x></presence>`))
	f.Add([]byte(`<presence type='unavailable' from='r@c.x/ben'><x xmlns='http://jabber.org/protocol/muc#user'><item role='none'><actor nick='ann'/><reason>bye</reason></item><status code='307'/></x></presence>`))
	f.Add([]byte(`<presence type='unavailable' from='r@c.x/ann'><x xmlns='http://jabber.org/protocol/muc#user'><destroy/><status code='110'/></x></presence>`))
	f.Add([]byte(`<message type='groupchat' from='r@c.x/ann'><subject>s</subject><delay xmlns='urn:xmpp:delay'/></message>`))
	f.Add([]byte(`<presence type='error' from='r@c.x/ann'><error type='cancel'><conflict xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/></error></presence>`))
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := xmlstream.ParseElementIn(data, xmlstream.Limits{}, xmlstream.NSClient)
		if err != nil {
			return
		}
		events := 0
		c := &Conn{cfg: ConnConfig{OnEvent: func(Event) { events++ }}, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
			peers: map[jid.JID]*Peer{}, sessions: map[string]*Peer{}, done: make(chan struct{})}
		no := false
		p, err := c.NewPeer(RoomConfig{Room: jid.MustParse("r@c.x"), Nick: "ann", InstantRoom: &no})
		if err != nil {
			t.Fatal(err)
		}
		c.peers[p.room] = p
		for range 2 { // the same stanza twice: repeats must be harmless too
			c.roomStanza(el)
		}
		for nick, o := range p.occupants {
			if o.Nick != nick {
				t.Fatalf("occupant %q filed under %q", o.Nick, nick)
			}
		}
		select {
		case <-p.ended:
			if p.EndReason() == "" {
				t.Fatal("ended without a reason")
			}
		default:
		}
	})
}

package mediapeer

import (
	"context"
	"errors"
	"slices"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

func startServer(t *testing.T) *testserver.Server {
	t.Helper()
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return srv
}

func dial(t *testing.T, srv *testserver.Server) *xmppclient.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: srv.WebSocket, Domain: srv.Domain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// features asks a client's disco#info from another connection.
func features(t *testing.T, asker *xmppclient.Client, of jid.JID) []string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	res, err := asker.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "to", of.String()).Add(
		xmlstream.New(nsDiscoInfo, "query")))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, f := range res.FirstChild().ChildrenNamed(nsDiscoInfo, "feature") {
		out = append(out, f.Attr("var"))
	}
	return out
}

func TestDiscoAdvertisesJingleOnlyWhileARoomWantsMedia(t *testing.T) {
	srv := startServer(t)
	asker := dial(t, srv)
	bot := dial(t, srv)
	conn, err := NewConn(ConnConfig{Client: bot})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := conn.Join(ctx, RoomConfig{Room: jid.MustParse("quiet@conference." + srv.Domain), Nick: "bot"}); err != nil {
		t.Fatal(err)
	}
	if f := features(t, asker, bot.JID()); slices.Contains(f, nsJingle) {
		t.Fatalf("signalling only, yet Jingle is advertised: %v", f)
	}
	media, err := conn.Join(ctx, RoomConfig{Room: jid.MustParse("loud@conference." + srv.Domain), Nick: "bot",
		Media: true, Audio: SyntheticAudio()})
	if err != nil {
		t.Fatal(err)
	}
	f := features(t, asker, bot.JID())
	for _, want := range Features {
		if !slices.Contains(f, want) {
			t.Errorf("with media, %s is missing from %v", want, f)
		}
	}
	media.Close()
	if f := features(t, asker, bot.JID()); slices.Contains(f, nsJingle) {
		t.Errorf("after leaving the media room, Jingle is still advertised: %v", f)
	}
	if n := len(conn.Peers()); n != 1 {
		t.Errorf("%d rooms after leaving one of two", n)
	}
}

func TestJingleFromStrangersIsRefusedAndHarmless(t *testing.T) {
	srv := startServer(t)
	bot, rogue := dial(t, srv), dial(t, srv)
	conn, err := NewConn(ConnConfig{Client: bot})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	room := jid.MustParse("r@conference." + srv.Domain)
	p, err := conn.Join(ctx, RoomConfig{Room: room, Nick: "bot", Media: true, Video: SyntheticVideo()})
	if err != nil {
		t.Fatal(err)
	}
	send := func(j *xmlstream.Element) error {
		_, err := rogue.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", bot.JID().String()).Add(j))
		return err
	}
	var se *stanza.Error
	// Only the focus may call: a well-formed offer from anyone else is
	// refused before it is read.
	for _, action := range []string{"session-initiate", "content-add", "session-terminate"} {
		err = send(xmlstream.New(nsJingle, "jingle", "action", action, "sid", "s1").Add(
			xmlstream.New(nsParleyRoom, "room", "jid", room.String())))
		if !errors.As(err, &se) || se.Condition != stanza.Forbidden {
			t.Errorf("%s from a stranger: %v, want forbidden", action, err)
		}
	}
	if st := conn.Stats(); st.ForeignJingle != 3 {
		t.Errorf("stats %+v, want 3 foreign Jingle requests", st)
	}
	// From the focus, requests for a session or room we do not have are
	// refused (the answer goes back to the focus) and counted.
	focus := "focus." + srv.Domain
	for _, j := range []*xmlstream.Element{
		xmlstream.New(nsJingle, "jingle", "action", "content-add", "sid", "nope"),
		xmlstream.New(nsJingle, "jingle", "action", "session-initiate", "sid", "s3").Add(
			xmlstream.New(nsParleyRoom, "room", "jid", "other@conference."+srv.Domain)),
	} {
		conn.iq(xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "x", "from", focus).Add(j))
	}
	if st := conn.Stats(); st.IgnoredJingle != 2 {
		t.Errorf("stats %+v, want 2 ignored Jingle requests", st)
	}
	if err := p.Say("still here"); err != nil {
		t.Error(err)
	}
	select {
	case <-p.Ended():
		t.Error("the peer ended")
	default:
	}
}

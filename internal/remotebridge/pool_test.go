package remotebridge

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// router collects the pool's stanzas; answer, if set, answers IQs.
type router struct {
	out    chan *xmlstream.Element
	answer func(*xmlstream.Element) *xmlstream.Element
	pool   *Pool
}

func (r *router) Route(st *xmlstream.Element) {
	if r.answer != nil && st.Name == "iq" {
		if res := r.answer(st); res != nil {
			go r.pool.HandleStanza(res)
			return
		}
	}
	select {
	case r.out <- st:
	default:
	}
}

var brewery = jid.MustParse("jvbbrewery@internal.example.test")

func newPool(t *testing.T, cfg Config) (*Pool, *router) {
	t.Helper()
	return newPoolAnswering(t, cfg, nil)
}

// newPoolAnswering is newPool with the router's answer set before the
// pool starts routing.
func newPoolAnswering(t *testing.T, cfg Config, answer func(*xmlstream.Element) *xmlstream.Element) (*Pool, *router) {
	t.Helper()
	r := &router{out: make(chan *xmlstream.Element, 1024), answer: answer}
	cfg.JID, cfg.Router, cfg.Brewery = jid.MustParse("focus.example.test"), r, brewery
	if cfg.Trusted == nil {
		cfg.Trusted = func(real jid.JID) bool { return real.Local == "jvb" }
	}
	p, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	r.pool = p
	p.Start()
	t.Cleanup(p.Close)
	return p, r
}

// announce is a bridge's brewery presence.
func announce(p *Pool, nick, real string, st bridgeproto.Stats) {
	pr := xmlstream.New(xmlstream.NSClient, "presence", "from", brewery.WithResource(nick).String(), "to", "focus.example.test").Add(
		xmlstream.New(nsMUCUser, "x").Add(xmlstream.New(nsMUCUser, "item", "jid", real, "affiliation", "none", "role", "participant")),
		st.Element())
	p.HandleStanza(pr)
}

func placedOn(t *testing.T, p *Pool) string {
	t.Helper()
	c, err := p.Conference(context.Background(), "room@conference.example.test")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.Bridge()
}

func waitBridges(t *testing.T, p *Pool, n int) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); len(p.Bridges()) != n; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatalf("bridges %+v, want %d", p.Bridges(), n)
		}
	}
}

func TestPlacement(t *testing.T) {
	p, _ := newPool(t, Config{Region: "eu", PingInterval: time.Hour, RequestTimeout: 100 * time.Millisecond})
	if _, err := p.Conference(context.Background(), "r"); !errors.Is(err, bridge.ErrNoBridge) {
		t.Fatalf("no bridge: %v", err)
	}
	announce(p, "busy", "jvb@example.test/1", bridgeproto.Stats{Stress: 0.8, Region: "eu"})
	announce(p, "calm", "jvb@example.test/2", bridgeproto.Stats{Stress: 0.1, Region: "eu"})
	announce(p, "far", "jvb@example.test/3", bridgeproto.Stats{Stress: 0, Region: "us"})
	announce(p, "leaving", "jvb@example.test/4", bridgeproto.Stats{Stress: 0, Region: "eu", Draining: true})
	announce(p, "intruder", "mallory@example.test/5", bridgeproto.Stats{Stress: 0, Region: "eu"})
	waitBridges(t, p, 4)
	if got := placedOn(t, p); got != "calm" {
		t.Fatalf("placed on %s, want calm (least stress in the region, not draining)", got)
	}
	p.Drain("calm", false) // nobody answers the order here; the focus's own mark is what counts
	if err := p.Drain("nobody", false); !errors.Is(err, ErrNoSuchBridge) {
		t.Fatalf("drain of nobody: %v", err)
	}
	if got := placedOn(t, p); got != "busy" {
		t.Fatalf("after draining calm: placed on %s, want busy", got)
	}
}

// TestSilentBridgeFails: a bridge that stops answering pings is failed
// within 5 s, and its conferences hear of it.
func TestSilentBridgeFails(t *testing.T) {
	var silent atomic.Bool
	p, _ := newPoolAnswering(t, Config{}, func(iq *xmlstream.Element) *xmlstream.Element {
		if silent.Load() || iq.Attr("type") != "get" && iq.Attr("type") != "set" {
			return nil
		}
		return stanza.IQResult(iq)
	})
	announce(p, "b", "jvb@example.test/1", bridgeproto.Stats{})
	waitBridges(t, p, 1)
	c, err := p.Conference(context.Background(), "room")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Join(context.Background(), "p1", bridge.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(2500 * time.Millisecond) // pings answered: still there
	if len(p.Bridges()) != 1 {
		t.Fatal("an answering bridge was failed")
	}
	silent.Store(true)
	since := time.Now()
	select {
	case ev := <-c.Events():
		if ev.Kind != bridge.EventBridgeFailed {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("a silent bridge was not failed within 5 s")
	}
	t.Logf("failed %.1f s after it fell silent", time.Since(since).Seconds())
	if len(p.Bridges()) != 0 {
		t.Fatal("the failed bridge is still listed")
	}
}

// TestErrorsRoundTrip: a bridge's error conditions come back as the
// bridge package's sentinels.
func TestErrorsRoundTrip(t *testing.T) {
	for _, want := range []error{bridge.ErrNothingToNegotiate, bridge.ErrOfferPending, bridge.ErrNotNegotiated, bridge.ErrNoScreenShare, bridge.ErrClosed} {
		iq := stanza.IQ("set", "x", jid.MustParse("a@b/c"), jid.MustParse("d@e/f"))
		res := stanza.ErrorReply(iq, bridgeproto.ErrorFor(want))
		el, err := xmlstream.ParseElementIn([]byte(res.String()), xmlstream.Limits{}, xmlstream.NSClient)
		if err != nil {
			t.Fatal(err)
		}
		if got := bridgeproto.ErrorOf(stanza.AnswerError(el)); !errors.Is(got, want) {
			t.Errorf("%v came back as %v", want, got)
		}
	}
}

// TestDrainAndMove: draining with move fails the bridge's conferences at
// once (the focus moves them) and expires them on the bridge; the next
// conference goes elsewhere. A newly registered bridge is told to drop
// what it still runs for this focus.
func TestDrainAndMove(t *testing.T) {
	p, r := newPool(t, Config{PingInterval: time.Hour, RequestTimeout: 100 * time.Millisecond})
	announce(p, "a", "jvb@example.test/a", bridgeproto.Stats{})
	announce(p, "b", "jvb@example.test/b", bridgeproto.Stats{Stress: 0.5})
	waitBridges(t, p, 2)
	c, err := p.Conference(context.Background(), "room")
	if err != nil || c.Bridge() != "a" {
		t.Fatalf("placed on %v, %v", c, err)
	}
	p.Drain("a", true)
	select {
	case ev := <-c.Events():
		if ev.Kind != bridge.EventBridgeFailed {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the drained bridge's conference did not move")
	}
	if got := placedOn(t, p); got != "b" {
		t.Fatalf("after draining a with move: placed on %s", got)
	}
	var expireAll, expire bool
	for len(r.out) > 0 {
		st := <-r.out
		el := st.FirstChild()
		switch {
		case el.Is(bridgeproto.NS, bridgeproto.OrderExpireAllFrom) && st.Attr("to") == "jvb@example.test/a":
			expireAll = true
		case el.Is(bridgeproto.NS, bridgeproto.OrderExpire) && el.Attr("conference") == "room" && st.Attr("to") == "jvb@example.test/a":
			expire = true
		}
	}
	if !expireAll || !expire {
		t.Fatalf("orders to a: expire-all %v, expire of room %v", expireAll, expire)
	}
}

// TestEventsOfAnEarlierAllocationAreDropped: a conference moved back to a
// bridge (a cascade's failover) allocates the same endpoint ids there
// again while the bridge still closes the old ones; the old endpoint's
// "closed", arriving after the new allocation, must not end the new
// endpoint (the cascade test's first participant re-placed got no media).
// Events of the current allocation, and of a bridge that sends no token,
// still count.
func TestEventsOfAnEarlierAllocationAreDropped(t *testing.T) {
	allocs := make(chan string, 4)
	p, _ := newPoolAnswering(t, Config{PingInterval: time.Hour}, func(iq *xmlstream.Element) *xmlstream.Element {
		if el := iq.FirstChild(); el != nil && el.Is(bridgeproto.NS, bridgeproto.OrderAllocate) {
			allocs <- el.Attr(bridgeproto.AttrAllocation)
		}
		return stanza.IQResult(iq)
	})
	announce(p, "b", "jvb@example.test/1", bridgeproto.Stats{})
	waitBridges(t, p, 1)
	join := func() (bridge.Conference, bridge.Participant, string) {
		t.Helper()
		c, err := p.Conference(context.Background(), "room")
		if err != nil {
			t.Fatal(err)
		}
		part, err := c.Join(context.Background(), "p1", bridge.JoinOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return c, part, <-allocs
	}
	old, _, oldAlloc := join()
	old.Close()
	_, part, alloc := join()
	if alloc == oldAlloc {
		t.Fatalf("both allocations of p1 carry the token %q", alloc)
	}
	event := func(kind, token string) {
		ev := bridgeproto.Event("focus.example.test", "room", "p1", kind)
		if token != "" {
			ev.FirstChild().SetAttr(bridgeproto.AttrAllocation, token)
		}
		p.HandleStanza(eventFrom("jvb@example.test/1", ev))
	}
	next := func() bridge.Event {
		t.Helper()
		select {
		case ev := <-part.Events():
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event")
			return bridge.Event{}
		}
	}
	event(bridgeproto.EventClosed, oldAlloc)  // the old p1's, late
	event(bridgeproto.EventNeedsOffer, alloc) // the new p1's, after it
	if ev := next(); ev.Kind != bridge.EventNeedsOffer {
		t.Fatalf("first event %v, want needs-offer: the earlier allocation's closed ended the new endpoint", ev.Kind)
	}
	event(bridgeproto.EventNeedsOffer, "") // a bridge without tokens
	if ev := next(); ev.Kind != bridge.EventNeedsOffer {
		t.Fatalf("an event without a token: %v, want needs-offer", ev.Kind)
	}
	event(bridgeproto.EventClosed, alloc)
	if ev := next(); ev.Kind != bridge.EventClosed {
		t.Fatalf("the current allocation's closed: %v", ev.Kind)
	}
}

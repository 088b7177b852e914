package remotebridge

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// orderLog answers every order the way a bridge would, with an SDP that
// names who made it, and records them as "to order endpoint [text]".
type orderLog struct {
	mu     sync.Mutex
	orders []string
}

func (l *orderLog) answer(iq *xmlstream.Element) *xmlstream.Element {
	el := iq.FirstChild()
	if el == nil || el.Space != bridgeproto.NS {
		return stanza.IQResult(iq) // pings
	}
	to := strings.TrimPrefix(iq.Attr("to"), "jvb@example.test/")
	l.mu.Lock()
	l.orders = append(l.orders, strings.TrimSpace(fmt.Sprintf("%s %s %s %s", to, el.Name, el.Attr("endpoint"), el.Text)))
	l.mu.Unlock()
	switch el.Name {
	case bridgeproto.OrderOffer:
		return stanza.IQResult(iq, xmlstream.New(bridgeproto.NS, "offer").SetText("offer-by-"+to))
	case bridgeproto.OrderAnswerOffer:
		return stanza.IQResult(iq, xmlstream.New(bridgeproto.NS, "answer").SetText("answer-by-"+to))
	}
	return stanza.IQResult(iq)
}

func (l *orderLog) has(order string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, o := range l.orders {
		if o == order {
			return true
		}
	}
	return false
}

func (l *orderLog) count(order string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, o := range l.orders {
		if o == order {
			n++
		}
	}
	return n
}

func (l *orderLog) waitFor(t *testing.T, orders ...string) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		missing := ""
		for _, o := range orders {
			if !l.has(o) {
				missing = o
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(end) {
			l.mu.Lock()
			t.Fatalf("no order %q; orders: %q", missing, l.orders)
		}
	}
}

// TestCascadePlacesAndRelays: with Spread 2, a conference's participants
// alternate between two bridges, which get a relay endpoint each; each
// end's offers go to the other end's answer-offer and its answer back,
// at the start and when a bridge says its relay needs an offer.
func TestCascadePlacesAndRelays(t *testing.T) {
	log := &orderLog{}
	p, _ := newPoolAnswering(t, Config{Spread: 2, PingInterval: time.Hour, RequestTimeout: time.Second}, log.answer)
	announce(p, "b1", "jvb@example.test/b1", bridgeproto.Stats{})
	announce(p, "b2", "jvb@example.test/b2", bridgeproto.Stats{Stress: 0.2})
	waitBridges(t, p, 2)
	c, err := p.Conference(context.Background(), "room")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, id := range []string{"p1", "p2", "p3", "p4"} {
		if _, err := c.Join(context.Background(), id, bridge.JoinOptions{}); err != nil {
			t.Fatalf("%s: %v", id, err)
		}
	}
	if c.Bridge() != "b1+b2" {
		t.Fatalf("the conference is on %s, want b1+b2", c.Bridge())
	}
	for _, want := range []string{"b1 allocate p1", "b2 allocate p2", "b1 allocate p3", "b2 allocate p4",
		"b1 relay relay~b2", "b2 relay relay~b1"} {
		if !log.has(want) {
			t.Errorf("no order %q", want)
		}
	}
	// The first exchanges, both ways.
	log.waitFor(t, "b1 offer relay~b2", "b2 answer-offer relay~b1 offer-by-b1", "b1 answer relay~b2 answer-by-b2",
		"b2 offer relay~b1", "b1 answer-offer relay~b2 offer-by-b2", "b2 answer relay~b1 answer-by-b1")
	// b2's relay has news (a participant published there): it offers.
	before := log.count("b2 offer relay~b1")
	p.HandleStanza(eventFrom("jvb@example.test/b2", bridgeproto.Event("focus.example.test", "room", "relay~b1", bridgeproto.EventNeedsOffer)))
	for end := time.Now().Add(5 * time.Second); log.count("b2 offer relay~b1") == before; time.Sleep(10 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("b2's needs-offer brought no offer")
		}
	}
	if n := log.count("b1 answer-offer relay~b2 offer-by-b2"); n < 2 {
		t.Fatalf("b2's second offer did not reach b1 (%d answer-offers)", n)
	}
	// A third bridge is never used: Spread is 2.
	announce(p, "b3", "jvb@example.test/b3", bridgeproto.Stats{})
	waitBridges(t, p, 3)
	if _, err := c.Join(context.Background(), "p5", bridge.JoinOptions{}); err != nil {
		t.Fatal(err)
	}
	if !log.has("b1 allocate p5") {
		t.Errorf("p5 not placed on b1 (the first of the two legs with two each)")
	}
}

// TestCascadeFailsWhole: one leg's bridge failing fails the conference,
// and the other leg is expired.
func TestCascadeFailsWhole(t *testing.T) {
	log := &orderLog{}
	p, _ := newPoolAnswering(t, Config{Spread: 2, PingInterval: time.Hour, RequestTimeout: time.Second}, log.answer)
	announce(p, "b1", "jvb@example.test/b1", bridgeproto.Stats{})
	announce(p, "b2", "jvb@example.test/b2", bridgeproto.Stats{})
	waitBridges(t, p, 2)
	c, err := p.Conference(context.Background(), "room")
	if err != nil {
		t.Fatal(err)
	}
	for _, id := range []string{"p1", "p2"} {
		if _, err := c.Join(context.Background(), id, bridge.JoinOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p.Drain("b2", true)
	select {
	case ev := <-c.Events():
		if ev.Kind != bridge.EventBridgeFailed {
			t.Fatalf("event %+v", ev)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the cascade did not fail with its bridge")
	}
	log.waitFor(t, "b1 expire")
}

// eventFrom is a bridge's event message as the pool receives it.
func eventFrom(from string, msg *xmlstream.Element) *xmlstream.Element {
	msg.SetAttr("from", from)
	return msg
}

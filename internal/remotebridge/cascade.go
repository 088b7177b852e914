package remotebridge

import (
	"context"
	"errors"
	"strings"
	"sync"

	"parley.dev/parley/internal/bridge"
)

// cascade is a conference spread over up to Config.Spread bridges, its
// legs, joined two by two by relays (bridge.Cascade): each participant
// is on one leg and sees and hears everyone through the relays, which
// carry each stream once per pair of bridges. The legs are placed like
// conferences, on bridges not used by the cascade yet.
type cascade struct {
	p      *Pool
	id     string                      // read-only
	events chan bridge.ConferenceEvent // sent to and closed under mu

	mu      sync.Mutex   // guards the fields below
	legs    []*leg       // in the order they were placed
	relays  []*relayLink // every pair of legs
	closed  bool         // Close, or a leg failed
	lastN   int          // SetLastN, applied to new legs too
	speaker string       // the last dominant speaker announced
}

// leg is the cascade's conference on one bridge.
type leg struct {
	conf  bridge.Conference // read-only
	name  string            // the bridge's nick, or localName; read-only
	count int               // participants placed on it; guarded by the cascade's mu
}

// newCascade places the cascade's first leg.
func newCascade(ctx context.Context, p *Pool, id string) (*cascade, error) {
	conf, name, err := p.place(ctx, id, nil)
	if err != nil {
		return nil, err
	}
	c := &cascade{p: p, id: id, events: make(chan bridge.ConferenceEvent, eventBuffer)}
	c.legs = []*leg{{conf: conf, name: name}}
	go c.watch(c.legs[0])
	return c, nil
}

// Bridge names the legs' bridges: "b1+b2".
func (c *cascade) Bridge() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	names := make([]string, len(c.legs))
	for i, l := range c.legs {
		names[i] = l.name
	}
	return strings.Join(names, "+")
}

func (c *cascade) Events() <-chan bridge.ConferenceEvent { return c.events }

// Join places the participant on the leg with the fewest participants,
// opening a new leg first while there are fewer than Spread and none is
// empty.
func (c *cascade) Join(ctx context.Context, id string, opts bridge.JoinOptions) (bridge.Participant, error) {
	l, earlier, err := c.pick(ctx)
	if err != nil {
		return nil, err
	}
	for _, other := range earlier {
		if err := c.link(ctx, other, l); err != nil {
			c.p.log.Warn("cascade: no relay between two bridges; their participants miss each other",
				"conference", c.id, "bridges", other.name+"+"+l.name, "err", err)
		}
	}
	part, err := l.conf.Join(ctx, id, opts)
	if err != nil {
		c.mu.Lock()
		l.count--
		c.mu.Unlock()
		return nil, err
	}
	c.p.log.Info("cascade: participant placed", "conference", c.id, "endpoint", id, "bridge", l.name)
	return &cascadePart{Participant: part, c: c, l: l}, nil
}

// pick chooses the leg for a new participant and counts it there. A new
// leg comes with the legs placed before it, to relay with.
func (c *cascade) pick(ctx context.Context) (l *leg, earlier []*leg, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, nil, bridge.ErrGone
	}
	for _, x := range c.legs {
		if l == nil || x.count < l.count {
			l = x
		}
	}
	if l.count > 0 && len(c.legs) < c.p.cfg.Spread {
		if n := c.open(ctx); n != nil {
			earlier = append(earlier, c.legs...)
			c.legs = append(c.legs, n)
			l = n
			if c.lastN > 0 {
				n.conf.SetLastN(c.lastN)
			}
			go c.watch(n)
		}
	}
	l.count++
	return l, earlier, nil
}

// open places a new leg on a bridge the cascade does not use yet; nil if
// there is none, or it cannot relay. Must hold mu.
func (c *cascade) open(ctx context.Context) *leg {
	used := make(map[string]bool, len(c.legs))
	for _, l := range c.legs {
		used[l.name] = true
	}
	conf, name, err := c.p.place(ctx, c.id, used)
	if err != nil {
		return nil // no other bridge: the legs there are take everyone
	}
	if _, ok := conf.(bridge.Cascade); !ok {
		conf.Close()
		return nil
	}
	c.p.log.Info("cascade: conference spans one more bridge", "conference", c.id, "bridge", name)
	return &leg{conf: conf, name: name}
}

// link joins two legs by a relay: an endpoint on each, negotiated
// through the pool.
func (c *cascade) link(ctx context.Context, a, b *leg) error {
	ca, okA := a.conf.(bridge.Cascade)
	cb, okB := b.conf.(bridge.Cascade)
	if !okA || !okB {
		return errors.New("a bridge that cannot relay")
	}
	ra, err := ca.JoinRelay(ctx, relayID(b.name))
	if err != nil {
		return err
	}
	rb, err := cb.JoinRelay(ctx, relayID(a.name))
	if err != nil {
		ra.Close()
		return err
	}
	r := &relayLink{c: c, names: a.name + "+" + b.name, a: ra, b: rb}
	c.mu.Lock()
	closed := c.closed
	if !closed {
		c.relays = append(c.relays, r)
	}
	c.mu.Unlock()
	if closed {
		ra.Close()
		rb.Close()
		return bridge.ErrGone
	}
	go r.run(ra, rb)
	go r.run(rb, ra)
	return nil
}

// relayID names the relay endpoint towards a bridge: "relay~" and the
// bridge's name in the characters an endpoint id may have.
func relayID(bridgeName string) string {
	var sb strings.Builder
	sb.WriteString("relay~")
	for _, r := range bridgeName {
		if r < 0x80 && (r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || strings.ContainsRune("-._", r)) {
			sb.WriteRune(r)
		} else {
			sb.WriteByte('_')
		}
		if sb.Len() >= 50 {
			break
		}
	}
	return sb.String()
}

// watch passes a leg's events on: the dominant speaker (each bridge hears
// everyone through the relays; a change is announced once), and a failed
// bridge, which fails the whole cascade for the focus to place anew.
func (c *cascade) watch(l *leg) {
	for ev := range l.conf.Events() {
		switch ev.Kind {
		case bridge.EventDominantSpeaker:
			c.mu.Lock()
			if !c.closed && ev.ParticipantID != c.speaker {
				c.speaker = ev.ParticipantID
				c.emit(ev)
			}
			c.mu.Unlock()
		case bridge.EventBridgeFailed:
			c.fail(l, ev.Reason)
			return
		}
	}
}

// emit sends a conference event. Must hold mu.
func (c *cascade) emit(ev bridge.ConferenceEvent) {
	select {
	case c.events <- ev:
	default:
		c.p.log.Warn("conference events full: one dropped", "conference", c.id, "kind", ev.Kind)
	}
}

// fail reports a leg's failure and ends the other legs: the focus places
// the conference anew. The legs end before the focus hears of it, so that
// nothing it closes afterwards sends an order: an endpoint expired late
// on a bridge the conference comes back to would hit the new endpoint of
// the same name.
func (c *cascade) fail(l *leg, why string) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	legs, relays := c.legs, c.relays
	c.mu.Unlock()
	endAll(legs, relays)
	ev := bridge.ConferenceEvent{Kind: bridge.EventBridgeFailed, Reason: l.name + ": " + why}
	c.mu.Lock()
	select {
	case c.events <- ev:
	default: // full: the failure matters more than the oldest news
		<-c.events
		c.events <- ev
	}
	close(c.events)
	c.mu.Unlock()
}

func (c *cascade) SetLastN(n int) {
	c.mu.Lock()
	c.lastN = n
	legs := append([]*leg(nil), c.legs...)
	c.mu.Unlock()
	for _, l := range legs {
		l.conf.SetLastN(n)
	}
}

// Close ends the relays and every leg.
func (c *cascade) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	close(c.events)
	legs, relays := c.legs, c.relays
	c.mu.Unlock()
	endAll(legs, relays)
}

// endAll ends the legs, then the relays: a leg's end ends its endpoints
// on the bridge (and marks them closed here), so the relays' Close has
// nothing left to send.
func endAll(legs []*leg, relays []*relayLink) {
	for _, l := range legs {
		l.conf.Close()
	}
	for _, r := range relays {
		r.a.Close()
		r.b.Close()
	}
}

// cascadePart is a participant on one leg.
type cascadePart struct {
	bridge.Participant
	c    *cascade
	l    *leg
	once sync.Once
}

// Close ends the session and frees its place on the leg.
func (cp *cascadePart) Close() {
	cp.once.Do(func() {
		cp.c.mu.Lock()
		cp.l.count--
		cp.c.mu.Unlock()
	})
	cp.Participant.Close()
}

// relayLink is the relay between two legs: whichever end has news
// offers, the other answers, one exchange at a time.
type relayLink struct {
	c     *cascade     // read-only
	names string       // "b1+b2", for logs; read-only
	a, b  bridge.Relay // read-only
	mu    sync.Mutex   // held for one exchange
}

// run negotiates from's offers with to, at the start and on every
// EventNeedsOffer, until from closes.
func (r *relayLink) run(from, to bridge.Relay) {
	r.negotiate(from, to)
	for ev := range from.Events() {
		switch {
		case ev.Kind == bridge.EventNeedsOffer:
			r.negotiate(from, to)
		case ev.Kind == bridge.EventConnectionState && ev.State == bridge.StateFailed && from == r.a:
			// One end restarts ICE (the other's failure is the same
			// connection's).
			r.c.p.log.Warn("cascade: a relay's connection failed; restarting ICE", "conference", r.c.id, "bridges", r.names)
			r.restart()
		}
	}
}

// restart carries an ICE-restart offer of a to b, and the answer back.
func (r *relayLink) restart() {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.c.p.ctx, r.c.p.cfg.RequestTimeout)
	defer cancel()
	offer, err := r.a.RestartOffer(ctx)
	var answer string
	if err == nil {
		answer, err = r.b.AnswerOffer(ctx, offer)
	}
	if err == nil {
		err = r.a.SetAnswer(ctx, answer)
	}
	if err != nil && !harmless(err) {
		r.c.p.log.Warn("cascade: relay ICE restart failed", "conference", r.c.id, "bridges", r.names, "err", err)
	}
}

// negotiate carries one offer of from to to, and the answer back.
func (r *relayLink) negotiate(from, to bridge.Relay) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ctx, cancel := context.WithTimeout(r.c.p.ctx, r.c.p.cfg.RequestTimeout)
	defer cancel()
	offer, err := from.Offer(ctx)
	if harmless(err) {
		return
	}
	var answer string
	if err == nil {
		answer, err = to.AnswerOffer(ctx, offer)
	}
	if err == nil {
		err = from.SetAnswer(ctx, answer)
	}
	if err != nil && !harmless(err) {
		r.c.p.log.Warn("cascade: relay negotiation failed", "conference", r.c.id, "bridges", r.names, "err", err)
	}
}

// harmless says whether a relay's negotiation error needs no word: there
// was nothing to offer, or the relay is gone.
func harmless(err error) bool {
	return err != nil && (errors.Is(err, bridge.ErrNothingToNegotiate) || errors.Is(err, bridge.ErrOfferPending) ||
		errors.Is(err, bridge.ErrClosed) || errors.Is(err, bridge.ErrGone) || errors.Is(err, context.Canceled))
}

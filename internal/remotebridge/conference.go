package remotebridge

import (
	"context"
	"encoding/json"
	"strconv"
	"sync"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/xmlstream"
)

// eventBuffer is the capacity of the event channels. An event that finds
// its channel full is dropped and logged: the focus reads them promptly.
const eventBuffer = 64

// conference is a conference placed on a remote bridge.
type conference struct {
	p  *Pool
	b  *remote // read-only
	id string  // read-only

	mu     sync.Mutex
	closed bool                        // Close or failed; guarded by mu
	events chan bridge.ConferenceEvent // sent to and closed under mu
	parts  map[string]*participant     // by endpoint id; guarded by mu
}

func newConference(p *Pool, b *remote, id string) *conference {
	return &conference{p: p, b: b, id: id, events: make(chan bridge.ConferenceEvent, eventBuffer), parts: make(map[string]*participant)}
}

func (c *conference) Bridge() string                        { return c.b.nick }
func (c *conference) Events() <-chan bridge.ConferenceEvent { return c.events }

func (c *conference) order(name, endpoint string, attrs ...string) *xmlstream.Element {
	return bridgeproto.Order(name, c.id, endpoint, attrs...)
}

func (c *conference) Join(ctx context.Context, id string, opts bridge.JoinOptions) (bridge.Participant, error) {
	return c.join(ctx, id, bridgeproto.OrderAllocate,
		"no-audio", flag(opts.NoAudio), "no-video", flag(opts.NoVideo), "no-simulcast", flag(opts.NoSimulcast))
}

// JoinRelay allocates the bridge's end of a relay (bridge.Cascade).
func (c *conference) JoinRelay(ctx context.Context, id string) (bridge.Relay, error) {
	part, err := c.join(ctx, id, bridgeproto.OrderRelay)
	if err != nil {
		return nil, err
	}
	return relayEndpoint{part}, nil
}

// join allocates an endpoint with the order named, under an allocation
// token of its own (bridgeproto.AttrAllocation).
func (c *conference) join(ctx context.Context, id, name string, attrs ...string) (*participant, error) {
	c.mu.Lock()
	closed := c.closed
	c.mu.Unlock()
	if closed {
		return nil, bridge.ErrGone
	}
	alloc := "a" + strconv.FormatUint(c.p.nextID.Add(1), 10)
	_, err := c.p.request(ctx, c.b, "set", c.order(name, id, append(attrs, bridgeproto.AttrAllocation, alloc)...))
	if err != nil {
		return nil, err
	}
	part := &participant{c: c, id: id, alloc: alloc, events: make(chan bridge.Event, eventBuffer)}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, bridge.ErrGone
	}
	c.parts[id] = part
	return part, nil
}

func flag(b bool) string {
	if b {
		return "true"
	}
	return ""
}

func (c *conference) SetLastN(n int) {
	c.p.send(c.b.real, c.order(bridgeproto.OrderLastN, "", "n", strconv.Itoa(n)))
}

// Close expires the conference on its bridge.
func (c *conference) Close() {
	if !c.shut() {
		return
	}
	c.p.mu.Lock()
	delete(c.b.confs, c)
	c.p.mu.Unlock()
	c.p.send(c.b.real, c.order(bridgeproto.OrderExpire, ""))
}

// shut closes the conference's channels once; false if it was closed.
func (c *conference) shut() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return false
	}
	c.closed = true
	close(c.events)
	for _, part := range c.parts {
		part.shut()
	}
	return true
}

// failed reports the bridge's failure to the focus.
func (c *conference) failed(why string) {
	c.mu.Lock()
	if !c.closed {
		ev := bridge.ConferenceEvent{Kind: bridge.EventBridgeFailed, Reason: why}
		select {
		case c.events <- ev:
		default: // full: the failure matters more than the oldest news
			<-c.events
			c.events <- ev
		}
	}
	c.mu.Unlock()
	c.shut()
}

// event delivers a bridge's event.
func (c *conference) event(ev *xmlstream.Element) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	kind, endpoint := ev.Attr("kind"), ev.Attr("endpoint")
	switch kind {
	case bridgeproto.EventDominantSpeaker:
		c.emit(bridge.ConferenceEvent{Kind: bridge.EventDominantSpeaker, ParticipantID: endpoint})
		return
	case bridgeproto.EventConferenceEnded:
		c.emit(bridge.ConferenceEvent{Kind: bridge.EventBridgeFailed, Reason: "the bridge ended the conference"})
		return
	}
	part := c.parts[endpoint]
	if part == nil {
		return
	}
	if a := ev.Attr(bridgeproto.AttrAllocation); a != "" && a != part.alloc {
		// An earlier allocation's news (the endpoint id is reused): its
		// "closed" would end the new one.
		c.p.log.Debug("an event of an endpoint's earlier allocation dropped", "conference", c.id, "endpoint", endpoint, "kind", kind)
		return
	}
	out := bridge.Event{State: ev.Attr("state"), Route: ev.Attr("route"), Source: bridge.Source(ev.Attr("source")), Layers: ev.Attr("layers")}
	switch kind {
	case bridgeproto.EventNeedsOffer:
		out.Kind = bridge.EventNeedsOffer
	case bridgeproto.EventConnectionState:
		out.Kind = bridge.EventConnectionState
	case bridgeproto.EventSendLayers:
		out.Kind = bridge.EventSendLayers
	case bridgeproto.EventClosed:
		delete(c.parts, endpoint)
		part.shut()
		return
	default:
		return
	}
	part.emit(out)
}

// emit sends a conference event; called under mu.
func (c *conference) emit(ev bridge.ConferenceEvent) {
	select {
	case c.events <- ev:
	default:
		c.p.log.Warn("conference events full: one dropped", "conference", c.id, "kind", ev.Kind)
	}
}

// participant is an endpoint on a remote bridge.
type participant struct {
	c     *conference
	id    string // read-only
	alloc string // this allocation's token (bridgeproto.AttrAllocation); read-only

	mu     sync.Mutex
	closed bool              // guarded by mu
	events chan bridge.Event // sent to and closed under mu
}

func (part *participant) emit(ev bridge.Event) {
	part.mu.Lock()
	defer part.mu.Unlock()
	if part.closed {
		return
	}
	select {
	case part.events <- ev:
	default:
		part.c.p.log.Warn("participant events full: one dropped", "conference", part.c.id, "endpoint", part.id)
	}
}

func (part *participant) shut() bool {
	part.mu.Lock()
	defer part.mu.Unlock()
	if part.closed {
		return false
	}
	part.closed = true
	select {
	case part.events <- bridge.Event{Kind: bridge.EventClosed}:
	default: // full: the close says it too
	}
	close(part.events)
	return true
}

func (part *participant) order(name string, attrs ...string) *xmlstream.Element {
	return part.c.order(name, part.id, attrs...)
}

func (part *participant) gone() bool {
	part.mu.Lock()
	defer part.mu.Unlock()
	return part.closed
}

// call sends an order and waits for its answer.
func (part *participant) call(ctx context.Context, el *xmlstream.Element) (*xmlstream.Element, error) {
	if part.gone() {
		return nil, bridge.ErrGone
	}
	return part.c.p.request(ctx, part.c.b, "set", el)
}

func (part *participant) offer(ctx context.Context, restart bool) (string, error) {
	res, err := part.call(ctx, part.order(bridgeproto.OrderOffer, "restart", flag(restart)))
	if err != nil {
		return "", err
	}
	return res.ChildText(bridgeproto.NS, "offer"), nil
}

func (part *participant) Offer(ctx context.Context) (string, error) { return part.offer(ctx, false) }
func (part *participant) RestartOffer(ctx context.Context) (string, error) {
	return part.offer(ctx, true)
}

func (part *participant) SetAnswer(ctx context.Context, sdp string) error {
	_, err := part.call(ctx, part.order(bridgeproto.OrderAnswer).SetText(sdp))
	return err
}

func (part *participant) AddRemoteCandidate(ctx context.Context, cand string) error {
	_, err := part.call(ctx, part.order(bridgeproto.OrderCandidate).SetText(cand))
	return err
}

func (part *participant) SetScreenShare(ctx context.Context, on bool) error {
	_, err := part.call(ctx, part.order(bridgeproto.OrderScreenShare, "active", strconv.FormatBool(on)))
	return err
}

func (part *participant) SetForwarding(src bridge.Source, on bool) {
	if !part.gone() {
		part.c.p.send(part.c.b.real, part.order(bridgeproto.OrderForward, "source", string(src), "on", strconv.FormatBool(on)))
	}
}

func (part *participant) SetReceiveVideo(rv bridge.ReceiveVideo) {
	if !part.gone() {
		part.c.p.send(part.c.b.real, bridgeproto.ReceiveVideo(part.order(bridgeproto.OrderReceiveVideo), rv))
	}
}

func (part *participant) OfferPublishing(kind bridge.MediaKind) {
	if !part.gone() {
		part.c.p.send(part.c.b.real, part.order(bridgeproto.OrderPublish, "kind", string(kind)))
	}
}

func (part *participant) Events() <-chan bridge.Event { return part.events }

func (part *participant) Report(ctx context.Context) (json.RawMessage, error) {
	res, err := part.call(ctx, part.order(bridgeproto.OrderReport))
	if err != nil {
		return nil, err
	}
	raw := json.RawMessage(res.ChildText(bridgeproto.NS, "report"))
	if !json.Valid(raw) {
		return nil, bridge.ErrGone
	}
	return raw, nil
}

// relayEndpoint is a relay endpoint on a remote bridge.
type relayEndpoint struct{ *participant }

// AnswerOffer has the bridge answer the other end's offer (bridge.Relay).
func (r relayEndpoint) AnswerOffer(ctx context.Context, offer string) (string, error) {
	res, err := r.call(ctx, r.order(bridgeproto.OrderAnswerOffer).SetText(offer))
	if err != nil {
		return "", err
	}
	return res.ChildText(bridgeproto.NS, "answer"), nil
}

// Close expires the endpoint on its bridge.
func (part *participant) Close() {
	if !part.shut() {
		return
	}
	part.c.mu.Lock()
	if part.c.parts[part.id] == part {
		delete(part.c.parts, part.id)
	}
	part.c.mu.Unlock()
	part.c.p.send(part.c.b.real, part.order(bridgeproto.OrderExpire))
}

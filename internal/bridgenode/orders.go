package bridgenode

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync/atomic"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// inboxSize bounds a conference's queue of orders; beyond it orders are
// refused with resource-constraint.
const inboxSize = 1024

// conference is one allocated conference. Its run goroutine owns media and
// endpoints; others reach it through post.
type conference struct {
	n     *Node
	id    string
	owner jid.JID            // the focus that allocated it: events go there; read-only
	c     *xmppclient.Client // the connection it was allocated on; read-only
	inbox chan func()
	done  chan struct{} // closed when the conference ends

	media     bridge.Conference             // owned by run; nil until the first allocate
	endpoints map[string]bridge.Participant // owned by run
	count     atomic.Int32                  // the participants among endpoints, for the stats
}

// handle serves a stanza: orders from a focus, and brewery presences (is
// a focus there?); everything else is ignored (pings are answered by
// xmppclient).
func (n *Node) handle(c *xmppclient.Client, st *xmlstream.Element) {
	if st.Name == "presence" {
		n.brewPresence(st)
		return
	}
	if st.Name != "iq" || (st.Attr("type") != "set" && st.Attr("type") != "get") {
		return
	}
	from, err := jid.Parse(st.Attr("from"))
	payload := st.FirstChild()
	if err != nil || !n.trusted(from) {
		n.log.Error("refused an order from a JID that is no configured focus", "from", st.Attr("from"), "focus", fmt.Sprint(n.cfg.Focus))
		c.Send(stanza.ErrorReply(st, stanza.NewError(stanza.Forbidden, "this bridge takes orders from its focus only")))
		return
	}
	if payload == nil || payload.Space != bridgeproto.NS {
		c.Send(stanza.ErrorReply(st, stanza.NewError(stanza.ServiceUnavailable, "")))
		return
	}
	switch payload.Name {
	case bridgeproto.OrderDrain:
		n.Drain()
		c.Send(stanza.IQResult(st))
		return
	case bridgeproto.OrderExpireAllFrom:
		n.expireFrom(from)
		c.Send(stanza.IQResult(st))
		return
	}
	id := payload.Attr("conference")
	if id == "" {
		c.Send(stanza.ErrorReply(st, stanza.NewError(stanza.BadRequest, "an order names its conference")))
		return
	}
	create := payload.Name == bridgeproto.OrderAllocate || payload.Name == bridgeproto.OrderRelay
	conf, err := n.conferenceFor(c, id, from, create)
	if err != nil {
		c.Send(stanza.ErrorReply(st, err))
		return
	}
	ordered := func() {
		if conf.ended() {
			// Queued behind the conference's end (an expire, then an
			// allocate of the same room moved back here): handled anew,
			// so that an allocate makes a new conference and nothing
			// goes unanswered.
			n.handle(c, st)
			return
		}
		conf.order(st, payload)
	}
	if !conf.post(ordered) {
		c.Send(stanza.ErrorReply(st, stanza.NewError(stanza.ResourceConstraint, "too many orders waiting")))
	}
}

// conferenceFor finds the conference of an order, creating it for an
// allocate unless the bridge drains. Only the focus that allocated a
// conference may act on it.
func (n *Node) conferenceFor(c *xmppclient.Client, id string, from jid.JID, create bool) (*conference, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	conf := n.confs[id]
	switch {
	case conf != nil && conf.owner != from:
		return nil, stanza.NewError(stanza.Conflict, "another focus runs this conference here")
	case conf != nil:
		return conf, nil
	case !create:
		return nil, bridgeproto.ErrorFor(bridgeproto.ErrUnknownEndpoint)
	case n.draining:
		e := stanza.NewError(stanza.ServiceUnavailable, "the bridge is draining")
		e.Extra = xmlstream.New(bridgeproto.NS, "draining")
		return nil, e
	}
	conf = &conference{n: n, id: id, owner: from, c: c, inbox: make(chan func(), inboxSize), done: make(chan struct{}),
		endpoints: make(map[string]bridge.Participant)}
	n.confs[id] = conf
	go conf.run()
	n.publishSoon()
	return conf, nil
}

// post queues fn for the conference's goroutine; false if the queue is
// full. After the conference's end fn still runs (its orders check
// ended), on whichever goroutine drains the queue.
func (conf *conference) post(fn func()) bool {
	if conf.ended() {
		go fn()
		return true
	}
	select {
	case conf.inbox <- fn:
	default:
		return false
	}
	if conf.ended() {
		conf.drain() // run may have stopped before fn was queued
	}
	return true
}

// ended says whether the conference has ended.
func (conf *conference) ended() bool {
	select {
	case <-conf.done:
		return true
	default:
		return false
	}
}

// drain runs what is queued, without waiting.
func (conf *conference) drain() {
	for {
		select {
		case fn := <-conf.inbox:
			fn()
		default:
			return
		}
	}
}

func (conf *conference) size() int { return int(conf.count.Load()) }

// setSize counts the participants, relay endpoints left out.
func (conf *conference) setSize() {
	n := 0
	for _, p := range conf.endpoints {
		if _, relay := p.(bridge.Relay); !relay {
			n++
		}
	}
	conf.count.Store(int32(n))
}

func (conf *conference) run() {
	for {
		select {
		case fn := <-conf.inbox:
			fn()
		case <-conf.done:
			conf.drain()
			return
		}
	}
}

// end closes the conference (from its run goroutine, or after it).
func (conf *conference) end(why string) {
	conf.n.mu.Lock()
	if conf.n.confs[conf.id] == conf {
		delete(conf.n.confs, conf.id)
	}
	conf.n.mu.Unlock()
	select {
	case <-conf.done:
		return
	default:
	}
	close(conf.done)
	if conf.media != nil {
		conf.media.Close()
	}
	conf.n.log.Info("conference expired", "conference", conf.id, "why", why)
	conf.n.publishSoon()
}

// expireAll ends every conference (the connection is lost, or the bridge
// stops): their focus moves them.
func (n *Node) expireAll(why string) {
	n.mu.Lock()
	confs := make([]*conference, 0, len(n.confs))
	for _, c := range n.confs {
		confs = append(confs, c)
	}
	n.mu.Unlock()
	for _, c := range confs {
		c.post(func() { c.end(why) })
	}
}

// expireFrom ends the conferences a focus allocated (it restarted).
func (n *Node) expireFrom(focus jid.JID) {
	n.mu.Lock()
	var confs []*conference
	for _, c := range n.confs {
		if c.owner == focus {
			confs = append(confs, c)
		}
	}
	n.mu.Unlock()
	for _, c := range confs {
		c.post(func() { c.end("its focus started anew") })
	}
}

func (conf *conference) ctx() (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), conf.n.cfg.RequestTimeout)
}

func (conf *conference) reply(iq *xmlstream.Element, payload ...*xmlstream.Element) {
	conf.c.Send(stanza.IQResult(iq, payload...))
}

func (conf *conference) fail(iq *xmlstream.Element, err error) {
	conf.c.Send(stanza.ErrorReply(iq, bridgeproto.ErrorFor(err)))
}

// order carries out one order, in the conference's order.
func (conf *conference) order(iq, el *xmlstream.Element) {
	if el.Name == bridgeproto.OrderAllocate || el.Name == bridgeproto.OrderRelay {
		conf.allocate(iq, el)
		return
	}
	if el.Name == bridgeproto.OrderLastN {
		n, err := strconv.Atoi(el.Attr("n"))
		if err != nil || n < 0 {
			conf.fail(iq, stanza.NewError(stanza.BadRequest, "last-n n must be a number from 0"))
			return
		}
		if conf.media != nil {
			conf.media.SetLastN(n)
		}
		conf.reply(iq)
		return
	}
	if el.Name == bridgeproto.OrderExpire && el.Attr("endpoint") == "" {
		conf.reply(iq)
		conf.end("expired by its focus")
		return
	}
	p := conf.endpoints[el.Attr("endpoint")]
	if p == nil {
		conf.fail(iq, bridgeproto.ErrUnknownEndpoint)
		return
	}
	conf.endpointOrder(iq, el, p)
}

// endpointOrder carries out an order for one endpoint.
func (conf *conference) endpointOrder(iq, el *xmlstream.Element, p bridge.Participant) {
	ctx, cancel := conf.ctx()
	defer cancel()
	var err error
	var out *xmlstream.Element
	switch el.Name {
	case bridgeproto.OrderExpire:
		p.Close()
		delete(conf.endpoints, el.Attr("endpoint"))
		conf.setSize()
	case bridgeproto.OrderOffer:
		var sdp string
		if bridgeproto.Bool(el, "restart") {
			sdp, err = p.RestartOffer(ctx)
		} else {
			sdp, err = p.Offer(ctx)
		}
		out = xmlstream.New(bridgeproto.NS, "offer").SetText(sdp)
	case bridgeproto.OrderAnswer:
		err = p.SetAnswer(ctx, el.Text)
	case bridgeproto.OrderCandidate:
		err = p.AddRemoteCandidate(ctx, el.Text)
	case bridgeproto.OrderScreenShare:
		err = p.SetScreenShare(ctx, bridgeproto.Bool(el, "active"))
	case bridgeproto.OrderForward:
		p.SetForwarding(bridge.Source(el.Attr("source")), bridgeproto.Bool(el, "on"))
	case bridgeproto.OrderReceiveVideo:
		var rv bridge.ReceiveVideo
		if rv, err = bridgeproto.ParseReceiveVideo(el); err == nil {
			p.SetReceiveVideo(rv)
		}
	case bridgeproto.OrderPublish:
		p.OfferPublishing(bridge.MediaKind(el.Attr("kind")))
	case bridgeproto.OrderAnswerOffer:
		r, ok := p.(bridge.Relay)
		if !ok {
			err = stanza.NewError(stanza.BadRequest, "answer-offer is for relay endpoints")
			break
		}
		var sdp string
		sdp, err = r.AnswerOffer(ctx, el.Text)
		out = xmlstream.New(bridgeproto.NS, "answer").SetText(sdp)
	case bridgeproto.OrderReport:
		var rep json.RawMessage
		rep, err = p.Report(ctx)
		out = xmlstream.New(bridgeproto.NS, "report").SetText(string(rep))
	default:
		err = stanza.NewError(stanza.FeatureNotImplemented, "no order "+el.Name)
	}
	if err != nil {
		conf.fail(iq, err)
		return
	}
	if out != nil {
		conf.reply(iq, out)
	} else {
		conf.reply(iq)
	}
}

// allocate adds an endpoint, creating the media conference first.
func (conf *conference) allocate(iq, el *xmlstream.Element) {
	id := el.Attr("endpoint")
	if conf.endpoints[id] != nil {
		conf.fail(iq, stanza.NewError(stanza.Conflict, "endpoint "+id+" exists"))
		return
	}
	ctx, cancel := conf.ctx()
	defer cancel()
	if conf.media == nil {
		m, err := conf.n.cfg.Media.Conference(ctx, conf.id)
		if err != nil {
			conf.fail(iq, err)
			return
		}
		conf.media = m
		go conf.forwardConferenceEvents(m)
		conf.n.log.Info("conference allocated", "conference", conf.id, "focus", conf.owner.String())
	}
	p, err := conf.join(ctx, id, el)
	if err != nil {
		conf.fail(iq, err)
		return
	}
	conf.endpoints[id] = p
	conf.setSize()
	conf.reply(iq)
	go conf.forwardEvents(id, el.Attr(bridgeproto.AttrAllocation), p)
	conf.n.publishSoon()
}

// join adds a participant, or for OrderRelay a relay endpoint.
func (conf *conference) join(ctx context.Context, id string, el *xmlstream.Element) (bridge.Participant, error) {
	if el.Name != bridgeproto.OrderRelay {
		return conf.media.Join(ctx, id, bridge.JoinOptions{NoAudio: bridgeproto.Bool(el, "no-audio"),
			NoVideo: bridgeproto.Bool(el, "no-video"), NoSimulcast: bridgeproto.Bool(el, "no-simulcast")})
	}
	c, ok := conf.media.(bridge.Cascade)
	if !ok {
		return nil, stanza.NewError(stanza.FeatureNotImplemented, "this bridge does not relay")
	}
	return c.JoinRelay(ctx, id)
}

// forwardEvents sends an endpoint's events to the focus, each with the
// allocation token of its allocate order (bridgeproto.AttrAllocation).
func (conf *conference) forwardEvents(id, alloc string, p bridge.Participant) {
	for ev := range p.Events() {
		if msg := endpointEvent(conf.owner.String(), conf.id, id, alloc, ev); msg != nil {
			conf.c.Send(msg)
		}
	}
}

// endpointEvent is the message telling focus of an endpoint's event, with
// the allocation token of its allocate order; nil for events the focus
// does not hear of.
func endpointEvent(focus, confID, id, alloc string, ev bridge.Event) *xmlstream.Element {
	var msg *xmlstream.Element
	switch ev.Kind {
	case bridge.EventNeedsOffer:
		msg = bridgeproto.Event(focus, confID, id, bridgeproto.EventNeedsOffer)
	case bridge.EventConnectionState:
		msg = bridgeproto.Event(focus, confID, id, bridgeproto.EventConnectionState, "state", ev.State, "route", ev.Route)
	case bridge.EventSendLayers:
		msg = bridgeproto.Event(focus, confID, id, bridgeproto.EventSendLayers, "source", string(ev.Source), "layers", ev.Layers)
	case bridge.EventClosed:
		msg = bridgeproto.Event(focus, confID, id, bridgeproto.EventClosed)
	default:
		return nil
	}
	if alloc != "" {
		msg.FirstChild().SetAttr(bridgeproto.AttrAllocation, alloc)
	}
	return msg
}

// forwardConferenceEvents sends the dominant speaker to the focus.
func (conf *conference) forwardConferenceEvents(m bridge.Conference) {
	for ev := range m.Events() {
		if ev.Kind == bridge.EventDominantSpeaker {
			conf.c.Send(bridgeproto.Event(conf.owner.String(), conf.id, ev.ParticipantID, bridgeproto.EventDominantSpeaker))
		}
	}
	select {
	case <-conf.done:
	default:
		conf.c.Send(bridgeproto.Event(conf.owner.String(), conf.id, "", bridgeproto.EventConferenceEnded))
	}
}

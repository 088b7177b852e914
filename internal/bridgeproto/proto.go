// Package bridgeproto is the wire form of the focus ⇄ bridge protocol
// (docs/SIGNALLING.md §"Bridges"): the orders a focus sends a bridge as
// IQs, the events a bridge sends back as messages, the error conditions,
// and the stats a bridge publishes in its brewery presence. Both sides,
// internal/remotebridge (the focus's) and internal/bridgenode (the
// bridge's), use it; it imports no media or server code.
package bridgeproto

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NS is the protocol's namespace.
const NS = "urn:parley:bridge:0"

// The orders: the payload element names of IQ set requests, focus → bridge.
const (
	OrderAllocate      = "allocate"      // conference, endpoint, allocation, no-audio, no-video, no-simulcast
	OrderExpire        = "expire"        // conference [, endpoint]
	OrderOffer         = "offer"         // conference, endpoint [, restart]; the result carries <offer>SDP</offer>
	OrderAnswer        = "answer"        // conference, endpoint; text: the SDP answer
	OrderCandidate     = "candidate"     // conference, endpoint; text: an a=candidate value
	OrderScreenShare   = "screen-share"  // conference, endpoint, active
	OrderForward       = "forward"       // conference, endpoint, source, on
	OrderReceiveVideo  = "receive-video" // conference, endpoint, quality, last-n; <video track height/>, <pin stream/>
	OrderPublish       = "publish"       // conference, endpoint, kind
	OrderLastN         = "last-n"        // conference, n
	OrderReport        = "report"        // conference, endpoint; the result carries <report>JSON</report>
	OrderExpireAllFrom = "expire-all"    // every conference the sender allocated (a focus restarting)
	OrderDrain         = "drain"         // take no new conference
	// Cascading (bridge.Cascade): a relay endpoint, negotiated with the
	// other bridge's through the focus; either end may offer (OrderOffer,
	// OrderAnswer as for any endpoint), and OrderAnswerOffer answers the
	// other end's offer.
	OrderRelay       = "relay"        // conference, endpoint, allocation: allocate a relay endpoint
	OrderAnswerOffer = "answer-offer" // conference, endpoint; text: the other end's SDP offer; the result carries <answer>SDP</answer>
)

// Orders lists every order name.
var Orders = []string{OrderAllocate, OrderExpire, OrderOffer, OrderAnswer, OrderCandidate, OrderScreenShare,
	OrderForward, OrderReceiveVideo, OrderPublish, OrderLastN, OrderReport, OrderExpireAllFrom, OrderDrain,
	OrderRelay, OrderAnswerOffer}

// Order builds an order's element.
func Order(name, conference, endpoint string, attrs ...string) *xmlstream.Element {
	el := xmlstream.New(NS, name, "conference", conference)
	if endpoint != "" {
		el.SetAttr("endpoint", endpoint)
	}
	for i := 0; i+1 < len(attrs); i += 2 {
		if attrs[i+1] != "" {
			el.SetAttr(attrs[i], attrs[i+1])
		}
	}
	return el
}

// AttrAllocation names one allocation of an endpoint: an opaque token
// the focus puts in <allocate/> and <relay/>, which the bridge copies into
// every event of that endpoint. Endpoint ids are reused (a conference
// moved back to a bridge, an endpoint expired and allocated again), and a
// bridge's events travel apart from its answers, so an event of an
// endpoint's earlier allocation can arrive after the new one is made; the
// token tells them apart.
const AttrAllocation = "allocation"

// Event kinds, in <event kind=.../> from a bridge to the focus that
// allocated the conference.
const (
	EventNeedsOffer      = "needs-offer"
	EventConnectionState = "connection-state" // state, route
	EventSendLayers      = "send-layers"      // source, layers
	EventClosed          = "closed"           // the endpoint is gone
	EventDominantSpeaker = "dominant-speaker" // endpoint: who speaks
	EventConferenceEnded = "conference-ended" // the bridge ended the conference (shutting down)
)

// Event builds a bridge's event message to the focus.
func Event(to, conference, endpoint, kind string, attrs ...string) *xmlstream.Element {
	ev := Order("event", conference, endpoint, attrs...)
	ev.SetAttr("kind", kind)
	return xmlstream.New(xmlstream.NSClient, "message", "to", to).Add(ev)
}

// Error conditions: an IQ error carries one of these, in NS, beside the
// stanza condition, so the focus can tell harmless ones apart.
var conditions = []struct {
	name string
	err  error
	cond stanza.Condition
}{
	{"nothing-to-negotiate", bridge.ErrNothingToNegotiate, stanza.UnexpectedRequest},
	{"offer-pending", bridge.ErrOfferPending, stanza.UnexpectedRequest},
	{"not-negotiated", bridge.ErrNotNegotiated, stanza.UnexpectedRequest},
	{"no-screen-share", bridge.ErrNoScreenShare, stanza.NotAcceptable},
	{"closed", bridge.ErrClosed, stanza.ItemNotFound},
}

// ErrUnknownEndpoint is an order for an endpoint the bridge does not have.
var ErrUnknownEndpoint = errors.New("bridgeproto: no such endpoint")

// ErrorFor turns a media server's error into the stanza error a bridge
// answers with.
func ErrorFor(err error) *stanza.Error {
	for _, c := range conditions {
		if errors.Is(err, c.err) {
			e := stanza.NewError(c.cond, err.Error())
			e.Extra = xmlstream.New(NS, c.name)
			return e
		}
	}
	if errors.Is(err, ErrUnknownEndpoint) {
		e := stanza.NewError(stanza.ItemNotFound, err.Error())
		e.Extra = xmlstream.New(NS, "closed")
		return e
	}
	if se := stanza.AsError(err); se.Condition != stanza.InternalServerError {
		return se
	}
	return stanza.NewError(stanza.BadRequest, err.Error())
}

// ErrorOf turns a bridge's IQ error back into an error that matches the
// bridge package's sentinels.
func ErrorOf(err error) error {
	var se *stanza.Error
	if !errors.As(err, &se) {
		return err
	}
	if se.Extra != nil && se.Extra.Space == NS {
		for _, c := range conditions {
			if se.Extra.Name == c.name {
				return fmt.Errorf("%w: %s", c.err, se.Text)
			}
		}
	}
	switch se.Condition {
	case stanza.ServiceUnavailable, stanza.RecipientUnavailable, stanza.RemoteServerNotFound:
		return fmt.Errorf("%w: %v", bridge.ErrGone, err)
	}
	return err
}

// Stats is what a bridge publishes in its brewery presence, as
// <stats xmlns='urn:parley:bridge:0' .../>.
type Stats struct {
	Stress       float64 `json:"stress"` // 0..1: the highest of CPU, packet rate and bitrate against their capacities
	Conferences  int     `json:"conferences"`
	Participants int     `json:"participants"`
	Bitrate      uint64  `json:"bitrate"`     // bit/s forwarded, over the last interval
	PacketRate   uint64  `json:"packet_rate"` // packets/s forwarded, over the last interval
	Region       string  `json:"region"`
	Version      string  `json:"version"`
	Draining     bool    `json:"draining"` // takes no new conference
}

// Element encodes s.
func (s Stats) Element() *xmlstream.Element {
	return xmlstream.New(NS, "stats",
		"stress", strconv.FormatFloat(s.Stress, 'f', 3, 64),
		"conferences", strconv.Itoa(s.Conferences),
		"participants", strconv.Itoa(s.Participants),
		"bitrate", strconv.FormatUint(s.Bitrate, 10),
		"packet-rate", strconv.FormatUint(s.PacketRate, 10),
		"region", s.Region,
		"version", s.Version,
		"drain", strconv.FormatBool(s.Draining))
}

// ParseStats reads a <stats/> element; missing numbers are 0, a bad one
// is an error.
func ParseStats(el *xmlstream.Element) (Stats, error) {
	var s Stats
	if el == nil || !el.Is(NS, "stats") {
		return s, errors.New("bridgeproto: no stats")
	}
	var err error
	num := func(name string) uint64 {
		v := el.Attr(name)
		if v == "" || err != nil {
			return 0
		}
		n, perr := strconv.ParseUint(v, 10, 64)
		if perr != nil {
			err = fmt.Errorf("bridgeproto: stats %s=%q: not a number", name, v)
		}
		return n
	}
	if v := el.Attr("stress"); v != "" {
		f, perr := strconv.ParseFloat(v, 64)
		if perr != nil || f < 0 || f != f {
			return s, fmt.Errorf("bridgeproto: stats stress=%q: not a number from 0", v)
		}
		s.Stress = min(f, 1)
	}
	s.Conferences, s.Participants = int(min(num("conferences"), 1<<31)), int(min(num("participants"), 1<<31))
	s.Bitrate, s.PacketRate = num("bitrate"), num("packet-rate")
	s.Region, s.Version = el.Attr("region"), el.Attr("version")
	s.Draining = el.Attr("drain") == "true"
	return s, err
}

// ReceiveVideo encodes a receive-video order's view.
func ReceiveVideo(el *xmlstream.Element, rv bridge.ReceiveVideo) *xmlstream.Element {
	el.SetAttr("quality", strconv.Itoa(int(rv.Quality)))
	el.SetAttr("last-n", strconv.Itoa(rv.LastN))
	for track, h := range rv.Heights {
		el.Add(xmlstream.New(NS, "video", "track", track, "height", strconv.Itoa(h)))
	}
	for _, p := range rv.Pinned {
		el.Add(xmlstream.New(NS, "pin", "stream", p))
	}
	return el
}

// ParseReceiveVideo reads a receive-video order.
func ParseReceiveVideo(el *xmlstream.Element) (bridge.ReceiveVideo, error) {
	var rv bridge.ReceiveVideo
	q, err := strconv.Atoi(el.Attr("quality"))
	if err != nil || q < int(bridge.QualityHigh) || q > int(bridge.QualityLow) {
		return rv, errors.New("bridgeproto: receive-video quality must be 0, 1 or 2")
	}
	rv.Quality = bridge.Quality(q)
	if rv.LastN, err = strconv.Atoi(el.Attr("last-n")); err != nil || rv.LastN < 0 {
		return rv, errors.New("bridgeproto: receive-video last-n must be a number from 0")
	}
	rv.Heights = make(map[string]int)
	for _, v := range el.ChildrenNamed(NS, "video") {
		h, err := strconv.Atoi(v.Attr("height"))
		if err != nil || h < 0 {
			return rv, errors.New("bridgeproto: receive-video height must be a number from 0")
		}
		rv.Heights[v.Attr("track")] = h
	}
	for _, p := range el.ChildrenNamed(NS, "pin") {
		rv.Pinned = append(rv.Pinned, p.Attr("stream"))
	}
	return rv, nil
}

// Created reports whether a MUC self-presence says the join created the
// room (status 201): its creator then accepts the instant room
// (InstantRoom), or the room stays locked (XEP-0045 §10.1).
func Created(presence *xmlstream.Element) bool {
	x := presence.Child("http://jabber.org/protocol/muc#user", "x")
	if x == nil {
		return false
	}
	for _, st := range x.ChildrenNamed("http://jabber.org/protocol/muc#user", "status") {
		if st.Attr("code") == "201" {
			return true
		}
	}
	return false
}

// InstantRoom is the owner's request accepting a new room's default
// configuration (XEP-0045 §10.1.2).
func InstantRoom() *xmlstream.Element {
	return xmlstream.New("http://jabber.org/protocol/muc#owner", "query").Add(
		xmlstream.New("jabber:x:data", "x", "type", "submit"))
}

// Bool reads a boolean attribute ("true" or "1").
func Bool(el *xmlstream.Element, name string) bool {
	v := strings.ToLower(el.Attr(name))
	return v == "true" || v == "1"
}

// Package localbridge puts the in-process SFU (internal/sfu) behind the
// focus's media-server interface (internal/bridge): a thin adapter that
// converts values, events and errors, so that neither the SFU nor the
// bridge interface knows the other.
package localbridge

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/sfu"
)

// eventBuffer is the capacity of the adapted event channels; the SFU's
// own channels are bounded already, this only decouples the two.
const eventBuffer = 64

// Server is the in-process SFU as a bridge.Server.
type Server struct {
	sfu  *sfu.SFU // read-only
	name string   // read-only
}

// New adapts s. name is what Conference.Bridge returns ("local" if empty).
func New(s *sfu.SFU, name string) *Server {
	if name == "" {
		name = "local"
	}
	return &Server{sfu: s, name: name}
}

// Conference returns the SFU's conference for id.
func (s *Server) Conference(_ context.Context, id string) (bridge.Conference, error) {
	sc := s.sfu.Conference(id)
	c := &conference{sc: sc, name: s.name, events: make(chan bridge.ConferenceEvent, eventBuffer)}
	go c.forward()
	return c, nil
}

type conference struct {
	sc     *sfu.Conference             // read-only
	name   string                      // read-only
	events chan bridge.ConferenceEvent // written and closed by forward only
}

func (c *conference) Bridge() string { return c.name }

func (c *conference) forward() {
	defer close(c.events)
	for ev := range c.sc.Events() {
		if ev.Kind == sfu.ConferenceDominantSpeaker {
			c.events <- bridge.ConferenceEvent{Kind: bridge.EventDominantSpeaker, ParticipantID: ev.ParticipantID}
		}
	}
}

func (c *conference) Join(_ context.Context, id string, opts bridge.JoinOptions) (bridge.Participant, error) {
	sp, err := c.sc.Join(id, sfu.JoinOptions{NoAudio: opts.NoAudio, NoVideo: opts.NoVideo, NoSimulcast: opts.NoSimulcast})
	if err != nil {
		return nil, convert(err)
	}
	p := &participant{sp: sp, events: make(chan bridge.Event, eventBuffer)}
	go p.forward()
	return p, nil
}

// JoinRelay adds the SFU's end of a relay to another bridge
// (bridge.Cascade).
func (c *conference) JoinRelay(_ context.Context, id string) (bridge.Relay, error) {
	sp, err := c.sc.JoinRelay(id)
	if err != nil {
		return nil, convert(err)
	}
	p := &participant{sp: sp, events: make(chan bridge.Event, eventBuffer)}
	go p.forward()
	return relay{p}, nil
}

// relay is a relay participant: a participant that also answers offers.
type relay struct{ *participant }

// AnswerOffer answers the other end of the relay (bridge.Relay).
func (r relay) AnswerOffer(ctx context.Context, offer string) (string, error) {
	sdp, err := r.sp.AnswerOffer(ctx, offer)
	return sdp, convert(err)
}

func (c *conference) SetLastN(n int)                        { c.sc.SetLastN(n) }
func (c *conference) Events() <-chan bridge.ConferenceEvent { return c.events }
func (c *conference) Close()                                { c.sc.Close() }

type participant struct {
	sp     *sfu.Participant  // read-only
	events chan bridge.Event // written and closed by forward only
}

// forward converts the SFU's participant events; the SFU closes its
// channel after EventClosed.
func (p *participant) forward() {
	defer close(p.events)
	for ev := range p.sp.Events() {
		switch ev.Kind {
		case sfu.EventNeedsOffer:
			p.events <- bridge.Event{Kind: bridge.EventNeedsOffer}
		case sfu.EventConnectionState:
			out := bridge.Event{Kind: bridge.EventConnectionState, State: string(ev.State)}
			if ev.State == sfu.StateConnected {
				r := p.sp.Route()
				out.Route = fmt.Sprintf("%s -> %s %s", r.Local, r.Remote, r.RemoteAddr)
			}
			p.events <- out
		case sfu.EventSendLayers:
			p.events <- bridge.Event{Kind: bridge.EventSendLayers, Source: bridge.Source(ev.Track.Source), Layers: ev.Layers}
		case sfu.EventClosed:
			p.events <- bridge.Event{Kind: bridge.EventClosed}
		}
	}
}

func (p *participant) Offer(ctx context.Context) (string, error) {
	sdp, err := p.sp.Offer(ctx)
	return sdp, convert(err)
}

func (p *participant) RestartOffer(ctx context.Context) (string, error) {
	sdp, err := p.sp.RestartOffer(ctx)
	return sdp, convert(err)
}

func (p *participant) SetAnswer(_ context.Context, sdp string) error {
	return convert(p.sp.SetAnswer(sdp))
}

func (p *participant) AddRemoteCandidate(_ context.Context, c string) error {
	return convert(p.sp.AddRemoteCandidate(c))
}

func (p *participant) SetScreenShare(_ context.Context, on bool) error {
	return convert(p.sp.SetScreenShare(on))
}

func (p *participant) SetForwarding(src bridge.Source, on bool) {
	p.sp.SetForwarding(sfu.Source(src), on)
}

func (p *participant) SetReceiveVideo(rv bridge.ReceiveVideo) {
	q := sfu.QualityHigh
	switch rv.Quality {
	case bridge.QualityMedium:
		q = sfu.QualityMedium
	case bridge.QualityLow:
		q = sfu.QualityLow
	}
	p.sp.SetReceiveVideo(sfu.ReceiveVideo{Quality: q, Heights: rv.Heights, LastN: rv.LastN, Pinned: rv.Pinned})
}

func (p *participant) OfferPublishing(kind bridge.MediaKind) {
	p.sp.OfferPublishing(sfu.MediaKind(kind))
}
func (p *participant) Events() <-chan bridge.Event { return p.events }
func (p *participant) Close()                      { p.sp.Close() }

func (p *participant) Report(context.Context) (json.RawMessage, error) {
	return json.Marshal(p.sp.Report())
}

// sentinels maps the SFU's errors the focus tells apart to the bridge's.
var sentinels = []struct{ from, to error }{
	{sfu.ErrClosed, bridge.ErrClosed},
	{sfu.ErrOfferPending, bridge.ErrOfferPending},
	{sfu.ErrNothingToNegotiate, bridge.ErrNothingToNegotiate},
	{sfu.ErrNotNegotiated, bridge.ErrNotNegotiated},
	{sfu.ErrNoScreenShare, bridge.ErrNoScreenShare},
}

// convert makes err match the bridge's sentinel too, keeping the SFU's
// message and sentinel.
func convert(err error) error {
	if err == nil {
		return nil
	}
	for _, s := range sentinels {
		if errors.Is(err, s.from) {
			return fmt.Errorf("%w (%w)", s.to, err)
		}
	}
	return err
}

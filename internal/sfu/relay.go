package sfu

import (
	"context"

	"github.com/pion/webrtc/v4"
)

// Relays (cascading): one conference spread over two or more bridges. Two
// bridges are joined by one peer connection, a relay participant at each
// end (JoinRelay), that carries every stream once each way, whatever the
// number of subscribers on the other side. (One connection, not one per
// direction: the bridges' ICE muxes tell sessions apart by address once
// connected, and two bridges have one address pair.)
//
// A relay participant is an ordinary participant for signalling: it offers
// when its bridge's own publications change (EventNeedsOffer), and it also
// answers the other end's offers (AnswerOffer). It publishes nothing of its
// own; it receives every publication of its bridge's own participants, and
// only those (what came from a third bridge goes there from that bridge).
// The tracks it receives (msid "<participant> <source>-<participant>", the
// stream id convention of TrackInfo) become publications of remote
// participants with the same ids, forwarded to this bridge's participants
// like any other: clients on both bridges see the same track ids. Keyframe
// requests, NACKs and receiver reports go back over the same connection,
// so the other end passes PLIs on to the publisher and answers NACKs from
// its cache.
//
// The SFU does no signalling: whoever owns the bridges (the focus's pool)
// carries offers and answers, one exchange at a time per relay (an offer
// from either end waits until the other's is answered), and decides which
// bridges relay.

// RelayStreamStats counts one stream crossing one relay, as one bridge saw
// it.
type RelayStreamStats struct {
	Relay   string // the relay participant's id here
	Out     bool   // true: sent to the other bridge; false: received from it
	TrackID string // "video-alice": the stream id convention of TrackInfo
	Packets uint64 // RTP packets (without retransmissions)
	Bytes   uint64 // their payload bytes
}

// JoinRelay adds this bridge's end of a relay to another bridge: a
// participant with id relayID that publishes nothing, receives every
// publication of this bridge's own participants, once, however many
// subscribers the other bridge has, and brings the other bridge's
// participants here. Negotiate it with the other end's relay participant:
// its offers go to the other end's AnswerOffer and back to its SetAnswer,
// and the other way round. Close it to end the relay. relayID must not be
// a participant's id; the caller picks a name of its own (for example
// "relay~bridge2").
func (c *Conference) JoinRelay(relayID string) (*Participant, error) {
	return c.join(relayID, JoinOptions{NoAudio: true, NoVideo: true, NoSimulcast: true}, true)
}

// AnswerOffer answers the other end's offer on a relay participant and
// returns the complete answer. Changes of its own waiting meanwhile stay
// for its next offer (EventNeedsOffer follows). It fails with
// ErrOfferPending while an offer of its own waits for its answer, with
// ErrMalformedOffer on an offer the WebRTC stack refuses, and with
// ErrNegotiation on a participant that is not a relay.
func (p *Participant) AnswerOffer(ctx context.Context, offer string) (string, error) {
	if !p.relay {
		return "", p.opError("answer offer", wrapf(ErrNegotiation, "only a relay answers offers"))
	}
	p.negMu.Lock()
	defer p.negMu.Unlock()
	p.mu.Lock()
	closed, broken, pending := p.closed, p.broken, p.offerPending
	p.mu.Unlock()
	switch {
	case closed:
		return "", p.opError("answer offer", ErrClosed)
	case broken:
		return "", p.opError("answer offer", errBroken)
	case pending:
		return "", p.opError("answer offer", ErrOfferPending)
	}
	if err := p.pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return "", p.opError("answer offer", wrapf(ErrMalformedOffer, "%v", err))
	}
	sdp, err := p.createAnswer(ctx)
	if err != nil {
		p.mu.Lock()
		p.broken = true // Pion holds a remote offer it cannot roll back
		p.mu.Unlock()
		return "", p.opError("answer offer", err)
	}
	p.mu.Lock()
	p.offered, p.negotiated = true, true
	if p.dirty && !p.closed {
		p.needsOfferSent = p.emitLocked(Event{Kind: EventNeedsOffer, ParticipantID: p.id})
	}
	p.mu.Unlock()
	return sdp, nil
}

// createAnswer creates and applies an answer and waits for its
// candidates. Must hold negMu.
func (p *Participant) createAnswer(ctx context.Context) (string, error) {
	ans, err := p.pc.CreateAnswer(nil)
	if err != nil {
		return "", wrapf(ErrNegotiation, "create answer: %v", err)
	}
	gathered := webrtc.GatheringCompletePromise(p.pc)
	if err := p.pc.SetLocalDescription(ans); err != nil {
		return "", wrapf(ErrNegotiation, "set local description: %v", err)
	}
	select {
	case <-gathered:
	case <-ctx.Done():
		return "", wrapf(ErrNegotiation, "gathering candidates: %v", ctx.Err())
	case <-p.done:
		return "", ErrClosed
	}
	local := p.pc.LocalDescription()
	if local == nil {
		return "", wrapf(ErrNegotiation, "no local description")
	}
	return local.SDP, nil
}

// RelayStats returns the per-stream counters of the conference's relays,
// in both directions.
func (c *Conference) RelayStats() []RelayStreamStats {
	c.mu.Lock()
	var relays []*Participant
	for _, p := range c.joinOrder {
		if p.relay {
			relays = append(relays, p)
		}
	}
	remotes := append([]*Participant(nil), c.remotes...)
	c.mu.Unlock()
	var st []RelayStreamStats
	for _, p := range relays {
		p.mu.Lock()
		for d := range p.receiving {
			st = append(st, RelayStreamStats{Relay: p.id, Out: true, TrackID: d.pub.info.TrackID,
				Packets: d.sent.Load(), Bytes: d.sentBytes.Load()})
		}
		p.mu.Unlock()
	}
	for _, p := range remotes {
		p.mu.Lock()
		for _, pub := range p.published {
			if pub == nil {
				continue
			}
			s := RelayStreamStats{Relay: p.remote.id, TrackID: pub.info.TrackID}
			for _, l := range pub.layers {
				s.Packets += l.packets.Load()
				s.Bytes += l.bytes.Load()
			}
			st = append(st, s)
		}
		p.mu.Unlock()
	}
	return st
}

// RelayStats returns the relay counters of every conference, by
// conference id; conferences without relays are left out.
func (s *SFU) RelayStats() map[string][]RelayStreamStats {
	s.mu.Lock()
	confs := make([]*Conference, 0, len(s.conferences))
	for _, c := range s.conferences {
		confs = append(confs, c)
	}
	s.mu.Unlock()
	out := make(map[string][]RelayStreamStats)
	for _, c := range confs {
		if st := c.RelayStats(); len(st) > 0 {
			out[c.id] = st
		}
	}
	return out
}

// onRelayedTrack takes a track the other end of relay p sends: it is
// published here as its participant's, until it ends.
func (p *Participant) onRelayedTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	go drainRTCP(receiver, "")
	src, ok := relayedSource(track.StreamID(), track.ID(), track.Kind())
	if !ok {
		p.refused.Add(1)
		p.log.Warn("relayed track refused: its msid breaks the stream id convention", "stream", track.StreamID(), "track", track.ID())
		return
	}
	pub := p.publishRelayed(track.StreamID(), src, track, receiver)
	if pub == nil {
		return
	}
	p.log.Debug("relayed track", "track", pub.info.TrackID, "codec", pub.info.Codec, "ssrc", uint32(track.SSRC()))
	pub.run(track, 0)
	p.withdrawRelayed(pub)
}

// relayedSource reads the source from a relayed track's msid (see
// TrackInfo): the track id must be "<source>-<stream id>", the stream id a
// valid participant id, and the source of the track's kind.
func relayedSource(streamID, trackID string, kind webrtc.RTPCodecType) (Source, bool) {
	if !validParticipantID(streamID) {
		return "", false
	}
	for _, src := range Sources() {
		if trackID == trackIDFor(src, streamID) && mediaKindOf(kind) == src.Kind() {
			return src, true
		}
	}
	return "", false
}

// publishRelayed makes the relayed track a publication of the remote participant
// id (created on its first track), replacing an earlier one of the same
// source. It returns nil if the track is not to be forwarded.
func (r *Participant) publishRelayed(id string, src Source, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *publication {
	c := r.conf
	c.mu.Lock()
	if c.closed || c.participants[r.id] != r {
		c.mu.Unlock()
		return nil
	}
	p := c.participants[id]
	switch {
	case p == nil:
		p = newRemoteParticipant(c, r, id)
		c.participants[id] = p
		c.remotes = append(c.remotes, p)
	case p.remote != r:
		c.mu.Unlock()
		r.refused.Add(1)
		r.log.Warn("relayed track refused: the participant id is taken here", "participant", id)
		return nil
	}
	pub := newPublication(p, src, track.Kind(), track.Codec(), receiver.GetParameters().HeaderExtensions)
	p.mu.Lock()
	old := p.published[src.slot()]
	p.published[src.slot()] = pub
	p.mu.Unlock()
	if old != nil {
		c.unpublishLocked(old)
	}
	ok := c.publishLocked(pub)
	c.mu.Unlock()
	if old != nil {
		old.close()
	}
	if !ok {
		return nil
	}
	return pub
}

// withdrawRelayed takes an ended relayed track out of the conference, and its
// participant with its last track.
func (r *Participant) withdrawRelayed(pub *publication) {
	c, p := r.conf, pub.owner
	c.mu.Lock()
	p.mu.Lock()
	mine := p.published[pub.info.Source.slot()] == pub
	if mine {
		p.published[pub.info.Source.slot()] = nil
	}
	empty := p.published == [numSources]*publication{}
	p.mu.Unlock()
	if mine {
		c.unpublishLocked(pub)
		if empty && c.participants[p.id] == p {
			c.dropRemoteLocked(p)
		}
	}
	c.mu.Unlock()
	pub.close()
}

// dropRemoteLocked takes remote participant p out of the conference,
// withdrawing its publications, which it returns for closing. Must hold
// c.mu.
func (c *Conference) dropRemoteLocked(p *Participant) []*publication {
	if c.participants[p.id] == p {
		delete(c.participants, p.id)
	}
	c.speakers.forget(p.id)
	for i, q := range c.remotes {
		if q == p {
			c.remotes = append(c.remotes[:i:i], c.remotes[i+1:]...)
			break
		}
	}
	p.mu.Lock()
	own := p.published
	p.published = [numSources]*publication{}
	p.mu.Unlock()
	var pubs []*publication
	for _, pub := range own {
		if pub != nil {
			c.unpublishLocked(pub)
			pubs = append(pubs, pub)
		}
	}
	return pubs
}

// newRemoteParticipant makes the stand-in for participant id of the
// other bridge: it owns the relayed publications and sends their keyframe
// requests over the relay; it has no session of its own and no events.
func newRemoteParticipant(c *Conference, r *Participant, id string) *Participant {
	return &Participant{
		id:           id,
		conf:         c,
		sfu:          c.sfu,
		log:          r.log.With("participant", id),
		pc:           r.pc,
		done:         make(chan struct{}),
		remote:       r,
		eventsClosed: true,
		receiving:    make(map[*downTrack]struct{}),
		state:        StateConnected,
		pacer:        newPacer(c.sfu.cfg.Clock), // idle: it subscribes to nothing
	}
}

// IsRelay says whether p is the sending end of a relay (JoinRelay)
// rather than a person.
func (p *Participant) IsRelay() bool { return p.relay }

package sfu

import (
	"log/slog"
	"sync"

	"github.com/pion/webrtc/v4"
)

// Participant is one peer connection in a conference: it publishes at most
// one audio and one video track, and receives every other participant's.
type Participant struct {
	id   string                 // read-only
	conf *Conference            // read-only
	sfu  *SFU                   // read-only
	log  *slog.Logger           // read-only
	opts JoinOptions            // read-only
	pc   *webrtc.PeerConnection // read-only pointer; Pion locks inside
	done chan struct{}          // closed by Close
	gate gate                   // what of its media is forwarded; atomic (gate.go)

	// events is buffered (Config.EventBuffer). It is sent to only under mu
	// and closed under mu after EventClosed, so a send never races a close.
	events chan Event

	negMu sync.Mutex // serializes Offer and SetAnswer; taken before mu

	mu             sync.Mutex              // guards the fields below
	closed         bool                    // Close was called
	broken         bool                    // negotiation failed beyond repair
	eventsClosed   bool                    // events is closed
	offered        bool                    // the first offer was made
	negotiated     bool                    // an answer has been applied
	offerPending   bool                    // an offer waits for its answer
	dirty          bool                    // changes wait for the next offer
	needsOfferSent bool                    // EventNeedsOffer sent since the last Offer
	pendingAdds    []*downTrack            // to add at the next offer
	pendingRemoves []*downTrack            // to remove at the next offer
	receiving      map[*downTrack]struct{} // downtracks added and not removed
	published      [2]*publication         // own publications: [0] audio, [1] video
	candidates     []string                // remote candidates held until the first answer
	state          ConnectionState         // last connection state seen
	stats          ParticipantStats        // drop counters (event and candidate parts)
	publishWanted  [2]bool                 // recvonly m-lines to add at the next offer (gate.go)
	deferred       bool                    // the first offer had nothing to offer (gate.go)
}

// ParticipantStats counts what one participant dropped, by reason. The
// packet counters cover the tracks it currently receives and publishes.
type ParticipantStats struct {
	EventsDropped     uint64 // events not delivered because Events was full
	CandidatesDropped uint64 // remote candidates over Config.CandidateBuffer before the first answer
	PacketsSent       uint64 // packets forwarded to this participant
	DroppedUnbound    uint64 // packets for tracks not negotiated yet, or without a common codec
	DroppedWriteError uint64 // packets the transport refused
	MalformedReceived uint64 // packets from this participant that did not parse
	CodecMismatches   uint64 // tracks this participant gets no packets of: no common codec
	ICERestarts       uint64 // ICE-restart offers made (RestartOffer)
	Withheld          uint64 // packets from this participant not forwarded: SetForwarding off
}

func newParticipant(c *Conference, id string, opts JoinOptions) (*Participant, error) {
	pc, err := c.sfu.api.NewPeerConnection(webrtc.Configuration{
		BundlePolicy:  webrtc.BundlePolicyMaxBundle,
		RTCPMuxPolicy: webrtc.RTCPMuxPolicyRequire,
	})
	if err != nil {
		return nil, wrapf(ErrNegotiation, "new peer connection: %v", err)
	}
	p := &Participant{
		id:        id,
		conf:      c,
		sfu:       c.sfu,
		log:       c.sfu.log.With("conference", c.id, "participant", id),
		opts:      opts,
		pc:        pc,
		done:      make(chan struct{}),
		events:    make(chan Event, c.sfu.cfg.EventBuffer),
		receiving: make(map[*downTrack]struct{}),
		state:     StateNew,
	}
	pc.OnTrack(p.onTrack)
	pc.OnConnectionStateChange(p.onConnectionState)
	return p, nil
}

// ID returns the participant id.
func (p *Participant) ID() string { return p.id }

// Events returns the participant's event channel. It is buffered
// (Config.EventBuffer); if the consumer falls behind, events are dropped
// and counted, except EventNeedsOffer and EventClosed, which displace the
// oldest queued event instead. EventClosed is last; then the channel is
// closed.
func (p *Participant) Events() <-chan Event { return p.events }

// Stats returns the participant's counters.
func (p *Participant) Stats() ParticipantStats {
	p.mu.Lock()
	st := p.stats
	for d := range p.receiving {
		st.PacketsSent += d.sent.Load()
		st.DroppedUnbound += d.dropUnbound.Load()
		st.DroppedWriteError += d.dropWriteErr.Load()
		if d.codecMismatch.Load() {
			st.CodecMismatches++
		}
	}
	for _, pub := range p.published {
		if pub != nil {
			st.MalformedReceived += pub.malformed.Load()
		}
	}
	st.Withheld = p.gate.withheld[0].Load() + p.gate.withheld[1].Load()
	p.mu.Unlock()
	return st
}

// Close ends the participant: its tracks are withdrawn from everybody
// else (who get EventNeedsOffer), its connection is closed, and its Events
// channel delivers EventClosed and closes. Safe to call more than once.
func (p *Participant) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	p.mu.Unlock()
	close(p.done)

	p.conf.leave(p)
	if err := p.pc.Close(); err != nil {
		p.log.Debug("closing peer connection", "err", err)
	}

	p.mu.Lock()
	defer p.mu.Unlock()
	p.emitLocked(Event{Kind: EventClosed, ParticipantID: p.id})
	p.eventsClosed = true
	close(p.events)
}

// emitLocked queues ev. Must hold mu.
func (p *Participant) emitLocked(ev Event) bool {
	if p.eventsClosed {
		return false
	}
	select {
	case p.events <- ev:
		return true
	default:
	}
	if ev.Kind != EventNeedsOffer && ev.Kind != EventClosed {
		p.stats.EventsDropped++
		return false
	}
	// Make room by dropping the oldest event. Only senders holding mu
	// add to the channel, so after one receive there is room.
	select {
	case <-p.events:
		p.stats.EventsDropped++
	default:
	}
	select {
	case p.events <- ev:
		return true
	default:
		p.stats.EventsDropped++
		return false
	}
}

// markDirtyLocked records that the session must be renegotiated and tells
// the focus, unless it already knows or an offer is out. Must hold mu.
func (p *Participant) markDirtyLocked() {
	p.dirty = true
	if (!p.offered && !p.deferred) || p.offerPending || p.needsOfferSent || p.closed {
		return
	}
	p.needsOfferSent = p.emitLocked(Event{Kind: EventNeedsOffer, ParticipantID: p.id})
}

// queueAdd schedules d to be offered to this participant.
func (p *Participant) queueAdd(d *downTrack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.receiving[d] = struct{}{}
	p.pendingAdds = append(p.pendingAdds, d)
	p.emitLocked(Event{Kind: EventTrackPublished, ParticipantID: d.pub.owner.id, Track: d.pub.info})
	p.markDirtyLocked()
}

// queueRemove schedules d to be taken out of this participant's session.
func (p *Participant) queueRemove(d *downTrack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	delete(p.receiving, d)
	p.emitLocked(Event{Kind: EventTrackUnpublished, ParticipantID: d.pub.owner.id, Track: d.pub.info})
	for i, a := range p.pendingAdds {
		if a == d { // never offered: just forget it
			p.pendingAdds = append(p.pendingAdds[:i:i], p.pendingAdds[i+1:]...)
			return
		}
	}
	p.pendingRemoves = append(p.pendingRemoves, d)
	p.markDirtyLocked()
}

// onTrack is Pion's callback for a track the participant publishes.
func (p *Participant) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	go drainRTCP(receiver)
	slot := 0
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		slot = 1
	}
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	pub := p.published[slot]
	created := pub == nil
	if created {
		pub = newPublication(p, track.Kind(), track.Codec(), receiver.GetParameters().HeaderExtensions)
		p.published[slot] = pub
	}
	p.mu.Unlock()
	if !created && !sameCodec(pub.codec.RTPCodecCapability, track.Codec().RTPCodecCapability) {
		p.log.Warn("ignoring track with a changed codec", "was", pub.codec.MimeType, "now", track.Codec().MimeType)
		return
	}
	if created && !p.conf.publish(pub) {
		return
	}
	p.log.Debug("publishing", "track", pub.info.TrackID, "codec", pub.info.Codec, "ssrc", uint32(track.SSRC()))
	pub.run(track)
}

// drainRTCP reads a receiver's RTCP so that Pion's interceptors see the
// publisher's sender reports; the packets themselves are not needed.
func drainRTCP(receiver *webrtc.RTPReceiver) {
	buf := make([]byte, receiveMTU)
	for {
		if _, _, err := receiver.Read(buf); err != nil {
			return
		}
	}
}

// onConnectionState is Pion's callback for connection state changes.
func (p *Participant) onConnectionState(s webrtc.PeerConnectionState) {
	state := connectionStateOf(s)
	p.mu.Lock()
	if p.state == state {
		p.mu.Unlock()
		return
	}
	p.state = state
	p.emitLocked(Event{Kind: EventConnectionState, ParticipantID: p.id, State: state})
	var receiving []*downTrack
	if state == StateConnected {
		for d := range p.receiving {
			receiving = append(receiving, d)
		}
	}
	p.mu.Unlock()
	// Keyframes requested when the tracks were bound went out before this
	// participant could receive them; ask again now that it can.
	for _, d := range receiving {
		d.pub.requestKeyframe()
	}
	p.log.Debug("connection state", "state", state)
}

// sendPLI sends a keyframe request for one of this participant's
// published video tracks.
func (p *Participant) sendPLI(ssrc uint32) error {
	return p.pc.WriteRTCP(pliPacket(ssrc))
}

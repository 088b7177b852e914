package sfu

import (
	"log/slog"
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/webrtc/v4"
)

// Participant is one peer connection in a conference: it publishes at most
// one track of each Source (audio, camera, screen), and receives every other
// participant's.
type Participant struct {
	id   string                 // read-only
	conf *Conference            // read-only
	sfu  *SFU                   // read-only
	log  *slog.Logger           // read-only
	opts JoinOptions            // read-only
	pc   *webrtc.PeerConnection // read-only pointer; Pion locks inside
	done chan struct{}          // closed by Close
	gate gate                   // what of its media is forwarded; atomic (gate.go)
	// relay marks a relay to another bridge (JoinRelay, relay.go): it
	// receives only local publications, no lastN applies to it, and what
	// it brings are remote participants' publications. Set before the
	// participant is in the conference; read-only after.
	relay bool
	// relayed counts, of a relay, the tracks feeding each publication it
	// brings from the other bridge (one per simulcast layer; relay.go).
	// Guarded by conf.mu.
	relayed map[*publication]int
	// remote is the relay a participant of another bridge is seen through
	// (relay.go): it publishes through the relay's peer connection and
	// receives nothing. Nil for everybody else. Read-only.
	remote *Participant
	// refused counts the relayed tracks not taken (relay only): a bad
	// msid, or an id a local participant has.
	refused atomic.Uint64

	// events is buffered (Config.EventBuffer). It is sent to only under mu
	// and closed under mu after EventClosed, so a send never races a close.
	events chan Event

	negMu sync.Mutex // serializes Offer and SetAnswer; taken before mu

	mu             sync.Mutex               // guards the fields below
	closed         bool                     // Close was called
	broken         bool                     // negotiation failed beyond repair
	eventsClosed   bool                     // events is closed
	offered        bool                     // the first offer was made
	negotiated     bool                     // an answer has been applied
	offerPending   bool                     // an offer waits for its answer
	dirty          bool                     // changes wait for the next offer
	needsOfferSent bool                     // EventNeedsOffer sent since the last Offer
	pendingAdds    []*downTrack             // to add at the next offer
	pendingRemoves []*downTrack             // to remove at the next offer
	receiving      map[*downTrack]struct{}  // downtracks added and not removed
	published      [numSources]*publication // own publications by Source.slot
	cameraRecv     *webrtc.RTPTransceiver   // the recvonly m-line for the camera; nil if none
	screenRecv     *webrtc.RTPTransceiver   // the recvonly m-line for a screen share; nil if none
	screenSharing  bool                     // the focus said a screen share is on (SetScreenShare)
	candidates     []string                 // remote candidates held until the first answer
	state          ConnectionState          // last connection state seen
	stats          ParticipantStats         // drop counters (event and candidate parts)
	recvQuality    Quality                  // SetReceiveVideo
	recvHeights    map[string]int           // SetReceiveVideo: tile heights by track id
	recvLastN      int                      // SetReceiveVideo: own lastN; 0: the conference's
	recvPinned     map[string]bool          // SetReceiveVideo: participant ids pinned
	publishWanted  [2]bool                  // recvonly m-lines by kind to add at the next offer (gate.go)
	deferred       bool                     // the first offer had nothing to offer (gate.go)

	// bwe estimates the bandwidth towards the participant from its TWCC
	// feedback (GCC); nil if the interceptor was not set up. Read-only.
	bwe        cc.BandwidthEstimator
	bweBitrate atomic.Uint64 // the estimate at the last allocation, bit/s
	cong       congestion    // owned by the conference's speaker tick (allocate)
	// pacer spreads the videos sent to the participant while it has a
	// ceiling (pacer.go); its rate is set by allocate.
	pacer *pacer
}

// ParticipantStats counts what one participant dropped, by reason. The
// packet counters cover the tracks it currently receives and publishes.
type ParticipantStats struct {
	EventsDropped     uint64 // events not delivered because Events was full
	CandidatesDropped uint64 // remote candidates over Config.CandidateBuffer before the first answer
	PacketsSent       uint64 // packets forwarded to this participant
	BytesSent         uint64 // their payload bytes
	Retransmitted     uint64 // packets resent on this participant's NACKs (packetcache.go)
	DroppedUnbound    uint64 // packets for tracks not negotiated yet, or without a common codec
	DroppedWriteError uint64 // packets the transport refused
	DroppedBadRED     uint64 // RED audio packets with no primary Opus block, not sent as Opus (red.go)
	MalformedReceived uint64 // packets from this participant that did not parse
	CodecMismatches   uint64 // tracks this participant gets no packets of: no common codec
	ICERestarts       uint64 // ICE-restart offers made (RestartOffer)
	Withheld          uint64 // packets from this participant not forwarded: SetForwarding off

	// Layer decisions for the videos this participant receives (see
	// allocator.go), by reason.
	LayerStarts       uint64 // a video's first layer
	LayerSwitchesUp   uint64 // to a higher layer, at its keyframe
	LayerSwitchesDown uint64 // to a lower layer, at its keyframe (smaller tile, quality, a layer lost)
	LayerPauses       uint64 // stopped at once: congestion, or the video is shown nowhere
	// VP8 temporal layers (temporal.go): switches to more and to fewer,
	// and the frames not forwarded for it.
	TemporalSwitchesUp, TemporalSwitchesDown, TemporalFramesDropped uint64
	// Bandwidth probes towards this participant (probe.go): those that
	// held, so that its videos went up, those that met loss or delay
	// growth, and the padding they sent, bytes.
	ProbesHeld   uint64
	ProbesFailed uint64
	PaddingBytes uint64
	// What this participant's NACKs and keyframe requests did not get:
	// over their budgets (budgets.go).
	RetransmitsDropped      uint64
	KeyframeRequestsDropped uint64
	// EstimatedBitrate is the send-side bandwidth estimate towards this
	// participant at the last allocation, bit/s; 0 before.
	EstimatedBitrate uint64
	// Videos paced towards this participant (pacer.go): packets that
	// waited in its pacer, and those dropped because it was full.
	PacedPackets uint64
	PacerDropped uint64
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
		pacer:     newBatchedPacer(c.sfu.cfg.Clock, c.sfu.out),
	}
	p.bwe = c.sfu.takeEstimator(pc.ID())
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
		d.countInto(&st)
		if d.codecMismatch.Load() {
			st.CodecMismatches++
		}
	}
	for _, pub := range p.published {
		if pub != nil {
			st.MalformedReceived += pub.malformed.Load()
		}
	}
	for i := range p.gate.withheld {
		st.Withheld += p.gate.withheld[i].Load()
	}
	p.mu.Unlock()
	st.EstimatedBitrate = p.bweBitrate.Load()
	st.ProbesHeld, st.ProbesFailed = p.cong.held.Load(), p.cong.failed.Load()
	st.PacedPackets, st.PacerDropped = p.pacer.paced.Load(), p.pacer.dropped.Load()
	return st
}

// countInto adds the down-track's counters to st.
func (d *downTrack) countInto(st *ParticipantStats) {
	st.PacketsSent += d.sent.Load()
	st.BytesSent += d.sentBytes.Load()
	st.Retransmitted += d.retransmits.Load()
	st.DroppedUnbound += d.dropUnbound.Load()
	st.DroppedWriteError += d.dropWriteErr.Load()
	st.DroppedBadRED += d.dropBadRED.Load()
	st.LayerStarts += d.switches[switchStart].Load()
	st.LayerSwitchesUp += d.switches[switchUp].Load()
	st.LayerSwitchesDown += d.switches[switchDown].Load()
	st.LayerPauses += d.switches[switchPause].Load()
	st.TemporalSwitchesUp += d.tSwitches[0].Load()
	st.TemporalSwitchesDown += d.tSwitches[1].Load()
	st.TemporalFramesDropped += d.temporalDrops.Load()
	st.PaddingBytes += d.paddingBytes.Load()
	st.RetransmitsDropped += d.rtxDropped.Load()
	st.KeyframeRequestsDropped += d.pliDropped.Load()
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
	if !p.relay { // what relays carried is counted apart (Stats.RelayPacketsOut)
		p.sfu.retire(p.Stats())
	}
	p.mu.Lock()
	own := p.published
	p.mu.Unlock()
	for _, pub := range own {
		if pub != nil {
			pub.close() // also those not live: a withdrawn screen share
		}
	}
	if err := p.pc.Close(); err != nil {
		p.log.Debug("closing peer connection", "err", err)
	}
	p.pacer.close()

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

// sendLayers tells the focus which layers of its own track info the
// participant should send (EventSendLayers).
func (p *Participant) sendLayers(info TrackInfo, rids string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.emitLocked(Event{Kind: EventSendLayers, ParticipantID: p.id, Track: info, Layers: rids})
	}
}

// queueRemove schedules d to be taken out of this participant's session.
func (p *Participant) queueRemove(d *downTrack) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	delete(p.receiving, d)
	// What d carried stays in the participant's counts (and the SFU's).
	d.countInto(&p.stats)
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

// onTrack is Pion's callback for a track the participant publishes. The
// m-line it arrives on says its source: the screen share's m-line is known,
// the others go by kind. A screen track is forwarded only while the share
// is on (SetScreenShare).
func (p *Participant) onTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	if p.relay {
		p.onRelayedTrack(track, receiver)
		return
	}
	go drainRTCP(receiver, track.RID())
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	src := SourceAudio
	if track.Kind() == webrtc.RTPCodecTypeVideo {
		src = SourceCamera
		if p.screenRecv != nil && p.screenRecv.Receiver() == receiver {
			src = SourceScreen
		}
	}
	pub := p.published[src.slot()]
	created := pub == nil
	if created {
		pub = newPublication(p, src, track.Kind(), track.Codec(), receiver.GetParameters().HeaderExtensions)
		p.published[src.slot()] = pub
	}
	publish := created && (src != SourceScreen || p.screenSharing)
	p.mu.Unlock()
	li := layerOf(src, track.RID())
	if li < 0 {
		p.log.Warn("ignoring a simulcast layer not asked for", "rid", track.RID())
		return
	}
	if !created && !sameCodec(pub.codec.RTPCodecCapability, track.Codec().RTPCodecCapability) {
		p.log.Warn("ignoring track with a changed codec", "was", pub.codec.MimeType, "now", track.Codec().MimeType)
		return
	}
	if publish && !p.conf.publish(pub) {
		return
	}
	p.log.Debug("publishing", "track", pub.info.TrackID, "codec", pub.info.Codec, "ssrc", uint32(track.SSRC()), "rid", track.RID())
	pub.run(track, li)
}

// SetScreenShare says whether the participant shares its screen. The
// screen's packets arrive on their own m-line (the third the first offer
// has, see Offer); they are forwarded, as the track "screen-<id>", only
// while the share is on. Turning it off withdraws the track from everybody
// else's session (EventNeedsOffer for them); turning it on again publishes
// it anew. It fails with ErrNoScreenShare if the participant's session has
// no screen m-line (JoinOptions.NoScreen or NoVideo).
func (p *Participant) SetScreenShare(on bool) error {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return p.opError("screen share", ErrClosed)
	}
	if p.opts.NoScreen || p.opts.NoVideo {
		p.mu.Unlock()
		return p.opError("screen share", ErrNoScreenShare)
	}
	p.screenSharing = on
	pub := p.published[SourceScreen.slot()]
	p.mu.Unlock()
	if pub == nil {
		return nil // published when its first packet arrives
	}
	if on {
		if p.conf.publish(pub) {
			pub.requestKeyframe()
		}
		return nil
	}
	p.conf.unpublish(pub)
	return nil
}

// drainRTCP reads a receiver's RTCP (of one simulcast layer, if rid is
// set) so that Pion's interceptors see the publisher's sender reports; the
// packets themselves are not needed.
func drainRTCP(receiver *webrtc.RTPReceiver, rid string) {
	buf := make([]byte, receiveMTU)
	for {
		var err error
		if rid != "" {
			_, _, err = receiver.ReadSimulcast(buf, rid)
		} else {
			_, _, err = receiver.Read(buf)
		}
		if err != nil {
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
	// The keyframes asked for on binding may be cached already: the first
	// packets go from there (replay.go). A layer not asked for since is
	// asked now. Every layer: the allocator may move the target right
	// after (measured: asking the target alone made Firefox wait 40 ms
	// more at the median, docs/BENCHMARKS.md).
	for _, d := range receiving {
		if d.pub.kind == webrtc.RTPCodecTypeVideo {
			d.replay.Store(true)
		}
		d.pub.requestFreshKeyframes(replayMaxAge)
	}
	p.log.Debug("connection state", "state", state)
}

// connected says whether the participant's connection is up.
func (p *Participant) connected() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.state == StateConnected
}

// sendPLI sends a keyframe request for one of this participant's
// published video tracks.
func (p *Participant) sendPLI(ssrc uint32) error {
	return p.pc.WriteRTCP(pliPacket(ssrc))
}

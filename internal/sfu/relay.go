package sfu

import (
	"context"
	"strings"
	"time"

	"github.com/pion/rtcp"
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
// Simulcast across a relay: a relay carries each simulcast layer of a
// camera or screen as a stream of its own (track id "video-alice~h", one
// m-line each), so that the other bridge's allocator picks a layer per
// subscriber there, as for its own publishers. It carries a layer only
// while somebody on the other bridge watches it: each allocation, the
// other end tells this one which layers of each relayed publication its
// dynacast keeps (an RTCP APP packet "PRLY" per layer, on the layer's own
// SSRC: data byte 0 is 1 for watched, 0 for not), and this end forwards
// the watched ones and counts them as watched for its own dynacast. A
// layer nobody watches on either bridge is so paused at the publisher.
// Until the other end says otherwise every layer is carried.
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
		at := make(map[*publication]int) // a stream's entry: its layers count as one
		p.mu.Lock()
		for d := range p.receiving {
			i, ok := at[d.pub]
			if !ok {
				i = len(st)
				at[d.pub] = i
				st = append(st, RelayStreamStats{Relay: p.id, Out: true, TrackID: d.pub.info.TrackID})
			}
			st[i].Packets += d.sent.Load()
			st[i].Bytes += d.sentBytes.Load()
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
// published here as its participant's, or as one layer of its
// publication, until it ends.
func (p *Participant) onRelayedTrack(track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) {
	go drainRTCP(receiver, "")
	src, layer, ok := relayedSource(track.StreamID(), track.ID(), track.Kind())
	if !ok {
		p.refused.Add(1)
		p.log.Warn("relayed track refused: its msid breaks the stream id convention", "stream", track.StreamID(), "track", track.ID())
		return
	}
	pub := p.publishRelayed(track.StreamID(), src, layer, track, receiver)
	if pub == nil {
		return
	}
	p.log.Debug("relayed track", "track", pub.info.TrackID, "layer", layer, "codec", pub.info.Codec, "ssrc", uint32(track.SSRC()))
	pub.run(track, max(layer, 0))
	p.withdrawRelayed(pub)
}

// relayedSource reads the source from a relayed track's msid (see
// TrackInfo): the track id must be "<source>-<stream id>", the stream id a
// valid participant id, and the source of the track's kind; or, for one
// simulcast layer, that and "~<rid>" (relayLayerTrackID), whose layer it
// returns (-1 for a whole track).
func relayedSource(streamID, trackID string, kind webrtc.RTPCodecType) (Source, int, bool) {
	if !validParticipantID(streamID) {
		return "", 0, false
	}
	base, rid, layered := strings.Cut(trackID, "~")
	for _, src := range Sources() {
		if base != trackIDFor(src, streamID) || mediaKindOf(kind) != src.Kind() {
			continue
		}
		if !layered {
			return src, -1, true
		}
		if l := layerOf(src, rid); rid != "" && l >= 0 {
			return src, l, true
		}
	}
	return "", 0, false
}

// relayLayerTrackID is the track id of one layer of pub on a relay:
// "video-alice~h".
func relayLayerTrackID(pub *publication, layer int) string {
	return pub.info.TrackID + "~" + ridsFor(pub.info.Source)[layer]
}

// downTracksFor makes p's downtracks of pub: one, or for a relay and a
// local camera or screen that may come in simulcast, one per layer.
func downTracksFor(pub *publication, p *Participant) []*downTrack {
	rids := ridsFor(pub.info.Source)
	if !p.relay || pub.owner.remote != nil || pub.owner.opts.NoSimulcast || len(rids) == 0 {
		return []*downTrack{newDownTrack(pub, p)}
	}
	ds := make([]*downTrack, len(rids))
	for l := range rids {
		ds[l] = newDownTrack(pub, p)
		ds[l].layerOnly = l
		ds[l].target.Store(int32(l)) // from the start: a layer-0 target would take a whole stream's packets
	}
	return ds
}

// relayLayer is the layer a relay's one-layer downtrack forwards: its
// own, unless the other bridge watches it nowhere (-1). While the layer,
// sent by the publisher (active), has not started crossing, it asks for
// a keyframe again: the other bridge learns of the layer from its first
// packet, so it cannot ask for one itself, and a keyframe lost on the way
// here would stall it. Runs on the speaker tick.
func (d *downTrack) relayLayer(active uint8) int {
	if d.relayUnwatched.Load() {
		return -1
	}
	d.mu.Lock()
	waiting := d.current != d.layerOnly
	d.mu.Unlock()
	if waiting && active&(1<<d.layerOnly) != 0 && d.bound.Load() != nil && d.sub.connected() {
		d.pub.requestLayerKeyframe(d.layerOnly) // rate-limited per layer
	}
	return d.layerOnly
}

// deferKeyframe sends a relay's keyframe request that came over the
// per-subscriber budget once the budget allows, instead of dropping it:
// the other bridge's requests stand for all its subscribers (one waiting
// to switch layers would wait for ever), and it limits them per layer
// itself. Requests meanwhile merge into the one deferred.
func (d *downTrack) deferKeyframe(wait time.Duration) {
	if d.keyframeDeferred.Swap(true) {
		return
	}
	d.pub.clock.AfterFunc(wait, func() {
		d.keyframeDeferred.Store(false)
		d.requestKeyframe()
	})
}

// relayWatchName names the RTCP APP packets by which a bridge tells the
// other end of a relay which layers it watches.
const relayWatchName = "PRLY"

// noteRelayWatch takes the other bridge's word on a one-layer
// downtrack's layer; other APP packets are ignored.
func (d *downTrack) noteRelayWatch(app *rtcp.ApplicationDefined) {
	b := d.bound.Load()
	// A compound packet reaches the sender of each SSRC it names: the
	// packets about other layers are not this one's news.
	if d.layerOnly >= 0 && b != nil && app.SSRC == b.ssrc && app.Name == relayWatchName && len(app.Data) > 0 {
		d.relayUnwatched.Store(app.Data[0] == 0)
	}
}

// tellRelays tells the other end of each relay among ps which layers of
// the simulcast publications it brings here this bridge's dynacast keeps
// (one RTCP APP packet per layer, on the layer's SSRC). Runs on the
// speaker tick, after an allocation, which owns c.rates.
func (c *Conference) tellRelays(ps []*Participant) {
	for _, r := range ps {
		if !r.relay {
			continue
		}
		c.mu.Lock()
		var pubs []*publication
		for pub := range r.relayed {
			if pub.simulcast.Load() && pub.live {
				pubs = append(pubs, pub)
			}
		}
		c.mu.Unlock()
		var pkts []rtcp.Packet
		for _, pub := range pubs {
			var paused uint8
			if rt := c.rates[pub]; rt != nil {
				paused = rt.paused
			}
			for l, ly := range pub.layers {
				if ssrc := ly.ssrc.Load(); ssrc != 0 {
					watched := byte(1)
					if paused&(1<<l) != 0 {
						watched = 0
					}
					pkts = append(pkts, &rtcp.ApplicationDefined{SSRC: ssrc, Name: relayWatchName, Data: []byte{watched, 0, 0, 0}})
				}
			}
		}
		if len(pkts) > 0 {
			if err := r.pc.WriteRTCP(pkts); err != nil {
				r.log.Debug("telling the other bridge the layers watched failed", "err", err)
			}
		}
	}
}

// publishRelayed makes the relayed track a publication of the remote participant
// id (created on its first track), replacing an earlier one of the same
// source; a layer's track (layer >= 0) joins the simulcast publication
// its other layers feed. It returns nil if the track is not to be
// forwarded.
func (r *Participant) publishRelayed(id string, src Source, layer int, track *webrtc.TrackRemote, receiver *webrtc.RTPReceiver) *publication {
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
	if r.relayed == nil {
		r.relayed = make(map[*publication]int)
	}
	p.mu.Lock()
	old := p.published[src.slot()]
	p.mu.Unlock()
	if layer >= 0 && old != nil && r.relayed[old] > 0 &&
		sameCodec(old.codec.RTPCodecCapability, track.Codec().RTPCodecCapability) {
		r.relayed[old]++ // one more layer of it
		if layer > 0 {
			old.simulcast.Store(true)
		}
		c.mu.Unlock()
		return old
	}
	pub := newPublication(p, src, track.Kind(), track.Codec(), receiver.GetParameters().HeaderExtensions)
	if layer > 0 {
		// Simulcast once a layer above the lowest comes: a publisher
		// without simulcast sends the lowest alone, forwarded as before.
		pub.simulcast.Store(true)
	}
	r.relayed[pub] = 1
	p.mu.Lock()
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

// withdrawRelayed takes an ended relayed track out of the conference once
// no layer feeds it any more, and its participant with its last track.
func (r *Participant) withdrawRelayed(pub *publication) {
	c, p := r.conf, pub.owner
	c.mu.Lock()
	if r.relayed[pub]--; r.relayed[pub] > 0 {
		c.mu.Unlock()
		return // other layers still feed it
	}
	delete(r.relayed, pub)
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

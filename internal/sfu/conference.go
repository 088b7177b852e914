package sfu

import (
	"sync"
)

// Conference is a set of participants who all receive each other's media.
type Conference struct {
	id  string // read-only
	sfu *SFU   // read-only

	mu           sync.Mutex              // guards the fields below; taken before any Participant.mu
	participants map[string]*Participant // guarded by mu
	joinOrder    []*Participant          // guarded by mu; same members as participants
	publications []*publication          // guarded by mu; every live publication
	closed       bool                    // guarded by mu
	speakers     *speakerTracker         // guarded by mu
	speakerTimer Timer                   // the next speaker window; guarded by mu
	stats        ConferenceStats         // guarded by mu
	ticks        int                     // speaker windows so far; guarded by mu
	lastN        int                     // SetLastN; 0: off; guarded by mu
	remotes      []*Participant          // participants of other bridges, seen through relays (relay.go), in order of appearance; guarded by mu; also in participants
	// rates are the layer bitrates of the video publications, owned by
	// the speaker tick (one runs at a time).
	rates map[*publication]*layerRates

	// events is buffered (Config.EventBuffer); sent to and closed only
	// under mu. When full, the oldest event makes room: the latest
	// dominant speaker is what matters.
	events chan ConferenceEvent
}

func newConference(s *SFU, id string) *Conference {
	return &Conference{id: id, sfu: s, participants: make(map[string]*Participant),
		speakers: newSpeakerTracker(), events: make(chan ConferenceEvent, s.cfg.EventBuffer),
		rates: make(map[*publication]*layerRates)}
}

// ConferenceEventKind says what a ConferenceEvent reports.
type ConferenceEventKind int

const (
	// ConferenceDominantSpeaker: ParticipantID became the dominant
	// speaker (see speaker.go for how it is decided).
	ConferenceDominantSpeaker ConferenceEventKind = iota + 1
)

// ConferenceEvent is something the focus has to know about the whole
// conference.
type ConferenceEvent struct {
	Kind          ConferenceEventKind
	ParticipantID string
}

// ConferenceStats counts what the conference decided.
type ConferenceStats struct {
	SpeakerChanges  uint64 // times the dominant speaker changed
	PausedLayers    uint64 // simulcast layers publishers were told to stop sending: nobody gets them (dynacast)
	EventsDropped   uint64 // conference events displaced because Events was full
	DominantSpeaker string // the current one; "" before anybody spoke
}

// Events returns the conference's event channel, closed by Close. If the
// consumer falls behind, the oldest events are dropped (and counted).
func (c *Conference) Events() <-chan ConferenceEvent { return c.events }

// DominantSpeaker returns the participant id of the dominant speaker, or
// "" if nobody has spoken long enough yet (or they left).
func (c *Conference) DominantSpeaker() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.speakers.dominant
}

// Stats returns the conference's counters.
func (c *Conference) Stats() ConferenceStats {
	c.mu.Lock()
	defer c.mu.Unlock()
	st := c.stats
	st.DominantSpeaker = c.speakers.dominant
	return st
}

// startSpeakerWindows starts the dominant speaker detection.
func (c *Conference) startSpeakerWindows() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed && c.speakerTimer == nil {
		c.speakerTimer = c.sfu.cfg.Clock.AfterFunc(speakerWindow, c.speakerTick)
	}
}

// speakerTick closes one speaker window: each audio publisher's window
// becomes a speech flag, and a new dominant speaker is announced. Every
// allocInterval it also allocates the subscribers' layers.
func (c *Conference) speakerTick() {
	c.mu.Lock()
	c.ticks++
	allocate := c.ticks%int(allocInterval/speakerWindow) == 0
	var pubs []*publication
	var ps []*Participant
	var order []string
	lastN := c.lastN
	if allocate {
		pubs = append(pubs, c.publications...)
		ps = append(ps, c.joinOrder...)
		order = c.speakerOrderLocked()
	}
	c.mu.Unlock()
	if allocate {
		// Outside mu: allocating sends keyframe requests.
		paused := c.allocateLayers(pubs, ps, order, lastN, c.sfu.cfg.Clock.Now())
		c.mu.Lock()
		c.stats.PausedLayers = uint64(paused)
		c.mu.Unlock()
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return
	}
	spoke := make(map[string]bool, len(c.publications))
	for _, pub := range c.publications {
		if pub.info.Source == SourceAudio {
			spoke[pub.owner.id] = pub.level.spoke()
		}
	}
	if c.speakers.window(spoke) {
		c.stats.SpeakerChanges++
		c.emitLocked(ConferenceEvent{Kind: ConferenceDominantSpeaker, ParticipantID: c.speakers.dominant})
	}
	c.speakerTimer = c.sfu.cfg.Clock.AfterFunc(speakerWindow, c.speakerTick)
}

// emitLocked queues ev, dropping the oldest event if the channel is full.
// Must hold mu.
func (c *Conference) emitLocked(ev ConferenceEvent) {
	if c.closed {
		return
	}
	for {
		select {
		case c.events <- ev:
			return
		default:
		}
		select {
		case <-c.events:
			c.stats.EventsDropped++
		default:
		}
	}
}

// ID returns the conference id.
func (c *Conference) ID() string { return c.id }

// JoinOptions says what a joining participant may publish.
type JoinOptions struct {
	// NoAudio leaves the recvonly audio m-line out of the first offer, so
	// the participant cannot publish audio. Default false: it may.
	NoAudio bool
	// NoVideo leaves the recvonly video m-lines (camera and screen) out of
	// the first offer. Default false: the participant may publish video.
	NoVideo bool
	// NoScreen leaves the recvonly screen-share m-line out of the first
	// offer. Default false: the participant may share a screen.
	NoScreen bool
	// NoSimulcast leaves the rid and simulcast lines out of the offers:
	// the participant sends one layer of each video. Default false: the
	// offer asks for three camera layers and two screen layers.
	NoSimulcast bool
}

// Join adds a participant. Its session is not negotiated yet: the caller
// follows up with Offer and SetAnswer, then handles its Events. The
// participant id must be 1 to 57 characters an SDP msid can carry (RFC 8830
// token characters: letters, digits and !#$%&'*+-.^_`{|}~).
func (c *Conference) Join(participantID string, opts JoinOptions) (*Participant, error) {
	return c.join(participantID, opts, false)
}

// join adds a participant; a relay (JoinRelay) receives only the
// publications of this bridge's own participants.
func (c *Conference) join(participantID string, opts JoinOptions, relay bool) (*Participant, error) {
	if !validParticipantID(participantID) {
		return nil, &Error{Op: "join", Conference: c.id, Participant: participantID, Err: ErrInvalidParticipantID}
	}
	c.mu.Lock()
	closed, exists := c.closed, c.participants[participantID] != nil
	c.mu.Unlock()
	if closed || exists {
		return nil, c.joinError(participantID, closed)
	}
	p, err := newParticipant(c, participantID, opts)
	if err != nil {
		return nil, &Error{Op: "join", Conference: c.id, Participant: participantID, Err: err}
	}
	p.relay = relay

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.participants[participantID] != nil {
		go p.pc.Close() //nolint:errcheck // never used; nothing to report
		return nil, c.joinError(participantID, c.closed)
	}
	c.participants[participantID] = p
	c.joinOrder = append(c.joinOrder, p)
	for _, pub := range c.publications {
		if !subscribes(p, pub) {
			continue
		}
		for _, d := range downTracksFor(pub, p) {
			pub.addSubscriber(d)
			p.queueAdd(d)
		}
	}
	return p, nil
}

func (c *Conference) joinError(participantID string, closed bool) error {
	err := ErrParticipantExists
	if closed {
		err = ErrClosed
	}
	return &Error{Op: "join", Conference: c.id, Participant: participantID, Err: err}
}

// Participants returns the current participants in join order.
func (c *Conference) Participants() []*Participant {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Participant(nil), c.joinOrder...)
}

// Close closes every participant and forgets the conference; a later
// SFU.Conference with the same id makes a new one. It forgets it first:
// closing the participants takes a while, and a conference moved back to
// this SFU (a bridge failover) is allocated and joined at once; handed
// the closing one, its first joiner was refused (a CI run's cascade test).
func (c *Conference) Close() {
	c.sfu.forget(c)
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	if c.speakerTimer != nil {
		c.speakerTimer.Stop()
	}
	close(c.events)
	ps := append([]*Participant(nil), c.joinOrder...)
	c.mu.Unlock()
	for _, p := range ps {
		p.Close()
	}
}

// publish makes pub visible to everybody else in the conference. It
// reports false if pub was live already or its publisher left.
func (c *Conference) publish(pub *publication) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.publishLocked(pub)
}

// publishLocked is publish. Must hold mu.
func (c *Conference) publishLocked(pub *publication) bool {
	if c.participants[pub.owner.id] != pub.owner || pub.live {
		return false // the publisher left meanwhile
	}
	pub.live = true
	c.publications = append(c.publications, pub)
	for _, p := range c.joinOrder {
		if p == pub.owner || !subscribes(p, pub) {
			continue
		}
		for _, d := range downTracksFor(pub, p) {
			pub.addSubscriber(d)
			p.queueAdd(d)
		}
	}
	return true
}

// unpublish withdraws pub from everybody else's session; its forwarding
// goroutine keeps reading, for nobody, until a publish.
func (c *Conference) unpublish(pub *publication) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.unpublishLocked(pub)
}

// unpublishLocked is unpublish. Must hold mu.
func (c *Conference) unpublishLocked(pub *publication) {
	if !pub.live {
		return
	}
	pub.live = false
	for i, q := range c.publications {
		if q == pub {
			c.publications = append(c.publications[:i:i], c.publications[i+1:]...)
			break
		}
	}
	for _, d := range pub.subscribers() {
		pub.removeSubscriber(d)
		d.sub.queueRemove(d)
	}
}

// leave takes p out: its publications stop and are withdrawn from
// everybody else's session, and it stops receiving.
func (c *Conference) leave(p *Participant) {
	c.mu.Lock()
	if c.participants[p.id] != p {
		c.mu.Unlock()
		return
	}
	delete(c.participants, p.id)
	c.speakers.forget(p.id)
	for i, q := range c.joinOrder {
		if q == p {
			c.joinOrder = append(c.joinOrder[:i:i], c.joinOrder[i+1:]...)
			break
		}
	}
	var mine []*publication
	if p.relay {
		for _, r := range append([]*Participant(nil), c.remotes...) {
			if r.remote == p {
				mine = append(mine, c.dropRemoteLocked(r)...)
			}
		}
	}
	kept := c.publications[:0:0]
	for _, pub := range c.publications {
		if pub.owner == p {
			mine = append(mine, pub)
			continue
		}
		kept = append(kept, pub)
		for pub.removeSubscriberOf(p) != nil { // a relay has one per layer
		}
	}
	c.publications = kept
	for _, pub := range mine {
		pub.live = false
		for _, d := range pub.subscribers() {
			pub.removeSubscriber(d)
			d.sub.queueRemove(d)
		}
	}
	c.mu.Unlock()
	for _, pub := range mine {
		pub.close()
	}
}

// subscribes says whether p receives pub: everybody receives everything,
// except that a relay to another bridge carries only the publications of
// this bridge's own participants (what came from a bridge goes to every
// other bridge from that bridge itself).
func subscribes(p *Participant, pub *publication) bool {
	return !p.relay || pub.owner.remote == nil
}

// validParticipantID checks the id against RFC 8830 msid-id rules, leaving
// room for the "screen-" track id prefix within 64 characters.
func validParticipantID(id string) bool {
	if id == "" || len(id) > 57 {
		return false
	}
	for i := 0; i < len(id); i++ {
		if !isTokenChar(id[i]) {
			return false
		}
	}
	return true
}

// isTokenChar reports whether b is an RFC 4566 token-char.
func isTokenChar(b byte) bool {
	switch {
	case b == 0x21, b >= 0x23 && b <= 0x27, b == 0x2A, b == 0x2B, b == 0x2D, b == 0x2E:
		return true
	case b >= 0x30 && b <= 0x39, b >= 0x41 && b <= 0x5A, b >= 0x5E && b <= 0x7E:
		return true
	}
	return false
}

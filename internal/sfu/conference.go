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
}

func newConference(s *SFU, id string) *Conference {
	return &Conference{id: id, sfu: s, participants: make(map[string]*Participant)}
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
}

// Join adds a participant. Its session is not negotiated yet: the caller
// follows up with Offer and SetAnswer, then handles its Events. The
// participant id must be 1 to 57 characters an SDP msid can carry (RFC 8830
// token characters: letters, digits and !#$%&'*+-.^_`{|}~).
func (c *Conference) Join(participantID string, opts JoinOptions) (*Participant, error) {
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

	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed || c.participants[participantID] != nil {
		go p.pc.Close() //nolint:errcheck // never used; nothing to report
		return nil, c.joinError(participantID, c.closed)
	}
	c.participants[participantID] = p
	c.joinOrder = append(c.joinOrder, p)
	for _, pub := range c.publications {
		d := newDownTrack(pub, p)
		pub.addSubscriber(d)
		p.queueAdd(d)
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
// SFU.Conference with the same id makes a new one.
func (c *Conference) Close() {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	ps := append([]*Participant(nil), c.joinOrder...)
	c.mu.Unlock()
	for _, p := range ps {
		p.Close()
	}
	c.sfu.forget(c)
}

// publish makes pub visible to everybody else in the conference. It
// reports false if pub was live already or its publisher left.
func (c *Conference) publish(pub *publication) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.participants[pub.owner.id] != pub.owner || pub.live {
		return false // the publisher left meanwhile
	}
	pub.live = true
	c.publications = append(c.publications, pub)
	for _, p := range c.joinOrder {
		if p == pub.owner {
			continue
		}
		d := newDownTrack(pub, p)
		pub.addSubscriber(d)
		p.queueAdd(d)
	}
	return true
}

// unpublish withdraws pub from everybody else's session; its forwarding
// goroutine keeps reading, for nobody, until a publish.
func (c *Conference) unpublish(pub *publication) {
	c.mu.Lock()
	defer c.mu.Unlock()
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
	for i, q := range c.joinOrder {
		if q == p {
			c.joinOrder = append(c.joinOrder[:i:i], c.joinOrder[i+1:]...)
			break
		}
	}
	var mine []*publication
	kept := c.publications[:0:0]
	for _, pub := range c.publications {
		if pub.owner == p {
			mine = append(mine, pub)
			continue
		}
		kept = append(kept, pub)
		pub.removeSubscriberOf(p)
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

package muc

import (
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NSServer is parley's namespace for what the server says of itself, such
// as a drain before a restart (docs/SIGNALLING.md §12).
const NSServer = "urn:parley:server:0"

// drainRefusal is what a join to an empty room hears while draining.
const drainRefusal = "this server is restarting for maintenance: no new meetings start now; meetings in progress go on. Try again in a few minutes"

// Drain stops meetings from starting: from now on a join to a room with
// nobody in it is refused (service-unavailable, with the reason), while
// joins to rooms in use go on, so that a meeting in progress keeps its
// latecomers and its reconnections. Every occupant is told, by a message
// from its room carrying <draining xmlns='urn:parley:server:0'/> with the
// time the server stops at the latest. Calling it again only tells again.
func (s *Service) Drain(until time.Time) {
	s.draining.Store(true)
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone {
			r.announceDrain(until)
		}
		r.mu.Unlock()
	}
}

// Draining reports whether Drain was called.
func (s *Service) Draining() bool { return s.draining.Load() }

// refuseWhileDraining refuses a join that would start a meeting while the
// service drains. Must hold r.mu.
func (r *room) refuseWhileDraining(st *xmlstream.Element) bool {
	if !r.svc.draining.Load() || len(r.occupants) > 0 {
		return false
	}
	r.svc.counters.drainRefused.Add(1)
	r.svc.reply(st, stanza.NewError(stanza.ServiceUnavailable, drainRefusal))
	return true
}

// announceDrain tells every occupant that the server is draining. Must
// hold r.mu.
func (r *room) announceDrain(until time.Time) {
	at := until.UTC().Format(time.RFC3339)
	for _, o := range r.sortedOccupants() {
		msg := xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat", "from", r.jid.String(), "to", o.real.String())
		msg.Add(xmlstream.New(xmlstream.NSClient, "body").SetText("This server will restart for maintenance once the meetings in progress end (at the latest " + at + "). This meeting goes on."))
		msg.Add(xmlstream.New(NSServer, "draining", "until", at))
		r.route(msg)
	}
}

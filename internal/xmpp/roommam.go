package xmpp

import (
	"strconv"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// RoomArchive is MAM (XEP-0313) for MUC rooms: the MUC service hands it the
// groupchat messages it reflects and the MAM queries addressed to a room it
// allowed. A room's archive is keyed by the room's bare JID, which no
// account localpart can collide with (it holds an '@').
type RoomArchive struct {
	s *Server
}

// RoomArchive returns the archive the MUC service uses for its rooms.
func (s *Server) RoomArchive() *RoomArchive { return &RoomArchive{s: s} }

// Append archives a groupchat message and returns the copy to reflect,
// carrying the archive id as an XEP-0359 stanza-id by the room.
func (a *RoomArchive) Append(room jid.JID, msg *xmlstream.Element) *xmlstream.Element {
	by := room.Bare().String()
	c := msg.ShallowCopy()
	c.Children = make([]*xmlstream.Element, 0, len(msg.Children)+1)
	for _, ch := range msg.Children {
		if ch.Is(nsStanzaID, "stanza-id") && ch.Attr("by") == by {
			continue // a sender may not forge the room's ids
		}
		c.Children = append(c.Children, ch)
	}
	id, ok := a.s.archivePut(by, c.Attr("from"), c)
	if !ok {
		return msg
	}
	c.Children = append(c.Children, xmlstream.New(nsStanzaID, "stanza-id", "by", by, "id", strconv.FormatUint(id, 10)))
	return c
}

// Query answers a MAM query (an IQ set or get with a mam:2 payload) to the
// room; the MUC service has checked that the requester may read it.
func (a *RoomArchive) Query(room jid.JID, iq *xmlstream.Element) {
	send := func(st *xmlstream.Element) { a.s.Route(st) }
	payload := iq.FirstChild()
	switch {
	case payload.Name == "query" && iq.Attr("type") == "get":
		send(stanza.IQResult(iq, xmlstream.New(nsMAM, "query").Add(mamForm())))
	case payload.Name == "query" && iq.Attr("type") == "set":
		q, err := parseMAMQuery(payload)
		if err != nil {
			send(stanza.ErrorReply(iq, err))
			return
		}
		a.s.runMAMQuery(room.Bare().String(), room.Bare(), iq, q, send)
	default:
		send(stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, "")))
	}
}

package xmpp

import (
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Namespaces of message payloads the routing rules look at.
const (
	nsChatStates = "http://jabber.org/protocol/chatstates"
	nsReceipts   = "urn:xmpp:receipts"
	nsMarkers    = "urn:xmpp:chat-markers:0"
	nsHints      = "urn:xmpp:hints"
	nsJMI        = "urn:xmpp:jingle-message:0"
	nsDelay      = "urn:xmpp:delay"
	nsForward    = "urn:xmpp:forward:0"
	nsStanzaID   = "urn:xmpp:sid:0"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
)

// deliverMessage routes a message to a local account (RFC 6121 §8.5.2 and
// §8.5.3), then applies what several devices and history need: the
// recipient's archive (XEP-0313), carbon copies to the recipient's other
// resources (XEP-0280), and offline storage (XEP-0160) when no resource
// may receive it.
func (s *Server) deliverMessage(st *xmlstream.Element, to jid.JID) {
	bare := to.Bare()
	typ := st.Attr("type")
	from, _ := jid.Parse(st.Attr("from"))
	if s.isBlocked(bare.Local, from) {
		s.stats.drop(dropBlocked)
		return
	}
	account := s.cfg.Accounts.Exists(bare.Local)
	if account && archivable(st) {
		st = s.archive(bare.Local, from, st)
	}
	var delivered []*session
	if !to.IsBare() {
		if ss := s.sessionFor(to); ss != nil && ss.send(st) {
			delivered = append(delivered, ss)
		}
	}
	if delivered == nil {
		if typ == "error" {
			s.stats.drop(dropUndeliverable)
			return
		}
		delivered = s.messageToBare(st, bare)
	}
	if len(delivered) == 0 {
		switch {
		case typ == "headline":
			s.stats.drop(dropUndeliverable)
		case account && storableOffline(st):
			s.storeOffline(bare.Local, st)
		default:
			s.bounce(st, stanza.NewError(stanza.ServiceUnavailable, "the recipient is not available"))
		}
		return
	}
	if carbonEligible(st) {
		s.carbonCopies(st, bare, "received", delivered)
	}
}

// messageToBare picks the resources of bare that receive st (RFC 6121
// §8.5.2.1): the available ones of highest non-negative priority, or all
// available non-negative ones for headlines and call proposals (XEP-0353
// rings every device). It returns the sessions it queued st to.
func (s *Server) messageToBare(st *xmlstream.Element, bare jid.JID) []*session {
	typ := st.Attr("type")
	if typ == "groupchat" {
		return nil
	}
	all := typ == "headline" || hasChildIn(st, nsJMI)
	var best []*session
	bestPrio := 0
	for _, ss := range s.sessionsOf(bare) {
		avail, prio := ss.pres.availability()
		if !avail || prio < 0 {
			continue
		}
		if !all && len(best) > 0 && prio != bestPrio {
			if prio < bestPrio {
				continue
			}
			best = best[:0]
		}
		best, bestPrio = append(best, ss), prio
	}
	sent := best[:0]
	for _, ss := range best {
		if ss.send(st) {
			sent = append(sent, ss)
		}
	}
	return sent
}

// outboundMessage runs for every message a local session sends, before it
// is routed: the sender's archive and sent carbons. It returns the stanza
// to route (the same one, or a copy carrying an origin id).
func (s *Server) outboundMessage(ss *session, st *xmlstream.Element, to jid.JID) *xmlstream.Element {
	if ss.anonymous {
		return st
	}
	if archivable(st) {
		st = s.archiveOutgoing(ss.user, to, st)
	}
	if carbonEligible(st) {
		s.carbonCopies(st, ss.full.Bare(), "sent", []*session{ss})
	}
	return st
}

// hasChildIn reports whether st has a child element in namespace ns.
func hasChildIn(st *xmlstream.Element, ns string) bool {
	for _, c := range st.Children {
		if c.Space == ns {
			return true
		}
	}
	return false
}

// archivable: chat and normal messages with a body, and call proposals
// (XEP-0313 §7 leaves the choice to the server; XEP-0353 asks for JMI).
func archivable(st *xmlstream.Element) bool {
	switch st.Attr("type") {
	case "", "normal", "chat":
	default:
		return false
	}
	if st.Child(nsHints, "no-store") != nil || st.Child(nsHints, "no-permanent-store") != nil {
		return false
	}
	return st.Child(xmlstream.NSClient, "body") != nil || st.Child("", "body") != nil || hasChildIn(st, nsJMI)
}

// storableOffline: what XEP-0160 keeps for later (RFC 6121 §8.5.2.1.1):
// normal and chat messages with some content beyond chat states.
func storableOffline(st *xmlstream.Element) bool {
	switch st.Attr("type") {
	case "", "normal", "chat":
	default:
		return false
	}
	if st.Child(nsHints, "no-store") != nil {
		return false
	}
	for _, c := range st.Children {
		if c.Space != nsChatStates && c.Name != "thread" {
			return true
		}
	}
	return false
}

// withDelay returns a copy of st stamped with an XEP-0203 delay.
func withDelay(st *xmlstream.Element, from string, at time.Time) *xmlstream.Element {
	c := st.ShallowCopy()
	c.Children = append(append([]*xmlstream.Element(nil), st.Children...),
		xmlstream.New(nsDelay, "delay", "from", from, "stamp", at.UTC().Format(time.RFC3339Nano)))
	return c
}

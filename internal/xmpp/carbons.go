package xmpp

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// nsCarbons is Message Carbons (XEP-0280).
const nsCarbons = "urn:xmpp:carbons:2"

// handleCarbonsIQ enables or disables carbons for the session (XEP-0280 §5).
func (s *Server) handleCarbonsIQ(ss *session, iq, payload *xmlstream.Element) {
	if iq.Attr("type") != "set" {
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "carbons are set, not got")))
		return
	}
	ss.carbons.Store(payload.Name == "enable")
	ss.send(stanza.IQResult(iq))
}

// carbonEligible applies XEP-0280 §6: chat messages, normal messages with a
// body, IM payloads (chat states, receipts, markers) and call proposals; not
// groupchat, and not what the sender marked private or no-copy. MUC private
// messages are copied like any chat message.
func carbonEligible(st *xmlstream.Element) bool {
	if st.Child(nsCarbons, "private") != nil || st.Child(nsHints, "no-copy") != nil {
		return false
	}
	if st.Child(nsCarbons, "received") != nil || st.Child(nsCarbons, "sent") != nil {
		return false
	}
	switch st.Attr("type") {
	case "chat":
		return true
	case "", "normal":
		if st.Child(xmlstream.NSClient, "body") != nil || st.Child("", "body") != nil {
			return true
		}
	case "error":
		return false
	default:
		return false
	}
	return hasChildIn(st, nsChatStates) || hasChildIn(st, nsReceipts) ||
		hasChildIn(st, nsMarkers) || hasChildIn(st, nsJMI)
}

// carbonCopies wraps st in a <sent/> or <received/> and sends it to every
// carbons-enabled available resource of bare, except those in skip (the
// sender, or the resources that already received st).
func (s *Server) carbonCopies(st *xmlstream.Element, bare jid.JID, kind string, skip []*session) {
	for _, o := range s.sessionsOf(bare) {
		if !o.carbons.Load() || containsSession(skip, o) {
			continue
		}
		if avail, _ := o.pres.availability(); !avail {
			continue
		}
		wrap := xmlstream.New(xmlstream.NSClient, "message",
			"from", bare.String(), "to", o.full.String())
		if t := st.Attr("type"); t != "" {
			wrap.SetAttr("type", t)
		}
		wrap.Add(xmlstream.New(nsCarbons, kind).Add(
			xmlstream.New(nsForward, "forwarded").Add(st)))
		o.send(wrap)
	}
}

func containsSession(list []*session, ss *session) bool {
	for _, o := range list {
		if o == ss {
			return true
		}
	}
	return false
}

package xmpp

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// vcard-temp (XEP-0054): one vCard per account, set by its owner, read by
// anyone.

const (
	nsVCard      = "vcard-temp"
	bucketVCards = "vcard"
	// maxVCardBytes bounds a stored vCard (avatars inside make them big).
	maxVCardBytes = 256 << 10
)

func (s *Server) handleVCardIQ(iq *xmlstream.Element, owner jid.JID) {
	from, _ := jid.Parse(iq.Attr("from"))
	payload := iq.FirstChild()
	switch iq.Attr("type") {
	case "get":
		res := xmlstream.New(nsVCard, "vCard")
		if v, _ := s.cfg.Store.Get(bucketVCards, []byte(owner.Local)); v != nil {
			if el, err := xmlstream.ParseElementIn(v, xmlstream.Limits{}, nsVCard); err == nil {
				res = el
			}
		}
		s.replyFromServer(iq, stanza.IQResult(iq, res))
	case "set":
		if from.Bare() != owner {
			s.replyFromServer(iq, stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "only the owner sets a vCard")))
			return
		}
		b := payload.Append(nil, "")
		if len(b) > maxVCardBytes {
			s.replyFromServer(iq, stanza.ErrorReply(iq, stanza.NewError(stanza.NotAcceptable, "the vCard is too big")))
			return
		}
		if err := s.cfg.Store.Put(bucketVCards, []byte(owner.Local), b); err != nil {
			s.replyFromServer(iq, stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, "")))
			return
		}
		s.replyFromServer(iq, stanza.IQResult(iq))
	}
}

package xmpp

import (
	"slices"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Namespaces the server answers itself.
const (
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsPing       = "urn:xmpp:ping"
	nsVersion    = "jabber:iq:version"
)

// serverFeatures are advertised in the domain's disco#info.
var serverFeatures = []string{
	nsDiscoInfo, nsDiscoItems, nsPing, nsRoster, nsRosterVer, nsVersion,
	"urn:xmpp:jingle:1", "urn:xmpp:jingle:apps:rtp:1",
	nsCarbons, nsBlocking, "msgoffline", nsVCard,
}

// accountFeatures are advertised in an account's disco#info (XEP-0313 §7,
// XEP-0163 §9).
var accountFeatures = []string{
	nsDiscoInfo, nsMAM, nsStanzaID, nsPubSub, nsPubSub + "#publish", nsPubSub + "#publish-options",
	nsPubSub + "#access-open", nsPubSub + "#access-presence", nsPubSub + "#access-whitelist",
	nsPubSub + "#auto-create", nsPubSub + "#retrieve-items", nsPubSub + "#retract-items",
	nsPubSub + "#delete-nodes", nsPubSub + "#last-published", nsPubSub + "#presence-notifications",
	nsPubSub + "#config-node-max",
}

// jidOf is user@domain.
func jidOf(user, domain string) jid.JID { return jid.JID{Local: user, Domain: domain} }

// handleOwnIQ answers an IQ a user sends to the server on its own behalf
// (no "to", or its own bare JID).
func (s *Server) handleOwnIQ(ss *session, iq *xmlstream.Element) {
	typ := iq.Attr("type")
	if typ == "result" || typ == "error" {
		return // answers to our pings and roster pushes
	}
	payload := iq.FirstChild()
	if s.handleResumeIQ(ss, iq) {
		return
	}
	switch {
	case payload.Is(nsRoster, "query"):
		s.handleRosterIQ(ss, iq, payload)
	case payload.Is(nsSession, "session") && typ == "set":
		ss.send(stanza.IQResult(iq))
	case payload.Space == nsCarbons && (payload.Name == "enable" || payload.Name == "disable"):
		s.handleCarbonsIQ(ss, iq, payload)
	case payload.Space == nsMAM:
		s.handleMAMIQ(ss, iq, payload)
	case payload.Space == nsBlocking && !ss.anonymous:
		s.handleBlockingIQ(ss, iq, payload)
	case payload.Space == nsPush:
		s.handlePushIQ(ss, iq, payload)
	default:
		own := payload.Space == nsPubSub || payload.Space == nsPubSubOwner || payload.Space == nsVCard
		if iq.Attr("to") == "" && !own {
			s.handleServerStanza(iq)
			return
		}
		if ss.anonymous && own {
			ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.ServiceUnavailable, "guests have no PEP or vCard")))
			return
		}
		s.handleBareIQ(iq, ss.full.Bare())
	}
}

// handleServerStanza handles stanzas addressed to the domain itself.
func (s *Server) handleServerStanza(st *xmlstream.Element) {
	if st.Name != "iq" {
		return // messages and presence to the server are accepted and dropped
	}
	typ := st.Attr("type")
	if typ == "result" || typ == "error" {
		s.pep.capsReply(st)
		return
	}
	payload := st.FirstChild()
	var res *xmlstream.Element
	switch {
	case payload.Is(nsPing, "ping") && typ == "get":
		res = stanza.IQResult(st)
	case payload.Is(nsDiscoInfo, "query") && typ == "get":
		res = s.serverDiscoInfo(st, payload)
	case payload.Is(nsDiscoItems, "query") && typ == "get":
		res = s.serverDiscoItems(st, payload)
	case payload.Space == nsExtDisco && s.cfg.ExternalServices != nil:
		res = s.handleExtDisco(st, payload)
	case payload.Is(nsVersion, "query") && typ == "get":
		res = stanza.IQResult(st, xmlstream.New(nsVersion, "query").Add(
			xmlstream.New(nsVersion, "name").SetText("parley")))
	default:
		s.bounce(st, stanza.NewError(stanza.ServiceUnavailable, ""))
		return
	}
	s.replyFromServer(st, res)
}

// replyFromServer routes a server answer, stamped from the domain.
func (s *Server) replyFromServer(req, res *xmlstream.Element) {
	if res == nil {
		return
	}
	if res.Attr("from") == "" {
		res.SetAttr("from", s.domain.Domain)
	}
	to, err := jid.Parse(res.Attr("to"))
	if err != nil {
		return
	}
	s.route(res, to)
}

func (s *Server) serverDiscoInfo(iq, q *xmlstream.Element) *xmlstream.Element {
	if q.Attr("node") != "" {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, ""))
	}
	res := xmlstream.New(nsDiscoInfo, "query")
	res.Add(xmlstream.New(nsDiscoInfo, "identity", "category", "server", "type", "im", "name", "parley"))
	for _, f := range serverFeatures {
		res.Add(xmlstream.New(nsDiscoInfo, "feature", "var", f))
	}
	if s.cfg.ExternalServices != nil {
		res.Add(xmlstream.New(nsDiscoInfo, "feature", "var", nsExtDisco))
	}
	if len(s.cfg.Components) > 0 {
		// Push needs an app server, which only a component can be here.
		res.Add(xmlstream.New(nsDiscoInfo, "feature", "var", nsPush))
	}
	return stanza.IQResult(iq, res)
}

func (s *Server) serverDiscoItems(iq, q *xmlstream.Element) *xmlstream.Element {
	if q.Attr("node") != "" {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, ""))
	}
	res := xmlstream.New(nsDiscoItems, "query")
	s.mu.RLock()
	domains := make([]string, 0, len(s.services))
	names := make(map[string]string, len(s.services))
	for d, e := range s.services {
		domains = append(domains, d)
		names[d] = e.info.Name
	}
	s.mu.RUnlock()
	slices.Sort(domains)
	for _, d := range domains {
		item := xmlstream.New(nsDiscoItems, "item", "jid", d)
		if names[d] != "" {
			item.SetAttr("name", names[d])
		}
		res.Add(item)
	}
	return stanza.IQResult(iq, res)
}

// handleBareIQ answers IQs addressed to an account's bare JID (RFC 6120
// §10.5.3.1: the server answers on the account's behalf).
func (s *Server) handleBareIQ(iq *xmlstream.Element, bare jid.JID) {
	typ := iq.Attr("type")
	if typ == "result" || typ == "error" {
		s.pushReply(iq)
		return
	}
	exists := len(s.sessionsOf(bare)) > 0 || s.cfg.Accounts.Exists(bare.Local)
	payload := iq.FirstChild()
	switch {
	case !exists:
		s.bounce(iq, stanza.NewError(stanza.ServiceUnavailable, ""))
	case payload.Is(nsDiscoInfo, "query") && typ == "get":
		res := xmlstream.New(nsDiscoInfo, "query").Add(
			xmlstream.New(nsDiscoInfo, "identity", "category", "account", "type", "registered"),
			xmlstream.New(nsDiscoInfo, "identity", "category", "pubsub", "type", "pep"))
		for _, f := range accountFeatures {
			res.Add(xmlstream.New(nsDiscoInfo, "feature", "var", f))
		}
		if len(s.cfg.Components) > 0 {
			res.Add(xmlstream.New(nsDiscoInfo, "feature", "var", nsPush))
		}
		s.replyFromServer(iq, stanza.IQResult(iq, res))
	case payload.Space == nsPubSub || payload.Space == nsPubSubOwner:
		s.handlePubSubIQ(iq, bare)
	case payload.Is(nsVCard, "vCard"):
		s.handleVCardIQ(iq, bare)
	case payload.Is(nsPing, "ping") && typ == "get":
		s.replyFromServer(iq, stanza.IQResult(iq))
	default:
		s.bounce(iq, stanza.NewError(stanza.ServiceUnavailable, ""))
	}
}

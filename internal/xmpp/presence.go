package xmpp

import (
	"strconv"
	"sync"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// presenceState is a session's presence as the server sees it.
type presenceState struct {
	mu        sync.Mutex
	available bool                 // guarded by mu
	priority  int                  // guarded by mu
	last      *xmlstream.Element   // last broadcast presence; guarded by mu
	directed  map[jid.JID]struct{} // entities sent directed available presence; guarded by mu
	interest  bool                 // the client asked for its roster; guarded by mu
	blocks    bool                 // the client asked for its block list; guarded by mu
	caps      string               // XEP-0115 node#ver of the last presence; guarded by mu
}

func (p *presenceState) setBlockInterest() {
	p.mu.Lock()
	p.blocks = true
	p.mu.Unlock()
}

func (p *presenceState) blockInterested() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.blocks
}

// takeOver copies a resumed session's presence state.
func (p *presenceState) takeOver(old *presenceState) {
	old.mu.Lock()
	defer old.mu.Unlock()
	p.mu.Lock()
	defer p.mu.Unlock()
	p.available, p.priority, p.last = old.available, old.priority, old.last
	p.directed, p.interest, p.blocks, p.caps = old.directed, old.interest, old.blocks, old.caps
}

func (p *presenceState) availability() (bool, int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.available, p.priority
}

func (p *presenceState) lastPresence() *xmlstream.Element {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.available {
		return nil
	}
	return p.last
}

func (p *presenceState) setInterested() {
	p.mu.Lock()
	p.interest = true
	p.mu.Unlock()
}

func (p *presenceState) interested() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.interest
}

func isSubscription(typ string) bool {
	switch typ {
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		return true
	}
	return false
}

// trackDirected remembers directed presence (to MUC rooms, mostly) so that
// the server can send unavailable presence there when the session ends.
func (ss *session) trackDirected(st *xmlstream.Element, to jid.JID) {
	p := &ss.pres
	p.mu.Lock()
	defer p.mu.Unlock()
	switch st.Attr("type") {
	case "":
		if p.directed == nil {
			p.directed = make(map[jid.JID]struct{})
		}
		if len(p.directed) < maxDirected {
			p.directed[to] = struct{}{}
		}
	case "unavailable":
		delete(p.directed, to)
	}
}

// maxDirected bounds the directed-presence set of one session.
const maxDirected = 4096

// handleOwnPresence handles presence without a "to": the client's broadcast
// (RFC 6121 §4.2 and §4.5).
func (s *Server) handleOwnPresence(ss *session, st *xmlstream.Element) {
	typ := st.Attr("type")
	if typ != "" && typ != "unavailable" {
		if typ != "error" && typ != "probe" {
			ss.reply(stanza.ErrorReply(st, stanza.NewError(stanza.BadRequest, "unexpected presence type")))
		}
		return
	}
	p := &ss.pres
	p.mu.Lock()
	wasAvailable := p.available
	var directed []jid.JID
	if typ == "" {
		p.available = true
		p.priority = parsePriority(st.ChildText("", "priority"))
		p.last = st
	} else {
		p.available = false
		p.last = nil
		for j := range p.directed {
			directed = append(directed, j)
		}
		p.directed = nil
	}
	p.mu.Unlock()

	s.broadcastPresence(ss, st)
	for _, j := range directed {
		s.route(withTo(st, j), j)
	}
	if typ == "" && !wasAvailable {
		s.probeContacts(ss)
		s.redeliverPendingSubscriptions(ss)
	}
	if typ == "" {
		s.pep.presenceCaps(ss, st)
	}
	if typ == "" && !wasAvailable && parsePriority(st.ChildText("", "priority")) >= 0 {
		s.deliverOffline(ss)
	}
}

// broadcastPresence sends st to every contact subscribed to the user and
// to the user's other available resources.
func (s *Server) broadcastPresence(ss *session, st *xmlstream.Element) {
	bare := ss.full.Bare()
	for _, item := range s.rosters.items(ss.user, ss.anonymous) {
		if item.Subscription == subFrom || item.Subscription == subBoth {
			s.route(withTo(st, item.JID), item.JID)
		}
	}
	for _, o := range s.sessionsOf(bare) {
		if o == ss {
			continue
		}
		if avail, _ := o.pres.availability(); avail {
			o.send(withTo(st, o.full))
		}
	}
	// The sender sees its own presence reflected (RFC 6121 §4.2.2).
	ss.send(withTo(st, ss.full))
}

// probeContacts asks for the presence of every contact the user subscribes to.
func (s *Server) probeContacts(ss *session) {
	bare := ss.full.Bare()
	for _, item := range s.rosters.items(ss.user, ss.anonymous) {
		if item.Subscription == subTo || item.Subscription == subBoth {
			probe := xmlstream.New(xmlstream.NSClient, "presence", "type", "probe",
				"from", bare.String(), "to", item.JID.String())
			s.route(probe, item.JID)
		}
	}
	// Also learn the presence of the user's own other resources.
	for _, o := range s.sessionsOf(bare) {
		if o == ss {
			continue
		}
		if last := o.pres.lastPresence(); last != nil {
			ss.send(withTo(last, ss.full))
		}
	}
}

// endPresence runs when a session ends: unavailable to everyone who saw it
// available, including the rooms it joined.
func (s *Server) endPresence(ss *session) {
	p := &ss.pres
	p.mu.Lock()
	wasAvailable := p.available
	directed := p.directed
	p.available, p.last, p.directed = false, nil, nil
	p.mu.Unlock()
	if !wasAvailable && len(directed) == 0 {
		return
	}
	unavailable := xmlstream.New(xmlstream.NSClient, "presence", "type", "unavailable", "from", ss.full.String())
	if wasAvailable {
		s.broadcastPresence(ss, unavailable)
	}
	for j := range directed {
		s.route(withTo(unavailable, j), j)
	}
}

// withTo returns a copy of st addressed to j, sharing its payload.
func withTo(st *xmlstream.Element, j jid.JID) *xmlstream.Element {
	c := st.ShallowCopy()
	c.SetAttr("to", j.String())
	return c
}

func parsePriority(s string) int {
	if s == "" {
		return 0
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return max(-128, min(127, n))
}

// inboundPresenceToBare handles presence addressed to a local bare JID:
// subscription management, probes, and plain directed presence.
func (s *Server) inboundPresenceToBare(st *xmlstream.Element, bare jid.JID) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil {
		s.stats.drop(dropBadAddress)
		return
	}
	switch typ := st.Attr("type"); typ {
	case "probe":
		s.answerProbe(bare, from)
	case "subscribe", "subscribed", "unsubscribe", "unsubscribed":
		s.inboundSubscription(st, bare, from.Bare(), typ)
	case "error":
		s.stats.drop(dropUndeliverable)
	default:
		// Directed presence to a bare JID goes to all available resources.
		for _, ss := range s.sessionsOf(bare) {
			if avail, _ := ss.pres.availability(); avail {
				ss.send(withTo(st, ss.full))
			}
		}
	}
}

// answerProbe sends the user's current presence to a subscribed prober.
func (s *Server) answerProbe(user, prober jid.JID) {
	item, ok := s.rosters.item(user.Local, prober.Bare())
	if !ok || (item.Subscription != subFrom && item.Subscription != subBoth) {
		return
	}
	sent := false
	for _, ss := range s.sessionsOf(user) {
		if last := ss.pres.lastPresence(); last != nil {
			s.route(withTo(last, prober), prober)
			sent = true
		}
	}
	if !sent {
		un := xmlstream.New(xmlstream.NSClient, "presence", "type", "unavailable",
			"from", user.String(), "to", prober.String())
		s.route(un, prober)
	}
}

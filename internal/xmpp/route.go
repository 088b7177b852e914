package xmpp

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// handleStanza processes one stanza from a bound client: it checks the
// stanza, stamps the sender's address and hands it to whoever must see it.
func (ss *session) handleStanza(st *xmlstream.Element) error {
	kind := stanza.Kind(st)
	if kind == "" {
		switch st.Space {
		case nsSM:
			return ss.handleSMElement(st)
		case nsCSI:
			ss.handleCSI(st)
			return nil
		}
		if st.Space == xmlstream.NSStream || st.Space == xmlstream.NSFraming {
			return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanza}
		}
		return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanza, Text: "unexpected <" + st.Name + "/>"}
	}
	if from := st.Attr("from"); from != "" {
		f, err := jid.Parse(from)
		if err != nil || (f != ss.full && f != ss.full.Bare()) {
			return &stanza.StreamError{Condition: "invalid-from"}
		}
	}
	st.Space = xmlstream.NSClient
	st.SetAttr("from", ss.full.String())
	ss.srv.stats.receive(st.Name)

	toAttr := st.Attr("to")
	var to jid.JID
	if toAttr != "" {
		var err error
		if to, err = jid.Parse(toAttr); err != nil {
			ss.reply(stanza.ErrorReply(st, stanza.NewError(stanza.JIDMalformed, "malformed to address")))
			return nil
		}
		st.SetAttr("to", to.String())
	}
	switch kind {
	case "iq":
		if !validIQ(st) {
			ss.reply(stanza.ErrorReply(st, stanza.NewError(stanza.BadRequest, "an IQ get or set carries exactly one payload and an id")))
			return nil
		}
		if to.IsZero() || to == ss.full.Bare() {
			ss.srv.handleOwnIQ(ss, st)
			return nil
		}
	case "presence":
		if to.IsZero() {
			ss.srv.handleOwnPresence(ss, st)
			return nil
		}
		if isSubscription(st.Attr("type")) {
			ss.srv.outboundSubscription(ss, st, to)
			return nil
		}
		ss.trackDirected(st, to)
	case "message":
		st = ss.srv.outboundMessage(ss, st, to)
	}
	ss.srv.route(st, to)
	return nil
}

// reply sends a stanza (usually an error) to this session; nil is ignored.
func (ss *session) reply(st *xmlstream.Element) {
	if st != nil {
		ss.send(st)
	}
}

// validIQ checks RFC 6120 §8.2.3: an id, a known type, and for get and set
// exactly one child element.
func validIQ(st *xmlstream.Element) bool {
	if st.Attr("id") == "" {
		return false
	}
	switch st.Attr("type") {
	case "get", "set":
		return len(st.Children) == 1
	case "result", "error":
		return true
	}
	return false
}

// Route delivers a stanza from a service (MUC, focus) or the server itself.
// The stanza must carry from and to; it is not modified afterwards.
func (s *Server) Route(st *xmlstream.Element) {
	to, err := jid.Parse(st.Attr("to"))
	if err != nil {
		s.stats.drop(dropBadAddress)
		return
	}
	s.route(st, to)
}

// route delivers st to its destination; to is st's parsed "to".
func (s *Server) route(st *xmlstream.Element, to jid.JID) {
	s.stats.routed.Add(1)
	switch {
	case to.IsZero() || to == s.domain:
		s.handleServerStanza(st)
		return
	case to.Domain == s.domain.Domain:
		s.routeLocal(st, to)
		return
	}
	s.mu.RLock()
	svc, ok := s.services[to.Domain]
	s.mu.RUnlock()
	if ok {
		svc.handler.HandleStanza(st)
		return
	}
	s.bounce(st, stanza.NewError(stanza.RemoteServerNotFound, "parley does not federate with "+to.Domain))
}

// bounce sends an error reply back to the sender of st, if st deserves one.
func (s *Server) bounce(st *xmlstream.Element, err error) {
	reply := stanza.ErrorReply(st, err)
	if reply == nil || reply.Attr("to") == "" {
		s.stats.drop(dropUndeliverable)
		return
	}
	to, perr := jid.Parse(reply.Attr("to"))
	if perr != nil {
		return
	}
	s.route(reply, to)
}

// sessionsOf returns the live sessions of a bare JID; the slice must not be modified.
func (s *Server) sessionsOf(bare jid.JID) []*session {
	s.mu.RLock()
	us := s.users[bare.String()]
	s.mu.RUnlock()
	if us == nil {
		return nil
	}
	return us.sessions
}

// sessionFor returns the session bound to a full JID, or nil.
func (s *Server) sessionFor(full jid.JID) *session {
	for _, ss := range s.sessionsOf(full.Bare()) {
		if ss.full == full {
			return ss
		}
	}
	return nil
}

// routeLocal delivers to an account of this domain (RFC 6121 §8.5).
func (s *Server) routeLocal(st *xmlstream.Element, to jid.JID) {
	if st.Name == "message" {
		s.deliverMessage(st, to)
		return
	}
	if from, err := jid.Parse(st.Attr("from")); err == nil && from.Bare() != to.Bare() && s.isBlocked(to.Local, from) {
		if st.Name == "iq" {
			s.bounce(st, stanza.NewError(stanza.ServiceUnavailable, ""))
		} else {
			s.stats.drop(dropBlocked)
		}
		return
	}
	if !to.IsBare() {
		if ss := s.sessionFor(to); ss != nil {
			ss.send(st)
			return
		}
		switch st.Name {
		case "iq":
			s.bounce(st, stanza.NewError(stanza.ServiceUnavailable, ""))
			return
		case "presence":
			if isSubscription(st.Attr("type")) || st.Attr("type") == "probe" {
				s.inboundPresenceToBare(st, to.Bare())
				return
			}
			s.stats.drop(dropUndeliverable)
			return
		}
	}
	switch st.Name {
	case "presence":
		s.inboundPresenceToBare(st, to.Bare())
	case "iq":
		s.handleBareIQ(st, to.Bare())
	}
}

// register makes a bound session routable. A session already bound to the
// same full JID is replaced (RFC 6120 §7.7.2.2).
func (s *Server) register(ss *session) {
	key := ss.full.Bare().String()
	var old *session
	s.mu.Lock()
	us := s.users[key]
	next := &userSessions{}
	if us != nil {
		next.sessions = make([]*session, 0, len(us.sessions)+1)
		for _, o := range us.sessions {
			if o.full == ss.full {
				old = o
				continue
			}
			next.sessions = append(next.sessions, o)
		}
	}
	next.sessions = append(next.sessions, ss)
	s.users[key] = next
	s.mu.Unlock()
	s.stats.sessions.Add(1)
	if old != nil {
		old.closeWithError(&stanza.StreamError{Condition: stanza.StreamConflict, Text: "replaced by a new connection"})
	}
}

// unregister removes a session from the router.
func (s *Server) unregister(ss *session) {
	key := ss.full.Bare().String()
	s.mu.Lock()
	defer s.mu.Unlock()
	us := s.users[key]
	if us == nil {
		return
	}
	next := make([]*session, 0, len(us.sessions))
	found := false
	for _, o := range us.sessions {
		if o == ss {
			found = true
			continue
		}
		next = append(next, o)
	}
	if !found {
		return
	}
	s.stats.sessions.Add(-1)
	if len(next) == 0 {
		delete(s.users, key)
		return
	}
	s.users[key] = &userSessions{sessions: next}
}

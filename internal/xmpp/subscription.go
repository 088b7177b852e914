package xmpp

import (
	"slices"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

// outboundSubscription handles a subscription request or answer sent by the
// user (RFC 6121 §3): it updates the user's roster, pushes the change, and
// routes the stanza from the user's bare JID.
func (s *Server) outboundSubscription(ss *session, st *xmlstream.Element, to jid.JID) {
	contact := to.Bare()
	bare := ss.full.Bare()
	typ := st.Attr("type")
	out := st.ShallowCopy()
	out.SetAttr("from", bare.String())
	out.SetAttr("to", contact.String())

	var changed RosterItem
	didChange := false
	s.rosters.update(ss.user, !ss.anonymous, func(r *Roster) bool {
		it, ok := r.ensure(contact)
		if !ok {
			return false
		}
		before := *it
		switch typ {
		case "subscribe":
			if it.Subscription == subNone || it.Subscription == subFrom {
				it.Ask = true
			}
		case "subscribed":
			r.removePending(contact)
			it.Subscription = addState(it.Subscription, subFrom)
		case "unsubscribe":
			it.Ask = false
			it.Subscription = removeState(it.Subscription, subTo)
		case "unsubscribed":
			r.removePending(contact)
			it.Subscription = removeState(it.Subscription, subFrom)
		}
		changed = *it
		didChange = !sameItem(before, *it)
		return didChange
	})
	if didChange {
		s.pushRoster(bare, changed)
	}
	s.route(out, contact)
	switch typ {
	case "subscribed":
		// The new subscriber gets the user's current presence.
		for _, o := range s.sessionsOf(bare) {
			if last := o.pres.lastPresence(); last != nil {
				s.route(withTo(last, contact), contact)
			}
		}
	case "unsubscribed":
		for _, o := range s.sessionsOf(bare) {
			if avail, _ := o.pres.availability(); avail {
				un := xmlstream.New(xmlstream.NSClient, "presence", "type", "unavailable",
					"from", o.full.String(), "to", contact.String())
				s.route(un, contact)
			}
		}
	}
}

// inboundSubscription handles a subscription stanza arriving for a local
// user from contact.
func (s *Server) inboundSubscription(st *xmlstream.Element, user, contact jid.JID, typ string) {
	sessions := s.sessionsOf(user)
	anonymous := len(sessions) > 0 && sessions[0].anonymous
	if len(sessions) == 0 && !s.cfg.Accounts.Exists(user.Local) {
		s.stats.drop(dropUndeliverable)
		return
	}
	deliver := false
	autoApprove := false
	var changed RosterItem
	didChange := false
	s.rosters.update(user.Local, !anonymous, func(r *Roster) bool {
		i := r.index(contact)
		var it *RosterItem
		if i >= 0 {
			it = &r.Items[i]
		}
		switch typ {
		case "subscribe":
			if it != nil && (it.Subscription == subFrom || it.Subscription == subBoth) {
				autoApprove = true
				return false
			}
			deliver = true
			if !slices.Contains(r.PendingIn, contact) && len(r.PendingIn) < maxRosterItems {
				r.PendingIn = append(r.PendingIn, contact)
				return true
			}
			return false
		case "unsubscribe":
			deliver = true
			pending := r.removePending(contact)
			if it == nil {
				return pending
			}
			before := *it
			it.Subscription = removeState(it.Subscription, subFrom)
			changed, didChange = *it, !sameItem(before, *it)
			return pending || didChange
		}
		if it == nil {
			return false
		}
		before := *it
		switch typ {
		case "subscribed":
			if !it.Ask {
				return false
			}
			it.Ask = false
			it.Subscription = addState(it.Subscription, subTo)
		case "unsubscribed":
			it.Ask = false
			it.Subscription = removeState(it.Subscription, subTo)
		}
		deliver = true
		changed, didChange = *it, !sameItem(before, *it)
		return didChange
	})
	if autoApprove {
		reply := xmlstream.New(xmlstream.NSClient, "presence", "type", "subscribed",
			"from", user.String(), "to", contact.String())
		s.route(reply, contact)
		return
	}
	if didChange {
		s.pushRoster(user, changed)
	}
	if !deliver {
		return
	}
	for _, ss := range sessions {
		if avail, _ := ss.pres.availability(); avail {
			ss.send(st)
		}
	}
}

// redeliverPendingSubscriptions shows a newly available resource the
// subscription requests still waiting for an answer (RFC 6121 §3.1.3).
func (s *Server) redeliverPendingSubscriptions(ss *session) {
	bare := ss.full.Bare()
	for _, contact := range s.rosters.pendingIn(ss.user) {
		ss.send(xmlstream.New(xmlstream.NSClient, "presence", "type", "subscribe",
			"from", contact.String(), "to", bare.String()))
	}
}

// addState and removeState move along the subscription lattice
// none < to, from < both.
func addState(cur, add string) string {
	switch {
	case cur == subBoth || cur == add:
		return cur
	case cur == subNone:
		return add
	default:
		return subBoth
	}
}

func removeState(cur, rm string) string {
	switch {
	case cur == rm:
		return subNone
	case cur == subBoth && rm == subTo:
		return subFrom
	case cur == subBoth && rm == subFrom:
		return subTo
	default:
		return cur
	}
}

func sameItem(a, b RosterItem) bool {
	return a.Subscription == b.Subscription && a.Ask == b.Ask && a.Name == b.Name
}

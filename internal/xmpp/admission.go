package xmpp

import (
	"time"

	"parley.dev/parley/internal/stanza"
)

// Sessions that have not logged in yet hold a place in Config.Unauthenticated,
// the gate that caps them per source and in all; they give it back when
// SASL succeeds (or when they end), so that a logged-in session is never
// shed to make room for anonymous ones.

// admit enters a new session into the gate; false: refused, the caller
// closes the transport.
func (ss *session) admit() bool {
	g := ss.srv.cfg.Unauthenticated
	if g == nil {
		return true
	}
	t, err := g.Enter(ss.t.RemoteAddr(), unauthenticatedMember{ss})
	if err != nil {
		ss.log.Debug("session refused by admission", "err", err)
		return false
	}
	ss.admission = t
	return true
}

// leaveAdmission gives the session's place back (on login or at the end).
func (ss *session) leaveAdmission() {
	if ss.admission != nil {
		ss.admission.Leave()
	}
}

// unauthenticatedMember is a session as the gate sees it.
type unauthenticatedMember struct{ ss *session }

// Shed ends the session: the gate needed its place. A session that logged
// in meanwhile has left the gate, and is not shed.
func (m unauthenticatedMember) Shed() {
	m.ss.closeWithError(&stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "too many connections waiting to log in"})
}

// Hurry does nothing: an unauthenticated session has AuthTimeout.
func (unauthenticatedMember) Hurry(time.Time) {}

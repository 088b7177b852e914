package xmpp

import (
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stanza"
)

// Sessions that have not logged in yet hold a place in
// Config.Unauthenticated, the gate that caps them per source and in all;
// they give it back when SASL succeeds (or when they end), so that a
// logged-in session is never shed to make room for anonymous ones. Guests
// (SASL ANONYMOUS), whom anyone can become, then hold a place in
// Config.Guests for as long as they stay: a flood of guest logins from one
// address is capped too, and sheds only guests.

// admit enters a new session into the unauthenticated gate; false:
// refused, the caller closes the transport.
func (ss *session) admit() bool {
	g := ss.srv.cfg.Unauthenticated
	if g == nil {
		return true
	}
	m := newSessionMember(ss, "too many connections waiting to log in")
	t, err := g.Enter(ss.t.RemoteAddr(), m)
	if err != nil {
		ss.log.Debug("session refused by admission", "err", err)
		return false
	}
	ss.admission, ss.member = t, m
	return true
}

// errTooManyGuests refuses a guest login past the guests gate's cap.
var errTooManyGuests = &sasl.Failure{Condition: "temporary-auth-failure", Text: "too many guests from this address, try again later"}

// loggedIn moves a session that passed SASL out of the unauthenticated
// gate, and a guest into the guests gate; a guest refused there stays
// unauthenticated and gets errTooManyGuests.
func (ss *session) loggedIn(guest bool) error {
	if g := ss.srv.cfg.Guests; guest && g != nil {
		m := newSessionMember(ss, "too many guests")
		t, err := g.Enter(ss.t.RemoteAddr(), m)
		if err != nil {
			return errTooManyGuests
		}
		if !ss.leaveAdmission() {
			t.Leave()
			return errShed
		}
		ss.admission, ss.member = t, m
		return nil
	}
	if !ss.leaveAdmission() {
		return errShed
	}
	return nil
}

// admissionRefused answers a login loggedIn refused: a guest past its
// source's cap gets a SASL failure (not counted as a failed login) and may
// try again; a session shed meanwhile ends with its stream error.
func (ss *session) admissionRefused(err error) (bool, error) {
	if err == errTooManyGuests {
		return ss.saslFail(err, "")
	}
	return false, err
}

// errShed fails a login the gate shed the session during.
var errShed = &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "too many connections waiting to log in"}

// leaveAdmission gives the session's place back (on login or at the end).
// It reports false if the gate shed the session first: it is closing.
func (ss *session) leaveAdmission() bool {
	if ss.admission == nil {
		return true
	}
	left := ss.member.state.CompareAndSwap(memberIn, memberLeft)
	ss.admission.Leave()
	ss.admission, ss.member = nil, nil
	return left
}

// A session member's states: in its gate, gone by itself, or shed. The
// change from memberIn happens once, so a session logging in while the
// gate sheds it is either shed or logged in, never both.
const (
	memberIn int32 = iota
	memberLeft
	memberShed
)

// sessionMember is a session as a gate sees it.
type sessionMember struct {
	ss    *session
	why   string       // the stream error's text when shed
	state atomic.Int32 // memberIn, then memberLeft or memberShed
}

func newSessionMember(ss *session, why string) *sessionMember {
	return &sessionMember{ss: ss, why: why}
}

// Shed ends the session, unless it left the gate meanwhile. The closing
// runs on its own goroutine: a WebSocket's close handshake may wait for
// the peer, and the newcomer that caused the shed must not.
func (m *sessionMember) Shed() {
	if m.state.CompareAndSwap(memberIn, memberShed) {
		go m.ss.closeWithError(&stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: m.why})
	}
}

// Hurry does nothing: an unauthenticated session has AuthTimeout, a guest
// its pings.
func (*sessionMember) Hurry(time.Time) {}

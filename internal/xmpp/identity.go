package xmpp

import "parley.dev/parley/internal/jid"

// IsAnonymous reports whether the session bound to full is a guest: SASL
// ANONYMOUS without a token (a resumed guest included). False for a token's
// user, and for a JID with no session here, such as a component or another
// server's user.
func (s *Server) IsAnonymous(full jid.JID) bool {
	ss := s.sessionFor(full)
	return ss != nil && ss.identity.Kind == IdentityGuest
}

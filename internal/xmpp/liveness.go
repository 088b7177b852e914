package xmpp

import (
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// CheckAlive pings the session bound to full now, and closes it if it
// reads nothing within Config.ProbeTimeout. A client whose network
// vanished leaves a session that TCP may not notice for minutes; when that
// client comes back on a new connection and finds its own ghost in the way
// (a MUC nick taken), the MUC asks for this check instead of waiting for
// the idle ping. A live session answers and nothing happens; one check at
// a time per session.
func (s *Server) CheckAlive(full jid.JID) {
	ss := s.sessionFor(full)
	if ss == nil || !ss.probing.CompareAndSwap(false, true) {
		return
	}
	mark := ss.lastRead.Load()
	ss.send(stanza.IQ("get", s.newID("probe"), s.domain, ss.full, xmlstream.New(nsPing, "ping")))
	time.AfterFunc(s.cfg.ProbeTimeout, func() {
		defer ss.probing.Store(false)
		if ss.lastRead.Load() == mark {
			s.stats.probeClosed.Add(1)
			ss.closeWithError(&stanza.StreamError{Condition: stanza.StreamConnectionTimeout, Text: "no answer to a liveness check"})
		}
	})
}

package xmpp

import "sync/atomic"

// Reasons a stanza was dropped instead of delivered.
const (
	dropQueueFull     = iota // the recipient's send queue was full
	dropSessionClosed        // the recipient was going away
	dropUndeliverable        // nobody to deliver to, and no error is due
	dropBadAddress           // unparseable address on an internal stanza
	dropBlocked              // the recipient blocks the sender (XEP-0191)
	dropOfflineFull          // the recipient's offline storage is full (bounced)
	numDropReasons
)

var dropReasonNames = [numDropReasons]string{"queue_full", "session_closed", "undeliverable", "bad_address", "blocked", "offline_full"}

type counters struct {
	connections   atomic.Int64  // open connections, negotiating or bound
	sessions      atomic.Int64  // bound sessions
	received      atomic.Uint64 // stanzas received from clients
	routed        atomic.Uint64 // stanzas routed
	delivered     atomic.Uint64 // stanzas written to clients
	authFailures  atomic.Uint64
	authByMech    [numMechanisms]atomic.Uint64 // failures by mechanism (mechanismNames)
	byKind        [numKinds]atomic.Uint64      // stanzas received, by kind (kindNames)
	probeClosed   atomic.Uint64                // sessions closed for not answering CheckAlive
	offlineStored atomic.Uint64                // messages kept for offline accounts
	archived      atomic.Uint64                // messages written to archives
	resumed       atomic.Uint64                // stream-management resumptions
	pushes        atomic.Uint64                // push notifications sent (XEP-0357)
	drops         [numDropReasons]atomic.Uint64
}

func (c *counters) drop(reason int) { c.drops[reason].Add(1) }

// The mechanisms failures are counted by; any other name counts as "other"
// (a client may send any string).
var mechanismNames = [...]string{"SCRAM-SHA-256", "SCRAM-SHA-1", "PLAIN", "ANONYMOUS", "OAUTHBEARER", "other"}

const numMechanisms = len(mechanismNames)

func (c *counters) authFailure(mech string) {
	c.authFailures.Add(1)
	i := numMechanisms - 1
	for j, m := range mechanismNames[:numMechanisms-1] {
		if m == mech {
			i = j
		}
	}
	c.authByMech[i].Add(1)
}

// The kinds of stanza counted as received.
var kindNames = [...]string{"message", "presence", "iq"}

const numKinds = len(kindNames)

func (c *counters) receive(name string) {
	c.received.Add(1)
	for i, k := range kindNames {
		if k == name {
			c.byKind[i].Add(1)
			return
		}
	}
}

// Stats is a snapshot of the server's counters.
type Stats struct {
	Connections, Sessions int64
	Received, Routed      uint64
	Delivered             uint64
	AuthFailures          uint64
	AuthFailuresByMech    map[string]uint64 // by SASL mechanism; "other" for unknown names
	ReceivedByKind        map[string]uint64 // message, presence, iq
	ProbeClosed           uint64            // sessions closed for not answering CheckAlive
	OfflineStored         uint64            // messages kept for offline accounts (XEP-0160)
	Archived              uint64            // messages written to archives (XEP-0313)
	Resumed               uint64            // sessions resumed (XEP-0198)
	Pushes                uint64            // push notifications sent to app servers (XEP-0357)
	Drops                 map[string]uint64 // by reason
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Connections:        s.stats.connections.Load(),
		Sessions:           s.stats.sessions.Load(),
		Received:           s.stats.received.Load(),
		Routed:             s.stats.routed.Load(),
		Delivered:          s.stats.delivered.Load(),
		AuthFailures:       s.stats.authFailures.Load(),
		ProbeClosed:        s.stats.probeClosed.Load(),
		OfflineStored:      s.stats.offlineStored.Load(),
		Archived:           s.stats.archived.Load(),
		Resumed:            s.stats.resumed.Load(),
		Pushes:             s.stats.pushes.Load(),
		Drops:              make(map[string]uint64, numDropReasons),
		AuthFailuresByMech: make(map[string]uint64, numMechanisms),
		ReceivedByKind:     make(map[string]uint64, numKinds),
	}
	for i, m := range mechanismNames {
		st.AuthFailuresByMech[m] = s.stats.authByMech[i].Load()
	}
	for i, k := range kindNames {
		st.ReceivedByKind[k] = s.stats.byKind[i].Load()
	}
	for i := range s.stats.drops {
		st.Drops[dropReasonNames[i]] = s.stats.drops[i].Load()
	}
	return st
}

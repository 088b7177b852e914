package portmux

import "sync/atomic"

// Reasons a TCP connection was refused.
const (
	refusedUnknown      = iota + 1 // first bytes of no protocol parley serves
	refusedPeekTimeout             // nothing decisive within PeekTimeout
	refusedEOF                     // closed or failed before its first bytes decided
	refusedTLSHandshake            // the TLS handshake failed
	refusedUnrouted                // no listener for its protocol (or no TLS configured)
	refusedBacklogFull             // its protocol's Backlog was full
	refusedPerSource               // its source held the gate's per-source cap of unclassified connections
	refusedShed                    // shed while unclassified: the gate's budget was full and its source held the most
	numRefusedReasons
)

func refusedReasonName(r int) string {
	switch r {
	case refusedUnknown:
		return "unknown_protocol"
	case refusedPeekTimeout:
		return "peek_timeout"
	case refusedEOF:
		return "eof"
	case refusedTLSHandshake:
		return "tls_handshake"
	case refusedUnrouted:
		return "unrouted"
	case refusedBacklogFull:
		return "backlog_full"
	case refusedPerSource:
		return "per_source"
	case refusedShed:
		return "shed"
	}
	return "other"
}

type tcpCounters struct {
	routed  [numProtocols]atomic.Uint64
	refused [numRefusedReasons]atomic.Uint64
}

func (c *tcpCounters) refuse(reason int) { c.refused[reason].Add(1) }

// TCPStats is a snapshot of a TCPMux's counters.
type TCPStats struct {
	// Routed counts connections handed to each protocol's listener, by
	// Protocol.String().
	Routed map[string]uint64
	// Refused counts connections closed instead, by reason:
	// unknown_protocol, peek_timeout, eof, tls_handshake, unrouted,
	// backlog_full, per_source (refused by the admission gate), shed (by
	// the gate, to make room).
	Refused map[string]uint64
}

// Stats returns the current counters.
func (m *TCPMux) Stats() TCPStats {
	st := TCPStats{Routed: make(map[string]uint64), Refused: make(map[string]uint64)}
	for p := range numProtocols {
		st.Routed[p.String()] = m.stat.routed[p].Load()
	}
	for r := 1; r < numRefusedReasons; r++ {
		st.Refused[refusedReasonName(r)] = m.stat.refused[r].Load()
	}
	return st
}

type udpCounters struct {
	media, turn atomic.Uint64 // packets delivered to each side
	dropped     [numDropReasons]atomic.Uint64
}

// UDPStats is a snapshot of a UDPMux's counters.
type UDPStats struct {
	Media, TURN uint64 // packets handed to each side
	// Dropped counts packets dropped, by reason: unknown, malformed_stun,
	// malformed_channeldata, malformed_dtls, malformed_rtp, oversize,
	// queue_full, closed.
	Dropped map[string]uint64
}

// Stats returns the current counters.
func (m *UDPMux) Stats() UDPStats {
	st := UDPStats{Media: m.stat.media.Load(), TURN: m.stat.turn.Load(), Dropped: make(map[string]uint64)}
	for r := range numDropReasons {
		st.Dropped[dropReasonName(r)] = m.stat.dropped[r].Load()
	}
	return st
}

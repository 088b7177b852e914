package sfu

import "sync/atomic"

// totals are the SFU's counters of what is gone: participants that left
// fold their counts in, so that Stats' totals only grow. NACKs and
// keyframe requests are counted here as they happen (RTCP rates are low).
type totals struct {
	packets   atomic.Uint64 // packets forwarded to participants that left
	bytes     atomic.Uint64 // their payload bytes
	nacks     atomic.Uint64 // NACK packets received from subscribers
	resent    atomic.Uint64 // packets retransmitted to participants that left
	keyframes atomic.Uint64 // PLIs sent to publishers
	rtxDrops  atomic.Uint64 // retransmissions over budget to participants that left
	pliDrops  atomic.Uint64 // keyframe requests over budget from participants that left
}

// Stats is a snapshot of the whole SFU, for metrics.
type Stats struct {
	Conferences      int
	Participants     int
	PacketsForwarded uint64 // RTP packets written to subscribers
	BytesForwarded   uint64 // their payload bytes
	NACKs            uint64 // NACK packets received from subscribers
	Retransmitted    uint64 // packets resent from the packet cache on those NACKs
	KeyframeRequests uint64 // PLIs sent to publishers (rate-limited per layer)
	// Dropped by reason: over a subscriber's budgets (budgets.go).
	RetransmitsDropped      uint64 // NACKed packets not resent
	KeyframeRequestsDropped uint64 // subscribers' PLIs and FIRs not passed on
}

// Stats returns the SFU's counters: the live participants' and those of
// participants gone. It takes each conference's lock in turn, not the
// forwarding path's.
func (s *SFU) Stats() Stats {
	s.mu.Lock()
	confs := make([]*Conference, 0, len(s.conferences))
	for _, c := range s.conferences {
		confs = append(confs, c)
	}
	s.mu.Unlock()
	st := Stats{Conferences: len(confs)}
	for _, c := range confs {
		c.mu.Lock()
		ps := make([]*Participant, 0, len(c.participants))
		for _, p := range c.participants {
			ps = append(ps, p)
		}
		c.mu.Unlock()
		st.Participants += len(ps)
		for _, p := range ps {
			counts := p.Stats()
			st.PacketsForwarded += counts.PacketsSent
			st.BytesForwarded += counts.BytesSent
			st.Retransmitted += counts.Retransmitted
			st.RetransmitsDropped += counts.RetransmitsDropped
			st.KeyframeRequestsDropped += counts.KeyframeRequestsDropped
		}
	}
	st.PacketsForwarded += s.totals.packets.Load()
	st.BytesForwarded += s.totals.bytes.Load()
	st.Retransmitted += s.totals.resent.Load()
	st.RetransmitsDropped += s.totals.rtxDrops.Load()
	st.KeyframeRequestsDropped += s.totals.pliDrops.Load()
	st.NACKs = s.totals.nacks.Load()
	st.KeyframeRequests = s.totals.keyframes.Load()
	return st
}

// retire folds a leaving participant's counts into the totals.
func (s *SFU) retire(ps ParticipantStats) {
	s.totals.packets.Add(ps.PacketsSent)
	s.totals.bytes.Add(ps.BytesSent)
	s.totals.resent.Add(ps.Retransmitted)
	s.totals.rtxDrops.Add(ps.RetransmitsDropped)
	s.totals.pliDrops.Add(ps.KeyframeRequestsDropped)
}

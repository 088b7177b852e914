package sfu

import "sync/atomic"

// totals are the SFU's counters of what is gone: participants that left
// fold their counts in, so that Stats' totals only grow. NACKs and
// keyframe requests are counted here as they happen (RTCP rates are low).
type totals struct {
	packets   atomic.Uint64    // packets forwarded to participants that left
	bytes     atomic.Uint64    // their payload bytes
	nacks     atomic.Uint64    // NACK packets received from subscribers
	resent    atomic.Uint64    // packets retransmitted to participants that left
	keyframes atomic.Uint64    // PLIs sent to publishers
	rtxDrops  atomic.Uint64    // retransmissions over budget to participants that left
	pliDrops  atomic.Uint64    // keyframe requests over budget from participants that left
	layers    [4]atomic.Uint64 // layer decisions for participants that left: starts, ups, downs, pauses
	probes    [2]atomic.Uint64 // bandwidth probes towards participants that left: held, failed
	paced     atomic.Uint64    // packets paced towards participants that left
	pacerDrop atomic.Uint64    // packets their pacers dropped
	badRED    atomic.Uint64    // malformed RED packets not sent to them as Opus
	temporal  [3]atomic.Uint64 // VP8 temporal layer switches up and down, frames dropped, for participants that left
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
	// Packets dropped because Pion's read queue of their SRTP (RTP) or
	// SRTCP (RTCP) stream was full: the SFU fell behind (readqueue.go).
	ReadQueueDropsRTP, ReadQueueDropsRTCP uint64
	// Layer decisions for subscribers' videos (allocator.go): a video's
	// first layer, switches up and down at keyframes, and pauses.
	LayerStarts, LayerSwitchesUp, LayerSwitchesDown, LayerPauses uint64
	// VP8 temporal layer decisions (temporal.go): switches to more and to
	// fewer temporal layers, and the frames not forwarded for them.
	TemporalSwitchesUp, TemporalSwitchesDown, TemporalFramesDropped uint64
	// Bandwidth probes (probe.go) that held, and that met loss or delay.
	ProbesHeld, ProbesFailed uint64
	// Videos paced towards constrained subscribers (pacer.go): packets
	// that waited, and packets dropped because a pacer's queue was full.
	PacedPackets, PacerDropped uint64
	// Relays to and from other bridges (relay.go), of the live
	// conferences: the packets sent over relays (each stream once per
	// relay, whatever the number of subscribers behind it), and received.
	// Relay participants and the remote participants behind them are not
	// in Participants, and what relays send is not in PacketsForwarded.
	RelayPacketsOut, RelayPacketsIn uint64
	// RED audio packets with no primary Opus block, dropped for the
	// subscribers that get Opus (red.go).
	BadREDDropped uint64
}

// add folds one participant's counts into st.
func (st *Stats) add(ps ParticipantStats) {
	st.PacketsForwarded += ps.PacketsSent
	st.BytesForwarded += ps.BytesSent
	st.Retransmitted += ps.Retransmitted
	st.RetransmitsDropped += ps.RetransmitsDropped
	st.KeyframeRequestsDropped += ps.KeyframeRequestsDropped
	st.LayerStarts += ps.LayerStarts
	st.LayerSwitchesUp += ps.LayerSwitchesUp
	st.LayerSwitchesDown += ps.LayerSwitchesDown
	st.LayerPauses += ps.LayerPauses
	st.TemporalSwitchesUp += ps.TemporalSwitchesUp
	st.TemporalSwitchesDown += ps.TemporalSwitchesDown
	st.TemporalFramesDropped += ps.TemporalFramesDropped
	st.ProbesHeld += ps.ProbesHeld
	st.ProbesFailed += ps.ProbesFailed
	st.PacedPackets += ps.PacedPackets
	st.PacerDropped += ps.PacerDropped
	st.BadREDDropped += ps.DroppedBadRED
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
	st := Stats{Conferences: len(confs), ReadQueueDropsRTP: s.queues.rtp.Load(), ReadQueueDropsRTCP: s.queues.rtcp.Load()}
	for _, c := range confs {
		c.mu.Lock()
		ps := make([]*Participant, 0, len(c.participants))
		for _, p := range c.participants {
			ps = append(ps, p)
		}
		c.mu.Unlock()
		for _, p := range ps {
			if p.relay || p.remote != nil {
				continue
			}
			st.Participants++
			st.add(p.Stats())
		}
		for _, r := range c.RelayStats() {
			if r.Out {
				st.RelayPacketsOut += r.Packets
			} else {
				st.RelayPacketsIn += r.Packets
			}
		}
	}
	t := &s.totals
	st.add(ParticipantStats{
		PacketsSent: t.packets.Load(), BytesSent: t.bytes.Load(), Retransmitted: t.resent.Load(),
		RetransmitsDropped: t.rtxDrops.Load(), KeyframeRequestsDropped: t.pliDrops.Load(),
		LayerStarts: t.layers[0].Load(), LayerSwitchesUp: t.layers[1].Load(), LayerSwitchesDown: t.layers[2].Load(),
		LayerPauses: t.layers[3].Load(), ProbesHeld: t.probes[0].Load(), ProbesFailed: t.probes[1].Load(),
		PacedPackets: t.paced.Load(), PacerDropped: t.pacerDrop.Load(), DroppedBadRED: t.badRED.Load(),
		TemporalSwitchesUp: t.temporal[0].Load(), TemporalSwitchesDown: t.temporal[1].Load(), TemporalFramesDropped: t.temporal[2].Load(),
	})
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
	for i, n := range [4]uint64{ps.LayerStarts, ps.LayerSwitchesUp, ps.LayerSwitchesDown, ps.LayerPauses} {
		s.totals.layers[i].Add(n)
	}
	s.totals.probes[0].Add(ps.ProbesHeld)
	s.totals.probes[1].Add(ps.ProbesFailed)
	s.totals.paced.Add(ps.PacedPackets)
	s.totals.pacerDrop.Add(ps.PacerDropped)
	s.totals.badRED.Add(ps.DroppedBadRED)
	for i, n := range [3]uint64{ps.TemporalSwitchesUp, ps.TemporalSwitchesDown, ps.TemporalFramesDropped} {
		s.totals.temporal[i].Add(n)
	}
}

package sfu

import (
	"testing"
	"time"

	"github.com/pion/rtcp"
)

// NACKs get resent only as far as the budget goes: rtxShare of what was
// forwarded, up to rtxBurst; the rest is dropped and counted.
func TestRetransmitBudget(t *testing.T) {
	s := newProbeSetup(t)
	// 20 frames of 2 packets (150-byte payloads): 6000 bytes forwarded,
	// 1500 of credit: ten 150-byte packets.
	for range 20 {
		s.frame(t, 2)
	}
	recs := s.w.records()
	var seqs []uint16
	for _, r := range recs {
		seqs = append(seqs, r.seq)
	}
	n := s.d.retransmit(&rtcp.TransportLayerNack{MediaSSRC: 4242, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)})
	if n != 10 || s.d.rtxDropped.Load() != 30 {
		t.Fatalf("resent %d, dropped %d of 40 NACKed; want 10 and 30", n, s.d.rtxDropped.Load())
	}
	if st := s.sub.Stats(); st.RetransmitsDropped != 30 || st.Retransmitted != 10 {
		t.Fatalf("stats: %d dropped, %d resent", st.RetransmitsDropped, st.Retransmitted)
	}
	// More forwarded, more credit; never more than rtxBurst.
	s.d.mu.Lock()
	for range 1000 {
		s.d.sentBytes.Add(1000) // as writeLocked counts what it forwards
	}
	s.d.creditRetransmits()
	credit := s.d.rtxCredit
	s.d.mu.Unlock()
	if credit != rtxBurst {
		t.Fatalf("credit %v after 1 MB forwarded, want the burst %d", credit, rtxBurst)
	}
}

// A subscriber's keyframe requests go on at most once per pliInterval.
func TestKeyframeRequestBudget(t *testing.T) {
	s := newProbeSetup(t)
	now := time.Unix(100, 0)
	var passed int
	for i := range 25 { // every 100 ms for 2.5 s
		if s.d.mayRequestKeyframe(now.Add(time.Duration(i) * 100 * time.Millisecond)) {
			passed++
		}
	}
	if passed != 3 || s.d.pliDropped.Load() != 22 || s.sub.Stats().KeyframeRequestsDropped != 22 {
		t.Fatalf("%d passed, %d dropped of 25 in 2.5 s; want 3 and 22", passed, s.d.pliDropped.Load())
	}
}

// A layer's measured cost falls by a fifth at most per allocation: an
// interval in which the publisher sent nothing does not make the layer
// look free.
func TestLayerCostDecaysInsteadOfVanishing(t *testing.T) {
	s := newProbeSetup(t)
	c := &Conference{rates: make(map[*publication]*layerRates)}
	now := time.Unix(100, 0)
	l := s.pub.layers[0]
	c.measure(s.pub, now)
	l.bytes.Add(62_500) // 1 Mbit/s over 500 ms
	c.measure(s.pub, now.Add(allocInterval))
	if got := c.rates[s.pub].bps[0]; got != 1_000_000 {
		t.Fatalf("measured %d bit/s, want 1000000", got)
	}
	c.measure(s.pub, now.Add(2*allocInterval)) // nothing sent
	if got := c.rates[s.pub].bps[0]; got != 800_000 {
		t.Fatalf("after a quiet interval %d bit/s, want 800000", got)
	}
	l.bytes.Add(125_000) // 2 Mbit/s: up at once
	c.measure(s.pub, now.Add(3*allocInterval))
	if got := c.rates[s.pub].bps[0]; got != 2_000_000 {
		t.Fatalf("after a busy interval %d bit/s, want 2000000", got)
	}
}

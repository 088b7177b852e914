package mediapeer

import (
	"testing"
	"time"
)

func TestRxStatsCountsLossAcrossWrapAndReorder(t *testing.T) {
	var s rxStats
	at := time.Unix(0, 0)
	seqs := []uint16{65530, 65531, 65533, 65532, 65535, 0, 1, 3, 3, 4}
	// 65530..4 is 11 numbers; 65534 and 2 never came; 3 came twice.
	for _, q := range seqs {
		s.add(q, 0, 100, at)
	}
	st := s.snapshot()
	if st.Expected != 11 || st.Packets != 10 || st.Bytes != 1000 {
		t.Fatalf("%+v", st)
	}
	// The duplicate hides one loss: RFC 3550 counts it that way too.
	if st.Lost != 1 {
		t.Errorf("lost %d, want 1", st.Lost)
	}
	// A packet older than the first extends the range backwards.
	s.add(65528, 0, 100, at)
	if st := s.snapshot(); st.Expected != 13 || st.Lost != 2 {
		t.Errorf("after a late packet: %+v", st)
	}
}

func TestRxStatsLossNeverNegative(t *testing.T) {
	var s rxStats
	for range 5 {
		s.add(7, 0, 10, time.Unix(0, 0))
	}
	if st := s.snapshot(); st.Expected != 1 || st.Lost != 0 {
		t.Errorf("%+v", st)
	}
}

func TestRxStatsJitter(t *testing.T) {
	start := time.Unix(100, 0)
	// Perfectly paced audio: 20 ms apart, timestamps 960 apart: no jitter.
	steady := rxStats{clockRate: 48000}
	for i := range 200 {
		steady.add(uint16(i), uint32(i*960), 100, start.Add(time.Duration(i)*20*time.Millisecond))
	}
	if j := steady.snapshot().Jitter; j != 0 {
		t.Errorf("steady stream: jitter %v", j)
	}
	// Every other packet 4 ms late: |D| is 4 ms for every packet, so the
	// estimate converges to 4 ms.
	bumpy := rxStats{clockRate: 48000}
	for i := range 400 {
		late := time.Duration(i%2) * 4 * time.Millisecond
		bumpy.add(uint16(i), uint32(i*960), 100, start.Add(time.Duration(i)*20*time.Millisecond+late))
	}
	if j := bumpy.snapshot().Jitter; j < 3900*time.Microsecond || j > 4100*time.Microsecond {
		t.Errorf("alternating 4 ms delay: jitter %v, want 4 ms", j)
	}
	st := bumpy.snapshot()
	if !st.First.Equal(start) || st.Last.Before(start.Add(7*time.Second)) {
		t.Errorf("first %v last %v", st.First, st.Last)
	}
}

func TestTrackRecordIgnoresRunts(t *testing.T) {
	tr := &Track{}
	tr.rx.clockRate = 90000
	tr.record([]byte{0x80, 0x60, 0, 1}, time.Unix(0, 0))
	pkt := []byte{0x80, 0x60, 0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 2, 0xaa}
	tr.record(pkt, time.Unix(0, 0))
	if tr.Packets.Load() != 2 || tr.Bytes.Load() != 17 {
		t.Errorf("counters %d %d", tr.Packets.Load(), tr.Bytes.Load())
	}
	if st := tr.Stats(); st.Expected != 1 || st.Packets != 1 {
		t.Errorf("a 4-byte runt reached the sequence stats: %+v", st)
	}
}

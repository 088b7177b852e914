package mediapeer

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// resendRig is one resender with a fake clock, one local stream whose
// writes it records, and an RTCP reader that delivers the NACK we give it.
type resendRig struct {
	now     time.Time
	counts  resendCounts
	written []uint16 // sequence numbers written, originals and resends
	send    interceptor.RTPWriter
	rtcpIn  []byte
	read    interceptor.RTCPReader
}

func newResendRig(t *testing.T) *resendRig {
	t.Helper()
	rig := &resendRig{now: time.Unix(1000, 0)}
	f := resendFactory{counts: &rig.counts, now: func() time.Time { return rig.now }}
	i, err := f.NewInterceptor("")
	if err != nil {
		t.Fatal(err)
	}
	sink := interceptor.RTPWriterFunc(func(h *rtp.Header, p []byte, _ interceptor.Attributes) (int, error) {
		rig.written = append(rig.written, h.SequenceNumber)
		return len(p), nil
	})
	rig.send = i.BindLocalStream(&interceptor.StreamInfo{SSRC: 7}, sink)
	rig.read = i.BindRTCPReader(interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		return copy(b, rig.rtcpIn), a, nil
	}))
	return rig
}

func (rig *resendRig) publish(t *testing.T, seq uint16, size int) {
	t.Helper()
	if _, err := rig.send.Write(&rtp.Header{SSRC: 7, SequenceNumber: seq}, make([]byte, size), nil); err != nil {
		t.Fatal(err)
	}
}

// nack delivers a NACK for seqs and returns the sequence numbers resent.
func (rig *resendRig) nack(t *testing.T, seqs ...uint16) []uint16 {
	t.Helper()
	pkt := &rtcp.TransportLayerNack{MediaSSRC: 7, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs)}
	b, err := pkt.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	rig.rtcpIn = b
	before := len(rig.written)
	if _, _, err := rig.read.Read(make([]byte, 1500), nil); err != nil {
		t.Fatal(err)
	}
	return append([]uint16(nil), rig.written[before:]...)
}

func TestResenderResendsOncePerSpacingAndOnlyRecentPackets(t *testing.T) {
	rig := newResendRig(t)
	for seq := uint16(1); seq <= 10; seq++ {
		rig.publish(t, seq, 1000)
	}
	if got := rig.nack(t, 3, 4, 99); len(got) != 2 || got[0] != 3 || got[1] != 4 {
		t.Fatalf("first NACK resent %v, want [3 4]", got)
	}
	// The SFU asks again at once: nothing, the copies are on their way.
	if got := rig.nack(t, 3, 4); len(got) != 0 {
		t.Fatalf("a NACK within the spacing resent %v", got)
	}
	rig.now = rig.now.Add(resendSpacing)
	if got := rig.nack(t, 3); len(got) != 1 || got[0] != 3 {
		t.Fatalf("after the spacing resent %v, want [3]", got)
	}
	rig.now = rig.now.Add(resendAge)
	if got := rig.nack(t, 4); len(got) != 0 {
		t.Fatalf("a packet sent over resendAge ago was resent: %v", got)
	}
	st := rig.counts.snapshot()
	want := ResendStats{Resent: 3, RefusedUnknown: 1, RefusedSpacing: 2, RefusedOld: 1}
	if st != want {
		t.Errorf("counts %+v, want %+v", st, want)
	}
}

func TestResenderNeverResendsMoreBytesThanItSent(t *testing.T) {
	rig := newResendRig(t)
	// 20 packets of 1000 bytes: 20,000 bytes of credit at resendShare 1.
	for seq := uint16(1); seq <= 20; seq++ {
		rig.publish(t, seq, 1000)
	}
	var all []uint16
	for seq := uint16(1); seq <= 20; seq++ {
		all = append(all, seq)
	}
	resent := 0
	for round := 0; round < 5; round++ { // five NACK rounds of everything, 100 ms apart
		resent += len(rig.nack(t, all...))
		rig.now = rig.now.Add(resendSpacing)
	}
	if limit := int(20 * resendShare); resent > limit {
		t.Fatalf("resent %d packets of 1000 bytes after sending 20: over the budget of %d", resent, limit)
	}
	st := rig.counts.snapshot()
	if st.Resent != uint64(resent) || st.RefusedCredit != uint64(5*20-resent) {
		t.Errorf("counts %+v: want %d resent and the other %d refused for credit", st, resent, 5*20-resent)
	}
	// Sending more earns more credit.
	rig.publish(t, 21, 1000)
	if got := rig.nack(t, 21); len(got) != 1 {
		t.Errorf("after new media, a NACK resent %v", got)
	}
}

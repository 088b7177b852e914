package mediapeer

import (
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
)

// What we publish is resent on a NACK the way a browser's packet history
// does it (libwebrtc's RtpPacketHistory and its retransmission rate
// limiter), not the way Pion's responder does, which resends every packet
// every time it is asked. When the SFU cannot take a packet in (it
// decrypted it and then found its queue full, so that SRTP's replay check
// refuses every copy after), Pion's NACK generator asks for it again every
// 100 ms for five seconds; with Pion's responder the load generator's 100
// publishers spent 80 % of its core resending, eighteen times what they
// sent (docs/BENCHMARKS.md, "Side by side").
const (
	// resendSlots is the packets kept per stream: over a second of the
	// synthetic video (about 100 packets a second).
	resendSlots = 512
	// resendAge is how long after its first sending a packet may be resent.
	resendAge = time.Second
	// resendSpacing is the least time between two resendings of a packet:
	// the SFU's NACK interval, so that each of its NACK rounds gets one.
	resendSpacing = 100 * time.Millisecond
	// resendShare of the bytes sent becomes credit for resending, up to
	// resendBurst (about one second of the synthetic video): resending
	// never outgrows the media.
	resendShare = 1.0
	resendBurst = 128 << 10
)

// resendFactory makes a resender per PeerConnection; all of a session's
// resenders add to the same counts.
type resendFactory struct {
	counts *resendCounts    // never nil
	now    func() time.Time // the clock; nil for time.Now
}

func (f resendFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	now := f.now
	if now == nil {
		now = time.Now
	}
	return &resender{now: now, counts: f.counts, streams: make(map[uint32]*resendStream)}, nil
}

// resendCounts counts the NACKed packets of what we publish: resent, and
// not resent by reason. Safe for concurrent use.
type resendCounts struct {
	resent  atomic.Uint64
	refused [resendRefusals]atomic.Uint64
}

// ResendStats is a snapshot of resendCounts.
type ResendStats struct {
	Resent uint64 // packets resent on a NACK
	// NACKed packets not resent: never sent or no longer kept, sent more
	// than a second ago, resent under 100 ms ago, over the resending
	// budget (as many bytes as the media, in bursts of up to 128 KB).
	RefusedUnknown, RefusedOld, RefusedSpacing, RefusedCredit uint64
}

func (c *resendCounts) snapshot() ResendStats {
	return ResendStats{Resent: c.resent.Load(), RefusedUnknown: c.refused[refusedUnknown].Load(),
		RefusedOld: c.refused[refusedOld].Load(), RefusedSpacing: c.refused[refusedSpacing].Load(),
		RefusedCredit: c.refused[refusedCredit].Load()}
}

// resender keeps what each local stream sent and answers NACKs from it.
type resender struct {
	interceptor.NoOp
	now    func() time.Time // read-only
	counts *resendCounts    // read-only pointer

	mu      sync.Mutex               // guards streams
	streams map[uint32]*resendStream // by SSRC; guarded by mu
}

// resendStream is one local stream's history.
type resendStream struct {
	writer interceptor.RTPWriter // the rest of the chain; read-only
	counts *resendCounts         // read-only pointer

	mu     sync.Mutex              // guards the fields below; held while writing a resent packet
	slots  [resendSlots]resendSlot // by sequence number modulo resendSlots
	credit float64                 // bytes we may still resend
}

// Why a NACKed packet is not resent.
const (
	refusedUnknown = iota // never sent, or no longer kept
	refusedOld            // sent more than resendAge ago
	refusedSpacing        // resent less than resendSpacing ago
	refusedCredit         // over resendShare of the bytes sent
	resendRefusals
)

type resendSlot struct {
	seq        uint16
	kept       bool
	sentAt     time.Time
	resentAt   time.Time // zero until resent
	header     rtp.Header
	payload    []byte // reused from packet to packet
	payloadLen int
}

// BindLocalStream keeps a copy of every packet of the stream's own SSRC.
func (r *resender) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	st := &resendStream{writer: writer, counts: r.counts}
	r.mu.Lock()
	r.streams[info.SSRC] = st
	r.mu.Unlock()
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
		if h.SSRC == info.SSRC {
			st.keep(h, payload, r.now())
		}
		return writer.Write(h, payload, attrs)
	})
}

// UnbindLocalStream forgets the stream.
func (r *resender) UnbindLocalStream(info *interceptor.StreamInfo) {
	r.mu.Lock()
	delete(r.streams, info.SSRC)
	r.mu.Unlock()
}

// BindRTCPReader answers the NACKs among incoming RTCP, in the reading
// goroutine: a resend is one non-blocking UDP write.
func (r *resender) BindRTCPReader(reader interceptor.RTCPReader) interceptor.RTCPReader {
	return interceptor.RTCPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, attrs, err := reader.Read(b, a)
		if err != nil {
			return 0, nil, err
		}
		if attrs == nil {
			attrs = make(interceptor.Attributes)
		}
		pkts, err := attrs.GetRTCPPackets(b[:n])
		if err != nil {
			return 0, nil, err
		}
		for _, p := range pkts {
			if nack, ok := p.(*rtcp.TransportLayerNack); ok {
				r.answer(nack)
			}
		}
		return n, attrs, nil
	})
}

func (r *resender) answer(nack *rtcp.TransportLayerNack) {
	r.mu.Lock()
	st := r.streams[nack.MediaSSRC]
	r.mu.Unlock()
	if st == nil {
		return
	}
	now := r.now()
	for _, pair := range nack.Nacks {
		pair.Range(func(seq uint16) bool {
			st.resend(seq, now)
			return true
		})
	}
}

func (st *resendStream) keep(h *rtp.Header, payload []byte, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	st.credit = min(st.credit+float64(len(payload))*resendShare, resendBurst)
	s := &st.slots[h.SequenceNumber%resendSlots]
	s.seq, s.kept, s.sentAt, s.resentAt = h.SequenceNumber, true, now, time.Time{}
	s.header = h.Clone()
	s.payload = append(s.payload[:0], payload...)
	s.payloadLen = len(payload)
}

func (st *resendStream) resend(seq uint16, now time.Time) {
	st.mu.Lock()
	defer st.mu.Unlock()
	s := &st.slots[seq%resendSlots]
	switch {
	case !s.kept || s.seq != seq:
		st.counts.refused[refusedUnknown].Add(1)
		return
	case now.Sub(s.sentAt) > resendAge:
		st.counts.refused[refusedOld].Add(1)
		return
	case !s.resentAt.IsZero() && now.Sub(s.resentAt) < resendSpacing:
		st.counts.refused[refusedSpacing].Add(1)
		return
	case float64(s.payloadLen) > st.credit:
		st.counts.refused[refusedCredit].Add(1)
		return
	}
	st.credit -= float64(s.payloadLen)
	s.resentAt = now
	st.counts.resent.Add(1)
	h := s.header // the writer may change its copy (extensions)
	_, _ = st.writer.Write(&h, s.payload[:s.payloadLen], interceptor.Attributes{})
}

// NewResender returns the NACK responder that the SDK's PeerConnections
// use, for another Pion stack (scripts/sfu-compare's load against other
// SFUs), and a function that reads what all its instances did.
func NewResender() (interceptor.Factory, func() ResendStats) {
	counts := &resendCounts{}
	return resendFactory{counts: counts}, counts.snapshot
}

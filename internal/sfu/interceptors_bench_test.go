package sfu

import (
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// BenchmarkInterceptorsWrite times one RTP packet sent to a subscriber
// through the interceptors every peer connection runs (newInterceptors:
// TWCC sequence numbers, the bandwidth estimate's send history, sender
// reports), SRTP and the socket left out. Its allocations are per packet
// sent, so a change to the chain shows in allocs/op.
func BenchmarkInterceptorsWrite(b *testing.B) {
	s := &SFU{estimators: make(map[string]cc.BandwidthEstimator)}
	me, err := newMediaEngine()
	if err != nil {
		b.Fatal(err)
	}
	registry, err := s.newInterceptors(me)
	if err != nil {
		b.Fatal(err)
	}
	chain, err := registry.Build("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer chain.Close()
	info := &interceptor.StreamInfo{
		SSRC: 1234, ClockRate: 90000, MimeType: "video/VP8", PayloadType: 96,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 3}},
	}
	var sent int
	w := chain.BindLocalStream(info, interceptor.RTPWriterFunc(
		func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
			sent++
			return len(payload), nil
		}))
	payload := make([]byte, 1100)
	var h rtp.Header
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		h = rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i), Timestamp: uint32(i) * 3000,
			SSRC: 1234, Extensions: h.Extensions[:0]}
		if _, err := w.Write(&h, payload, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if sent != b.N {
		b.Fatalf("%d of %d packets reached the transport", sent, b.N)
	}
}

// chainWriter is a webrtc.TrackLocalWriter over an interceptor chain,
// written as Pion's (interceptorToTrackLocalWriter, unexported) is: Write
// parses the packet into a new rtp.Packet.
type chainWriter struct{ w interceptor.RTPWriter }

func (c chainWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return c.w.Write(h, payload, nil)
}

func (c chainWriter) Write(b []byte) (int, error) {
	p := &rtp.Packet{}
	if err := p.Unmarshal(b); err != nil {
		return 0, err
	}
	return c.WriteRTP(&p.Header, p.Payload)
}

// BenchmarkPacerDrain times one video packet queued in a subscriber's
// pacer and drained into the interceptor chain (the TWCC stamp, the
// estimator's history, sender reports), SRTP and the socket left out.
func BenchmarkPacerDrain(b *testing.B) {
	s := &SFU{estimators: make(map[string]cc.BandwidthEstimator)}
	me, err := newMediaEngine()
	if err != nil {
		b.Fatal(err)
	}
	registry, err := s.newInterceptors(me)
	if err != nil {
		b.Fatal(err)
	}
	chain, err := registry.Build("bench")
	if err != nil {
		b.Fatal(err)
	}
	defer chain.Close()
	info := &interceptor.StreamInfo{
		SSRC: 1234, ClockRate: 90000, MimeType: "video/VP8", PayloadType: 96,
		RTPHeaderExtensions: []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 3}},
	}
	var sent int
	w := chainWriter{chain.BindLocalStream(info, interceptor.RTPWriterFunc(
		func(h *rtp.Header, payload []byte, _ interceptor.Attributes) (int, error) {
			sent++
			return len(payload), nil
		}))}
	clock := &fakeClock{now: time.Unix(100, 0)}
	pc := newPacer(clock)
	// A tick's credit (9,375 bytes) takes a burst of 8 packets of 1,112.
	pc.setRate(15_000_000)
	payload := make([]byte, 1100)
	const burst = 8
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i += burst {
		pc.mu.Lock()
		pc.credit = -1 // the burst waits for the drain, as a keyframe's tail does
		pc.mu.Unlock()
		for j := 0; j < burst; j++ {
			h := rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: uint16(i + j), Timestamp: uint32(i) * 3000, SSRC: 1234}
			if err := pc.write(w, &h, payload); err != nil {
				b.Fatal(err)
			}
		}
		clock.advance(pacerTick)
	}
	b.StopTimer()
	b.ReportMetric(float64(pc.paced.Load())/float64(b.N), "paced/op")
	if sent == 0 || pc.paced.Load() == 0 {
		b.Fatalf("sent %d, paced %d: the benchmark must go through the queue", sent, pc.paced.Load())
	}
}

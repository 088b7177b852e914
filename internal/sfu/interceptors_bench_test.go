package sfu

import (
	"testing"

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

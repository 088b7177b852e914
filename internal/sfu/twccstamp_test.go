package sfu

import (
	"testing"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
)

// TestTWCCStamper checks that every packet a peer connection sends gets
// the next transport-wide sequence number, across its streams, under the
// negotiated id; that the bandwidth estimator, next in the chain, finds
// the id under the attributes' key it reads (had the key been another, it
// would have added its own: two attributes); and that a stream without
// the extension goes untouched.
func TestTWCCStamper(t *testing.T) {
	s := &SFU{estimators: make(map[string]cc.BandwidthEstimator)}
	me, err := newMediaEngine()
	if err != nil {
		t.Fatal(err)
	}
	registry, err := s.newInterceptors(me)
	if err != nil {
		t.Fatal(err)
	}
	chain, err := registry.Build("pc1")
	if err != nil {
		t.Fatal(err)
	}
	defer chain.Close()
	type seen struct {
		seq   uint16
		ok    bool
		attrs int
	}
	var got []seen
	bind := func(ssrc uint32, exts []interceptor.RTPHeaderExtension) interceptor.RTPWriter {
		return chain.BindLocalStream(&interceptor.StreamInfo{SSRC: ssrc, ClockRate: 90000, MimeType: "video/VP8",
			RTPHeaderExtensions: exts}, interceptor.RTPWriterFunc(
			func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
				var ext rtp.TransportCCExtension
				err := ext.Unmarshal(h.GetExtension(5))
				got = append(got, seen{seq: ext.TransportSequence, ok: err == nil, attrs: len(attrs)})
				return len(payload), nil
			}))
	}
	tcc := []interceptor.RTPHeaderExtension{{URI: sdp.TransportCCURI, ID: 5}}
	video, audio, plain := bind(1, tcc), bind(2, tcc), bind(3, nil)
	ssrcs := []uint32{1, 2, 1, 3, 2}
	for i, w := range []interceptor.RTPWriter{video, audio, video, plain, audio} {
		h := &rtp.Header{Version: 2, SSRC: ssrcs[i], SequenceNumber: uint16(100 + i)}
		if _, err := w.Write(h, []byte{1, 2, 3}, nil); err != nil {
			t.Fatal(err)
		}
	}
	want := []seen{{0, true, 1}, {1, true, 1}, {2, true, 1}, {0, false, 0}, {3, true, 1}}
	if len(got) != len(want) {
		t.Fatalf("got %d packets, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("packet %d: got %+v, want %+v (seq, stamped, attributes)", i, got[i], want[i])
		}
	}
	// A second peer connection counts from 0 again.
	chain2, err := registry.Build("pc2")
	if err != nil {
		t.Fatal(err)
	}
	defer chain2.Close()
	got = got[:0]
	w2 := chain2.BindLocalStream(&interceptor.StreamInfo{SSRC: 9, RTPHeaderExtensions: tcc}, interceptor.RTPWriterFunc(
		func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
			var ext rtp.TransportCCExtension
			err := ext.Unmarshal(h.GetExtension(5))
			got = append(got, seen{seq: ext.TransportSequence, ok: err == nil, attrs: len(attrs)})
			return 0, nil
		}))
	if _, err := w2.Write(&rtp.Header{Version: 2, SSRC: 9}, nil, nil); err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0] != (seen{0, true, 1}) {
		t.Errorf("second peer connection: got %+v, want seq 0 stamped", got)
	}
}

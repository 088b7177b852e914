package sfu

import (
	"sync"
	"sync/atomic"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// twccStamper writes the transport-wide sequence number (the TWCC header
// extension) into every packet a peer connection sends, in place of
// Pion's twcc.HeaderExtensionInterceptor, and hands the bandwidth
// estimator, next in the chain, attributes that already say which
// extension id that is. Pion's stamper allocates the extension's two
// bytes on every packet, and Pion's estimator a map of attributes for
// every packet written without one, which a TrackLocalWriter always is:
// two of the five allocations per packet sent (BenchmarkInterceptorsWrite,
// docs/BENCHMARKS.md, issue 20). The numbering is Pion's: one counter per
// peer connection, from 0.
type twccStamper struct {
	interceptor.NoOp
	next atomic.Uint32 // the next transport-wide sequence number (its low 16 bits)
}

// twccAttributesKey is the attribute under which Pion's estimator looks
// for the TWCC extension id: its internal/cc.TwccExtensionAttributesKey,
// an untyped iota, so int 0. TestTWCCStamper fails if that changes (the
// estimator would then add its own key to the map).
const twccAttributesKey = 0

// twccStamperFactory makes a twccStamper per peer connection.
type twccStamperFactory struct{}

// NewInterceptor implements interceptor.Factory.
func (twccStamperFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &twccStamper{}, nil
}

// configureTWCCStamper negotiates the TWCC header extension for audio and
// video, as webrtc.ConfigureTWCCHeaderExtensionSender does, and adds the
// stamper to the registry.
func configureTWCCStamper(me *webrtc.MediaEngine, registry *interceptor.Registry) error {
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
			return err
		}
	}
	registry.Add(twccStamperFactory{})
	return nil
}

// stampedStream is one local stream's stamping state. Writes to one
// stream come one at a time (the downtrack's mutex, or its pacer's), so
// mu is never contended; it keeps the scratch bytes, which the header
// points into until the write returns, safe even if they were not.
type stampedStream struct {
	mu    sync.Mutex
	ext   [2]byte                // the extension's value for the packet being written; guarded by mu
	attrs interceptor.Attributes // says which extension id; guarded by mu (the estimator sets it again)
}

// BindLocalStream implements interceptor.Interceptor.
func (t *twccStamper) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	var id uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI && e.ID > 0 && e.ID < 256 {
			id = uint8(e.ID)
			break
		}
	}
	if id == 0 {
		return writer // not negotiated: nothing to stamp
	}
	st := &stampedStream{attrs: interceptor.Attributes{twccAttributesKey: id}}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
		st.mu.Lock()
		defer st.mu.Unlock()
		seq := uint16(t.next.Add(1) - 1)
		st.ext = [2]byte{byte(seq >> 8), byte(seq)}
		if err := h.SetExtension(id, st.ext[:]); err != nil {
			return 0, err
		}
		if attrs == nil {
			attrs = st.attrs
		}
		return writer.Write(h, payload, attrs)
	})
}

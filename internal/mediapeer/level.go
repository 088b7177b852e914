package mediapeer

import (
	"strings"

	"github.com/pion/interceptor"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Audio levels (RFC 6464) on what we publish, so that the SFU can tell
// who speaks. We do not decode Opus: a packet of at most opusSilenceBytes
// is a silence (DTX) frame and is sent as silence, anything else as
// speech at speechLevel: -20 dBov, a voice at a normal distance from the
// microphone, which the web client outlines as speaking (its threshold is
// about -28 dBov; -30 stayed below it).
const (
	opusSilenceBytes = 3
	speechLevel      = 0x80 | 20 // voice activity, -20 dBov
	silenceLevel     = 127       // -127 dBov: silence
)

// levelInterceptor stamps the audio level extension on outgoing Opus
// packets, where it was negotiated.
type levelInterceptor struct{ interceptor.NoOp }

// levelFactory makes the interceptor for each PeerConnection.
type levelFactory struct{}

func (levelFactory) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &levelInterceptor{}, nil
}

// BindLocalStream wraps the writer of an Opus stream that negotiated the
// audio level extension.
func (*levelInterceptor) BindLocalStream(info *interceptor.StreamInfo, writer interceptor.RTPWriter) interceptor.RTPWriter {
	if !strings.EqualFold(info.MimeType, webrtc.MimeTypeOpus) {
		return writer
	}
	id := 0
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			id = e.ID
		}
	}
	if id < 1 || id > 14 {
		return writer
	}
	return interceptor.RTPWriterFunc(func(h *rtp.Header, payload []byte, attrs interceptor.Attributes) (int, error) {
		level := byte(speechLevel)
		if len(payload) <= opusSilenceBytes {
			level = silenceLevel
		}
		_ = h.SetExtension(uint8(id), []byte{level}) // one byte always fits
		return writer.Write(h, payload, attrs)
	})
}

// registerAudioLevel offers the audio level extension and adds the
// interceptor that writes it.
func registerAudioLevel(me *webrtc.MediaEngine, registry *interceptor.Registry) error {
	ext := webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}
	if err := me.RegisterHeaderExtension(ext, webrtc.RTPCodecTypeAudio); err != nil {
		return err
	}
	registry.Add(levelFactory{})
	return nil
}

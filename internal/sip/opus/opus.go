//go:build sip

// Package opus is the SIP gateway's Opus codec: libopus through cgo
// (gopkg.in/hraban/opus.v2; Debian's libopus-dev). It builds only with the
// "sip" build tag, so that parley's default build needs no C compiler.
package opus

import (
	hraban "gopkg.in/hraban/opus.v2"

	"parley.dev/parley/internal/sip"
)

// Codec makes libopus encoders and decoders of mono audio.
type Codec struct{}

// NewEncoder returns a VoIP encoder with discontinuous transmission (a
// phone's silence becomes tiny packets, which the room reads as silence)
// and in-band FEC against the room's losses.
func (Codec) NewEncoder(sampleRate int) (sip.Encoder, error) {
	enc, err := hraban.NewEncoder(sampleRate, 1, hraban.AppVoIP)
	if err != nil {
		return nil, err
	}
	if err := enc.SetDTX(true); err != nil {
		return nil, err
	}
	if err := enc.SetInBandFEC(true); err != nil {
		return nil, err
	}
	return enc, nil
}

// NewDecoder returns a decoder that outputs sampleRate (libopus resamples).
func (Codec) NewDecoder(sampleRate int) (sip.Decoder, error) {
	return hraban.NewDecoder(sampleRate, 1)
}

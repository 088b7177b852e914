package sip

import "github.com/zaf/g711"

// legCodec is the codec a phone leg speaks: it turns the phone's payloads
// into 8 kHz PCM, the gateway's audio path, and 20 ms of PCM into a
// payload. decode runs on the leg's read loop only, encode on its send
// loop only, so each keeps its own buffers.
type legCodec interface {
	decode(payload []byte, pcm []int16) []int16 // appends the samples
	encode(pcm []int16, out []byte) []byte      // appends one 20 ms payload; nil out when there is none
	ticks() uint32                              // RTP clock ticks in 20 ms
}

// g711Voice is PCMU or PCMA (RFC 3551), 8000 ticks a second.
type g711Voice struct{ pt uint8 }

func (v g711Voice) ticks() uint32 { return frameLen }

func (v g711Voice) decode(in []byte, out []int16) []int16 {
	for _, b := range in {
		if v.pt == ptPCMA {
			out = append(out, g711.DecodeAlawFrame(b))
		} else {
			out = append(out, g711.DecodeUlawFrame(b))
		}
	}
	return out
}

func (v g711Voice) encode(in []int16, out []byte) []byte {
	for _, s := range in {
		if v.pt == ptPCMA {
			out = append(out, g711.EncodeAlawFrame(s))
		} else {
			out = append(out, g711.EncodeUlawFrame(s))
		}
	}
	return out
}

// opusVoice is Opus with the phone (RFC 7587: a 48 kHz RTP clock), coded
// by the gateway's Codec at 8 kHz, as the rest of the path.
type opusVoice struct {
	enc Encoder
	dec Decoder
	pcm [6 * frameLen]int16 // decode's: up to 120 ms at 8 kHz
	buf [1275]byte          // encode's: the largest Opus packet
}

func newOpusVoice(c Codec) (*opusVoice, error) {
	enc, err := c.NewEncoder(clockRate)
	if err != nil {
		return nil, err
	}
	// No DTX towards the phone: libopus takes a steady sound (music, a
	// tone) for background noise and stops sending it, and phones expect
	// a packet every 20 ms.
	if d, ok := enc.(interface{ SetDTX(bool) error }); ok {
		if err := d.SetDTX(false); err != nil {
			return nil, err
		}
	}
	dec, err := c.NewDecoder(clockRate)
	if err != nil {
		return nil, err
	}
	return &opusVoice{enc: enc, dec: dec}, nil
}

func (v *opusVoice) ticks() uint32 { return 6 * frameLen } // 960: 20 ms at 48 kHz

func (v *opusVoice) decode(in []byte, out []int16) []int16 {
	n, err := v.dec.Decode(in, v.pcm[:])
	if err != nil {
		return out
	}
	return append(out, v.pcm[:n]...)
}

func (v *opusVoice) encode(in []int16, out []byte) []byte {
	n, err := v.enc.Encode(in, v.buf[:])
	if err != nil {
		return out
	}
	return append(out, v.buf[:n]...)
}

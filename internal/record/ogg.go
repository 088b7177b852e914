package record

import (
	"errors"
	"os"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4/pkg/media/oggwriter"
)

// opusSilence is one 20 ms Opus frame of silence (CELT-only, mono): what
// a lost or muted stretch of audio becomes, so that the file's duration is
// the track's time in the call.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

const (
	opusRate        = 48000
	opusFrame20ms   = opusRate / 50
	reorderPackets  = 16            // the audio jitter buffer's depth: 320 ms of 20 ms packets
	maxSilenceFill  = 6 * 3600 * 50 // at most six hours of silence in one gap
	audioGapMinimum = 500 * time.Millisecond
)

// opusTrack writes one audio track as Ogg/Opus. It is used by one
// goroutine, the track's.
type opusTrack struct {
	w   *oggwriter.OggWriter
	buf reorder

	started  bool   // a packet was written
	nextTS   uint32 // RTP timestamp the next packet should carry
	frames   int64  // Opus packets written, silence included
	samples  int64  // 48 kHz samples written
	silences int64  // silence frames inserted for loss and gaps
}

func newOpusTrack(path string) (*opusTrack, error) {
	w, err := oggwriter.New(path, opusRate, 2)
	if err != nil {
		return nil, err
	}
	return &opusTrack{w: w}, nil
}

// push takes one RTP packet; packets come out of the jitter buffer in
// sequence order and are written.
func (o *opusTrack) push(pkt *rtp.Packet) error {
	for _, p := range o.buf.push(pkt) {
		if err := o.write(p); err != nil {
			return err
		}
	}
	return nil
}

func (o *opusTrack) write(p *rtp.Packet) error {
	var op codecs.OpusPacket
	if _, err := op.Unmarshal(p.Payload); err != nil || len(op.Payload) == 0 {
		return nil // not Opus: dropped, as a player would
	}
	n := opusSamples(op.Payload)
	if n == 0 {
		return nil
	}
	if o.started {
		// A jump forward in RTP time is loss or a mute: fill it with
		// silence so that later audio stays at its time.
		gap := int32(p.Timestamp - o.nextTS)
		if gap < 0 {
			return nil // late or duplicate: its time is already written
		}
		fill := int64(gap) / opusFrame20ms
		if fill > maxSilenceFill {
			fill = maxSilenceFill
		}
		for range fill {
			if err := o.writePayload(opusSilence, p.SSRC, opusFrame20ms); err != nil {
				return err
			}
			o.silences++
		}
	}
	o.started = true
	o.nextTS = p.Timestamp + uint32(n)
	return o.writePayload(op.Payload, p.SSRC, n)
}

func (o *opusTrack) writePayload(payload []byte, ssrc uint32, n int) error {
	o.frames++
	o.samples += int64(n)
	return o.w.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SSRC: ssrc}, Payload: payload})
}

// close writes what the jitter buffer holds and ends the file.
func (o *opusTrack) close() error {
	var err error
	for _, p := range o.buf.flush() {
		if e := o.write(p); e != nil && err == nil {
			err = e
		}
	}
	return errors.Join(err, o.w.Close())
}

func (o *opusTrack) duration() time.Duration {
	return time.Duration(o.samples) * time.Second / opusRate
}

// opusSamples returns the 48 kHz samples of one Opus packet (RFC 6716 §3.1).
func opusSamples(p []byte) int {
	toc := p[0]
	var per int
	switch cfg := toc >> 3; {
	case cfg < 12: // SILK: 10, 20, 40, 60 ms
		per = []int{480, 960, 1920, 2880}[cfg&3]
	case cfg < 16: // hybrid: 10, 20 ms
		per = []int{480, 960}[cfg&1]
	default: // CELT: 2.5, 5, 10, 20 ms
		per = []int{120, 240, 480, 960}[cfg&3]
	}
	switch toc & 3 {
	case 0:
		return per
	case 1, 2:
		return 2 * per
	default:
		if len(p) < 2 {
			return 0
		}
		return int(p[1]&0x3f) * per
	}
}

// reorder is a small jitter buffer: it holds packets until the next in
// sequence arrives, or until it holds reorderPackets, when it gives up on
// the missing one. It is used by one goroutine.
type reorder struct {
	started bool
	next    uint16 // the sequence number to release next
	held    map[uint16]*rtp.Packet
}

func (r *reorder) push(p *rtp.Packet) []*rtp.Packet {
	if r.held == nil {
		r.held = make(map[uint16]*rtp.Packet, reorderPackets)
	}
	if !r.started {
		r.started, r.next = true, p.SequenceNumber
	}
	if int16(p.SequenceNumber-r.next) < 0 {
		return nil // too late: already skipped or written
	}
	if int16(p.SequenceNumber-r.next) > 1000 {
		// A jump (a publisher's new stream): start over from it.
		out := r.flush()
		r.started, r.next = true, p.SequenceNumber
		r.held[p.SequenceNumber] = p.Clone()
		return append(out, r.release()...)
	}
	r.held[p.SequenceNumber] = p.Clone()
	out := r.release()
	for len(r.held) >= reorderPackets {
		r.next++ // give up on the missing packet
		out = append(out, r.release()...)
	}
	return out
}

// release returns the packets in sequence from next on.
func (r *reorder) release() []*rtp.Packet {
	var out []*rtp.Packet
	for {
		p, ok := r.held[r.next]
		if !ok {
			return out
		}
		delete(r.held, r.next)
		out = append(out, p)
		r.next++
	}
}

// flush returns every held packet in sequence order.
func (r *reorder) flush() []*rtp.Packet {
	var out []*rtp.Packet
	for len(r.held) > 0 {
		out = append(out, r.release()...)
		r.next++
	}
	return out
}

// fileSize returns the size of path, 0 if it cannot be read.
func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

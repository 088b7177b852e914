package sip

import (
	"crypto/rand"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"

	"parley.dev/parley/sdk"
)

// phoneLeg is a call's RTP with the phone: G.711 or Opus both ways, a
// jitter buffer on what the phone sends, DTMF (RFC 4733) read from it.
type phoneLeg struct {
	conn    *net.UDPConn  // read by readLoop, written by sendLoop
	pt      uint8         // read-only: the voice's payload type
	voice   legCodec      // read-only: PCMU, PCMA or Opus
	dtmfPT  uint8         // read-only: telephone-event's type, 0 if none
	peerIPs [2]netip.Addr // read-only: RTP is taken from these addresses only (the SDP's, the signalling's)
	digits  chan byte     // DTMF digits, written by readLoop; buffered, drops when full
	srtpIn  *srtp.Context // decrypts the phone's SRTP, nil for plain RTP; used by readLoop only
	srtpOut *srtp.Context // encrypts ours, nil for plain RTP; used by sendLoop only

	mu        sync.Mutex
	remote    netip.AddrPort // guarded by mu: where we send
	jb        jitterBuffer   // guarded by mu
	lastEvent [2]uint32      // guarded by mu: the timestamp and code of the last DTMF event reported

	counts *rtpCounts // the gateway's, shared by every leg
	closed chan struct{}
	once   sync.Once
}

// listenRTP opens a call's RTP socket, on a port the system picks.
func listenRTP(ip net.IP) (*net.UDPConn, error) {
	return net.ListenUDP("udp", &net.UDPAddr{IP: ip})
}

// newPhoneLeg is the leg on conn with a phone whose SDP is o, and whose
// SIP came from signalling: SRTP when o carries SDES keys.
func newPhoneLeg(conn *net.UDPConn, o offer, signalling netip.Addr, counts *rtpCounts, codec Codec) (*phoneLeg, error) {
	peer := o.rtp.Addr()
	if peer.IsUnspecified() {
		peer = signalling
	}
	var v legCodec = g711Voice{pt: o.pt}
	if o.opus {
		ov, err := newOpusVoice(codec)
		if err != nil {
			return nil, err
		}
		v = ov
	}
	p := &phoneLeg{conn: conn, pt: o.pt, voice: v, dtmfPT: o.dtmfPT, peerIPs: [2]netip.Addr{peer, signalling}, remote: netip.AddrPortFrom(peer, o.rtp.Port()),
		digits: make(chan byte, 32), closed: make(chan struct{}), counts: counts}
	if o.srtp != nil {
		var err error
		if p.srtpIn, p.srtpOut, err = o.srtp.contexts(); err != nil {
			return nil, err
		}
	}
	return p, nil
}

func (p *phoneLeg) port() int { return p.conn.LocalAddr().(*net.UDPAddr).Port }

func (p *phoneLeg) close() {
	p.once.Do(func() {
		close(p.closed)
		_ = p.conn.Close()
	})
}

// readLoop takes the phone's RTP until the leg closes. Symmetric RTP: the
// first packet from the phone's SDP address, or from the address its
// INVITE came from, fixes where we send (for phones behind NAT, whose SDP
// names an address nobody reaches).
func (p *phoneLeg) readLoop() {
	buf := make([]byte, 1500)
	plain := make([]byte, 1500)
	var pkt rtp.Packet
	pcm := make([]int16, 0, 1500)
	latched := false
	for {
		n, from, err := p.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		data := buf[:n]
		if p.srtpIn != nil && n >= 12 && data[0]>>6 == 2 {
			// SRTP: authenticated and decrypted, or refused.
			if data, err = p.srtpIn.DecryptRTP(plain[:0], data, nil); err != nil {
				data = nil
			} else {
				p.counts.srtp.Add(1)
			}
		}
		if ip := from.Addr().Unmap(); ip != p.peerIPs[0] && ip != p.peerIPs[1] || data == nil || pkt.Unmarshal(data) != nil {
			p.counts.refused.Add(1)
			continue
		}
		if !latched {
			latched = true
			p.mu.Lock()
			p.remote = netip.AddrPortFrom(from.Addr().Unmap(), from.Port())
			p.mu.Unlock()
		}
		switch pkt.PayloadType {
		case p.pt:
			pcm = p.voice.decode(pkt.Payload, pcm[:0])
			p.counts.received.Add(1)
			p.mu.Lock()
			before := p.jb.late
			p.jb.push(pkt.Timestamp/(p.voice.ticks()/frameLen), pcm) // in 8 kHz ticks
			p.counts.lateIn.Add(p.jb.late - before)
			p.mu.Unlock()
		case p.dtmfPT:
			if p.dtmfPT != 0 {
				p.readEvent(pkt.Timestamp, pkt.Payload)
			}
		}
	}
}

// start runs the leg's loops: the phone's RTP in, the mix out.
func (p *phoneLeg) start(mix *mixer) {
	go p.readLoop()
	go p.sendLoop(mix.take)
}

// readEvent reports an RFC 4733 telephone-event once, at its first packet.
func (p *phoneLeg) readEvent(ts uint32, payload []byte) {
	if len(payload) < 4 || payload[0] > 15 {
		return
	}
	event := [2]uint32{ts, uint32(payload[0])}
	p.mu.Lock()
	seen := p.lastEvent == event
	p.lastEvent = event
	p.mu.Unlock()
	if seen {
		return
	}
	select {
	case p.digits <- "0123456789*#ABCD"[payload[0]]:
	default:
	}
}

// pop takes the next 20 ms the phone said.
func (p *phoneLeg) pop(out *[frameLen]int16) {
	p.mu.Lock()
	p.jb.pop(out)
	p.mu.Unlock()
}

// rtpCounts are the RTP counters of all calls.
type rtpCounts struct {
	received atomic.Int64 // audio packets from phones
	lateIn   atomic.Int64 // of those, too late to play (the jitter buffer had moved on)
	sent     atomic.Int64 // packets to phones
	lateOut  atomic.Int64 // of those, sent more than a frame (20 ms) after their time: the gateway fell behind
	refused  atomic.Int64 // packets from elsewhere, or not RTP, or failing SRTP's authentication
	srtp     atomic.Int64 // SRTP packets from phones that decrypted and authenticated
}

// sendLoop sends the phone 20 ms of next() every 20 ms until the leg
// closes. It keeps to the wall clock: frames a slow tick missed are sent
// at the next one (and counted late when over a frame behind), so the
// phone's playout never drifts.
func (p *phoneLeg) sendLoop(next func(*[frameLen]int16)) {
	var b [8]byte
	_, _ = rand.Read(b[:])
	h := rtp.Header{Version: 2, PayloadType: p.pt, SSRC: binary.BigEndian.Uint32(b[:4]),
		SequenceNumber: binary.BigEndian.Uint16(b[4:6]), Timestamp: binary.BigEndian.Uint32(b[4:8])}
	var pcm [frameLen]int16
	const maxPayload = 1275 // the largest Opus packet; G.711's are 160
	payload := make([]byte, 0, maxPayload)
	buf := make([]byte, 12+maxPayload)
	sealed := make([]byte, 0, 12+maxPayload+16) // with SRTP's auth tag (10 bytes)
	tick := time.NewTicker(frameTime)
	defer tick.Stop()
	start, frames := time.Now(), time.Duration(0)
	for {
		select {
		case <-p.closed:
			return
		case <-tick.C:
		}
		for {
			due := start.Add((frames + 1) * frameTime)
			behind := time.Since(due)
			if behind < 0 {
				break
			}
			if behind > frameTime {
				p.counts.lateOut.Add(1)
			}
			if behind > 10*frameTime { // a long stall (a suspended machine): restart the clock
				start = time.Now().Add(-frames * frameTime)
			}
			frames++
			next(&pcm)
			payload = p.voice.encode(pcm[:], payload[:0])
			p.send(&h, buf, sealed, payload)
		}
	}
}

// send writes one RTP packet (SRTP, sealed in sealed, with SDES) and
// moves h on.
func (p *phoneLeg) send(h *rtp.Header, buf, sealed, payload []byte) {
	if len(payload) == 0 { // the encoder failed: a gap the phone conceals
	} else if n, err := h.MarshalTo(buf); err == nil {
		p.mu.Lock()
		to := p.remote
		p.mu.Unlock()
		pkt := append(buf[:n], payload...)
		if p.srtpOut != nil {
			pkt, err = p.srtpOut.EncryptRTP(sealed[:0], pkt, nil)
		}
		if err == nil {
			if _, err := p.conn.WriteToUDPAddrPort(pkt, to); err == nil {
				p.counts.sent.Add(1)
			}
		}
	}
	h.SequenceNumber++
	h.Timestamp += p.voice.ticks()
	h.Marker = false
}

// uplink is the phone's audio as Opus frames for the SDK to publish: it
// is read every 20 ms by the room's publishing goroutine.
type uplink struct {
	leg *phoneLeg
	enc Encoder
	pcm [frameLen]int16
	out [1275]byte // the largest Opus packet
}

func (u *uplink) Next() (sdk.Frame, error) {
	select {
	case <-u.leg.closed:
		return sdk.Frame{}, io.EOF
	default:
	}
	u.leg.pop(&u.pcm)
	n, err := u.enc.Encode(u.pcm[:], u.out[:])
	if err != nil {
		return sdk.Frame{}, err
	}
	return sdk.Frame{Data: append([]byte(nil), u.out[:n]...), Duration: frameTime}, nil
}

package sip

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/pion/sdp/v3"
)

// RTP payload types and clock of G.711 (RFC 3551).
const (
	ptPCMU    = 0
	ptPCMA    = 8
	clockRate = 8000
	frameLen  = 160 // samples in 20 ms at 8 kHz
	frameTime = 20 * time.Millisecond
)

// maxSDP bounds the SDP body we read.
const maxSDP = 16 << 10

// offer is what we take from a phone's SDP.
type offer struct {
	rtp       netip.AddrPort // where to send its audio
	pt        uint8          // the payload type chosen: PCMU (0), PCMA (8), or Opus's
	opus      bool           // pt is Opus (opus/48000/2, RFC 7587)
	dtmfPT    uint8          // telephone-event's payload type; 0 when not offered
	dtmfClock string         // its clock rate ("8000", "48000")
	sendrecv  bool           // false when the phone holds (sendonly/inactive)
	proto     string         // the m-line's transport: RTP/AVP, or RTP/SAVP with SRTP
	srtp      *sdes          // the keys when the phone offered SDES (a=crypto) we speak; nil: plain RTP
}

// Errors of SDP negotiation: a malformed body is a 400, no common codec a
// 488.
var (
	errBadSDP  = errors.New("sip: malformed SDP")
	errNoCodec = errors.New("sip: no common codec (PCMU, PCMA, Opus)")
	errNoAudio = errors.New("sip: no audio stream in the SDP")
)

// parseOffer reads an SDP offer: the first audio stream with a port, its
// address, and the codec we answer with (PCMU preferred, then PCMA).
func parseOffer(body []byte) (offer, error) {
	if len(body) == 0 || len(body) > maxSDP {
		return offer{}, errBadSDP
	}
	var sd sdp.SessionDescription
	if err := sd.Unmarshal(body); err != nil {
		return offer{}, fmt.Errorf("%w: %v", errBadSDP, err)
	}
	for _, m := range sd.MediaDescriptions {
		if m.MediaName.Media != "audio" || m.MediaName.Port.Value == 0 {
			continue
		}
		return audioOffer(&sd, m)
	}
	return offer{}, errNoAudio
}

func audioOffer(sd *sdp.SessionDescription, m *sdp.MediaDescription) (offer, error) {
	conn := m.ConnectionInformation
	if conn == nil {
		conn = sd.ConnectionInformation
	}
	if conn == nil || conn.Address == nil {
		return offer{}, fmt.Errorf("%w: no connection address", errBadSDP)
	}
	ip, err := netip.ParseAddr(conn.Address.Address)
	if err != nil {
		return offer{}, fmt.Errorf("%w: connection address %q", errBadSDP, conn.Address.Address)
	}
	port := m.MediaName.Port.Value
	if port <= 0 || port > 65535 {
		return offer{}, fmt.Errorf("%w: port %d", errBadSDP, port)
	}
	o := offer{rtp: netip.AddrPortFrom(ip.Unmap(), uint16(port)), sendrecv: true, proto: strings.Join(m.MediaName.Protos, "/")}
	if o.proto != "RTP/AVP" && o.proto != "RTP/SAVP" {
		return offer{}, fmt.Errorf("%w: transport %v", errNoCodec, m.MediaName.Protos)
	}
	dynamic := map[int]string{} // payload type → encoding name/clock, from a=rtpmap
	for _, a := range m.Attributes {
		if a.Key != "rtpmap" {
			continue
		}
		pt, codec, ok := strings.Cut(a.Value, " ")
		if n, err := strconv.Atoi(pt); ok && err == nil && n >= 96 && n <= 127 {
			dynamic[n] = strings.ToLower(strings.TrimSpace(codec))
		}
	}
	// The codec is the first of the offer's formats we speak: the
	// offerer lists them by preference (RFC 3264 §5.1).
	o.pt = 255
	for _, f := range m.MediaName.Formats {
		n, err := strconv.Atoi(f)
		if err != nil || n < 0 || n > 127 || o.pt != 255 {
			continue
		}
		switch {
		case n == ptPCMU || n == ptPCMA:
			o.pt = uint8(n)
		case dynamic[n] == "opus/48000/2" || dynamic[n] == "opus/48000":
			o.pt, o.opus = uint8(n), true
		}
	}
	// telephone-event at the codec's clock if offered (an RTP stream has
	// one clock), else the lowest type offered.
	clock := "8000"
	if o.opus {
		clock = "48000"
	}
	for n, codec := range dynamic {
		rate, ok := strings.CutPrefix(codec, "telephone-event/")
		if r, err := strconv.Atoi(rate); !ok || err != nil || r <= 0 {
			continue
		}
		better := o.dtmfPT == 0 || rate == clock && o.dtmfClock != clock || (rate == clock) == (o.dtmfClock == clock) && n < int(o.dtmfPT)
		if better {
			o.dtmfPT, o.dtmfClock = uint8(n), rate
		}
	}
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendonly", "inactive":
			o.sendrecv = false
		case "crypto":
			if tag, key, ok := parseCrypto(a.Value); ok && o.srtp == nil {
				o.srtp = &sdes{tag: tag, remote: key, local: newSDESKey()}
			}
		}
	}
	if o.pt == 255 {
		return offer{}, errNoCodec
	}
	if o.proto == "RTP/SAVP" && o.srtp == nil { // SRTP required, in no suite we speak
		return offer{}, fmt.Errorf("%w: no a=crypto with %s", errNoCodec, sdesSuite)
	}
	return o, nil
}

// answerSDP is our answer: one audio stream at ip:port in the chosen codec,
// and telephone-event if offered.
func answerSDP(o offer, ip net.IP, port int, sessionID uint64) []byte {
	family := "IP4"
	if ip.To4() == nil {
		family = "IP6"
	}
	name := "PCMU/8000"
	switch {
	case o.opus:
		name = "opus/48000/2"
	case o.pt == ptPCMA:
		name = "PCMA/8000"
	}
	fmts := strconv.Itoa(int(o.pt))
	lines := []string{
		"v=0",
		fmt.Sprintf("o=parley %d %d IN %s %s", sessionID, sessionID, family, ip),
		"s=parley",
		fmt.Sprintf("c=IN %s %s", family, ip),
		"t=0 0",
	}
	attrs := []string{fmt.Sprintf("a=rtpmap:%d %s", o.pt, name)}
	if o.opus { // mono, with in-band FEC against loss (RFC 7587 §7)
		attrs = append(attrs, fmt.Sprintf("a=fmtp:%d useinbandfec=1;stereo=0;sprop-stereo=0", o.pt))
	}
	if o.dtmfPT != 0 {
		fmts += " " + strconv.Itoa(int(o.dtmfPT))
		attrs = append(attrs, fmt.Sprintf("a=rtpmap:%d telephone-event/%s", o.dtmfPT, o.dtmfClock),
			fmt.Sprintf("a=fmtp:%d 0-15", o.dtmfPT))
	}
	proto := "RTP/AVP"
	if o.proto == "RTP/SAVP" {
		proto = o.proto
	}
	lines = append(lines, fmt.Sprintf("m=audio %d %s %s", port, proto, fmts))
	lines = append(lines, attrs...)
	if o.srtp != nil {
		lines = append(lines, cryptoLine(o.srtp.tag, o.srtp.local))
	}
	lines = append(lines, "a=ptime:20", "a=sendrecv")
	return []byte(strings.Join(lines, "\r\n") + "\r\n")
}

package portmux

import "encoding/binary"

// stunCookie is the STUN magic cookie (RFC 8489 §5), bytes 4-7 of every
// STUN message.
const stunCookie = 0x2112A442

// Protocol is what a connection on the TCP port speaks.
type Protocol int

// The protocols the TCP port tells apart.
const (
	HTTP    Protocol = iota // plain HTTP/1.x and WebSocket: an upper-case method first
	XMPP                    // plain XMPP c2s: '<' first (RFC 6120, STARTTLS inside)
	TURN                    // STUN/TURN over TCP: the STUN cookie at bytes 4-7
	ICETCP                  // passive ICE-TCP (RFC 6544): 2-byte length, then STUN (cookie at 6-9)
	HTTPS                   // HTTP inside TLS (ALPN http/1.1, or no ALPN and not one of the below)
	XMPPTLS                 // XMPP direct TLS (XEP-0368): ALPN xmpp-client, or no ALPN and '<' first
	TURNTLS                 // STUN/TURN over TLS: ALPN stun.turn, or no ALPN and STUN first
	ACME                    // ACME TLS-ALPN-01 (RFC 8737): ALPN acme-tls/1, the handshake is all
	numProtocols
)

// String names the protocol as Stats reports it.
func (p Protocol) String() string {
	switch p {
	case HTTP:
		return "http"
	case XMPP:
		return "xmpp"
	case TURN:
		return "turn"
	case ICETCP:
		return "ice-tcp"
	case HTTPS:
		return "https"
	case XMPPTLS:
		return "xmpp-tls"
	case TURNTLS:
		return "turn-tls"
	case ACME:
		return "acme"
	}
	return "unknown"
}

// streamKind is what the first bytes of a TCP stream say.
type streamKind int

const (
	streamMore    streamKind = iota // not enough bytes yet
	streamUnknown                   // no protocol parley speaks
	streamTLS                       // a TLS record: ClientHello
	streamProto                     // a plaintext Protocol
)

// peekBytes is the most classifyStream ever needs.
const peekBytes = 10

// classifyStream decides from a TCP stream's first bytes. With too few
// bytes to decide it returns streamMore; it never needs more than
// peekBytes. TLS, HTTP and XMPP are told by the first byte; STUN over TCP
// starts with a STUN header (type's top bits zero, cookie at 4-7) and
// ICE-TCP with a 2-byte RFC 4571 length and then that header (cookie at
// 6-9). The first ICE-TCP frame is a small Binding request, so its length
// byte never looks like TLS, HTTP or XMPP.
func classifyStream(b []byte) (streamKind, Protocol) {
	if len(b) == 0 {
		return streamMore, 0
	}
	switch c := b[0]; {
	case c == 0x16: // TLS handshake record
		return streamTLS, 0
	case c >= 'A' && c <= 'Z':
		return streamProto, HTTP
	case c == '<':
		return streamProto, XMPP
	}
	plain := b[0] <= 3 && (len(b) < 8 || binary.BigEndian.Uint32(b[4:8]) == stunCookie)
	framed := (len(b) < 3 || b[2] <= 3) && (len(b) < 10 || binary.BigEndian.Uint32(b[6:10]) == stunCookie)
	switch {
	case plain && len(b) >= 8:
		return streamProto, TURN
	case framed && len(b) >= 10:
		return streamProto, ICETCP
	case !plain && !framed:
		return streamUnknown, 0
	}
	return streamMore, 0
}

// classifyInsideTLS decides a TLS connection without ALPN from its first
// plaintext bytes: STUN is TURN over TLS, '<' is XMPP, the rest HTTPS.
func classifyInsideTLS(b []byte) (Protocol, bool) {
	if len(b) == 0 {
		return 0, false
	}
	switch {
	case b[0] == '<':
		return XMPPTLS, true
	case b[0] > 3:
		return HTTPS, true
	case len(b) < 8:
		return 0, false
	case binary.BigEndian.Uint32(b[4:8]) == stunCookie:
		return TURNTLS, true
	}
	return HTTPS, true
}

// Where a UDP packet goes.
type packetDest int

const (
	toMedia packetDest = iota // the SFU: ICE checks, DTLS, SRTP/SRTCP
	toTURN                    // the TURN server: TURN methods, plain STUN binding, ChannelData
	dropped                   // malformed or unknown; the reason says which
)

// Reasons a UDP packet is dropped.
const (
	dropUnknown       = iota // first byte in no RFC 7983 range parley serves
	dropSTUN                 // malformed STUN header or attributes
	dropChannelData          // malformed TURN ChannelData
	dropDTLS                 // shorter than a DTLS record header
	dropRTP                  // shorter than an RTP or RTCP header
	dropOversize             // larger than UDPConfig.MaxPacket
	dropQueueFull            // the destination's queue was full
	dropClosed               // the destination was closed
	dropRateBinding          // a STUN Binding request beyond its source's rate
	dropRateDTLSHello        // a DTLS ClientHello beyond its source's rate
	dropRateAllocate         // a TURN Allocate request beyond its source's rate
	numDropReasons
)

func dropReasonName(r int) string {
	switch r {
	case dropUnknown:
		return "unknown"
	case dropSTUN:
		return "malformed_stun"
	case dropChannelData:
		return "malformed_channeldata"
	case dropDTLS:
		return "malformed_dtls"
	case dropRTP:
		return "malformed_rtp"
	case dropOversize:
		return "oversize"
	case dropQueueFull:
		return "queue_full"
	case dropClosed:
		return "closed"
	case dropRateBinding:
		return "rate_binding"
	case dropRateDTLSHello:
		return "rate_dtls_hello"
	case dropRateAllocate:
		return "rate_allocate"
	}
	return "other"
}

// STUN methods and classes parley routes on.
const (
	stunMethodBinding  = 0x001
	stunMethodAllocate = 0x003
	stunClassRequest   = 0
	stunAttrUsername   = 0x0006
)

// classifyPacket routes one datagram by its first byte (RFC 7983 §7):
// 0-3 STUN, 20-63 DTLS, 64-79 TURN ChannelData, 128-191 RTP/RTCP.
//
// STUN is split between the SFU and the TURN server: a Binding request
// that carries USERNAME is an ICE connectivity check (RFC 8445 §7.2.2
// requires it) and goes to the SFU, whose ICE mux finds the session by the
// ufrag in it; every other Binding (responses to the SFU's own checks,
// indications used as keepalives) goes to the SFU too. A Binding request
// without USERNAME is a client asking its reflexive address, and every
// other method (Allocate, Refresh, CreatePermission, ChannelBind, Send…)
// is TURN's.
func classifyPacket(b []byte) (packetDest, int) {
	if len(b) == 0 {
		return dropped, dropUnknown
	}
	switch c := b[0]; {
	case c <= 3:
		return classifySTUN(b)
	case c >= 20 && c <= 63:
		if len(b) < 13 {
			return dropped, dropDTLS
		}
		return toMedia, 0
	case c >= 64 && c <= 79:
		if len(b) < 4 || int(binary.BigEndian.Uint16(b[2:4])) > len(b)-4 {
			return dropped, dropChannelData
		}
		return toTURN, 0
	case c >= 128 && c <= 191:
		// An RTP header is 12 bytes, an RTCP one 8 (RFC 5761 §4 tells them
		// by the second byte).
		if len(b) < 8 || (len(b) < 12 && (b[1] < 192 || b[1] > 223)) {
			return dropped, dropRTP
		}
		return toMedia, 0
	}
	return dropped, dropUnknown
}

func classifySTUN(b []byte) (packetDest, int) {
	if len(b) < 20 || binary.BigEndian.Uint32(b[4:8]) != stunCookie {
		return dropped, dropSTUN
	}
	length := int(binary.BigEndian.Uint16(b[2:4]))
	if length%4 != 0 || 20+length != len(b) {
		return dropped, dropSTUN
	}
	t := binary.BigEndian.Uint16(b[0:2])
	method := (t & 0x000F) | (t&0x00E0)>>1 | (t&0x3E00)>>2
	class := (t>>4)&1 | (t>>7)&2
	if method != stunMethodBinding {
		return toTURN, 0
	}
	if class != stunClassRequest {
		return toMedia, 0
	}
	hasUsername, ok := findSTUNAttr(b[20:], stunAttrUsername)
	switch {
	case !ok:
		return dropped, dropSTUN
	case hasUsername:
		return toMedia, 0
	}
	return toTURN, 0
}

// findSTUNAttr walks STUN attributes (type, length, value padded to 4).
// ok is false when an attribute overruns the message.
func findSTUNAttr(attrs []byte, want uint16) (found, ok bool) {
	for len(attrs) > 0 {
		if len(attrs) < 4 {
			return false, false
		}
		typ := binary.BigEndian.Uint16(attrs[0:2])
		n := int(binary.BigEndian.Uint16(attrs[2:4]))
		padded := (n + 3) &^ 3
		if 4+padded > len(attrs) {
			return false, false
		}
		if typ == want {
			return true, true
		}
		attrs = attrs[4+padded:]
	}
	return false, true
}

// What a datagram costs before any session exists: the kinds the UDP mux
// rate-limits per source.
type packetCost int

const (
	costNone      packetCost = iota // media, responses, indications, the rest of TURN
	costBinding                     // a STUN Binding request: an ICE check or a reflexive-address query
	costDTLSHello                   // a DTLS ClientHello: a handshake started
	costAllocate                    // a TURN Allocate request, answered or not
)

// costOf tells the datagrams that start work (and that a flood would be
// made of) from the rest. b has passed classifyPacket.
func costOf(b []byte) packetCost {
	switch c := b[0]; {
	case c <= 3:
		t := binary.BigEndian.Uint16(b[0:2])
		method := (t & 0x000F) | (t&0x00E0)>>1 | (t&0x3E00)>>2
		class := (t>>4)&1 | (t>>7)&2
		switch {
		case class != stunClassRequest:
		case method == stunMethodBinding:
			return costBinding
		case method == stunMethodAllocate:
			return costAllocate
		}
	case c == 22 && len(b) > 13 && b[13] == 1:
		// A DTLS handshake record (content type 22) whose first message is
		// a ClientHello (handshake type 1, after the 13-byte record header).
		return costDTLSHello
	}
	return costNone
}

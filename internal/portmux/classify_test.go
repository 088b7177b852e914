package portmux

import (
	"encoding/binary"
	"testing"

	"github.com/pion/stun/v4"
)

// stunMsg builds a real STUN message with pion/stun.
func stunMsg(t testing.TB, typ stun.MessageType, setters ...stun.Setter) []byte {
	t.Helper()
	m, err := stun.Build(append([]stun.Setter{stun.TransactionID, typ}, setters...)...)
	if err != nil {
		t.Fatal(err)
	}
	return m.Raw
}

// frame prefixes b with its RFC 4571 length.
func frame(b []byte) []byte {
	return append(binary.BigEndian.AppendUint16(nil, uint16(len(b))), b...)
}

func channelData(n int) []byte {
	b := make([]byte, 4+n)
	binary.BigEndian.PutUint16(b, 0x4001)
	binary.BigEndian.PutUint16(b[2:], uint16(n))
	return b
}

func TestClassifyPacket(t *testing.T) {
	user := stun.NewUsername("sfuufrag:clientufrag")
	bindingICE := stunMsg(t, stun.BindingRequest, user, stun.NewShortTermIntegrity("pwd"), stun.Fingerprint)
	bindingPlain := stunMsg(t, stun.BindingRequest, stun.Fingerprint)
	badLength := append([]byte(nil), bindingPlain...)
	binary.BigEndian.PutUint16(badLength[2:], uint16(len(badLength)-20+4))
	overrun := stunMsg(t, stun.BindingRequest, user)
	binary.BigEndian.PutUint16(overrun[22:], 200) // USERNAME says 200 bytes
	noCookie := append([]byte(nil), bindingPlain...)
	noCookie[4] = 0
	rtp := make([]byte, 12)
	rtp[0], rtp[1] = 0x80, 111
	rtcp := make([]byte, 8)
	rtcp[0], rtcp[1] = 0x80, 200
	dtls := make([]byte, 13)
	dtls[0] = 22
	cases := []struct {
		name   string
		pkt    []byte
		dest   packetDest
		reason int
	}{
		{"ICE check (USERNAME)", bindingICE, toMedia, 0},
		{"plain binding request", bindingPlain, toTURN, 0},
		{"binding success response", stunMsg(t, stun.BindingSuccess, stun.Fingerprint), toMedia, 0},
		{"binding indication", stunMsg(t, stun.NewType(stun.MethodBinding, stun.ClassIndication)), toMedia, 0},
		{"allocate", stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest), user), toTURN, 0},
		{"send indication", stunMsg(t, stun.NewType(stun.MethodSend, stun.ClassIndication)), toTURN, 0},
		{"channel bind", stunMsg(t, stun.NewType(stun.MethodChannelBind, stun.ClassRequest)), toTURN, 0},
		{"channel data", channelData(10), toTURN, 0},
		{"channel data, no payload", channelData(0), toTURN, 0},
		{"DTLS", dtls, toMedia, 0},
		{"RTP", rtp, toMedia, 0},
		{"RTCP", rtcp, toMedia, 0},
		{"empty", nil, dropped, dropUnknown},
		{"STUN too short", bindingPlain[:19], dropped, dropSTUN},
		{"STUN truncated", bindingPlain[:len(bindingPlain)-4], dropped, dropSTUN},
		{"STUN bad length", badLength, dropped, dropSTUN},
		{"STUN attribute overrun", overrun, dropped, dropSTUN},
		{"STUN without cookie", noCookie, dropped, dropSTUN},
		{"channel data overrun", channelData(10)[:8], dropped, dropChannelData},
		{"channel data header only", channelData(10)[:3], dropped, dropChannelData},
		{"DTLS too short", dtls[:12], dropped, dropDTLS},
		{"RTP too short", rtp[:11], dropped, dropRTP},
		{"RTCP too short", rtcp[:7], dropped, dropRTP},
		{"ZRTP range", []byte{16, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, dropped, dropUnknown},
		{"high byte", []byte{0xff, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, dropped, dropUnknown},
		{"lower-case text", []byte("hello, world"), dropped, dropUnknown},
		{"HTTP ('G' is in the ChannelData range)", []byte("GET / HTTP/1.1\r\n"), dropped, dropChannelData},
	}
	for _, c := range cases {
		dest, reason := classifyPacket(c.pkt)
		if dest != c.dest || (dest == dropped && reason != c.reason) {
			t.Errorf("%s: got %v/%s, want %v/%s", c.name, dest, dropReasonName(reason), c.dest, dropReasonName(c.reason))
		}
	}
}

func TestClassifyStream(t *testing.T) {
	bindingICE := stunMsg(t, stun.BindingRequest, stun.NewUsername("a:b"), stun.NewShortTermIntegrity("p"), stun.Fingerprint)
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	cases := []struct {
		name  string
		head  []byte
		kind  streamKind
		proto Protocol
	}{
		{"TLS", []byte{0x16, 3, 1, 0, 200, 1}, streamTLS, 0},
		{"HTTP", []byte("GET / HTTP/1.1\r\n"), streamProto, HTTP},
		{"XMPP", []byte("<?xml version='1.0'?>"), streamProto, XMPP},
		{"TURN over TCP", allocate, streamProto, TURN},
		{"STUN over TCP", bindingICE, streamProto, TURN},
		{"ICE-TCP", frame(bindingICE), streamProto, ICETCP},
		{"garbage", []byte{0x80, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, streamUnknown, 0},
		{"garbage, told early", []byte{0x80, 1, 0x80}, streamUnknown, 0},
		{"zero bytes", make([]byte, 12), streamUnknown, 0},
		{"lower-case text", []byte("hello"), streamUnknown, 0},
		{"STUN type, no cookie", []byte{0, 1, 0, 8, 1, 2, 3, 4, 5, 6, 7, 8}, streamUnknown, 0},
	}
	for _, c := range cases {
		kind, proto := classifyStream(c.head)
		if kind != c.kind || (kind == streamProto && proto != c.proto) {
			t.Errorf("%s: got %v/%v, want %v/%v", c.name, kind, proto, c.kind, c.proto)
		}
		// Every prefix either waits for more or already says the same.
		for i := range len(c.head) {
			k, p := classifyStream(c.head[:i])
			if k != streamMore && (k != kind || (k == streamProto && p != proto)) {
				t.Errorf("%s: prefix of %d bytes says %v/%v, the whole %v/%v", c.name, i, k, p, kind, proto)
			}
		}
		if kind != streamMore && len(c.head) > peekBytes {
			if k, _ := classifyStream(c.head[:peekBytes]); k == streamMore {
				t.Errorf("%s: %d bytes were not enough to decide", c.name, peekBytes)
			}
		}
	}
}

func TestClassifyInsideTLS(t *testing.T) {
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	for _, c := range []struct {
		head  []byte
		proto Protocol
		ok    bool
	}{
		{allocate, TURNTLS, true},
		{allocate[:7], 0, false},
		{[]byte("<stream:stream"), XMPPTLS, true},
		{[]byte("GET /"), HTTPS, true},
		{[]byte{0, 1, 0, 0, 9, 9, 9, 9}, HTTPS, true},
		{nil, 0, false},
	} {
		if p, ok := classifyInsideTLS(c.head); p != c.proto || ok != c.ok {
			t.Errorf("%q: got %v/%v, want %v/%v", c.head, p, ok, c.proto, c.ok)
		}
	}
}

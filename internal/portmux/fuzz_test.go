package portmux

import (
	"encoding/binary"
	"testing"

	"github.com/pion/stun/v4"
)

// FuzzClassifyPacket: any datagram is routed or dropped without panicking,
// what reaches a side has a sane header, and Binding requests are split as
// Pion's own STUN decoder reads them.
func FuzzClassifyPacket(f *testing.F) {
	f.Add(stunMsg(f, stun.BindingRequest, stun.NewUsername("a:b"), stun.NewShortTermIntegrity("p"), stun.Fingerprint))
	f.Add(stunMsg(f, stun.BindingRequest, stun.Fingerprint))
	f.Add(stunMsg(f, stun.NewType(stun.MethodAllocate, stun.ClassRequest), stun.NewRealm("r")))
	f.Add(stunMsg(f, stun.BindingSuccess))
	f.Add(channelData(7))
	f.Add(append([]byte{22, 0xfe, 0xfd}, make([]byte, 20)...))
	f.Add(append([]byte{0x80, 200}, make([]byte, 20)...))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, b []byte) {
		dest, reason := classifyPacket(b)
		if dest == dropped {
			if reason < 0 || reason >= numDropReasons {
				t.Fatalf("drop reason %d", reason)
			}
			return
		}
		switch c := b[0]; {
		case c <= 3:
			if len(b) < 20 || 20+int(binary.BigEndian.Uint16(b[2:4])) != len(b) {
				t.Fatalf("a STUN packet with a bad length was routed: %x", b)
			}
			m := &stun.Message{Raw: append([]byte(nil), b...)}
			if m.Decode() == nil && m.Type == stun.BindingRequest {
				if want := m.Contains(stun.AttrUsername); (dest == toMedia) != want {
					t.Fatalf("binding request with USERNAME=%v went to %v", want, dest)
				}
			}
		case c >= 64 && c <= 79:
			if dest != toTURN || 4+int(binary.BigEndian.Uint16(b[2:4])) > len(b) {
				t.Fatalf("bad ChannelData routed to %v: %x", dest, b)
			}
		default:
			if dest != toMedia {
				t.Fatalf("first byte %d went to %v", c, dest)
			}
		}
	})
}

// FuzzClassifyStream: the decision never changes as more bytes arrive and
// never needs more than peekBytes.
func FuzzClassifyStream(f *testing.F) {
	f.Add([]byte("GET / HTTP/1.1\r\n"))
	f.Add([]byte{0x16, 3, 1, 2, 0, 1})
	f.Add(stunMsg(f, stun.NewType(stun.MethodAllocate, stun.ClassRequest)))
	f.Add(frame(stunMsg(f, stun.BindingRequest, stun.NewUsername("a:b"))))
	f.Add([]byte("<?xml"))
	f.Add([]byte{0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		kind, proto := classifyStream(b)
		for i := range len(b) {
			k, p := classifyStream(b[:i])
			if k == streamMore {
				if i >= peekBytes {
					t.Fatalf("%d bytes were not enough: %x", i, b[:i])
				}
				continue
			}
			if k != kind || (k == streamProto && p != proto) {
				t.Fatalf("%x: %d bytes say %v/%v, %d bytes %v/%v", b, i, k, p, len(b), kind, proto)
			}
		}
		if p, ok := classifyInsideTLS(b); ok && (p < HTTPS || p > TURNTLS) {
			t.Fatalf("inside TLS: %v", p)
		}
	})
}

package turntest

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/pion/stun/v4"
)

// Allocation is a minimal TURN client over UDP, for tests and benchmarks
// that must know exactly what goes on the wire (pion's client binds
// channels on its own schedule): one allocation, channels bound on
// request, ChannelData built and parsed by hand.
type Allocation struct {
	Conn    *net.UDPConn // the client's socket; the caller closes it
	Server  *net.UDPAddr // the TURN server
	Relayed *net.UDPAddr // the allocation's relayed address
	auth    []stun.Setter
}

// Allocate asks server for a UDP relay over conn with a long-term
// credential (a TURN REST username and password).
func Allocate(conn *net.UDPConn, server *net.UDPAddr, username, password string) (*Allocation, error) {
	a := &Allocation{Conn: conn, Server: server}
	transport := stun.RawAttribute{Type: stun.AttrRequestedTransport, Value: []byte{17, 0, 0, 0}}
	allocate := stun.NewType(stun.MethodAllocate, stun.ClassRequest)
	res, err := a.transact(allocate, transport)
	if err != nil {
		return nil, err
	}
	var realm stun.Realm
	var nonce stun.Nonce
	if err := errors.Join(realm.GetFrom(res), nonce.GetFrom(res)); err != nil {
		return nil, fmt.Errorf("allocate challenge: %w", err)
	}
	a.auth = []stun.Setter{stun.NewUsername(username), realm, nonce,
		stun.NewLongTermIntegrity(username, realm.String(), password)}
	if res, err = a.transact(allocate, append([]stun.Setter{transport}, a.auth...)...); err != nil {
		return nil, err
	}
	var relayed stun.XORMappedAddress
	if err := relayed.GetFromAs(res, stun.AttrXORRelayedAddress); err != nil {
		return nil, fmt.Errorf("allocate: %s: %w", res.Type, err)
	}
	a.Relayed = &net.UDPAddr{IP: relayed.IP, Port: relayed.Port}
	return a, nil
}

// BindChannel binds channel number (0x4000-0x4FFF) to peer.
func (a *Allocation) BindChannel(peer *net.UDPAddr, number uint16) error {
	attrs := []stun.Setter{
		stun.RawAttribute{Type: stun.AttrChannelNumber, Value: []byte{byte(number >> 8), byte(number), 0, 0}},
		peerAddress{stun.XORMappedAddress{IP: peer.IP, Port: peer.Port}},
	}
	return a.succeed(stun.MethodChannelBind, attrs...)
}

// CreatePermission installs a permission for peer's address.
func (a *Allocation) CreatePermission(peer *net.UDPAddr) error {
	return a.succeed(stun.MethodCreatePermission, peerAddress{stun.XORMappedAddress{IP: peer.IP, Port: peer.Port}})
}

func (a *Allocation) succeed(method stun.Method, attrs ...stun.Setter) error {
	res, err := a.transact(stun.NewType(method, stun.ClassRequest), append(attrs, a.auth...)...)
	if err != nil {
		return err
	}
	if res.Type.Class != stun.ClassSuccessResponse {
		var code stun.ErrorCodeAttribute
		code.GetFrom(res)
		return fmt.Errorf("%s: %s %v", method, res.Type, code)
	}
	return nil
}

type peerAddress struct{ a stun.XORMappedAddress }

func (p peerAddress) AddTo(m *stun.Message) error { return p.a.AddToAs(m, stun.AttrXORPeerAddress) }

// transact sends one request and waits for its response, retrying a few
// times; datagrams that are not its response are skipped.
func (a *Allocation) transact(typ stun.MessageType, attrs ...stun.Setter) (*stun.Message, error) {
	req, err := stun.Build(append([]stun.Setter{stun.TransactionID, typ}, append(attrs, stun.Fingerprint)...)...)
	if err != nil {
		return nil, err
	}
	defer a.Conn.SetReadDeadline(time.Time{})
	buf := make([]byte, 2048)
	for range 5 {
		if _, err := a.Conn.WriteTo(req.Raw, a.Server); err != nil {
			return nil, err
		}
		a.Conn.SetReadDeadline(time.Now().Add(500 * time.Millisecond))
		for {
			n, _, err := a.Conn.ReadFrom(buf)
			if err != nil {
				break // resend
			}
			res := &stun.Message{Raw: append([]byte(nil), buf[:n]...)}
			if res.Decode() == nil && res.TransactionID == req.TransactionID {
				return res, nil
			}
		}
	}
	return nil, fmt.Errorf("no answer to %s", typ)
}

// ChannelData frames payload for channel number, padded to 4 bytes as
// over TCP (a UDP server must accept the padding too).
func ChannelData(number uint16, payload []byte) []byte {
	b := make([]byte, 4+len(payload), 4+len(payload)+3)
	binary.BigEndian.PutUint16(b[0:], number)
	binary.BigEndian.PutUint16(b[2:], uint16(len(payload)))
	copy(b[4:], payload)
	for len(b)%4 != 0 {
		b = append(b, 0)
	}
	return b
}

// ParseChannelData returns a ChannelData message's channel and payload.
func ParseChannelData(b []byte) (number uint16, payload []byte, ok bool) {
	if len(b) < 4 || b[0]&0xc0 != 0x40 {
		return 0, nil, false
	}
	n := int(binary.BigEndian.Uint16(b[2:4]))
	if 4+n > len(b) {
		return 0, nil, false
	}
	return binary.BigEndian.Uint16(b[0:2]), b[4 : 4+n], true
}

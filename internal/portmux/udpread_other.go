//go:build !linux

package portmux

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchReader reads the socket with x/net's ReadBatch.
type batchReader struct {
	reader interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
	}
	msgs []ipv4.Message
}

func newBatchReader(conn *net.UDPConn, batch, size int) (*batchReader, error) {
	r := &batchReader{reader: ipv6.NewPacketConn(conn), msgs: make([]ipv4.Message, batch)}
	if la, ok := conn.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
		r.reader = ipv4.NewPacketConn(conn)
	}
	for i := range r.msgs {
		r.msgs[i].Buffers = [][]byte{make([]byte, size)}
	}
	return r, nil
}

// read waits for datagrams and returns how many it took.
func (r *batchReader) read() (int, error) { return r.reader.ReadBatch(r.msgs, 0) }

// datagram returns datagram i of the last read and its source.
func (r *batchReader) datagram(i int) (b []byte, from netip.AddrPort, ok bool) {
	ua, ok := r.msgs[i].Addr.(*net.UDPAddr)
	if !ok {
		return nil, netip.AddrPort{}, false
	}
	return r.msgs[i].Buffers[0][:r.msgs[i].N], ua.AddrPort(), true
}

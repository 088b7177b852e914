//go:build !linux

package sfu

import "net"

// sendQueue batches only on Linux (sendmmsg); elsewhere every write goes
// straight to the socket.
type sendQueue struct{}

func newSendQueue(net.PacketConn) *sendQueue            { return nil }
func (q *sendQueue) add(b []byte, to *net.UDPAddr) bool { return false }
func (q *sendQueue) flush()                             {}

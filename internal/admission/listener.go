package admission

import (
	"errors"
	"net"
	"sync"
	"time"
)

// Listener wraps a net.Listener so that each connection it accepts holds a
// place in a gate until it is closed: past the gate's per-source cap a
// connection is closed at once (and Accept goes on), and when the budget
// is full the oldest connection of the largest holder is closed. For
// protocols whose connections never log in to the server (TURN over TCP:
// its requests carry their own credentials).
func (g *Gate) Listener(ln net.Listener) net.Listener { return &gatedListener{Listener: ln, gate: g} }

type gatedListener struct {
	net.Listener
	gate *Gate // read-only
}

func (l *gatedListener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		gc := &gatedConn{Conn: c}
		t, err := l.gate.Enter(c.RemoteAddr(), gc)
		if err != nil {
			c.Close()
			if errors.Is(err, ErrClosed) {
				return nil, &net.OpError{Op: "accept", Net: "tcp", Addr: l.Addr(), Err: net.ErrClosed}
			}
			continue
		}
		gc.setTicket(t)
		return gc, nil
	}
}

// gatedConn gives its place back when closed.
type gatedConn struct {
	net.Conn
	mu     sync.Mutex
	ticket *Ticket // guarded by mu; nil until Enter returns
	closed bool    // guarded by mu
}

func (c *gatedConn) setTicket(t *Ticket) {
	c.mu.Lock()
	c.ticket = t
	closed := c.closed
	c.mu.Unlock()
	if closed {
		t.Leave()
	}
}

func (c *gatedConn) Close() error {
	c.mu.Lock()
	t := c.ticket
	c.closed = true
	c.mu.Unlock()
	if t != nil {
		t.Leave()
	}
	return c.Conn.Close()
}

// Shed implements Member: it closes the connection on a goroutine of its
// own (a TLS close_notify may wait for the peer; the newcomer must not).
func (c *gatedConn) Shed() { go c.Close() }

// Hurry implements Member: the protocol's own timeouts apply.
func (c *gatedConn) Hurry(time.Time) {}

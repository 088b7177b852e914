package admission

import (
	"net"
	"sync"
	"time"
)

// Pending is a TCP connection admitted to a gate while it has not yet said
// what it is. Its read deadline is its ticket's, brought forward when the
// gate comes under pressure; a shed closes it.
type Pending struct {
	conn   net.Conn // read-only
	ticket *Ticket  // set once by Admit

	mu       sync.Mutex
	deadline time.Time // the read deadline set; guarded by mu
	done     bool      // classified or given up: deadlines are no longer ours; guarded by mu
	shed     bool      // the gate shed it; guarded by mu
}

// Admit enters conn into the gate (see Enter) and sets its read deadline.
// On error the caller closes conn.
func (g *Gate) Admit(conn net.Conn) (*Pending, error) {
	p := &Pending{conn: conn}
	t, err := g.Enter(conn.RemoteAddr(), p)
	if err != nil {
		return nil, err
	}
	p.ticket = t
	if d := t.Deadline(); !d.IsZero() {
		p.Hurry(d)
	}
	return p, nil
}

// Deadline is the connection's read deadline now (zero: none).
func (p *Pending) Deadline() time.Time {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.deadline
}

// Hurry implements Member: it brings the read deadline forward to d.
func (p *Pending) Hurry(d time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.done || (!p.deadline.IsZero() && !d.Before(p.deadline)) {
		return
	}
	p.deadline = d
	p.conn.SetReadDeadline(d)
}

// Shed implements Member: it closes the connection unless it has been
// classified meanwhile.
func (p *Pending) Shed() {
	p.mu.Lock()
	done := p.done
	p.done = true
	p.shed = !done
	p.mu.Unlock()
	if !done {
		p.conn.Close()
	}
}

// Classified ends the wait: the read deadline is cleared and the place
// given back. It reports false if the gate shed the connection first (it
// is closed then).
func (p *Pending) Classified() bool {
	p.mu.Lock()
	shed := p.done
	p.done = true
	if !shed {
		p.conn.SetReadDeadline(time.Time{})
	}
	p.mu.Unlock()
	p.ticket.Leave()
	return !shed
}

// WasShed reports whether the gate shed the connection (and closed it).
func (p *Pending) WasShed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.shed
}

// Leave gives the place back without clearing the deadline: the
// connection failed and is being closed.
func (p *Pending) Leave() {
	p.mu.Lock()
	p.done = true
	p.mu.Unlock()
	p.ticket.Leave()
}

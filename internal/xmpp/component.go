package xmpp

import (
	"context"
	"crypto/sha1"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"io"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

// External components (XEP-0114): a trusted program, such as the push
// service of an app (XEP-0357), connects to the component listener, proves
// it knows the shared secret of its domain and then routes stanzas for
// that domain. parley does not federate, so this is how services outside
// the process join it.

const nsComponent = "jabber:component:accept"

// componentQueue bounds what waits to be written to one component.
const componentQueue = 1024

// component is one connected external component. Its read loop routes what
// the component sends; its write loop drains out.
type component struct {
	srv    *Server
	domain string                  // read-only
	t      stream.Transport        // read by the read loop, written by the write loop
	out    chan *xmlstream.Element // routed stanzas; drained by writeLoop
	done   chan struct{}           // closed when the component goes
	once   sync.Once
	// closeErr is the stream error to send before closing, set before done closes.
	closeErr atomic.Pointer[stanza.StreamError]
}

// HandleStanza queues a stanza routed to the component's domain; a full
// queue drops it (and bounces an IQ so that its sender is not left waiting).
func (c *component) HandleStanza(st *xmlstream.Element) {
	select {
	case c.out <- st:
	case <-c.done:
		c.srv.bounce(st, stanza.NewError(stanza.ServiceUnavailable, c.domain+" is not connected"))
	default:
		c.srv.stats.drop(dropQueueFull)
		c.srv.bounce(st, stanza.NewError(stanza.ResourceConstraint, c.domain+" is overloaded"))
	}
}

func (c *component) close() { c.once.Do(func() { close(c.done) }) }

// componentSecret is the shared secret of a configured component domain.
func (s *Server) componentSecret(domain string) (string, bool) {
	secret, ok := s.cfg.Components[domain]
	return secret, ok && secret != ""
}

// ServeComponent runs an XEP-0114 component stream over an accepted
// connection until it ends; it closes conn. Only domains configured in
// Config.Components are accepted.
func (s *Server) ServeComponent(ctx context.Context, conn net.Conn) {
	t := stream.NewTCP(conn, stream.TCPConfig{Limits: s.cfg.Limits, Namespace: nsComponent})
	defer t.Close()
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	conn.SetReadDeadline(time.Now().Add(s.cfg.AuthTimeout))
	c, err := s.componentHandshake(t)
	conn.SetReadDeadline(time.Time{})
	if err != nil {
		var se *stanza.StreamError
		if errors.As(err, &se) {
			t.Write(se.Element())
			t.WriteClose()
		}
		s.cfg.Logger.Info("component refused", "remote", t.RemoteAddr().String(), "err", err)
		return
	}
	log := s.cfg.Logger.With("component", c.domain)
	log.Info("component connected", "remote", t.RemoteAddr().String())
	writerDone := make(chan struct{})
	go func() { c.writeLoop(); close(writerDone) }()
	go func() {
		select {
		case <-ctx.Done():
		case <-c.done:
		}
		c.close()
	}()
	err = c.readLoop()
	s.removeComponent(c)
	var se *stanza.StreamError
	if errors.As(err, &se) {
		c.closeErr.CompareAndSwap(nil, se)
	}
	c.close()
	<-writerDone
	log.Info("component disconnected", "err", err)
}

// componentHandshake reads the stream header and the <handshake/> (XEP-0114
// §3) and registers the component.
func (s *Server) componentHandshake(t stream.Transport) (*component, error) {
	h, err := t.ReadOpen()
	if err != nil {
		return nil, err
	}
	id := s.newID("c")
	if err := t.WriteOpen(stream.Header{From: h.To, ID: id}); err != nil {
		return nil, err
	}
	secret, known := s.componentSecret(h.To)
	if !known {
		return nil, &stanza.StreamError{Condition: stanza.StreamHostUnknown, Text: "no component is configured for " + h.To}
	}
	el, err := t.ReadElement()
	if err != nil {
		return nil, err
	}
	sum := sha1.Sum([]byte(id + secret))
	want := hex.EncodeToString(sum[:])
	if !el.Is(nsComponent, "handshake") || subtle.ConstantTimeCompare([]byte(strings.ToLower(strings.TrimSpace(el.Text))), []byte(want)) != 1 {
		return nil, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "wrong handshake"}
	}
	c := &component{srv: s, domain: h.To, t: t, out: make(chan *xmlstream.Element, componentQueue), done: make(chan struct{})}
	s.mu.Lock()
	if _, taken := s.services[c.domain]; taken {
		s.mu.Unlock()
		return nil, &stanza.StreamError{Condition: stanza.StreamConflict, Text: c.domain + " is already served"}
	}
	s.services[c.domain] = serviceEntry{handler: c}
	s.mu.Unlock()
	if err := t.Write(xmlstream.New(nsComponent, "handshake")); err != nil {
		s.removeComponent(c)
		return nil, err
	}
	return c, nil
}

// removeComponent unroutes c's domain if c still holds it.
func (s *Server) removeComponent(c *component) {
	s.mu.Lock()
	if e, ok := s.services[c.domain]; ok && e.handler == stanza.Handler(c) {
		delete(s.services, c.domain)
	}
	s.mu.Unlock()
}

// readLoop routes what the component sends: stanzas from its own domain only.
func (c *component) readLoop() error {
	for {
		el, err := c.t.ReadElement()
		if err != nil {
			if errors.Is(err, stream.ErrClosed) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
				return nil
			}
			return err
		}
		st := inNamespace(el, nsComponent, xmlstream.NSClient)
		if stanza.Kind(st) == "" {
			return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanza, Text: "unexpected <" + el.Name + "/>"}
		}
		from, ferr := jid.Parse(st.Attr("from"))
		if ferr != nil || from.Domain != c.domain {
			return &stanza.StreamError{Condition: "invalid-from", Text: "a component sends from its own domain"}
		}
		to, terr := jid.Parse(st.Attr("to"))
		if terr != nil {
			c.HandleStanza(stanza.ErrorReply(st, stanza.NewError(stanza.JIDMalformed, "malformed to address")))
			continue
		}
		if st.Name == "iq" && !validIQ(st) {
			c.HandleStanza(stanza.ErrorReply(st, stanza.NewError(stanza.BadRequest, "an IQ get or set carries exactly one payload and an id")))
			continue
		}
		c.srv.stats.receive(st.Name)
		c.srv.route(st, to)
	}
}

// writeLoop writes what is routed to the component, in its namespace.
func (c *component) writeLoop() {
	defer func() {
		c.t.WriteClose()
		c.t.Close()
	}()
	for {
		select {
		case <-c.done:
			if se := c.closeErr.Load(); se != nil {
				c.t.Write(se.Element())
			}
			return
		case st := <-c.out:
			if st == nil {
				continue
			}
			if err := c.t.Write(inNamespace(st, xmlstream.NSClient, nsComponent)); err != nil {
				c.close()
				return
			}
			c.srv.stats.delivered.Add(1)
		}
	}
}

// inNamespace returns el with every element in namespace from (el itself
// and its descendants: a message's body is in the stanza's namespace) moved
// to namespace to; el is not modified, and untouched subtrees are shared.
func inNamespace(el *xmlstream.Element, from, to string) *xmlstream.Element {
	if !usesNamespace(el, from) {
		return el
	}
	c := el.ShallowCopy()
	if c.Space == from {
		c.Space = to
	}
	if len(el.Children) > 0 {
		c.Children = make([]*xmlstream.Element, len(el.Children))
		for i, ch := range el.Children {
			c.Children[i] = inNamespace(ch, from, to)
		}
	}
	return c
}

func usesNamespace(el *xmlstream.Element, ns string) bool {
	if el.Space == ns {
		return true
	}
	for _, ch := range el.Children {
		if usesNamespace(ch, ns) {
			return true
		}
	}
	return false
}

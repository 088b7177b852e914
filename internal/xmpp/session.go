package xmpp

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"parley.dev/parley/internal/admission"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

// session is one client connection. Its read loop is the actor that owns the
// negotiation state and processes everything the client sends; after bind a
// write loop drains the bounded send queue so that routing never blocks on
// a slow client.
type session struct {
	srv *Server
	t   stream.Transport
	log *slog.Logger

	// Owned by the read loop.
	user      string // authenticated username (localpart), "" before SASL
	anonymous bool   // written before the session is registered; read-only afterwards (IsAnonymous)
	saslFails int
	mech      string // the SASL mechanism last asked for, for the failure counters
	urlToken  string // the WebSocket URL's token, "" if none (tokenauth.go)
	urlResume string // the WebSocket URL's guest resumption token (resume.go)
	// identity is how the session authenticated: written by the read loop
	// before the session is registered, read-only afterwards.
	identity   Identity
	invite     string         // XEP-0401 token a preauth IQ presented
	registered bool           // an account was registered on this stream
	sasl2      *sasl2Exchange // the SASL2 (XEP-0388) exchange under way, nil for RFC 6120 SASL
	limiter    *rate.Limiter
	admission  *admission.Ticket // the place in Config.Unauthenticated until login, then Guests for a guest; nil without
	member     *sessionMember    // what admission's gate holds

	// full is the bound JID. Written once by the read loop before the session
	// is registered with the router; read-only afterwards.
	full  jid.JID
	bound atomic.Bool // set once full is written; the flag other goroutines read

	out       chan *xmlstream.Element // send queue; drained by writeLoop
	done      chan struct{}           // closed when the session ends
	closeOnce sync.Once
	closeErr  atomic.Pointer[stanza.StreamError] // stream error to send before closing, if any

	lastRead atomic.Int64 // unix nanoseconds of the last element read
	pinged   atomic.Bool  // an idle ping is outstanding
	probing  atomic.Bool  // a CheckAlive ping is outstanding
	timer    *time.Timer  // idle / auth timer

	pres presenceState // guarded by pres.mu

	carbons    atomic.Bool             // XEP-0280 enabled
	csiActive  atomic.Bool             // XEP-0352: false while the client says it is inactive
	sm         atomic.Pointer[smState] // XEP-0198 state once enabled (or resumed)
	writerDone chan struct{}           // closed when writeLoop returns; made at bind
	csi        csiBuffer               // what waits for the client to become active
}

// ServeTCP runs an XMPP client session over an accepted TCP connection until
// it ends. It closes conn.
func (s *Server) ServeTCP(ctx context.Context, conn net.Conn) {
	s.serve(ctx, stream.NewTCP(conn, stream.TCPConfig{Limits: s.cfg.Limits, ServerTLS: s.cfg.TLS}))
}

// ServeTransport runs a session over any transport (WebSocket sessions come
// through here). It closes t.
func (s *Server) ServeTransport(ctx context.Context, t stream.Transport) {
	s.serve(ctx, t)
}

func (s *Server) serve(ctx context.Context, t stream.Transport) {
	s.mu.RLock()
	closed := s.closed
	s.mu.RUnlock()
	if closed {
		t.Close()
		return
	}
	s.wg.Add(1)
	defer s.wg.Done()
	s.stats.connections.Add(1)
	defer s.stats.connections.Add(-1)

	ss := &session{
		srv:     s,
		t:       t,
		log:     s.cfg.Logger.With("remote", t.RemoteAddr().String()),
		limiter: rate.NewLimiter(rate.Limit(s.cfg.StanzaRate), s.cfg.StanzaBurst),
		done:    make(chan struct{}),

		urlToken:  urlTokenFrom(ctx),
		urlResume: urlResumeFrom(ctx),
	}
	if !ss.admit() {
		t.Close()
		return
	}
	defer ss.leaveAdmission()
	ss.lastRead.Store(s.cfg.Clock().UnixNano())
	ss.timer = time.AfterFunc(s.cfg.AuthTimeout, ss.authTimeout)
	err := ss.run(ctx)
	ss.timer.Stop()
	ss.finish(err)
}

// run negotiates the stream, then reads stanzas until the stream ends.
func (ss *session) run(ctx context.Context) error {
	if err := ss.negotiate(); err != nil {
		return err
	}
	ss.timer.Reset(ss.srv.cfg.PingInterval)
	go ss.writeLoop()
	for {
		el, err := ss.t.ReadElement()
		if err != nil {
			return err
		}
		ss.touch()
		if err := ss.limiter.Wait(ctx); err != nil {
			return err
		}
		if err := ss.handleStanza(el); err != nil {
			return err
		}
		if stanza.Kind(el) != "" {
			ss.countInbound()
		}
	}
}

// touch records inbound traffic; it keeps the idle ping away.
func (ss *session) touch() {
	ss.lastRead.Store(ss.srv.cfg.Clock().UnixNano())
	ss.pinged.Store(false)
}

// finish sends the stream error if any, closes the stream and unregisters.
func (ss *session) finish(err error) {
	var se *stanza.StreamError
	var cond interface{ Condition() string }
	switch {
	case err == nil, errors.Is(err, stream.ErrClosed), errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed):
	case errors.As(err, &se):
		ss.closeErr.CompareAndSwap(nil, se)
	case errors.As(err, &cond):
		ss.closeErr.CompareAndSwap(nil, &stanza.StreamError{Condition: cond.Condition(), Text: err.Error()})
	default:
		ss.log.Debug("session ended", "err", err)
	}
	managed := ss.bound.Load() && ss.sm.Load() != nil
	hibernate := managed && ss.smShouldHibernate(err)
	if managed {
		ss.log.Debug("managed session closing", "err", err, "hibernate", hibernate)
	}
	ss.closeOnce.Do(func() { close(ss.done) })
	if ss.bound.Load() {
		if hibernate {
			ss.t.Close() // unblocks a write loop stuck on a dead peer
		}
		if managed {
			<-ss.writerDone
		}
		if !hibernate {
			ss.srv.unregister(ss)
			ss.srv.endPresence(ss)
		}
		if managed {
			ss.smAfterClose(hibernate)
		}
	} else {
		// No write loop was started: say goodbye from here.
		ss.writeGoodbye()
		ss.t.Close()
	}
}

// closeWithError asks the session to end with a stream error. Safe from any goroutine.
func (ss *session) closeWithError(se *stanza.StreamError) {
	ss.closeErr.CompareAndSwap(nil, se)
	ss.closeOnce.Do(func() { close(ss.done) })
	if !ss.bound.Load() {
		// Negotiating: the read loop owns writes; closing the transport
		// unblocks it and it writes nothing more.
		ss.t.Close()
	}
}

func (ss *session) writeGoodbye() {
	if se := ss.closeErr.Load(); se != nil {
		ss.t.Write(se.Element())
	}
	ss.t.WriteClose()
}

// send queues a stanza for the client without blocking. It reports whether
// the stanza was queued; a full queue drops it and counts the drop.
func (ss *session) send(st *xmlstream.Element) bool {
	if handled, ok := ss.smHold(st); handled {
		return ok
	}
	if !ss.csiActive.Load() && ss.csiHold(st) {
		return true
	}
	return ss.sendNow(st)
}

// sendNow queues st, past stream management and CSI.
func (ss *session) sendNow(st *xmlstream.Element) bool {
	select {
	case <-ss.done:
		ss.srv.stats.drop(dropSessionClosed)
		return false
	default:
	}
	select {
	case ss.out <- st:
		return true
	default:
		ss.srv.stats.drop(dropQueueFull)
		return false
	}
}

// writeLoop owns the transport's write side after bind: it drains the queue
// in batches, and on the end of the session says goodbye and closes.
func (ss *session) writeLoop() {
	batch := make([]*xmlstream.Element, 0, 17)
	counting := ss.sm.Load() // set when resumed; else once <enabled/> is written
	defer func() {
		ss.writeGoodbye()
		ss.t.Close()
		close(ss.writerDone)
	}()
	for {
		select {
		case <-ss.done:
			return
		case st := <-ss.out:
			batch = append(batch[:0], st)
		drain:
			for len(batch) < cap(batch)-1 {
				select {
				case st := <-ss.out:
					batch = append(batch, st)
				default:
					break drain
				}
			}
			counted := batch
			for i, st := range batch {
				if st.Is(nsSM, "enabled") {
					// Counting starts right after <enabled/>, in this batch too.
					counting, counted = ss.sm.Load(), batch[i+1:]
				}
			}
			if counting != nil {
				requestAck, ok := counting.writeCounted(counted)
				if !ok {
					ss.closeErr.CompareAndSwap(nil, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "too many unacknowledged stanzas"})
					ss.closeOnce.Do(func() { close(ss.done) })
					return
				}
				if requestAck {
					batch = append(batch, xmlstream.New(nsSM, "r"))
				}
			}
			if err := ss.t.Write(batch...); err != nil {
				ss.closeOnce.Do(func() { close(ss.done) })
				ss.t.Close()
				return
			}
			ss.srv.stats.delivered.Add(uint64(len(batch)))
			clear(batch)
		}
	}
}

// authTimeout fires while negotiating (closing a connection that never
// authenticated) and, after bind, as the idle timer that pings.
func (ss *session) authTimeout() {
	if !ss.bound.Load() {
		ss.closeWithError(&stanza.StreamError{Condition: stanza.StreamConnectionTimeout, Text: "authentication took too long"})
		return
	}
	cfg := &ss.srv.cfg
	idle := cfg.Clock().Sub(time.Unix(0, ss.lastRead.Load()))
	switch {
	case ss.pinged.Load() && idle >= cfg.PingInterval+cfg.PingTimeout:
		ss.closeWithError(&stanza.StreamError{Condition: stanza.StreamConnectionTimeout, Text: "no answer to ping"})
	case idle >= cfg.PingInterval && !ss.pinged.Load():
		ss.pinged.Store(true)
		ss.send(stanza.IQ("get", ss.srv.newID("ping"), ss.srv.domain, ss.full,
			xmlstream.New(nsPing, "ping")))
		ss.timer.Reset(cfg.PingTimeout)
	default:
		wait := cfg.PingInterval - idle
		if ss.pinged.Load() {
			wait = cfg.PingInterval + cfg.PingTimeout - idle
		}
		ss.timer.Reset(max(wait, time.Second))
	}
}

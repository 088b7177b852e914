package xmpp

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strconv"
	"sync"
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

// Stream Management (XEP-0198) with resumption.
//
// Counting: the read loop counts the stanzas it handled (inbound, the h the
// server reports); the write loop puts each stanza it writes, after it
// wrote <enabled/>, on the unacked list and counts it (outCount). A client's
// <a h/> trims the list.
//
// When a resumable session's connection dies, the session hibernates: it
// stays routable, what is routed to it is held, and after ResumeTimeout
// without a <resume/> it ends. Its unacknowledged and held messages are
// then rescued: delivered to the account's other resources or stored
// offline, never dropped. A resume takes the hibernating session's state
// over on the new connection and resends what the client did not
// acknowledge, then what was held, in order.

const nsSM = "urn:xmpp:sm:3"

// maxUnacked bounds the stanzas a client may leave unacknowledged; beyond
// it the stream is closed (the client is not acking).
const maxUnacked = 5000

// smState is the stream-management state of one session; it survives the
// connection when the session is resumed.
type smState struct {
	id        string // resumption id, "" when not resumable; read-only
	user      string // owner account; read-only
	resumable bool   // read-only

	mu          sync.Mutex
	inbound     uint32               // stanzas handled from the client; guarded by mu
	outCount    uint32               // stanzas written after <enabled/>; guarded by mu
	unacked     []*xmlstream.Element // written, not acknowledged, oldest first; guarded by mu
	held        []*xmlstream.Element // routed while hibernating; guarded by mu
	hibernating bool                 // guarded by mu
	ended       bool                 // no resumption possible any more; guarded by mu
	owner       *session             // the session now carrying this state; guarded by mu
	timer       *time.Timer          // hibernation expiry; guarded by mu
	requested   bool                 // a <r/> is outstanding; guarded by mu
	pushed      bool                 // a push notification went out during this hibernation; guarded by mu
}

// ackTo trims the unacked list to the client's h. Called with mu held.
// Like Prosody, it is lenient: an h beyond what was sent acknowledges
// everything, an h going backwards nothing. xmpp.js 0.14 starts its
// counter at a moment that races with the stanzas around <enabled/>, so
// its h is off by one either way; closing the stream would lose more.
func (sm *smState) ackTo(h uint32) {
	n := int(int32(h - (sm.outCount - uint32(len(sm.unacked)))))
	n = max(0, min(n, len(sm.unacked)))
	clear(sm.unacked[:n])
	sm.unacked = sm.unacked[n:]
	sm.requested = false
}

func smFailed(cond string) *xmlstream.Element {
	return xmlstream.New(nsSM, "failed").Add(xmlstream.New(stanza.NSStanzas, cond))
}

// handleSMElement handles <enable/>, <r/> and <a/> from a bound client.
func (ss *session) handleSMElement(el *xmlstream.Element) error {
	sm := ss.sm.Load()
	switch el.Name {
	case "enable":
		if sm != nil {
			ss.send(smFailed("unexpected-request"))
			return nil
		}
		ss.send(ss.smEnable(el))
	case "r":
		if sm == nil {
			return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanza, Text: "stream management is not enabled"}
		}
		sm.mu.Lock()
		h := sm.inbound
		sm.mu.Unlock()
		ss.send(xmlstream.New(nsSM, "a", "h", strconv.FormatUint(uint64(h), 10)))
	case "a":
		if sm == nil {
			return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanza, Text: "stream management is not enabled"}
		}
		h, err := strconv.ParseUint(el.Attr("h"), 10, 32)
		if err != nil {
			return &stanza.StreamError{Condition: stanza.StreamInvalidXML, Text: "h is not a counter"}
		}
		sm.mu.Lock()
		sm.ackTo(uint32(h))
		sm.mu.Unlock()
	default:
		return &stanza.StreamError{Condition: stanza.StreamUnsupportedStanza, Text: "unexpected <" + el.Name + "/>"}
	}
	return nil
}

// smEnable turns stream management on (its <enable/> is el) and returns
// the <enabled/> to send; the write loop counts what follows it.
func (ss *session) smEnable(el *xmlstream.Element) *xmlstream.Element {
	resume := el.Attr("resume") == "true" || el.Attr("resume") == "1"
	sm := &smState{user: ss.user, resumable: resume && !ss.anonymous, owner: ss}
	enabled := xmlstream.New(nsSM, "enabled")
	if sm.resumable {
		var b [12]byte
		rand.Read(b[:])
		sm.id = hex.EncodeToString(b[:])
		ss.srv.mu.Lock()
		ss.srv.smSessions[sm.id] = sm
		ss.srv.mu.Unlock()
		enabled.SetAttr("id", sm.id)
		enabled.SetAttr("resume", "true")
		enabled.SetAttr("max", strconv.Itoa(int(ss.srv.cfg.ResumeTimeout/time.Second)))
	}
	ss.sm.Store(sm)
	return enabled
}

// countInbound counts a stanza the client sent once it is handled.
func (ss *session) countInbound() {
	if sm := ss.sm.Load(); sm != nil {
		sm.mu.Lock()
		sm.inbound++
		sm.mu.Unlock()
	}
}

// smHold is send's path for a session with stream management: while the
// session hibernates, stanzas are held for the resumption; a stanza for a
// session that was resumed goes to the one that carries on. It reports
// whether it took the stanza.
func (ss *session) smHold(st *xmlstream.Element) (handled, ok bool) {
	sm := ss.sm.Load()
	if sm == nil || !sm.resumable {
		return false, false
	}
	sm.mu.Lock()
	switch {
	case sm.hibernating:
		if stanza.Kind(st) == "" {
			sm.mu.Unlock()
			return true, false
		}
		if len(sm.held) < ss.srv.cfg.SendQueue {
			sm.held = append(sm.held, st)
			// One push wakes the app; it reads the rest on resumption.
			push := !sm.pushed && pushWorthy(st)
			sm.pushed = sm.pushed || push
			waiting := len(sm.held) + len(sm.unacked)
			sm.mu.Unlock()
			if push {
				ss.srv.pushNotify(sm.user, ss.full.Resource, waiting)
			}
			return true, true
		}
		sm.mu.Unlock()
		ss.srv.rescue(sm.user, st)
		return true, true
	case sm.owner != ss && !sm.ended:
		next := sm.owner
		sm.mu.Unlock()
		return true, next.send(st)
	}
	sm.mu.Unlock()
	return false, false
}

// writeCounted records stanzas the write loop is about to write. It
// returns false when the client leaves too many unacknowledged.
func (sm *smState) writeCounted(batch []*xmlstream.Element) (requestAck, ok bool) {
	sm.mu.Lock()
	defer sm.mu.Unlock()
	n := 0
	for _, st := range batch {
		if stanza.Kind(st) != "" {
			sm.unacked = append(sm.unacked, st)
			sm.outCount++
			n++
		}
	}
	if len(sm.unacked) > maxUnacked {
		return false, false
	}
	if n > 0 && !sm.requested {
		sm.requested = true
		return true, true
	}
	return false, true
}

// smShouldHibernate decides, before the session closes, whether it waits
// for a resumption; if so, from now on what is routed to it is held.
func (ss *session) smShouldHibernate(err error) bool {
	sm := ss.sm.Load()
	if sm == nil || !sm.resumable {
		return false
	}
	if err == nil || errors.Is(err, stream.ErrClosed) {
		return false // the client closed its stream: it will not resume
	}
	if se := ss.closeErr.Load(); se != nil {
		switch se.Condition {
		case stanza.StreamConflict, stanza.StreamSystemShutdown, stanza.StreamPolicyViolation:
			return false
		}
	}
	ss.srv.mu.RLock()
	closed := ss.srv.closed
	ss.srv.mu.RUnlock()
	if closed {
		return false
	}
	sm.mu.Lock()
	defer sm.mu.Unlock()
	if sm.owner != ss || sm.ended {
		return false
	}
	sm.hibernating = true
	return true
}

// smAfterClose runs once the write loop is gone: stanzas it never wrote
// join the held ones (before those routed later), and either the
// hibernation timer starts or the session ends and its stanzas are rescued.
func (ss *session) smAfterClose(hibernate bool) {
	sm := ss.sm.Load()
	// What CSI held back was routed before what is still queued.
	ss.csi.mu.Lock()
	unsent := ss.csi.held
	ss.csi.held = nil
	ss.csi.mu.Unlock()
	for {
		select {
		case st := <-ss.out:
			if stanza.Kind(st) != "" {
				unsent = append(unsent, st)
			}
			continue
		default:
		}
		break
	}
	sm.mu.Lock()
	sm.held = append(unsent, sm.held...)
	if hibernate {
		sm.timer = time.AfterFunc(ss.srv.cfg.ResumeTimeout, func() { ss.srv.smExpire(sm, ss) })
		unacked, held := len(sm.unacked), len(sm.held)
		sm.mu.Unlock()
		ss.log.Debug("session hibernates", "unacked", unacked, "held", held)
		return
	}
	sm.mu.Unlock()
	ss.srv.smEnd(sm, ss)
}

// smExpire ends a hibernating session nobody resumed.
func (s *Server) smExpire(sm *smState, ss *session) {
	sm.mu.Lock()
	if sm.owner != ss || !sm.hibernating {
		sm.mu.Unlock()
		return
	}
	sm.mu.Unlock()
	// End first: the presence broadcast below must not be held.
	if !s.smEnd(sm, ss) {
		return // resumed meanwhile
	}
	s.unregister(ss)
	s.endPresence(ss)
}

// endHibernating ends every session waiting for a resumption, at shutdown,
// so that their stanzas reach offline storage while the store is open.
func (s *Server) endHibernating() {
	s.mu.RLock()
	var waiting []*smState
	for _, sm := range s.smSessions {
		waiting = append(waiting, sm)
	}
	s.mu.RUnlock()
	for _, sm := range waiting {
		sm.mu.Lock()
		owner, hibernating := sm.owner, sm.hibernating
		if hibernating && sm.timer != nil {
			sm.timer.Stop()
		}
		sm.mu.Unlock()
		if hibernating {
			s.smExpire(sm, owner)
		}
	}
}

// smEnd makes sm unresumable and rescues its stanzas; false when another
// session carries sm now.
func (s *Server) smEnd(sm *smState, ss *session) bool {
	sm.mu.Lock()
	if sm.owner != ss || sm.ended {
		sm.mu.Unlock()
		return false
	}
	sm.ended, sm.hibernating = true, false
	pending := append(sm.unacked, sm.held...)
	sm.unacked, sm.held = nil, nil
	sm.mu.Unlock()
	if sm.id != "" {
		s.mu.Lock()
		delete(s.smSessions, sm.id)
		s.mu.Unlock()
	}
	for _, st := range pending {
		s.rescue(sm.user, st)
	}
	return true
}

// rescue delivers a message a session will never acknowledge to the
// account's other available resources, or stores it offline.
func (s *Server) rescue(user string, st *xmlstream.Element) {
	if st.Name != "message" || !storableOffline(st) {
		return
	}
	bare := jidOf(user, s.domain.Domain)
	if len(s.messageToBare(st, bare)) > 0 {
		return
	}
	if s.cfg.Accounts.Exists(user) {
		s.storeOffline(user, st)
	}
}

// resume takes over a hibernating session (XEP-0198 §5). ok reports that
// this connection now carries it; otherwise <failed/> was sent and the
// client may bind a new resource.
func (ss *session) resume(el *xmlstream.Element) (ok bool, err error) {
	ok, reply := ss.resumeReply(el)
	return ok, ss.t.Write(reply)
}

// resumeReply takes the hibernating session over if it can and returns
// the <resumed/> or <failed/> to send (alone, or inside a SASL2 success).
func (ss *session) resumeReply(el *xmlstream.Element) (ok bool, reply *xmlstream.Element) {
	h, perr := strconv.ParseUint(el.Attr("h"), 10, 32)
	s := ss.srv
	s.mu.RLock()
	sm := s.smSessions[el.Attr("previd")]
	s.mu.RUnlock()
	if perr != nil || sm == nil || sm.user != ss.user {
		return false, smFailed("item-not-found")
	}
	// The old connection may not have noticed it is dead yet.
	for range 50 {
		sm.mu.Lock()
		old, waiting := sm.owner, !sm.hibernating && !sm.ended
		sm.mu.Unlock()
		if !waiting {
			break
		}
		old.t.Close()
		time.Sleep(100 * time.Millisecond)
	}
	sm.mu.Lock()
	old := sm.owner
	if !sm.hibernating || sm.ended {
		sm.mu.Unlock()
		return false, smFailed("item-not-found")
	}
	sm.ackTo(uint32(h))
	sm.timer.Stop()
	resend := append(sm.unacked, sm.held...)
	sm.unacked, sm.held = nil, nil
	sm.outCount = uint32(h)
	inbound := sm.inbound

	ss.full = old.full
	ss.anonymous = old.anonymous
	ss.carbons.Store(old.carbons.Load())
	ss.csiActive.Store(true) // the client says again if it is inactive
	ss.pres.takeOver(&old.pres)
	ss.out = make(chan *xmlstream.Element, s.cfg.SendQueue+len(resend))
	ss.writerDone = make(chan struct{})
	ss.sm.Store(sm)
	ss.bound.Store(true)
	ss.log = ss.log.With("jid", ss.full.String())
	for _, st := range resend {
		ss.out <- st
	}
	sm.owner = ss
	sm.hibernating, sm.pushed = false, false
	sm.mu.Unlock()

	s.register(ss) // replaces old, already closed
	s.stats.sessions.Add(-1)
	s.stats.resumed.Add(1)
	ss.log.Debug("session resumed", "resent", len(resend))
	return true, xmlstream.New(nsSM, "resumed",
		"h", strconv.FormatUint(uint64(inbound), 10), "previd", sm.id)
}

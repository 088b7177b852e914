package xmpp

import (
	"encoding/binary"
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Offline messages (XEP-0160): a message for an account with no available
// resource is kept in the store, stamped with a delay, and delivered to the
// first resource that sends available presence with a non-negative priority.

const bucketOffline = "offline"

// userKey is user NUL id: every key of one user shares the prefix.
func userKey(user string, id uint64) []byte {
	k := make([]byte, 0, len(user)+9)
	k = append(k, user...)
	k = append(k, 0)
	return binary.BigEndian.AppendUint64(k, id)
}

func userPrefix(user string) []byte {
	return append([]byte(user), 0)
}

// keyID reads the id back from a userKey.
func keyID(k []byte) uint64 {
	if len(k) < 8 {
		return 0
	}
	return binary.BigEndian.Uint64(k[len(k)-8:])
}

// nextStamp returns a unique, increasing id: the time in nanoseconds, bumped
// when two calls share a nanosecond. Archive ids and offline keys use it, so
// an id also says when its message came.
func (s *Server) nextStamp() uint64 {
	now := uint64(s.cfg.Clock().UnixNano())
	for {
		last := s.lastStamp.Load()
		id := max(now, last+1)
		if s.lastStamp.CompareAndSwap(last, id) {
			return id
		}
	}
}

// storeOffline keeps st for user; beyond OfflineLimit it bounces instead.
func (s *Server) storeOffline(user string, st *xmlstream.Element) {
	n := 0
	s.cfg.Store.Scan(bucketOffline, userPrefix(user), nil, false, func(_, _ []byte) bool {
		n++
		return n < s.cfg.OfflineLimit
	})
	if n >= s.cfg.OfflineLimit {
		s.stats.drop(dropOfflineFull)
		s.bounceUnavailable(st)
		return
	}
	id := s.nextStamp()
	stamped := withDelay(st, s.domain.Domain, time.Unix(0, int64(id)))
	if err := s.cfg.Store.Put(bucketOffline, userKey(user, id), []byte(stamped.String())); err != nil {
		s.cfg.Logger.Error("offline store", "user", user, "err", err)
		s.bounceUnavailable(st)
		return
	}
	s.stats.offlineStored.Add(1)
	if pushWorthy(st) {
		s.pushNotify(user, "", n+1)
	}
}

// deliverOffline sends a session the messages kept for its account and
// removes them from the store.
func (s *Server) deliverOffline(ss *session) {
	if ss.anonymous {
		return
	}
	prefix := userPrefix(ss.user)
	var msgs []*xmlstream.Element
	var lastKey []byte
	// Two resources coming online at once must not both get a message:
	// read and remove under one lock, then send.
	s.offlineMu.Lock()
	defer s.offlineMu.Unlock()
	s.cfg.Store.Scan(bucketOffline, prefix, nil, false, func(k, v []byte) bool {
		lastKey = k
		el, err := xmlstream.ParseElementIn(v, xmlstream.Limits{}, xmlstream.NSClient)
		if err != nil {
			s.cfg.Logger.Error("offline message unreadable", "user", ss.user, "err", err)
			return true
		}
		msgs = append(msgs, el)
		return len(msgs) < s.cfg.SendQueue/2
	})
	if lastKey == nil {
		return
	}
	end := append(lastKey, 0) // just past the last key delivered
	if _, err := s.cfg.Store.DeleteRange(bucketOffline, prefix, end); err != nil {
		s.cfg.Logger.Error("offline store", "user", ss.user, "err", err)
		return // kept for the next login rather than delivered twice
	}
	for _, m := range msgs {
		m.SetAttr("to", ss.full.String())
		ss.send(m)
	}
	if len(msgs) == s.cfg.SendQueue/2 {
		// More than one queue's worth: the rest follows once these are out.
		time.AfterFunc(100*time.Millisecond, func() {
			if avail, _ := ss.pres.availability(); avail {
				s.deliverOffline(ss)
			}
		})
	}
}

func (s *Server) bounceUnavailable(st *xmlstream.Element) {
	s.bounce(st, stanza.NewError(stanza.ServiceUnavailable, "the recipient is not available"))
}

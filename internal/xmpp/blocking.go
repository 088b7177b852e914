package xmpp

import (
	"bytes"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Blocking Command (XEP-0191). A user's block list is a set of keys
// user NUL jid in the store; stanzas from a blocked JID (full, bare or
// domain, as XEP-0016 matches them) are dropped, IQs get an error.

const (
	nsBlocking   = "urn:xmpp:blocking"
	bucketBlocks = "blocks"
	// maxBlockItems bounds one block list.
	maxBlockItems = 1000
)

func blockKey(user, j string) []byte {
	return append(append([]byte(user), 0), j...)
}

// isBlocked reports whether user blocks from.
func (s *Server) isBlocked(user string, from jid.JID) bool {
	if user == "" || from.IsZero() {
		return false
	}
	for _, j := range []string{from.String(), from.Bare().String(), from.Domain} {
		if v, _ := s.cfg.Store.Get(bucketBlocks, blockKey(user, j)); v != nil {
			return true
		}
	}
	return false
}

// blockList returns user's blocked JIDs in order.
func (s *Server) blockList(user string) []string {
	var out []string
	prefix := userPrefix(user)
	s.cfg.Store.Scan(bucketBlocks, prefix, nil, false, func(k, _ []byte) bool {
		out = append(out, string(bytes.TrimPrefix(k, prefix)))
		return true
	})
	return out
}

// handleBlockingIQ serves blocklist, block and unblock (XEP-0191 §3).
func (s *Server) handleBlockingIQ(ss *session, iq, payload *xmlstream.Element) {
	typ := iq.Attr("type")
	user := ss.user
	switch {
	case payload.Name == "blocklist" && typ == "get":
		ss.pres.setBlockInterest()
		res := xmlstream.New(nsBlocking, "blocklist")
		for _, j := range s.blockList(user) {
			res.Add(xmlstream.New(nsBlocking, "item", "jid", j))
		}
		ss.send(stanza.IQResult(iq, res))
	case (payload.Name == "block" || payload.Name == "unblock") && typ == "set":
		var items []string
		for _, it := range payload.ChildrenNamed(nsBlocking, "item") {
			j, err := jid.Parse(it.Attr("jid"))
			if err != nil {
				ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.JIDMalformed, "")))
				return
			}
			items = append(items, j.String())
		}
		if payload.Name == "block" && len(items) == 0 {
			ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "block at least one JID")))
			return
		}
		if payload.Name == "block" && len(s.blockList(user))+len(items) > maxBlockItems {
			ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.ResourceConstraint, "the block list is full")))
			return
		}
		switch {
		case payload.Name == "block":
			for _, j := range items {
				s.cfg.Store.Put(bucketBlocks, blockKey(user, j), []byte{1})
			}
		case len(items) == 0:
			s.cfg.Store.DeletePrefix(bucketBlocks, userPrefix(user))
		default:
			for _, j := range items {
				s.cfg.Store.Delete(bucketBlocks, blockKey(user, j))
			}
		}
		ss.send(stanza.IQResult(iq))
		s.pushBlocking(ss, payload.Name, items)
	default:
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "")))
	}
}

// pushBlocking tells the user's resources that asked for the block list
// about a change (XEP-0191 §3.3).
func (s *Server) pushBlocking(from *session, op string, items []string) {
	for _, o := range s.sessionsOf(from.full.Bare()) {
		if !o.pres.blockInterested() {
			continue
		}
		p := xmlstream.New(nsBlocking, op)
		for _, j := range items {
			p.Add(xmlstream.New(nsBlocking, "item", "jid", j))
		}
		o.send(stanza.IQ("set", s.newID("block"), from.full.Bare(), o.full, p))
	}
}

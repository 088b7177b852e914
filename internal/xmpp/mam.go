package xmpp

import (
	"bytes"
	"math"
	"slices"
	"strconv"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Message Archive Management (XEP-0313) for accounts, with RSM paging
// (XEP-0059). Each account's archive is a run of keys user NUL id in the
// store, id being nextStamp's nanosecond time: key order is time order, a
// date range is a key range, and an archive id says when its message came.

const (
	nsMAM     = "urn:xmpp:mam:2"
	nsRSM     = "http://jabber.org/protocol/rsm"
	nsXData   = "jabber:x:data"
	bucketMAM = "mam"
	// mamDefaultMax and mamMaxMax bound one page.
	mamDefaultMax = 50
	mamMaxMax     = 250
	// mamCountLimit bounds the entries read to count a query's results.
	mamCountLimit = 2000
)

// archivedMessage is one archive entry: the other party and the stanza.
func encodeArchived(with string, st *xmlstream.Element) []byte {
	b := append([]byte(with), 0)
	return st.Append(b, "")
}

func decodeArchived(v []byte) (with string, xml []byte) {
	i := bytes.IndexByte(v, 0)
	if i < 0 {
		return "", nil
	}
	return string(v[:i]), v[i+1:]
}

// archive stores an incoming message in user's archive and returns the copy
// to deliver, carrying the archive id as an XEP-0359 stanza-id (any
// stanza-id claiming to be ours that the sender put there is removed).
func (s *Server) archive(user string, from jid.JID, st *xmlstream.Element) *xmlstream.Element {
	by := jid.JID{Local: user, Domain: s.domain.Domain}.String()
	c := st.ShallowCopy()
	c.Children = make([]*xmlstream.Element, 0, len(st.Children)+1)
	for _, ch := range st.Children {
		if ch.Is(nsStanzaID, "stanza-id") && ch.Attr("by") == by {
			continue
		}
		c.Children = append(c.Children, ch)
	}
	id, ok := s.archivePut(user, from.String(), c)
	if !ok {
		return st
	}
	c.Children = append(c.Children, xmlstream.New(nsStanzaID, "stanza-id", "by", by, "id", strconv.FormatUint(id, 10)))
	return c
}

// archiveOutgoing stores a message a user sent.
func (s *Server) archiveOutgoing(user string, to jid.JID, st *xmlstream.Element) *xmlstream.Element {
	s.archivePut(user, to.String(), st)
	return st
}

func (s *Server) archivePut(user, with string, st *xmlstream.Element) (uint64, bool) {
	id := s.nextStamp()
	if err := s.cfg.Store.Put(bucketMAM, userKey(user, id), encodeArchived(with, st)); err != nil {
		s.cfg.Logger.Error("archive write", "user", user, "err", err)
		return 0, false
	}
	s.stats.archived.Add(1)
	s.pruneArchive(user)
	return id, true
}

// pruneArchive drops what is older than ArchiveRetention from user's
// archive, at most once an hour per user.
func (s *Server) pruneArchive(user string) {
	keep := s.cfg.ArchiveRetention
	if keep <= 0 {
		return
	}
	now := s.cfg.Clock()
	s.pruneMu.Lock()
	last, ok := s.lastPrune[user]
	if ok && now.Sub(last) < time.Hour {
		s.pruneMu.Unlock()
		return
	}
	s.lastPrune[user] = now
	s.pruneMu.Unlock()
	cutoff := uint64(now.Add(-keep).UnixNano())
	s.cfg.Store.DeleteRange(bucketMAM, userPrefix(user), userKey(user, cutoff))
}

// mamQuery is a parsed archive query.
type mamQuery struct {
	queryID    string
	with       jid.JID
	lo, hi     uint64 // id range, inclusive
	max        int
	backward   bool // RSM <before/>: the last page, or the page before an id
	flipPage   bool // XEP-0313 flip-page: newest first
	afterGiven uint64
}

// handleMAMIQ answers archive queries and preferences (XEP-0313 §4, §6).
func (s *Server) handleMAMIQ(ss *session, iq, payload *xmlstream.Element) {
	typ := iq.Attr("type")
	switch {
	case ss.anonymous:
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.ServiceUnavailable, "guests have no archive")))
	case payload.Name == "prefs":
		// Everything is archived; the preference is reported, not stored.
		ss.send(stanza.IQResult(iq, xmlstream.New(nsMAM, "prefs", "default", "always")))
	case payload.Name == "query" && typ == "get":
		ss.send(stanza.IQResult(iq, xmlstream.New(nsMAM, "query").Add(mamForm())))
	case payload.Name == "query" && typ == "set":
		q, err := parseMAMQuery(payload)
		if err != nil {
			ss.send(stanza.ErrorReply(iq, err))
			return
		}
		s.runMAMQuery(ss.user, ss.full.Bare(), iq, q, func(st *xmlstream.Element) { ss.send(st) })
	default:
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, "")))
	}
}

func mamForm() *xmlstream.Element {
	x := xmlstream.New(nsXData, "x", "type", "form")
	x.Add(xmlstream.New(nsXData, "field", "var", "FORM_TYPE", "type", "hidden").Add(
		xmlstream.New(nsXData, "value").SetText(nsMAM)))
	for _, f := range []string{"with", "start", "end", "after-id", "before-id"} {
		typ := "text-single"
		if f == "with" {
			typ = "jid-single"
		}
		x.Add(xmlstream.New(nsXData, "field", "var", f, "type", typ))
	}
	return x
}

func badMAM(text string) error { return stanza.NewError(stanza.BadRequest, text) }

func parseMAMQuery(q *xmlstream.Element) (*mamQuery, error) {
	mq := &mamQuery{queryID: q.Attr("queryid"), lo: 0, hi: math.MaxUint64, max: mamDefaultMax}
	if x := q.Child(nsXData, "x"); x != nil {
		for _, f := range x.ChildrenNamed(nsXData, "field") {
			v := f.ChildText(nsXData, "value")
			if v == "" {
				continue
			}
			switch f.Attr("var") {
			case "with":
				j, err := jid.Parse(v)
				if err != nil {
					return nil, stanza.NewError(stanza.JIDMalformed, "with is not a JID")
				}
				mq.with = j
			case "start", "end":
				t, err := time.Parse(time.RFC3339Nano, v)
				if err != nil {
					return nil, badMAM(f.Attr("var") + " is not an XEP-0082 date-time")
				}
				n := uint64(max(t.UnixNano(), 0))
				if f.Attr("var") == "start" {
					mq.lo = max(mq.lo, n)
				} else {
					mq.hi = min(mq.hi, n)
				}
			case "after-id", "before-id":
				id, err := strconv.ParseUint(v, 10, 64)
				if err != nil {
					return nil, stanza.NewError(stanza.ItemNotFound, "no such archive id")
				}
				if f.Attr("var") == "after-id" {
					mq.lo = max(mq.lo, id+1)
				} else {
					mq.hi = min(mq.hi, id-1)
				}
			}
		}
	}
	mq.flipPage = q.Child(nsMAM, "flip-page") != nil
	if set := q.Child(nsRSM, "set"); set != nil {
		if m := set.Child(nsRSM, "max"); m != nil {
			n, err := strconv.Atoi(m.Text)
			if err != nil || n < 0 {
				return nil, badMAM("max is not a count")
			}
			mq.max = min(n, mamMaxMax)
		}
		if a := set.Child(nsRSM, "after"); a != nil && a.Text != "" {
			id, err := strconv.ParseUint(a.Text, 10, 64)
			if err != nil {
				return nil, stanza.NewError(stanza.ItemNotFound, "no such archive id")
			}
			mq.lo, mq.afterGiven = max(mq.lo, id+1), id
		}
		if b := set.Child(nsRSM, "before"); b != nil {
			mq.backward = true
			if b.Text != "" {
				id, err := strconv.ParseUint(b.Text, 10, 64)
				if err != nil || id == 0 {
					return nil, stanza.NewError(stanza.ItemNotFound, "no such archive id")
				}
				mq.hi = min(mq.hi, id-1)
			}
		}
	}
	return mq, nil
}

// matches applies the with filter: a bare JID matches every resource, a
// full JID only itself (XEP-0313 §4.1.1).
func (q *mamQuery) matches(with string) bool {
	if q.with.IsZero() {
		return true
	}
	j, err := jid.Parse(with)
	if err != nil {
		return false
	}
	if q.with.IsBare() {
		return j.Bare() == q.with
	}
	return j == q.with
}

type mamHit struct {
	id   uint64
	xml  []byte
	with string
}

// runMAMQuery sends the page's messages, then the <fin/>, through send.
// user is the archive's key (an account's localpart, or a room's JID);
// archive is the JID results come from.
func (s *Server) runMAMQuery(user string, archive jid.JID, iq *xmlstream.Element, q *mamQuery, send func(*xmlstream.Element)) {
	if q.afterGiven != 0 {
		if v, _ := s.cfg.Store.Get(bucketMAM, userKey(user, q.afterGiven)); v == nil {
			send(stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, "no such archive id")))
			return
		}
	}
	hits, more, err := s.mamPage(user, q)
	if err != nil {
		send(stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, "archive unreadable")))
		return
	}
	if q.flipPage {
		slices.Reverse(hits)
	}
	bare := archive.String()
	to := iq.Attr("from")
	for _, h := range hits {
		st, perr := xmlstream.ParseElementIn(h.xml, xmlstream.Limits{}, xmlstream.NSClient)
		if perr != nil {
			continue
		}
		res := xmlstream.New(nsMAM, "result", "id", strconv.FormatUint(h.id, 10))
		if q.queryID != "" {
			res.SetAttr("queryid", q.queryID)
		}
		res.Add(xmlstream.New(nsForward, "forwarded").Add(
			xmlstream.New(nsDelay, "delay", "stamp", time.Unix(0, int64(h.id)).UTC().Format(time.RFC3339Nano)),
			st))
		send(xmlstream.New(xmlstream.NSClient, "message", "from", bare, "to", to).Add(res))
	}
	send(stanza.IQResult(iq, s.mamFin(q, hits, more, user)))
}

// mamPage reads one page of user's archive, oldest first.
func (s *Server) mamPage(user string, q *mamQuery) (hits []mamHit, more bool, err error) {
	prefix := userPrefix(user)
	collect := func(k, v []byte) bool {
		id := keyID(k)
		if id < q.lo || id > q.hi {
			return false
		}
		with, xml := decodeArchived(v)
		if !q.matches(with) {
			return true
		}
		if len(hits) == q.max {
			more = true
			return false
		}
		hits = append(hits, mamHit{id: id, xml: xml, with: with})
		return true
	}
	if q.backward {
		err = s.cfg.Store.Scan(bucketMAM, prefix, userKey(user, q.hi), true, collect)
		slices.Reverse(hits)
	} else {
		err = s.cfg.Store.Scan(bucketMAM, prefix, userKey(user, q.lo), false, collect)
	}
	return hits, more, err
}

// mamFin is the closing <fin/> with its RSM set: complete when the page
// reaches the end of the archive in the direction of paging.
func (s *Server) mamFin(q *mamQuery, hits []mamHit, more bool, user string) *xmlstream.Element {
	fin := xmlstream.New(nsMAM, "fin")
	if !more {
		fin.SetAttr("complete", "true")
	}
	set := xmlstream.New(nsRSM, "set")
	if len(hits) > 0 {
		first, last := hits[0], hits[len(hits)-1]
		if q.flipPage {
			first, last = last, first
		}
		set.Add(xmlstream.New(nsRSM, "first").SetText(strconv.FormatUint(first.id, 10)))
		set.Add(xmlstream.New(nsRSM, "last").SetText(strconv.FormatUint(last.id, 10)))
	}
	// The count is optional (XEP-0059 §2.6): it is given when it costs at
	// most mamCountLimit entries read, so a big archive pages as fast as a
	// small one.
	count, scanned := 0, 0
	s.cfg.Store.Scan(bucketMAM, userPrefix(user), nil, false, func(k, v []byte) bool {
		scanned++
		with, _ := decodeArchived(v)
		if q.matches(with) {
			count++
		}
		return scanned <= mamCountLimit
	})
	if scanned <= mamCountLimit {
		set.Add(xmlstream.New(nsRSM, "count").SetText(strconv.Itoa(count)))
	}
	return fin.Add(set)
}

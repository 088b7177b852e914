package muc

import (
	"strconv"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// nsMAM is Message Archive Management, answered by Config.Archive.
const nsMAM = "urn:xmpp:mam:2"

// Limits of IQ forwarding between occupants.
const (
	// maxPendingIQs bounds a room's table of forwarded requests; further
	// requests are refused with resource-constraint until answers arrive.
	maxPendingIQs = 1024
	// pendingIQTimeout is how long a forwarded request waits for its answer
	// before its entry is forgotten.
	pendingIQTimeout = 2 * time.Minute
)

// pendingIQ is one request forwarded to an occupant, awaiting its answer.
type pendingIQ struct {
	origID    string
	requester *occupant
	target    *occupant
	expires   time.Time
}

// pendingIQs maps the ids the room gave forwarded requests to the requests.
// Ids are the room's own so that two requesters using the same id never
// collide. Owned by the room (guarded by its mu).
type pendingIQs struct {
	next  uint64
	byID  map[string]*pendingIQ
	order []string // ids in expiry order; may name entries already answered
}

// add records a request and returns its new id; false if the table is full.
func (t *pendingIQs) add(p *pendingIQ, now time.Time, expired func()) (string, bool) {
	for len(t.order) > 0 {
		e := t.byID[t.order[0]]
		if e != nil && now.Before(e.expires) {
			break
		}
		if e != nil {
			delete(t.byID, t.order[0])
			expired()
		}
		t.order = t.order[1:]
	}
	if len(t.byID) >= maxPendingIQs {
		return "", false
	}
	if t.byID == nil {
		t.byID = make(map[string]*pendingIQ)
	}
	if len(t.order) >= 2*maxPendingIQs {
		t.compact()
	}
	t.next++
	id := "muc" + strconv.FormatUint(t.next, 36)
	p.expires = now.Add(pendingIQTimeout)
	t.byID[id] = p
	t.order = append(t.order, id)
	return id, true
}

// compact drops the ids of answered requests from order, which otherwise
// grows while one old request stays unanswered.
func (t *pendingIQs) compact() {
	live := make([]string, 0, len(t.byID))
	for _, id := range t.order {
		if t.byID[id] != nil {
			live = append(live, id)
		}
	}
	t.order = live
}

// handleIQ handles an IQ to the room or to an occupant.
func (r *room) handleIQ(st *xmlstream.Element, from, to jid.JID) {
	typ := st.Attr("type")
	if to.Resource != "" {
		r.occupantIQ(st, from, to.Resource, typ)
		return
	}
	switch typ {
	case "get", "set":
	case "result", "error":
		return // the room sends no requests of its own, so nothing to match
	default:
		r.reply(st, stanza.NewError(stanza.BadRequest, "bad IQ type"))
		return
	}
	if len(st.Children) != 1 {
		r.reply(st, stanza.NewError(stanza.BadRequest, "an IQ request carries exactly one payload"))
		return
	}
	q := st.Children[0]
	if r.locked && r.affiliationOf(from) != AffOwner {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "no such room"))
		return
	}
	switch {
	case q.Is(NSDiscoInfo, "query") && typ == "get":
		r.discoInfo(st, q)
	case q.Is(NSDiscoItems, "query") && typ == "get":
		r.discoItems(st, q)
	case q.Is(NSMUCAdmin, "query"):
		r.handleAdmin(st, q, from, typ)
	case q.Is(NSMUCOwner, "query"):
		r.handleOwner(st, q, from, typ)
	case q.Space == NSLobby:
		r.handleLobbyIQ(st, q, from)
	case q.Is(NSRoom, "end"):
		r.handleEndIQ(st, q, from)
	case q.Space == NSRecord:
		r.handleRecordIQ(st, q, from)
	case q.Space == NSPhone:
		r.handlePhoneIQ(st, q, from, typ)
	case q.Space == NSPerm:
		r.handlePermIQ(st, q, from, typ)
	case q.Space == nsMAM && r.svc.archive != nil:
		// XEP-0313 §6: occupants and members read the room's archive.
		if r.byJID[from] == nil && r.affiliationOf(from).rank() < AffMember.rank() {
			r.reply(st, stanza.NewError(stanza.Forbidden, "only occupants and members may read the archive"))
			return
		}
		r.svc.archive.Query(r.jid, st)
	case q.Space == NSDiscoInfo || q.Space == NSDiscoItems:
		r.reply(st, stanza.NewError(stanza.BadRequest, "disco queries are get requests"))
	default:
		r.reply(st, stanza.NewError(stanza.ServiceUnavailable, ""))
	}
}

// occupantIQ forwards a request to an occupant, or an answer back to the
// occupant that asked, rewriting addresses (XEP-0045 §7.5 applied to IQs).
func (r *room) occupantIQ(st *xmlstream.Element, from jid.JID, nick, typ string) {
	switch typ {
	case "get", "set":
		r.forwardIQRequest(st, from, nick)
	case "result", "error":
		r.forwardIQAnswer(st, from)
	default:
		r.reply(st, stanza.NewError(stanza.BadRequest, "bad IQ type"))
	}
}

func (r *room) forwardIQRequest(st *xmlstream.Element, from jid.JID, nick string) {
	o := r.byJID[from]
	if o == nil {
		r.reply(st, stanza.NewError(stanza.NotAcceptable, "only occupants may address occupants"))
		return
	}
	target := r.occupants[nick]
	if target == nil {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "no such occupant"))
		return
	}
	if target == o && st.Attr("type") == "get" && st.FirstChild().Is("urn:xmpp:ping", "ping") {
		// XEP-0410 self-ping: the room answers for a joined occupant.
		r.route(stanza.IQResult(st))
		return
	}
	if target != o {
		if err := r.require(r.permsOf(o), perm.PrivateChat, "you may not send requests to other occupants"); err != nil {
			r.reply(st, err)
			return
		}
	}
	id, ok := r.pending.add(&pendingIQ{origID: st.Attr("id"), requester: o, target: target},
		r.svc.clock(), func() { r.svc.counters.expiredIQ.Add(1) })
	if !ok {
		r.svc.counters.pendingFull.Add(1)
		r.reply(st, stanza.NewError(stanza.ResourceConstraint, "too many requests in flight in this room"))
		return
	}
	out := st.ShallowCopy()
	out.SetAttr("id", id)
	out.SetAttr("from", r.occupantJID(o.nick).String())
	out.SetAttr("to", target.real.String())
	r.route(out)
}

func (r *room) forwardIQAnswer(st *xmlstream.Element, from jid.JID) {
	id := st.Attr("id")
	p := r.pending.byID[id]
	if p == nil || r.byJID[from] != p.target {
		r.svc.counters.unmatchedIQ.Add(1)
		return // answers are never answered; an unknown one is dropped
	}
	delete(r.pending.byID, id)
	if !r.svc.clock().Before(p.expires) {
		r.svc.counters.expiredIQ.Add(1)
		return // the requester has given up long ago
	}
	out := st.ShallowCopy()
	out.SetAttr("id", p.origID)
	out.SetAttr("from", r.occupantJID(p.target.nick).String())
	out.SetAttr("to", p.requester.real.String())
	r.route(out)
}

// dropPendingOf forgets o's requests and fails those waiting on o, so that
// a requester (the focus, typically) learns at once that o left.
func (r *room) dropPendingOf(o *occupant) {
	for id, p := range r.pending.byID {
		switch {
		case p.requester == o:
			delete(r.pending.byID, id)
		case p.target == o:
			delete(r.pending.byID, id)
			e := xmlstream.New(xmlstream.NSClient, "iq", "type", "error", "id", p.origID,
				"from", r.occupantJID(o.nick).String(), "to", p.requester.real.String())
			r.route(e.Add(stanza.NewError(stanza.ItemNotFound, "the occupant left the room").Element()))
		}
	}
}

// handleServiceIQ answers IQs to the service domain itself.
func (s *Service) handleServiceIQ(st *xmlstream.Element) {
	typ := st.Attr("type")
	switch typ {
	case "get", "set":
	case "result", "error":
		return
	default:
		s.reply(st, stanza.NewError(stanza.BadRequest, "bad IQ type"))
		return
	}
	if len(st.Children) != 1 {
		s.reply(st, stanza.NewError(stanza.BadRequest, "an IQ request carries exactly one payload"))
		return
	}
	q := st.Children[0]
	switch {
	case q.Is(NSDiscoInfo, "query") && typ == "get":
		s.discoInfo(st, q)
	case q.Is(NSDiscoItems, "query") && typ == "get":
		s.discoItems(st, q)
	case q.Space == NSDiscoInfo || q.Space == NSDiscoItems:
		s.reply(st, stanza.NewError(stanza.BadRequest, "disco queries are get requests"))
	default:
		s.reply(st, stanza.NewError(stanza.ServiceUnavailable, ""))
	}
}

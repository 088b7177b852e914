package extfocus

import (
	"context"
	"slices"
	"strconv"
	"sync"
	"time"

	"parley.dev/parley/internal/focus"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const (
	nsMUC        = "http://jabber.org/protocol/muc"
	nsMUCUser    = "http://jabber.org/protocol/muc#user"
	nsDiscoItems = "http://jabber.org/protocol/disco#items"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsXConf      = "jabber:x:conference" // XEP-0249 direct invitations
)

// joinTimeout is how long a room has to answer the focus's presence
// before the next listing asks again.
const joinTimeout = 10 * time.Second

// rooms follows the MUC service's rooms: the focus joins each room it
// lists (Jicofo is asked by its clients instead; parley's clients ask
// nothing, so the focus looks), and an occupant that sends the focus a
// XEP-0249 invitation makes it join at once. In a room it turns the
// occupants' presences into the focus's Joined, Renamed, SetRights and
// Left, and leaves when nobody else is there.
type rooms struct {
	s *Service

	mu    sync.Mutex
	byJID map[jid.JID]*room // guarded by mu
	// leftEmpty are rooms the focus left because nobody was there: a
	// persistent room lives on empty, so it is joined again only once
	// its disco#info counts occupants. Guarded by mu.
	leftEmpty map[jid.JID]bool
}

// room is one room the focus is in, or asked to join.
type room struct {
	asked     time.Time           // when we asked to join
	joined    bool                // our own presence came back
	occupants map[string]occupant // by nick, without the focus
	hidden    bool                // logged: the room hides real JIDs from us
}

type occupant struct {
	real   jid.JID
	rights focus.Rights
}

func newRooms(s *Service) *rooms {
	return &rooms{s: s, byJID: make(map[jid.JID]*room), leftEmpty: make(map[jid.JID]bool)}
}

func (r *rooms) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.byJID)
}

// poll lists the MUC service's rooms every PollInterval and joins the new
// ones, until ctx ends.
func (r *rooms) poll(ctx context.Context, c *xmppclient.Client) {
	t := time.NewTicker(r.s.cfg.PollInterval)
	defer t.Stop()
	for {
		r.pollOnce(ctx, c)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (r *rooms) pollOnce(ctx context.Context, c *xmppclient.Client) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	res, err := c.IQ(ctx, stanza.IQ("get", c.NewID(), r.s.self, r.s.muc, xmlstream.New(nsDiscoItems, "query")))
	if err != nil {
		if ctx.Err() == nil {
			r.s.log.Warn("cannot list the MUC service's rooms", "muc", r.s.muc.String(), "err", err)
		}
		return
	}
	q := res.FirstChild()
	if q == nil {
		return
	}
	for _, it := range q.ChildrenNamed(nsDiscoItems, "item") {
		j, err := jid.Parse(it.Attr("jid"))
		if err != nil || j.Local == "" || j.Bare() == r.s.cfg.Brewery {
			continue
		}
		j = j.Bare()
		r.mu.Lock()
		rm, in := r.byJID[j]
		if in && !rm.joined && time.Since(rm.asked) > joinTimeout {
			// The room never answered our presence: ask again.
			delete(r.byJID, j)
			in = false
		}
		wasEmpty := r.leftEmpty[j]
		r.mu.Unlock()
		if in || (wasEmpty && !r.hasOccupants(ctx, c, j)) {
			continue
		}
		r.join(j)
	}
}

// hasOccupants reads muc#roominfo_occupants from a room's disco#info; a
// room that does not say counts as occupied.
func (r *rooms) hasOccupants(ctx context.Context, c *xmppclient.Client, room jid.JID) bool {
	res, err := c.IQ(ctx, stanza.IQ("get", c.NewID(), r.s.self, room, xmlstream.New(nsDiscoInfo, "query")))
	if err != nil {
		return false
	}
	q := res.FirstChild()
	if q == nil {
		return true
	}
	for _, x := range q.ChildrenNamed("jabber:x:data", "x") {
		for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
			if f.Attr("var") == "muc#roominfo_occupants" {
				n, err := strconv.Atoi(f.ChildText("jabber:x:data", "value"))
				return err != nil || n > 0
			}
		}
	}
	return true
}

// join asks to enter a room (no history: the focus reads none).
func (r *rooms) join(j jid.JID) {
	r.mu.Lock()
	if _, in := r.byJID[j]; in {
		r.mu.Unlock()
		return
	}
	r.byJID[j] = &room{asked: time.Now(), occupants: make(map[string]occupant)}
	delete(r.leftEmpty, j)
	r.mu.Unlock()
	r.s.log.Info("joining a room", "room", j.String())
	r.s.Route(xmlstream.New(xmlstream.NSClient, "presence", "from", r.s.self.String(),
		"to", j.WithResource(r.s.cfg.Nick).String()).Add(
		xmlstream.New(nsMUC, "x").Add(xmlstream.New(nsMUC, "history", "maxstanzas", "0"))))
}

// leave leaves a room nobody else is in (called with mu held).
func (r *rooms) leaveLocked(j jid.JID, empty bool) {
	delete(r.byJID, j)
	if empty {
		r.leftEmpty[j] = true
	}
	r.s.Route(xmlstream.New(xmlstream.NSClient, "presence", "from", r.s.self.String(),
		"to", j.WithResource(r.s.cfg.Nick).String(), "type", "unavailable"))
}

// message takes XEP-0249 invitations: the room is joined now.
func (r *rooms) message(st *xmlstream.Element) {
	x := st.Child(nsXConf, "x")
	if x == nil {
		return
	}
	j, err := jid.Parse(x.Attr("jid"))
	if err != nil || j.Local == "" || j.Domain != r.s.muc.Domain || j.Bare() == r.s.cfg.Brewery {
		return
	}
	r.join(j.Bare())
}

// lost forgets every room: the connection is gone, and so are the focus's
// places in them.
func (r *rooms) lost() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for j, rm := range r.byJID {
		for nick := range rm.occupants {
			r.s.focus.Left(j, nick)
		}
	}
	clear(r.byJID)
}

// presence follows one room's presences.
func (r *rooms) presence(st *xmlstream.Element) {
	from, err := jid.Parse(st.Attr("from"))
	if err != nil || from.Domain != r.s.muc.Domain || from.Local == "" {
		return
	}
	roomJID, nick := from.Bare(), from.Resource
	r.mu.Lock()
	defer r.mu.Unlock()
	rm := r.byJID[roomJID]
	if rm == nil {
		return
	}
	x := st.Child(nsMUCUser, "x")
	self := nick == r.s.cfg.Nick || hasStatus(x, "110")
	switch {
	case st.Attr("type") == "error":
		if self {
			r.s.log.Warn("a room refused the focus", "room", roomJID.String(), "err", stanza.ParseError(st))
			r.dropLocked(roomJID, rm)
		}
	case self && st.Attr("type") == "unavailable":
		r.s.log.Info("out of a room", "room", roomJID.String())
		r.dropLocked(roomJID, rm)
	case self:
		rm.joined = true
		if hasStatus(x, "201") || len(rm.occupants) == 0 {
			// We made it (it was gone when we came), or everyone left:
			// our presence comes after the others', so nobody is here.
			r.leaveLocked(roomJID, !hasStatus(x, "201"))
		}
	case st.Attr("type") == "unavailable":
		r.occupantLeft(roomJID, rm, nick, x)
	default:
		r.occupantPresent(roomJID, rm, nick, x)
	}
}

// dropLocked forgets a room the focus is no longer in.
func (r *rooms) dropLocked(j jid.JID, rm *room) {
	for nick := range rm.occupants {
		r.s.focus.Left(j, nick)
	}
	delete(r.byJID, j)
}

func (r *rooms) occupantLeft(j jid.JID, rm *room, nick string, x *xmlstream.Element) {
	o, known := rm.occupants[nick]
	if !known {
		return
	}
	delete(rm.occupants, nick)
	if item := x.Child(nsMUCUser, "item"); hasStatus(x, "303") && item != nil && item.Attr("nick") != "" {
		rm.occupants[item.Attr("nick")] = o
		r.s.focus.Renamed(j, nick, item.Attr("nick"))
		return
	}
	r.s.focus.Left(j, nick)
	if len(rm.occupants) == 0 && rm.joined {
		r.leaveLocked(j, true)
	}
}

func (r *rooms) occupantPresent(j jid.JID, rm *room, nick string, x *xmlstream.Element) {
	item := x.Child(nsMUCUser, "item")
	if item == nil {
		return
	}
	real, err := jid.Parse(item.Attr("jid"))
	if err != nil || real.IsZero() {
		if !rm.hidden {
			rm.hidden = true
			r.s.log.Error("the room hides its occupants' real JIDs from the focus: no calls there (make rooms non-anonymous: see docs/EXTERNAL-XMPP.md)", "room", j.String())
		}
		return
	}
	role, ok := perm.FromMUC(item.Attr("affiliation"), item.Attr("role"), real.Domain != r.s.cfg.UserDomain)
	if !ok {
		r.occupantLeft(j, rm, nick, nil)
		return
	}
	o := occupant{real: real, rights: focus.Rights{Permissions: perm.ForRole(role)}}
	if prev, known := rm.occupants[nick]; known && prev == o {
		return
	}
	rm.occupants[nick] = o
	r.s.focus.Joined(j, nick, real, o.rights, focus.Caps{})
}

// hasStatus reports whether a muc#user element carries a status code.
func hasStatus(x *xmlstream.Element, code string) bool {
	if x == nil {
		return false
	}
	return slices.ContainsFunc(x.ChildrenNamed(nsMUCUser, "status"), func(s *xmlstream.Element) bool {
		return s.Attr("code") == code
	})
}

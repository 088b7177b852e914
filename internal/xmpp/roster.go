package xmpp

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

const (
	nsRoster    = "jabber:iq:roster"
	nsRosterVer = "urn:xmpp:features:rosterver"
)

// Subscription states (RFC 6121 §2.1.2.5).
const (
	subNone = "none"
	subTo   = "to"
	subFrom = "from"
	subBoth = "both"
)

// RosterItem is one contact in a user's roster.
type RosterItem struct {
	JID          jid.JID  `json:"jid"`
	Name         string   `json:"name,omitempty"`
	Subscription string   `json:"subscription"`
	Ask          bool     `json:"ask,omitempty"` // our subscribe request is pending
	Groups       []string `json:"groups,omitempty"`
}

// Roster is a user's contact list and the subscription requests waiting
// for the user's answer.
type Roster struct {
	Version   int          `json:"version"`
	Items     []RosterItem `json:"items"`
	PendingIn []jid.JID    `json:"pending_in,omitempty"`
}

// RosterStore persists rosters. Implementations are safe for concurrent use.
type RosterStore interface {
	LoadRoster(user string) (*Roster, error) // an empty roster when none is stored
	SaveRoster(user string, r *Roster) error
}

// maxRosterItems bounds one roster: a client cannot grow the server without limit.
const maxRosterItems = 2000

// NewMemoryRosters returns a RosterStore that keeps nothing across restarts.
func NewMemoryRosters() RosterStore { return memoryRosters{} }

type memoryRosters struct{}

func (memoryRosters) LoadRoster(string) (*Roster, error) { return &Roster{}, nil }
func (memoryRosters) SaveRoster(string, *Roster) error   { return nil }

// FileRosters stores one JSON file per user under dir.
type FileRosters struct {
	Dir string
}

// LoadRoster reads DIR/<user>.json.
func (f FileRosters) LoadRoster(user string) (*Roster, error) {
	b, err := os.ReadFile(filepath.Join(f.Dir, user+".json"))
	if errors.Is(err, fs.ErrNotExist) {
		return &Roster{}, nil
	}
	if err != nil {
		return nil, err
	}
	var r Roster
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, err
	}
	return &r, nil
}

// SaveRoster writes DIR/<user>.json atomically.
func (f FileRosters) SaveRoster(user string, r *Roster) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(f.Dir, ".roster-*")
	if err != nil {
		return err
	}
	if _, err := tmp.Write(b); err != nil {
		tmp.Close()
		os.Remove(tmp.Name())
		return err
	}
	if err := tmp.Close(); err != nil {
		os.Remove(tmp.Name())
		return err
	}
	return os.Rename(tmp.Name(), filepath.Join(f.Dir, user+".json"))
}

// rosterCache holds loaded rosters. Anonymous users' rosters live here only.
type rosterCache struct {
	store RosterStore
	mu    sync.Mutex
	byUsr map[string]*Roster // guarded by mu
}

func newRosterCache(store RosterStore) *rosterCache {
	return &rosterCache{store: store, byUsr: make(map[string]*Roster)}
}

// update runs fn on the user's roster under the lock and saves it when fn
// reports a change.
func (c *rosterCache) update(user string, persist bool, fn func(r *Roster) bool) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.loadLocked(user)
	if err != nil {
		return err
	}
	if !fn(r) {
		return nil
	}
	r.Version++
	if persist {
		return c.store.SaveRoster(user, r)
	}
	return nil
}

func (c *rosterCache) loadLocked(user string) (*Roster, error) {
	if r, ok := c.byUsr[user]; ok {
		return r, nil
	}
	r, err := c.store.LoadRoster(user)
	if err != nil {
		return nil, err
	}
	c.byUsr[user] = r
	return r, nil
}

// items returns a copy of the user's items.
func (c *rosterCache) items(user string, _ bool) []RosterItem {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.loadLocked(user)
	if err != nil {
		return nil
	}
	return slices.Clone(r.Items)
}

func (c *rosterCache) item(user string, contact jid.JID) (RosterItem, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.loadLocked(user)
	if err != nil {
		return RosterItem{}, false
	}
	if i := r.index(contact); i >= 0 {
		return r.Items[i], true
	}
	return RosterItem{}, false
}

func (c *rosterCache) pendingIn(user string) []jid.JID {
	c.mu.Lock()
	defer c.mu.Unlock()
	r, err := c.loadLocked(user)
	if err != nil {
		return nil
	}
	return slices.Clone(r.PendingIn)
}

// forget drops a user's roster from memory (anonymous users, at logout).
func (c *rosterCache) forget(user string) {
	c.mu.Lock()
	delete(c.byUsr, user)
	c.mu.Unlock()
}

func (r *Roster) index(contact jid.JID) int {
	for i := range r.Items {
		if r.Items[i].JID == contact {
			return i
		}
	}
	return -1
}

// ensure returns the item for contact, creating it with subscription none.
func (r *Roster) ensure(contact jid.JID) (*RosterItem, bool) {
	if i := r.index(contact); i >= 0 {
		return &r.Items[i], true
	}
	if len(r.Items) >= maxRosterItems {
		return nil, false
	}
	r.Items = append(r.Items, RosterItem{JID: contact, Subscription: subNone})
	return &r.Items[len(r.Items)-1], true
}

func (r *Roster) removePending(contact jid.JID) bool {
	n := len(r.PendingIn)
	r.PendingIn = slices.DeleteFunc(r.PendingIn, func(j jid.JID) bool { return j == contact })
	return len(r.PendingIn) != n
}

func (it RosterItem) element() *xmlstream.Element {
	el := xmlstream.New(nsRoster, "item", "jid", it.JID.String(), "subscription", it.Subscription)
	if it.Name != "" {
		el.SetAttr("name", it.Name)
	}
	if it.Ask {
		el.SetAttr("ask", "subscribe")
	}
	for _, g := range it.Groups {
		el.Add(xmlstream.New(nsRoster, "group").SetText(g))
	}
	return el
}

// handleRosterIQ answers roster get and set from the user's own session.
func (s *Server) handleRosterIQ(ss *session, iq, query *xmlstream.Element) {
	switch iq.Attr("type") {
	case "get":
		ss.pres.setInterested()
		s.rosters.mu.Lock()
		r, err := s.rosters.loadLocked(ss.user)
		var res *xmlstream.Element
		if err == nil {
			q := xmlstream.New(nsRoster, "query", "ver", strconv.Itoa(r.Version))
			for _, it := range r.Items {
				q.Add(it.element())
			}
			res = stanza.IQResult(iq, q)
		}
		s.rosters.mu.Unlock()
		if err != nil {
			ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, "")))
			return
		}
		ss.send(res)
	case "set":
		s.rosterSet(ss, iq, query)
	default:
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "")))
	}
}

// rosterSet adds, updates or removes one item (RFC 6121 §2.3 to §2.5).
func (s *Server) rosterSet(ss *session, iq, query *xmlstream.Element) {
	items := query.ChildrenNamed(nsRoster, "item")
	if len(items) != 1 {
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "a roster set carries exactly one item")))
		return
	}
	el := items[0]
	contact, err := jid.Parse(el.Attr("jid"))
	if err != nil || !contact.IsBare() {
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "the item needs a bare JID")))
		return
	}
	if contact == ss.full.Bare() {
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.NotAllowed, "you cannot add yourself")))
		return
	}
	if el.Attr("subscription") == "remove" {
		s.rosterRemove(ss, iq, contact)
		return
	}
	var pushed RosterItem
	full := false
	err = s.rosters.update(ss.user, !ss.anonymous, func(r *Roster) bool {
		it, ok := r.ensure(contact)
		if !ok {
			full = true
			return false
		}
		it.Name = el.Attr("name")
		it.Groups = it.Groups[:0]
		for _, g := range el.ChildrenNamed(nsRoster, "group") {
			if g.Text != "" && !slices.Contains(it.Groups, g.Text) {
				it.Groups = append(it.Groups, g.Text)
			}
		}
		pushed = *it
		return true
	})
	switch {
	case full:
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.ResourceConstraint, "roster full")))
		return
	case err != nil:
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, "")))
		return
	}
	ss.send(stanza.IQResult(iq))
	s.pushRoster(ss.full.Bare(), pushed)
}

func (s *Server) rosterRemove(ss *session, iq *xmlstream.Element, contact jid.JID) {
	var removed RosterItem
	found := false
	s.rosters.update(ss.user, !ss.anonymous, func(r *Roster) bool {
		r.removePending(contact)
		i := r.index(contact)
		if i < 0 {
			return false
		}
		removed, found = r.Items[i], true
		r.Items = slices.Delete(r.Items, i, i+1)
		return true
	})
	if !found {
		ss.reply(stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, "")))
		return
	}
	ss.send(stanza.IQResult(iq))
	bare := ss.full.Bare()
	if removed.Subscription == subTo || removed.Subscription == subBoth || removed.Ask {
		s.route(xmlstream.New(xmlstream.NSClient, "presence", "type", "unsubscribe", "from", bare.String(), "to", contact.String()), contact)
	}
	if removed.Subscription == subFrom || removed.Subscription == subBoth {
		s.route(xmlstream.New(xmlstream.NSClient, "presence", "type", "unsubscribed", "from", bare.String(), "to", contact.String()), contact)
	}
	removed.Subscription = "remove"
	removed.Ask = false
	s.pushRoster(bare, removed)
}

// pushRoster sends a roster push to every resource that asked for the roster.
func (s *Server) pushRoster(bare jid.JID, it RosterItem) {
	for _, ss := range s.sessionsOf(bare) {
		if !ss.pres.interested() {
			continue
		}
		push := stanza.IQ("set", s.newID("push"), bare, ss.full,
			xmlstream.New(nsRoster, "query").Add(it.element()))
		ss.send(push)
	}
}

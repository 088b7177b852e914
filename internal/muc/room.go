package muc

import (
	"sort"
	"strconv"
	"sync"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// room is one chat room. Every field but svc and jid is guarded by mu.
type room struct {
	svc *Service // immutable
	jid jid.JID  // immutable; bare room JID

	mu sync.Mutex
	// gone is set once the room has left svc.rooms; a goroutine that finds
	// it after waiting for mu must look the room up again.
	gone bool
	// isNew marks a room created for a join that has not succeeded yet: it
	// is invisible to everything but that join.
	isNew        bool
	locked       bool // awaiting its owner's configuration (XEP-0045 §10.1)
	saved        bool // a file for this room may exist in DataDir
	config       RoomConfig
	affiliations map[jid.JID]Affiliation // bare JID → stored affiliation (never AffNone)
	occupants    map[string]*occupant    // nick → occupant
	byJID        map[jid.JID]*occupant   // real full JID → occupant
	subject      string
	subjectNick  string         // who set the subject; "" for the room itself
	history      []historyEntry // oldest first, at most svc.historySize
	pending      pendingIQs     // IQs forwarded between occupants, awaiting answers
	// declared is set for rooms declared by configuration, the admin API or
	// parley room: they exist with nobody in them (declared.go).
	declared *Declaration
	// tokenAff is the affiliation tokens grant their users while present
	// (bare JID → affiliation), never stored (identity.go).
	tokenAff map[jid.JID]Affiliation
	lobby    lobby // newcomers waiting to be admitted (lobby.go)
	// returning remembers what past visits held, by bare JID (returning.go).
	returning map[jid.JID]visit
}

// occupant is one session present in a room. Fields other than real are
// guarded by the room's mu.
type occupant struct {
	nick string
	real jid.JID // immutable; the session's full JID
	role Role
	// ident is what the server told of the session at its join: guest or
	// not, a token's overrides.
	ident   Identity
	granted perm.Overrides // changes moderators made during the visit
	muted   perm.Set       // publish permissions a moderator (or o) muted
	// announced and announcedMuted are what the last event said.
	announced, announcedMuted perm.Set
	// joined is when the occupant entered: the owner handover picks the
	// longest present.
	joined time.Time
	// payload is the last available presence's children minus MUC
	// elements, repeated in every presence the room sends for this occupant.
	payload []*xmlstream.Element
}

type historyEntry struct {
	msg *xmlstream.Element // from room/nick, with its delay stamp; no to
	at  time.Time
}

// newRoom makes an empty room for a first join. Called with svc.mu held.
func (s *Service) newRoom(name string) *room {
	return &room{
		svc:          s,
		jid:          jid.JID{Local: name, Domain: s.domain.Domain},
		isNew:        true,
		config:       s.roomDefault,
		affiliations: make(map[jid.JID]Affiliation),
		occupants:    make(map[string]*occupant),
		byJID:        make(map[jid.JID]*occupant),
	}
}

func (r *room) route(st *xmlstream.Element) { r.svc.router.Route(st) }

func (r *room) reply(st *xmlstream.Element, err error) { r.svc.reply(st, err) }

func (r *room) occupantJID(nick string) jid.JID { return r.jid.WithResource(nick) }

// affiliationOf returns bare's affiliation: server admins own every room.
func (r *room) affiliationOf(bare jid.JID) Affiliation {
	bare = bare.Bare()
	if r.svc.isAdmin(bare) {
		return AffOwner
	}
	a, ok := r.affiliations[bare]
	if !ok {
		a = AffNone
	}
	if t, ok := r.tokenAff[bare]; ok && t.rank() > a.rank() && a != AffOutcast {
		return t
	}
	return a
}

func (r *room) event(kind EventKind, o *occupant, prevNick string) {
	ev := Event{Kind: kind, Room: r.jid, LastN: r.config.LastN}
	if o != nil {
		ev.Nick, ev.PrevNick, ev.RealJID = o.nick, prevNick, o.real
		ev.Role, ev.Affiliation = o.role, r.affiliationOf(o.real)
		if kind != OccupantLeft {
			ev.Permissions, ev.Muted = r.permsOf(o), o.muted
			o.announced, o.announcedMuted = ev.Permissions, ev.Muted
		}
		if kind == OccupantJoined {
			ev.Caps = capsOf(o.payload)
		}
	}
	r.svc.emit(ev)
}

// handle dispatches one stanza addressed to the room or an occupant.
func (r *room) handle(st *xmlstream.Element, kind string, from, to jid.JID) {
	if r.isNew && kind != "presence" {
		r.reply(st, stanza.NewError(stanza.ItemNotFound, "no such room"))
		return
	}
	switch kind {
	case "presence":
		r.handlePresence(st, from, to)
	case "message":
		r.handleMessage(st, from, to)
	case "iq":
		r.handleIQ(st, from, to)
	}
}

// removeIfDead retires a room nobody needs any more: a temporary room whose
// last occupant left, or a room whose creation failed.
func (r *room) removeIfDead() {
	if r.gone || len(r.occupants) > 0 || len(r.lobby.byID) > 0 {
		return
	}
	if r.isNew || !r.config.Persistent {
		r.retire()
	}
}

// retire removes the room from the service and from disk.
func (r *room) retire() {
	wasCreated := !r.isNew
	r.gone = true
	r.pending = pendingIQs{}
	r.svc.mu.Lock()
	if r.svc.rooms[r.jid.Local] == r {
		delete(r.svc.rooms, r.jid.Local)
	}
	r.svc.mu.Unlock()
	if r.saved && r.svc.saver != nil {
		r.svc.saver.remove(r.jid.Local)
		r.saved = false
	}
	if wasCreated {
		r.event(RoomDestroyed, nil, "")
	}
}

// persist queues the room's durable state for writing, or its file for
// removal when it stopped being persistent.
func (r *room) persist() {
	if r.svc.saver == nil || r.isNew || r.gone {
		return
	}
	if r.config.Persistent {
		r.svc.saver.put(r.jid.Local, r.stored())
		r.saved = true
	} else if r.saved {
		r.svc.saver.remove(r.jid.Local)
		r.saved = false
	}
}

// info snapshots the room.
func (r *room) info() RoomInfo {
	ri := RoomInfo{
		JID:          r.jid,
		Config:       r.config,
		Locked:       r.locked,
		Subject:      r.subject,
		Occupants:    make([]OccupantInfo, 0, len(r.occupants)),
		Affiliations: make(map[jid.JID]Affiliation, len(r.affiliations)),
	}
	for _, o := range r.occupants {
		ri.Occupants = append(ri.Occupants, OccupantInfo{
			Nick: o.nick, RealJID: o.real, Role: o.role, Affiliation: r.affiliationOf(o.real),
			Identity: o.ident, Joined: o.joined,
			Permissions: r.permsOf(o), Muted: o.muted,
		})
	}
	sort.Slice(ri.Occupants, func(i, j int) bool { return ri.Occupants[i].Nick < ri.Occupants[j].Nick })
	for j, a := range r.affiliations {
		ri.Affiliations[j] = a
	}
	ri.Declared = r.declared.clone()
	ri.Lobby = r.knockInfos()
	return ri
}

// sortedOccupants returns the occupants in nick order, so that what the
// room sends is deterministic.
func (r *room) sortedOccupants() []*occupant {
	out := make([]*occupant, 0, len(r.occupants))
	for _, o := range r.occupants {
		out = append(out, o)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].nick < out[j].nick })
	return out
}

// addHistory remembers a groupchat message for later joiners.
func (r *room) addHistory(msg *xmlstream.Element) {
	if r.svc.historySize == 0 {
		return
	}
	now := r.svc.clock()
	h := msg.ShallowCopy()
	h.SetAttr("to", "")
	h.Children = append(append([]*xmlstream.Element(nil), msg.Children...),
		xmlstream.New(NSDelay, "delay", "from", r.jid.String(),
			"stamp", now.UTC().Format("2006-01-02T15:04:05.000Z")))
	if len(r.history) >= r.svc.historySize {
		copy(r.history, r.history[1:])
		r.history = r.history[:len(r.history)-1]
	}
	r.history = append(r.history, historyEntry{msg: h, at: now})
}

// sendHistory replays history to a newcomer, honouring the join's
// <history maxstanzas seconds since/> limits (XEP-0045 §7.2.13).
func (r *room) sendHistory(o *occupant, join *xmlstream.Element) {
	entries := r.history
	if req := join.Child(NSMUC, "history"); req != nil {
		if v := req.Attr("maxstanzas"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 && n < len(entries) {
				entries = entries[len(entries)-n:]
			}
		}
		if v := req.Attr("maxchars"); v == "0" {
			entries = nil
		}
		var after time.Time
		if v := req.Attr("seconds"); v != "" {
			if n, err := strconv.Atoi(v); err == nil && n >= 0 {
				after = r.svc.clock().Add(-time.Duration(n) * time.Second)
			}
		}
		if v := req.Attr("since"); v != "" {
			if t, err := time.Parse(time.RFC3339, v); err == nil && t.After(after) {
				after = t
			}
		}
		for len(entries) > 0 && entries[0].at.Before(after) {
			entries = entries[1:]
		}
	}
	for _, e := range entries {
		m := e.msg.ShallowCopy()
		m.SetAttr("to", o.real.String())
		r.route(m)
	}
}

// sendSubject sends the current subject, empty if none, ending the join
// sequence (XEP-0045 §7.2.15).
func (r *room) sendSubject(o *occupant) {
	from := r.jid
	if r.subjectNick != "" {
		from = r.occupantJID(r.subjectNick)
	}
	m := xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat",
		"from", from.String(), "to", o.real.String())
	m.Add(xmlstream.New(xmlstream.NSClient, "subject").SetText(r.subject))
	r.route(m)
}

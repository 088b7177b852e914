package muc

import (
	"strconv"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Status codes (XEP-0045 §15.6).
const (
	statusNonAnonymous = 100
	statusConfigChange = 104
	statusSelf         = 110
	statusNowNonAnon   = 172
	statusNowSemiAnon  = 173
	statusCreated      = 201
	statusBanned       = 301
	statusNickChange   = 303
	statusKicked       = 307
	statusAffRemoved   = 321 // removed: lost membership of a members-only room
	statusMembersOnly  = 322 // removed: room became members-only
	statusTechnical    = 333 // removed: the occupant's session bounced stanzas
)

// mucUser describes the muc#user payload of a presence the room sends.
type mucUser struct {
	codes     []int // for every receiver
	selfCodes []int // for the occupant itself, after 110
	reason    string
	actor     string // nick of the moderator who acted
	newNick   string // for 303
	// affNone forces affiliation="none" (room destruction).
	affNone bool
	destroy *xmlstream.Element
	// payload replaces the occupant's stored presence payload (the status of
	// an unavailable presence).
	payload []*xmlstream.Element
}

// leaveInfo says how an occupant leaves: which codes, and whether its own
// session is told (it is not when the session is known to be gone).
type leaveInfo struct {
	mucUser
	notifySelf bool
}

// handlePresence handles presence to room or room/nick.
func (r *room) handlePresence(st *xmlstream.Element, from, to jid.JID) {
	o := r.byJID[from]
	switch st.Attr("type") {
	case "error":
		if o != nil {
			r.removeGhost(o)
		}
		r.leaveLobby(from)
		return
	case "unavailable":
		if o == nil {
			r.leaveLobby(from)
		}
		if o != nil {
			r.removeOccupant(o, leaveInfo{mucUser: mucUser{payload: statusPayload(st)}, notifySelf: true})
		}
		return
	case "":
	default:
		return // subscriptions and probes mean nothing to a room
	}
	if to.Resource == "" {
		r.reply(st, stanza.NewError(stanza.JIDMalformed, "a nickname is required"))
		return
	}
	switch {
	case o == nil:
		r.join(st, from, to.Resource)
	case o.nick == to.Resource:
		o.payload = presencePayload(st)
		r.broadcastPresence(o, "", mucUser{})
	default:
		r.changeNick(st, o, to.Resource)
	}
}

// admit checks whether from may enter with nick (XEP-0045 §7.2).
func (r *room) admit(st *xmlstream.Element, from jid.JID, nick string, aff Affiliation) error {
	if r.locked && aff != AffOwner {
		return stanza.NewError(stanza.ItemNotFound, "the room is being set up")
	}
	if aff == AffOutcast {
		return stanza.NewError(stanza.Forbidden, "you are banned from this room")
	}
	if r.config.MembersOnly && aff.rank() < AffMember.rank() {
		return stanza.NewError(stanza.RegistrationRequired, "the room is members-only")
	}
	if r.config.needsPassword() && aff != AffOwner {
		join := st.Child(NSMUC, "x")
		if join == nil || !r.config.checkPassword(join.ChildText(NSMUC, "password")) {
			return stanza.NewError(stanza.NotAuthorized, "a valid password is required")
		}
	}
	if other := r.occupants[nick]; other != nil {
		r.event(NickConflict, other, "")
		return stanza.NewError(stanza.Conflict, "that nickname is in use")
	}
	if r.config.MaxUsers > 0 && len(r.occupants) >= r.config.MaxUsers && aff.rank() < AffAdmin.rank() {
		return stanza.NewError(stanza.ServiceUnavailable, "the room is full")
	}
	return nil
}

// identify asks the server what it knows of a joining session.
func (r *room) identify(real jid.JID) Identity {
	if r.svc.identify == nil {
		return Identity{}
	}
	return r.svc.identify(real)
}

// join admits a newcomer, creating the room if it is new.
func (r *room) join(st *xmlstream.Element, from jid.JID, nick string) {
	joinX := st.Child(NSMUC, "x")
	creating := r.isNew
	ident := r.identify(from)
	if err := r.checkIdentity(ident); err != nil {
		r.reply(st, err)
		return
	}
	aff := r.affiliationOf(from)
	if t := identityAffiliation(ident); t.rank() > aff.rank() && aff != AffOutcast {
		aff = t
	}
	if creating {
		aff = AffOwner
	} else if err := r.admit(st, from, nick, aff); err != nil {
		r.reply(st, err)
		return
	} else if r.mustKnock(from, aff) {
		r.knock(st, from, nick, ident)
		return
	}
	o := &occupant{nick: nick, real: from, role: defaultRole(aff, r.config.Moderated), payload: presencePayload(st),
		ident: ident, joined: r.svc.clock()}
	if t := identityAffiliation(ident); t != AffNone {
		if r.tokenAff == nil {
			r.tokenAff = make(map[jid.JID]Affiliation)
		}
		r.tokenAff[from.Bare()] = t
	}
	r.restoreVisit(o)
	if o.ident.Moderator && o.role != RoleNone {
		o.role = RoleModerator
	}
	if !creating {
		if err := r.require(r.permsOf(o), perm.Join, "you may not join this room"); err != nil {
			r.forgetTokenAffiliation(from)
			r.reply(st, err)
			return
		}
	}
	if creating {
		r.isNew = false
		r.locked = joinX != nil
		r.affiliations[from.Bare()] = AffOwner
		r.event(RoomCreated, nil, "")
		r.persist()
	}
	for _, p := range r.sortedOccupants() {
		r.route(r.presenceFor(p, o, "", mucUser{}))
	}
	r.occupants[nick] = o
	r.byJID[from] = o
	r.svc.trackOccupant(from, r, true)
	var self []int
	if r.config.nonAnonymous() {
		self = append(self, statusNonAnonymous)
	}
	if creating {
		self = append(self, statusCreated)
	}
	r.broadcastPresence(o, "", mucUser{selfCodes: self})
	r.sendHistory(o, joinX)
	r.sendSubject(o)
	r.sendKnocks(o)
	r.event(OccupantJoined, o, "")
}

// changeNick moves an occupant to a new nick (XEP-0045 §7.6).
func (r *room) changeNick(st *xmlstream.Element, o *occupant, nick string) {
	if r.occupants[nick] != nil {
		r.reply(st, stanza.NewError(stanza.Conflict, "that nickname is in use"))
		return
	}
	old := o.nick
	r.broadcastPresence(o, "unavailable", mucUser{codes: []int{statusNickChange}, newNick: nick})
	delete(r.occupants, old)
	o.nick = nick
	o.payload = presencePayload(st)
	r.occupants[nick] = o
	r.broadcastPresence(o, "", mucUser{})
	r.event(OccupantChanged, o, old)
}

// removeOccupant takes o out of the room and tells the others (and o
// itself if li.notifySelf).
func (r *room) removeOccupant(o *occupant, li leaveInfo) {
	wasModerator := o.role == RoleModerator
	defer func() {
		if wasModerator {
			r.handover()
		}
	}()
	if li.notifySelf {
		r.broadcastPresence(o, "unavailable", li.mucUser)
	} else {
		for _, p := range r.sortedOccupants() {
			if p != o {
				r.route(r.presenceFor(o, p, "unavailable", li.mucUser))
			}
		}
	}
	r.forget(o)
}

// forget drops o from the room's tables without telling anyone.
func (r *room) forget(o *occupant) {
	r.rememberVisit(o)
	delete(r.occupants, o.nick)
	delete(r.byJID, o.real)
	r.forgetTokenAffiliation(o.real)
	r.svc.trackOccupant(o.real, r, false)
	r.dropPendingOf(o)
	o.role = RoleNone
	r.event(OccupantLeft, o, "")
}

// removeGhost removes an occupant whose session bounced what the room sent
// (XEP-0045 §18.1): keeping it would make every broadcast bounce again.
func (r *room) removeGhost(o *occupant) {
	r.svc.counters.ghostsRemoved.Add(1)
	r.svc.log.Debug("removing unreachable occupant", "room", r.jid.String(), "nick", o.nick)
	r.removeOccupant(o, leaveInfo{mucUser: mucUser{codes: []int{statusTechnical}}})
}

// broadcastPresence sends o's presence to every occupant, o last (a client
// takes its self-presence as the end of the roster, XEP-0045 §7.2.3).
func (r *room) broadcastPresence(o *occupant, typ string, mu mucUser) {
	for _, p := range r.sortedOccupants() {
		if p != o {
			r.route(r.presenceFor(o, p, typ, mu))
		}
	}
	if r.occupants[o.nick] == o {
		r.route(r.presenceFor(o, o, typ, mu))
	}
}

// presenceFor builds o's presence as receiver sees it: with o's real JID
// only in non-anonymous rooms, for moderators, or for o itself.
func (r *room) presenceFor(o, receiver *occupant, typ string, mu mucUser) *xmlstream.Element {
	p := xmlstream.New(xmlstream.NSClient, "presence",
		"from", r.occupantJID(o.nick).String(), "to", receiver.real.String())
	if typ != "" {
		p.SetAttr("type", typ)
	}
	switch {
	case mu.payload != nil:
		p.Children = append(p.Children, mu.payload...)
	case typ == "":
		p.Children = append(p.Children, r.withoutRecordingClaim(o, o.payload)...)
		p.Add(o.identityElement())
	}
	aff, role := r.affiliationOf(o.real), o.role
	if typ == "unavailable" {
		role = RoleNone
	}
	if mu.affNone {
		aff = AffNone
	}
	item := xmlstream.New(NSMUCUser, "item", "affiliation", string(aff), "role", string(role))
	if r.config.nonAnonymous() || receiver.role == RoleModerator || receiver == o {
		item.SetAttr("jid", o.real.String())
	}
	if mu.newNick != "" {
		item.SetAttr("nick", mu.newNick)
	}
	if mu.actor != "" {
		item.Add(xmlstream.New(NSMUCUser, "actor", "nick", mu.actor))
	}
	if mu.reason != "" {
		item.Add(xmlstream.New(NSMUCUser, "reason").SetText(mu.reason))
	}
	x := xmlstream.New(NSMUCUser, "x").Add(item, mu.destroy)
	if typ == "" {
		p.Add(r.permElement(o))
	}
	codes := mu.codes
	if receiver == o {
		codes = append(append([]int{statusSelf}, mu.selfCodes...), codes...)
	}
	for _, c := range codes {
		x.Add(xmlstream.New(NSMUCUser, "status", "code", strconv.Itoa(c)))
	}
	return p.Add(x)
}

// presencePayload keeps what an occupant's presence says about itself
// (show, status, caps, application extensions) and drops what only the
// room may say: the join element (it holds the password), any muc#user
// claims, and errors.
func presencePayload(st *xmlstream.Element) []*xmlstream.Element {
	var out []*xmlstream.Element
	for _, c := range st.Children {
		if c.Space == NSMUC || c.Space == NSMUCUser || c.Space == NSIdentity || c.Space == NSPerm || c.Name == "error" {
			continue
		}
		out = append(out, c)
	}
	return out
}

// NSCaps is XEP-0115's namespace: entity capabilities in a presence.
const NSCaps = "http://jabber.org/protocol/caps"

// Caps is the entity capabilities (XEP-0115) a presence announced.
type Caps struct {
	Hash string // the hash function, e.g. "sha-1"
	Ver  string // the verification string
}

// capsOf reads the <c/> of a presence's payload.
func capsOf(payload []*xmlstream.Element) Caps {
	for _, c := range payload {
		if c.Space == NSCaps && c.Name == "c" {
			return Caps{Hash: c.Attr("hash"), Ver: c.Attr("ver")}
		}
	}
	return Caps{}
}

// statusPayload keeps the <status/> text of an unavailable presence.
func statusPayload(st *xmlstream.Element) []*xmlstream.Element {
	var out []*xmlstream.Element
	for _, c := range st.Children {
		if c.Name == "status" && (c.Space == st.Space || c.Space == xmlstream.NSClient || c.Space == "") {
			out = append(out, c)
		}
	}
	return out
}

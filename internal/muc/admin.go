package muc

import (
	"sort"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// change is one validated muc#admin item, applied only once every item of
// the request has been validated (XEP-0045 treats a request as a whole).
type change struct {
	target  *occupant   // role change
	role    Role        // role change
	bare    jid.JID     // affiliation change
	aff     Affiliation // affiliation change
	reason  string
	isRole  bool
	prevAff Affiliation
}

// handleAdmin serves muc#admin: role and affiliation changes and lists.
func (r *room) handleAdmin(st, q *xmlstream.Element, from jid.JID, typ string) {
	items := q.ChildrenNamed(NSMUCAdmin, "item")
	if len(items) == 0 {
		r.reply(st, stanza.NewError(stanza.BadRequest, "no item"))
		return
	}
	actor := r.byJID[from]
	actorAff := r.affiliationOf(from)
	if typ == "get" {
		r.adminList(st, items[0], actor, actorAff)
		return
	}
	changes := make([]change, 0, len(items))
	for _, it := range items {
		c, err := r.planChange(it, from, actor, actorAff)
		if err != nil {
			r.reply(st, err)
			return
		}
		changes = append(changes, c)
	}
	if err := r.checkOwnersRemain(changes); err != nil {
		r.reply(st, err)
		return
	}
	actorNick := ""
	if actor != nil {
		actorNick = actor.nick
	}
	for _, c := range changes {
		if c.isRole {
			r.applyRole(c, actorNick)
		} else {
			r.applyAffiliation(c, actorNick)
		}
	}
	r.route(stanza.IQResult(st))
}

// planChange validates one item against the XEP-0045 §8–§10 business rules.
func (r *room) planChange(it *xmlstream.Element, actorJID jid.JID, actor *occupant, actorAff Affiliation) (change, error) {
	roleAttr, affAttr := it.Attr("role"), it.Attr("affiliation")
	c := change{reason: it.ChildText(NSMUCAdmin, "reason")}
	switch {
	case roleAttr != "" && affAttr == "":
		role, ok := parseRole(roleAttr)
		if !ok {
			return c, stanza.NewError(stanza.BadRequest, "unknown role")
		}
		target := r.occupants[it.Attr("nick")]
		if target == nil {
			return c, stanza.NewError(stanza.ItemNotFound, "no such occupant")
		}
		c.isRole, c.role, c.target = true, role, target
		return c, r.checkRoleChange(actor, actorAff, target, role)
	case affAttr != "" && roleAttr == "":
		aff, ok := parseAffiliation(affAttr)
		if !ok {
			return c, stanza.NewError(stanza.BadRequest, "unknown affiliation")
		}
		bare, err := r.itemBareJID(it)
		if err != nil {
			return c, err
		}
		c.bare, c.aff, c.prevAff = bare, aff, r.affiliationOf(bare)
		need, what := perm.GrantRoles, "you may not change affiliations"
		if aff == AffOutcast {
			need, what = perm.Ban, "you may not ban"
		}
		if err := r.require(r.permsOfJID(actorJID, actor), need, what); err != nil {
			return c, err
		}
		return c, r.checkAffiliationChange(actorAff, bare, aff)
	}
	return c, stanza.NewError(stanza.BadRequest, "an item changes either a role or an affiliation")
}

// itemBareJID reads the item's jid, or the real JID of the occupant it names.
func (r *room) itemBareJID(it *xmlstream.Element) (jid.JID, error) {
	if s := it.Attr("jid"); s != "" {
		j, err := jid.Parse(s)
		if err != nil {
			return jid.JID{}, stanza.NewError(stanza.JIDMalformed, "bad jid")
		}
		return j.Bare(), nil
	}
	if o := r.occupants[it.Attr("nick")]; o != nil {
		return o.real.Bare(), nil
	}
	return jid.JID{}, stanza.NewError(stanza.BadRequest, "an affiliation item needs a jid")
}

func (r *room) checkRoleChange(actor *occupant, actorAff Affiliation, target *occupant, role Role) error {
	if actor == nil {
		return stanza.NewError(stanza.Forbidden, "only occupants change roles")
	}
	need, what := perm.GrantRoles, "you may not change roles"
	switch role {
	case RoleNone:
		need, what = perm.Kick, "you may not kick"
	case RoleVisitor:
		need, what = perm.MuteOthers, "you may not revoke voice"
	}
	if err := r.require(r.permsOf(actor), need, what); err != nil {
		return err
	}
	targetAff := r.affiliationOf(target.real)
	if role == RoleNone && target == actor {
		return stanza.NewError(stanza.Conflict, "you cannot kick yourself")
	}
	if (role == RoleModerator || target.role == RoleModerator) && actorAff.rank() < AffAdmin.rank() {
		return stanza.NewError(stanza.NotAllowed, "only admins and owners grant or revoke moderation")
	}
	if targetAff.rank() >= AffAdmin.rank() && role != RoleModerator {
		return stanza.NewError(stanza.NotAllowed, "admins and owners cannot be kicked or demoted")
	}
	if targetAff.rank() > actorAff.rank() {
		return stanza.NewError(stanza.NotAllowed, "the occupant's affiliation is higher than yours")
	}
	return nil
}

func (r *room) checkAffiliationChange(actorAff Affiliation, bare jid.JID, aff Affiliation) error {
	if actorAff.rank() < AffAdmin.rank() {
		return stanza.NewError(stanza.Forbidden, "only admins and owners change affiliations")
	}
	if bare.Domain == "" || r.svc.isAdmin(bare) {
		return stanza.NewError(stanza.NotAllowed, "that address's affiliation cannot be changed")
	}
	if actorAff == AffOwner {
		return nil
	}
	if aff.rank() >= AffAdmin.rank() || r.affiliationOf(bare).rank() >= AffAdmin.rank() {
		return stanza.NewError(stanza.NotAllowed, "only owners manage admins and owners")
	}
	return nil
}

// checkOwnersRemain refuses a request that would leave the room ownerless.
func (r *room) checkOwnersRemain(changes []change) error {
	owners := make(map[jid.JID]bool)
	for j, a := range r.affiliations {
		if a == AffOwner {
			owners[j] = true
		}
	}
	touched := false
	for _, c := range changes {
		if !c.isRole {
			touched = touched || owners[c.bare] || c.aff == AffOwner
			owners[c.bare] = c.aff == AffOwner
		}
	}
	for _, isOwner := range owners {
		if isOwner {
			return nil
		}
	}
	if !touched {
		return nil
	}
	return stanza.NewError(stanza.Conflict, "a room needs at least one owner")
}

// applyRole carries out a validated role change.
func (r *room) applyRole(c change, actorNick string) {
	o := c.target
	if r.occupants[o.nick] != o {
		return // removed by an earlier item of the same request
	}
	if c.role == RoleNone {
		r.removeOccupant(o, leaveInfo{notifySelf: true,
			mucUser: mucUser{codes: []int{statusKicked}, reason: c.reason, actor: actorNick}})
		return
	}
	wasModerator := o.role == RoleModerator
	o.role = c.role
	r.broadcastPresence(o, "", mucUser{reason: c.reason, actor: actorNick})
	r.revealJIDs(o, wasModerator)
	r.event(OccupantChanged, o, "")
}

// revealJIDs sends a new moderator of a semi-anonymous room everyone's
// presence again, now with real JIDs (XEP-0045 §9.7).
func (r *room) revealJIDs(o *occupant, wasModerator bool) {
	if wasModerator || o.role != RoleModerator || r.config.nonAnonymous() {
		return
	}
	for _, p := range r.sortedOccupants() {
		if p != o {
			r.route(r.presenceFor(p, o, "", mucUser{}))
		}
	}
}

// applyAffiliation carries out a validated affiliation change and its
// consequences for occupants with that bare JID.
func (r *room) applyAffiliation(c change, actorNick string) {
	if c.aff == AffNone {
		delete(r.affiliations, c.bare)
	} else {
		r.affiliations[c.bare] = c.aff
	}
	r.persist()
	for _, o := range r.sortedOccupants() {
		if o.real.Bare() != c.bare {
			continue
		}
		mu := mucUser{reason: c.reason, actor: actorNick}
		wasModerator := o.role == RoleModerator
		switch {
		case c.aff == AffOutcast:
			mu.codes = []int{statusBanned}
			r.removeOccupant(o, leaveInfo{mucUser: mu, notifySelf: true})
			continue
		case r.config.MembersOnly && c.aff.rank() < AffMember.rank():
			mu.codes = []int{statusAffRemoved}
			r.removeOccupant(o, leaveInfo{mucUser: mu, notifySelf: true})
			continue
		case c.aff.rank() >= AffAdmin.rank():
			o.role = RoleModerator
		case c.prevAff.rank() >= AffAdmin.rank():
			o.role = defaultRole(c.aff, r.config.Moderated)
		case c.aff == AffMember && o.role == RoleVisitor:
			o.role = RoleParticipant
		}
		r.broadcastPresence(o, "", mu)
		r.revealJIDs(o, wasModerator)
		r.event(OccupantChanged, o, "")
	}
}

// adminList answers a muc#admin get: the JIDs with an affiliation (for
// admins and owners) or the occupants with a role (for moderators).
func (r *room) adminList(st, item *xmlstream.Element, actor *occupant, actorAff Affiliation) {
	q := xmlstream.New(NSMUCAdmin, "query")
	if a := item.Attr("affiliation"); a != "" {
		aff, ok := parseAffiliation(a)
		if !ok || aff == AffNone {
			r.reply(st, stanza.NewError(stanza.BadRequest, "unknown affiliation list"))
			return
		}
		if actorAff.rank() < AffAdmin.rank() {
			r.reply(st, stanza.NewError(stanza.Forbidden, "only admins and owners see affiliation lists"))
			return
		}
		var jids []string
		for j, ja := range r.affiliations {
			if ja == aff {
				jids = append(jids, j.String())
			}
		}
		sort.Strings(jids)
		for _, j := range jids {
			q.Add(xmlstream.New(NSMUCAdmin, "item", "affiliation", string(aff), "jid", j))
		}
		r.route(stanza.IQResult(st, q))
		return
	}
	role, ok := parseRole(item.Attr("role"))
	if !ok || role == RoleNone {
		r.reply(st, stanza.NewError(stanza.BadRequest, "an item needs a role or affiliation"))
		return
	}
	if actor == nil || actor.role != RoleModerator {
		r.reply(st, stanza.NewError(stanza.Forbidden, "only moderators see role lists"))
		return
	}
	for _, o := range r.sortedOccupants() {
		if o.role == role {
			q.Add(xmlstream.New(NSMUCAdmin, "item", "nick", o.nick, "role", string(role),
				"affiliation", string(r.affiliationOf(o.real)), "jid", o.real.String()))
		}
	}
	r.route(stanza.IQResult(st, q))
}

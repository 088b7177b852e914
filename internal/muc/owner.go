package muc

import (
	"strconv"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// handleOwner serves muc#owner: the configuration form and destruction.
func (r *room) handleOwner(st, q *xmlstream.Element, from jid.JID, typ string) {
	// Owners configure the room (XEP-0045 §10); whoever may lock the room
	// may also change its locks (password, members-only, moderation).
	isOwner := r.affiliationOf(from) == AffOwner
	have := r.permsOfJID(from, r.byJID[from])
	if d := q.Child(NSMUCOwner, "destroy"); d != nil && typ == "set" {
		// Destroying the room ends the meeting for everyone: whoever may
		// end the meeting may do it (moderators too, as in Jitsi).
		if err := r.require(have, perm.EndMeeting, "you may not end the meeting"); err != nil {
			r.reply(st, err)
			return
		}
		r.route(stanza.IQResult(st))
		r.destroy(d)
		return
	}
	if !isOwner && !have.Has(perm.LockRoom) {
		r.reply(st, r.deny(perm.LockRoom, "only owners configure the room"))
		return
	}
	if typ == "get" {
		r.route(stanza.IQResult(st, xmlstream.New(NSMUCOwner, "query").Add(configForm(r.config))))
		return
	}
	form := q.Child(NSDataForms, "x")
	if form == nil {
		r.reply(st, stanza.NewError(stanza.BadRequest, "expected a data form or destroy"))
		return
	}
	switch form.Attr("type") {
	case "submit":
		r.submitConfig(st, form, isOwner, have)
	case "cancel":
		r.route(stanza.IQResult(st))
		if r.locked {
			// Cancelling the initial configuration abandons the room (XEP-0045 §10.1.3).
			r.destroy(nil)
		}
	default:
		r.reply(st, stanza.NewError(stanza.BadRequest, "the form must be submitted or cancelled"))
	}
}

// submitConfig applies a submitted configuration form and unlocks the room.
func (r *room) submitConfig(st, form *xmlstream.Element, isOwner bool, have perm.Set) {
	old := r.config
	cfg, err := applyConfigForm(old, form)
	if err != nil {
		r.reply(st, err)
		return
	}
	if configLocks(old, cfg) && !have.Has(perm.LockRoom) {
		r.reply(st, r.deny(perm.LockRoom, "you may not lock or unlock the room"))
		return
	}
	if !isOwner && !onlyLocks(old, cfg) {
		r.reply(st, stanza.NewError(stanza.Forbidden, "only owners change more than the room's locks"))
		return
	}
	wasLocked := r.locked
	r.config = cfg
	r.locked = false
	r.persist()
	r.route(stanza.IQResult(st))
	if !wasLocked {
		codes := []int{statusConfigChange}
		switch {
		case cfg.nonAnonymous() && !old.nonAnonymous():
			codes = append(codes, statusNowNonAnon)
		case !cfg.nonAnonymous() && old.nonAnonymous():
			codes = append(codes, statusNowSemiAnon)
		}
		x := xmlstream.New(NSMUCUser, "x")
		for _, c := range codes {
			x.Add(xmlstream.New(NSMUCUser, "status", "code", strconv.Itoa(c)))
		}
		r.reflect(xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat", "from", r.jid.String()).Add(x))
	}
	r.refreshAll()
	if old.LastN != cfg.LastN {
		r.event(RoomConfigured, nil, "")
	}
	if old.Lobby && !cfg.Lobby {
		for _, k := range r.sortedKnocks() { // no lobby any more: everyone waiting comes in
			r.decide(k, true, "", "")
		}
	}
	if cfg.MembersOnly && !old.MembersOnly {
		for _, o := range r.sortedOccupants() {
			if r.affiliationOf(o.real).rank() < AffMember.rank() {
				r.removeOccupant(o, leaveInfo{notifySelf: true, mucUser: mucUser{codes: []int{statusMembersOnly}}})
			}
		}
	}
}

// destroy ends the room (XEP-0045 §10.9): every occupant is told, with the
// owner's <destroy/> (reason, alternate venue) when there is one.
func (r *room) destroy(req *xmlstream.Element) {
	var d *xmlstream.Element
	if req != nil {
		d = xmlstream.New(NSMUCUser, "destroy")
		if alt, err := jid.Parse(req.Attr("jid")); err == nil {
			d.SetAttr("jid", alt.String())
		}
		if reason := req.ChildText(NSMUCOwner, "reason"); reason != "" {
			d.Add(xmlstream.New(NSMUCUser, "reason").SetText(reason))
		}
	}
	for _, o := range r.sortedOccupants() {
		r.route(r.presenceFor(o, o, "unavailable", mucUser{affNone: true, destroy: d}))
		r.forget(o)
	}
	r.retire()
}

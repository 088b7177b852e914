package muc

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NSRoom is the namespace of parley's room-wide commands: <end/> ends the
// meeting for everyone, and <ended/> in the unavailable presence tells
// each occupant why it was removed.
const NSRoom = "urn:parley:room:0"

// handover follows the room's rule once its last moderator has left:
// with HandoverLongest the longest-present occupant becomes moderator.
func (r *room) handover() {
	if r.config.Handover != HandoverLongest || r.gone {
		return
	}
	var next *occupant
	for _, o := range r.sortedOccupants() {
		if o.role == RoleModerator {
			return
		}
		if next == nil || o.joined.Before(next.joined) {
			next = o
		}
	}
	if next == nil {
		return
	}
	next.role = RoleModerator
	r.broadcastPresence(next, "", mucUser{reason: "the last moderator left"})
	r.revealJIDs(next, false)
	r.sendKnocks(next)
	r.event(OccupantChanged, next, "")
}

// mayEnd says whether o may end the meeting for everyone.
func (r *room) mayEnd(o *occupant) bool { return o != nil && r.permsOf(o).Has(perm.EndMeeting) }

// handleEndIQ serves <end xmlns='urn:parley:room:0'><reason/></end>.
func (r *room) handleEndIQ(st, q *xmlstream.Element, from jid.JID) {
	o := r.byJID[from]
	if st.Attr("type") != "set" {
		r.reply(st, stanza.NewError(stanza.BadRequest, "end is a set request"))
		return
	}
	if !r.mayEnd(o) {
		r.reply(st, r.deny(perm.EndMeeting, "you may not end the meeting"))
		return
	}
	r.route(stanza.IQResult(st))
	r.endMeeting(q.ChildText(NSRoom, "reason"), o.nick)
}

// endMeeting removes everyone, each told why (the reason, who ended it),
// and refuses those waiting in the lobby. A declared room stays, empty;
// any other room goes.
func (r *room) endMeeting(reason, by string) {
	ended := xmlstream.New(NSRoom, "ended")
	if by != "" {
		ended.SetAttr("by", by)
	}
	d := xmlstream.New(NSMUCUser, "destroy")
	if reason != "" {
		ended.Add(xmlstream.New(NSRoom, "reason").SetText(reason))
		d.Add(xmlstream.New(NSMUCUser, "reason").SetText(reason))
	} else {
		d.Add(xmlstream.New(NSMUCUser, "reason").SetText("the meeting has ended"))
	}
	r.denyAll("the meeting has ended")
	for _, o := range r.sortedOccupants() {
		p := r.presenceFor(o, o, "unavailable", mucUser{affNone: true, destroy: d})
		r.route(p.Add(ended))
		r.forget(o)
	}
	r.returning = nil // the meeting is over: the next one starts afresh
	if r.declared == nil {
		r.retire()
	}
}

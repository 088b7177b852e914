package muc

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
)

// A returning user keeps what it had in the room. Its identity survives a
// reconnection (an account, a token's user, or a guest with its resumption
// token come back with the same bare JID), so the room remembers, per bare
// JID, what the last visit held beyond its affiliation: a moderator role
// given during the visit (by handover or a moderator), the permissions
// moderators changed, and its mutes — leaving and coming back must not
// lift a mute. The memory lasts while the room lives, and ends with the
// meeting.

// maxReturning bounds a room's memory of past visits.
const maxReturning = 1024

// visit is what a bare JID's last visit held. Owned by the room.
type visit struct {
	moderator bool           // the role was moderator without the affiliation giving it
	granted   perm.Overrides // moderators' changes
	muted     perm.Set       // mutes
}

// rememberVisit records what o leaves with, if anything worth keeping.
func (r *room) rememberVisit(o *occupant) {
	v := visit{granted: o.granted, muted: o.muted,
		moderator: o.role == RoleModerator && defaultRole(r.affiliationOf(o.real), r.config.Moderated) != RoleModerator}
	bare := o.real.Bare()
	if !v.moderator && v.granted.IsZero() && v.muted == 0 {
		delete(r.returning, bare)
		return
	}
	if r.returning == nil {
		r.returning = make(map[jid.JID]visit)
	}
	if len(r.returning) >= maxReturning {
		for k := range r.returning { // drop an arbitrary old visit
			delete(r.returning, k)
			break
		}
	}
	r.returning[bare] = v
}

// restoreVisit gives a returning occupant what its last visit held. The
// memory stays until this visit ends and replaces it: a refused join must
// not wipe it.
func (r *room) restoreVisit(o *occupant) {
	v, ok := r.returning[o.real.Bare()]
	if !ok {
		return
	}
	if v.moderator && o.role != RoleNone {
		o.role = RoleModerator
	}
	o.granted, o.muted = v.granted, v.muted
}

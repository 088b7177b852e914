package perm

// The mapping between parley's roles and XEP-0045's affiliations and roles,
// so that plain XMPP clients keep working: they see, and set, affiliations
// and roles; parley derives the role, and from it the permissions.
//
//	XEP-0045 affiliation / role          parley role
//	owner affiliation (any role)         owner
//	admin affiliation (any role)         moderator
//	moderator role (member or none)      moderator
//	participant role, member affiliation participant
//	participant role, no affiliation,    participant when the user logged in
//	                                     (an account or a token), guest when
//	                                     anonymous
//	visitor role (no voice)              viewer
//	none role / outcast                  nothing (not in the room)
//
// And back, for a role that parley grants (ToMUC): owner → owner/moderator,
// moderator → admin/moderator when it must last, or just the moderator role
// for one visit, participant → member/participant, guest → none/participant,
// viewer → the visitor role, affiliation unchanged.

// XEP-0045 affiliation and role names, as they appear on the wire.
const (
	AffOwner       = "owner"
	AffAdmin       = "admin"
	AffMember      = "member"
	AffNone        = "none"
	AffOutcast     = "outcast"
	MUCModerator   = "moderator"
	MUCParticipant = "participant"
	MUCVisitor     = "visitor"
	MUCNone        = "none"
)

// FromMUC returns the parley role of an occupant with XEP-0045 affiliation
// aff and role role; anonymous says whether the user logged in as a guest
// (SASL ANONYMOUS, no token). ok is false for someone not in the room
// (role none, or an outcast).
func FromMUC(aff, role string, anonymous bool) (r Role, ok bool) {
	switch {
	case aff == AffOutcast || role == MUCNone || role == "":
		return "", false
	case aff == AffOwner:
		return Owner, true
	case aff == AffAdmin || role == MUCModerator:
		return Moderator, true
	case role == MUCVisitor:
		return Viewer, true
	case aff == AffMember || !anonymous:
		return Participant, true
	}
	return Guest, true
}

// ToMUC returns the XEP-0045 affiliation and role that give r, for a
// lasting grant (lasting: the affiliation is stored with the room) or for
// the current visit only (affiliation "" means: leave it as it is).
func ToMUC(r Role, lasting bool) (aff, role string) {
	switch r {
	case Owner:
		return AffOwner, MUCModerator
	case Moderator:
		if lasting {
			return AffAdmin, MUCModerator
		}
		return "", MUCModerator
	case Participant:
		if lasting {
			return AffMember, MUCParticipant
		}
		return "", MUCParticipant
	case Guest:
		if lasting {
			return AffNone, MUCParticipant
		}
		return "", MUCParticipant
	case Viewer:
		return "", MUCVisitor
	}
	return "", MUCNone
}

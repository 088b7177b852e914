package muc

import (
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
)

// Affiliation is a long-lived relation between a bare JID and a room
// (XEP-0045 §5.2). The zero value is AffNone.
type Affiliation string

// Affiliations, highest first.
const (
	AffOwner   Affiliation = "owner"
	AffAdmin   Affiliation = "admin"
	AffMember  Affiliation = "member"
	AffNone    Affiliation = "none"
	AffOutcast Affiliation = "outcast"
)

// rank orders affiliations so that "higher" comparisons are plain integers.
func (a Affiliation) rank() int {
	switch a {
	case AffOwner:
		return 4
	case AffAdmin:
		return 3
	case AffMember:
		return 2
	case AffOutcast:
		return 0
	default:
		return 1
	}
}

func parseAffiliation(s string) (Affiliation, bool) {
	switch a := Affiliation(s); a {
	case AffOwner, AffAdmin, AffMember, AffNone, AffOutcast:
		return a, true
	}
	return "", false
}

// Role is an occupant's privilege level for the duration of its visit
// (XEP-0045 §5.1). The zero value is RoleNone.
type Role string

// Roles, highest first.
const (
	RoleModerator   Role = "moderator"
	RoleParticipant Role = "participant"
	RoleVisitor     Role = "visitor"
	RoleNone        Role = "none"
)

func parseRole(s string) (Role, bool) {
	switch r := Role(s); r {
	case RoleModerator, RoleParticipant, RoleVisitor, RoleNone:
		return r, true
	}
	return "", false
}

// defaultRole is the role an occupant with affiliation a gets on entering a
// room (XEP-0045 §5.1.1 table).
func defaultRole(a Affiliation, moderated bool) Role {
	switch a {
	case AffOwner, AffAdmin:
		return RoleModerator
	case AffMember:
		return RoleParticipant
	case AffOutcast:
		return RoleNone
	}
	if moderated {
		return RoleVisitor
	}
	return RoleParticipant
}

// EventKind says what happened in an Event.
type EventKind int

// Event kinds.
const (
	RoomCreated EventKind = iota + 1
	RoomDestroyed
	OccupantJoined
	OccupantLeft
	// OccupantChanged reports a new role, affiliation or nick (PrevNick is
	// set for a nick change).
	OccupantChanged
	// NickConflict reports a join refused because the nick is taken; RealJID
	// is the holder's. The holder may be the joiner's own ghost, a session
	// whose network vanished: the server can check that it is still alive.
	NickConflict
	// RoomConfigured reports a change of a room setting the media follow
	// (Event.LastN).
	RoomConfigured
)

func (k EventKind) String() string {
	switch k {
	case RoomCreated:
		return "room-created"
	case RoomDestroyed:
		return "room-destroyed"
	case OccupantJoined:
		return "occupant-joined"
	case OccupantLeft:
		return "occupant-left"
	case OccupantChanged:
		return "occupant-changed"
	case NickConflict:
		return "nick-conflict"
	case RoomConfigured:
		return "room-configured"
	}
	return "unknown"
}

// Event is what Config.OnEvent receives. Occupant fields are empty for room
// events.
type Event struct {
	Kind        EventKind
	Room        jid.JID // bare room JID
	Nick        string  // occupant's (new) nick
	PrevNick    string  // previous nick, for a nick change
	RealJID     jid.JID // occupant's full real JID
	Role        Role
	Affiliation Affiliation
	// Permissions is what the occupant may do now, mutes aside; Muted the
	// publish permissions a moderator muted (forward media of a kind only
	// if Permissions has it and Muted does not). Unset for OccupantLeft.
	Permissions perm.Set
	Muted       perm.Set
	// Caps is the entity capabilities (XEP-0115) of the occupant's join
	// presence, in OccupantJoined; zero when it had none.
	Caps Caps
	// LastN is the room's lastN setting (RoomConfig.LastN), in every event.
	LastN int
}

// OccupantInfo is a read-only snapshot of one occupant.
type OccupantInfo struct {
	Nick        string
	RealJID     jid.JID
	Role        Role
	Affiliation Affiliation
	Identity    Identity  // how the occupant's session authenticated
	Joined      time.Time // when it entered
	Permissions perm.Set  // what it may do, mutes aside
	Muted       perm.Set  // publish permissions muted
}

// RoomInfo is a read-only snapshot of one room.
type RoomInfo struct {
	JID          jid.JID // bare room JID
	Config       RoomConfig
	Locked       bool // created but not yet configured: only owners may enter
	Subject      string
	Occupants    []OccupantInfo // sorted by nick
	Affiliations map[jid.JID]Affiliation
	Declared     *Declaration // nil for rooms made on the fly
	Lobby        []KnockInfo  // who waits in the lobby, first come first
}

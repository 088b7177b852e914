package perm

import (
	"encoding/json"
	"fmt"
)

// Role is a named default set of permissions. The zero value is not a role.
type Role string

// The roles, highest first.
const (
	Owner       Role = "owner"       // the room's owners: everything
	Moderator   Role = "moderator"   // everything; XEP-0045 still keeps owners out of a moderator's reach
	Participant Role = "participant" // a member or an authenticated user: talk, show, chat
	Guest       Role = "guest"       // an anonymous user: like a participant, nothing over others
	Viewer      Role = "viewer"      // watch and chat, publish nothing
)

// Roles returns every role, highest first.
func Roles() []Role { return []Role{Owner, Moderator, Participant, Guest, Viewer} }

var publisher = Of(Join, PublishAudio, PublishVideo, PublishScreen, Chat, PrivateChat)

// ForRole returns r's default set, close to Jitsi's: owners and moderators
// may do everything, participants and guests publish and chat, viewers join
// and chat. An unknown role gets nothing.
func ForRole(r Role) Set {
	switch r {
	case Owner, Moderator:
		return Full
	case Participant, Guest:
		return publisher
	case Viewer:
		return Of(Join, Chat)
	}
	return 0
}

// Rank orders roles: Owner 5 ... Viewer 1, unknown 0.
func (r Role) Rank() int {
	switch r {
	case Owner:
		return 5
	case Moderator:
		return 4
	case Participant:
		return 3
	case Guest:
		return 2
	case Viewer:
		return 1
	}
	return 0
}

// Valid reports whether r is one of Roles().
func (r Role) Valid() bool { return r.Rank() > 0 }

// ParseRole returns the role named s.
func ParseRole(s string) (Role, error) {
	if r := Role(s); r.Valid() {
		return r, nil
	}
	return "", &UnknownError{Kind: "role", Name: s}
}

// Defaults are a room's (or a server's) changes to the roles' default sets,
// role → overrides. The zero value changes nothing. JSON:
// {"guest": {"publish_video": false}, "viewer": {"private_chat": true}}.
type Defaults map[Role]Overrides

// For returns r's set after d's overrides.
func (d Defaults) For(r Role) Set { return d[r].Apply(ForRole(r)) }

// UnmarshalJSON refuses unknown roles and permissions.
func (d *Defaults) UnmarshalJSON(b []byte) error {
	var m map[string]Overrides
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("perm: role defaults: %w", err)
	}
	out := make(Defaults, len(m))
	for k, o := range m {
		r, err := ParseRole(k)
		if err != nil {
			return err
		}
		out[r] = o
	}
	*d = out
	return nil
}

// Effective is the set an occupant holds: its role's set, changed by the
// room's defaults for that role, then by the occupant's own overrides (from
// its token, then from moderators during the visit; later wins).
func Effective(r Role, room Defaults, own ...Overrides) Set {
	s := room.For(r)
	for _, o := range own {
		s = o.Apply(s)
	}
	return s
}

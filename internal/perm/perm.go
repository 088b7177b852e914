// Package perm is parley's permission model: what an occupant of a room may
// do, as a set of named permissions, the named roles that map to default
// sets, one-permission-at-a-time overrides from a room or a token, and the
// mapping to XEP-0045 roles and affiliations. It knows nothing of XMPP or
// media: the MUC, the focus and the SFU each enforce it where an action
// acts. docs/PERMISSIONS.md is generated from this package.
package perm

import (
	"encoding/json"
	"fmt"
	"math/bits"
	"sort"
	"strings"
)

// Permission is one thing an occupant may be allowed to do.
type Permission uint8

// The permissions. Their names (Permission.String) are the strings used in
// tokens, room files and docs; never renumber, the values are not stored
// anywhere but adding one in the middle would reorder the docs.
const (
	Join          Permission = iota // enter the room
	PublishAudio                    // send a microphone track that others receive
	PublishVideo                    // send a camera track that others receive
	PublishScreen                   // send a screen-share track that others receive
	Chat                            // send groupchat messages (and change the subject)
	PrivateChat                     // send private messages and IQs to one occupant
	MuteOthers                      // stop the forwarding of another occupant's media
	AskUnmute                       // ask a muted occupant to unmute
	Kick                            // remove an occupant from the room
	Ban                             // make a JID an outcast
	GrantRoles                      // change another occupant's role or affiliation
	AdmitLobby                      // admit or deny someone waiting in the lobby
	LockRoom                        // change the password, members-only, lobby (the room's configuration)
	EndMeeting                      // end the meeting for everyone
	Record                          // record or stream the meeting
	DialOut                         // call a phone into the room through the SIP gateway
	numPermissions
)

var names = [numPermissions]string{
	Join:          "join",
	PublishAudio:  "publish_audio",
	PublishVideo:  "publish_video",
	PublishScreen: "publish_screen",
	Chat:          "chat",
	PrivateChat:   "private_chat",
	MuteOthers:    "mute_others",
	AskUnmute:     "ask_unmute",
	Kick:          "kick",
	Ban:           "ban",
	GrantRoles:    "grant_roles",
	AdmitLobby:    "admit_lobby",
	LockRoom:      "lock_room",
	EndMeeting:    "end_meeting",
	Record:        "record",
	DialOut:       "dial_out",
}

var descriptions = [numPermissions]string{
	Join:          "enter the room",
	PublishAudio:  "send audio that the others receive",
	PublishVideo:  "send camera video that the others receive",
	PublishScreen: "send a screen share that the others receive",
	Chat:          "send groupchat messages, change the subject",
	PrivateChat:   "send private messages and IQs to one occupant",
	MuteOthers:    "stop the forwarding of another occupant's audio or video",
	AskUnmute:     "ask a muted occupant to unmute",
	Kick:          "remove an occupant from the room",
	Ban:           "ban a user (affiliation outcast)",
	GrantRoles:    "change another occupant's role, affiliation or permissions",
	AdmitLobby:    "admit or deny someone waiting in the lobby",
	LockRoom:      "change the room's configuration: password, members-only, lobby",
	EndMeeting:    "end the meeting for everyone",
	Record:        "record or stream the meeting",
	DialOut:       "call a phone number or SIP address into the room",
}

// All returns every permission in order.
func All() []Permission {
	out := make([]Permission, numPermissions)
	for i := range out {
		out[i] = Permission(i)
	}
	return out
}

// String returns the permission's name, as used in tokens and rooms.
func (p Permission) String() string {
	if p < numPermissions {
		return names[p]
	}
	return fmt.Sprintf("permission(%d)", uint8(p))
}

// Description says in a few words what the permission allows.
func (p Permission) Description() string {
	if p < numPermissions {
		return descriptions[p]
	}
	return ""
}

// ParsePermission returns the permission named s.
func ParsePermission(s string) (Permission, error) {
	for i, n := range names {
		if n == s {
			return Permission(i), nil
		}
	}
	return 0, &UnknownError{Kind: "permission", Name: s}
}

// UnknownError reports a permission or role name that does not exist.
type UnknownError struct {
	Kind string // "permission" or "role"
	Name string
}

func (e *UnknownError) Error() string { return fmt.Sprintf("perm: unknown %s %q", e.Kind, e.Name) }

// Set is a set of permissions, one bit each. The zero value is empty. A Set
// is a plain value: checking one is a mask, no allocation.
type Set uint32

// Full holds every permission.
const Full = Set(1)<<numPermissions - 1

// Of returns the set holding ps.
func Of(ps ...Permission) Set {
	var s Set
	for _, p := range ps {
		s = s.With(p)
	}
	return s
}

// Has reports whether p is in s.
func (s Set) Has(p Permission) bool { return p < numPermissions && s&(1<<p) != 0 }

// With returns s plus p.
func (s Set) With(p Permission) Set {
	if p >= numPermissions {
		return s
	}
	return s | 1<<p
}

// Without returns s minus p.
func (s Set) Without(p Permission) Set { return s &^ (1 << p) }

// Len returns how many permissions s holds.
func (s Set) Len() int { return bits.OnesCount32(uint32(s & Full)) }

// Permissions returns s's permissions in order.
func (s Set) Permissions() []Permission {
	out := make([]Permission, 0, s.Len())
	for p := range numPermissions {
		if s.Has(p) {
			out = append(out, p)
		}
	}
	return out
}

// Names returns the names of s's permissions in order.
func (s Set) Names() []string {
	out := make([]string, 0, s.Len())
	for _, p := range s.Permissions() {
		out = append(out, p.String())
	}
	return out
}

// String is the names separated by spaces ("join chat").
func (s Set) String() string { return strings.Join(s.Names(), " ") }

// Parse reads a set from names separated by spaces or commas
// ("join,chat publish_audio"). An unknown name is an error.
func Parse(s string) (Set, error) {
	fields := strings.FieldsFunc(s, func(r rune) bool { return r == ' ' || r == ',' || r == '\t' || r == '\n' })
	return ParseNames(fields)
}

// ParseNames reads a set from a list of names. An unknown name is an error.
func ParseNames(list []string) (Set, error) {
	var s Set
	for _, n := range list {
		p, err := ParsePermission(n)
		if err != nil {
			return 0, err
		}
		s = s.With(p)
	}
	return s, nil
}

// MarshalJSON writes s as a list of names.
func (s Set) MarshalJSON() ([]byte, error) { return json.Marshal(s.Names()) }

// UnmarshalJSON reads a list of names.
func (s *Set) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("perm: a permission set is a list of names: %w", err)
	}
	v, err := ParseNames(list)
	if err != nil {
		return err
	}
	*s = v
	return nil
}

// Overrides change a set one permission at a time: each permission is
// granted, revoked, or left alone. Its JSON form is an object of booleans,
// {"publish_video": false, "record": true}, as rooms and tokens write it.
// The zero value changes nothing.
type Overrides struct {
	Grant  Set // added
	Revoke Set // removed; a permission never sits in both
}

// Set records that p is granted (allow) or revoked (!allow), replacing
// what o said about p before.
func (o *Overrides) Set(p Permission, allow bool) {
	if allow {
		o.Grant, o.Revoke = o.Grant.With(p), o.Revoke.Without(p)
	} else {
		o.Grant, o.Revoke = o.Grant.Without(p), o.Revoke.With(p)
	}
}

// Apply returns s changed by o.
func (o Overrides) Apply(s Set) Set { return (s | o.Grant) &^ o.Revoke }

// Then returns o followed by later: where both speak of a permission,
// later wins.
func (o Overrides) Then(later Overrides) Overrides {
	touched := later.Grant | later.Revoke
	return Overrides{
		Grant:  o.Grant&^touched | later.Grant,
		Revoke: o.Revoke&^touched | later.Revoke,
	}
}

// IsZero reports whether o changes nothing.
func (o Overrides) IsZero() bool { return o.Grant|o.Revoke == 0 }

// Map returns o as name → allowed.
func (o Overrides) Map() map[string]bool {
	m := make(map[string]bool, (o.Grant | o.Revoke).Len())
	for _, p := range o.Grant.Permissions() {
		m[p.String()] = true
	}
	for _, p := range o.Revoke.Permissions() {
		m[p.String()] = false
	}
	return m
}

// OverridesFromMap reads name → allowed. An unknown name is an error.
func OverridesFromMap(m map[string]bool) (Overrides, error) {
	var o Overrides
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys) // the same error for the same input
	for _, k := range keys {
		p, err := ParsePermission(k)
		if err != nil {
			return Overrides{}, err
		}
		o.Set(p, m[k])
	}
	return o, nil
}

// MarshalJSON writes {"name": bool, ...}.
func (o Overrides) MarshalJSON() ([]byte, error) { return json.Marshal(o.Map()) }

// UnmarshalJSON reads {"name": bool, ...}.
func (o *Overrides) UnmarshalJSON(b []byte) error {
	var m map[string]bool
	if err := json.Unmarshal(b, &m); err != nil {
		return fmt.Errorf("perm: overrides are an object of booleans: %w", err)
	}
	v, err := OverridesFromMap(m)
	if err != nil {
		return err
	}
	*o = v
	return nil
}

// String is "+name -name ..." (grants first), "" for none.
func (o Overrides) String() string {
	var parts []string
	for _, p := range o.Grant.Permissions() {
		parts = append(parts, "+"+p.String())
	}
	for _, p := range o.Revoke.Permissions() {
		parts = append(parts, "-"+p.String())
	}
	return strings.Join(parts, " ")
}

package muc

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

// Declared rooms exist whether or not anyone is in them, with no bot: the
// configuration, the admin API or `parley room add` declares them, and
// they live in DataDir like persistent rooms (with a "declared" section).
// Their owners are named up front: account names, bare JIDs, or
// "token:USER" for a token's user (context.user.id, else sub).

// Declaration is what a declared room has beyond its XEP-0045 config.
type Declaration struct {
	// Owners as declared: "alice" (an account), "alice@example.test", or
	// "token:u-42". Each is an owner affiliation of the room.
	Owners []string `json:"owners,omitempty"`
}

func (d *Declaration) clone() *Declaration {
	if d == nil {
		return nil
	}
	return &Declaration{Owners: slices.Clone(d.Owners)}
}

// RoomSettings declare or change a room. A nil field is left as it is (or
// at its default for a new room).
type RoomSettings struct {
	Title       *string `json:"title,omitempty"`
	Description *string `json:"description,omitempty"`
	// Password is stored hashed; "" removes it.
	Password    *string   `json:"password,omitempty"`
	MembersOnly *bool     `json:"members_only,omitempty"`
	Lobby       *bool     `json:"lobby,omitempty"`
	MaxUsers    *int      `json:"max_users,omitempty"` // 0: no limit
	LastN       *int      `json:"last_n,omitempty"`    // RoomConfig.LastN; 0: no cap
	Guests      *bool     `json:"guests,omitempty"`    // default true
	Public      *bool     `json:"public,omitempty"`    // listed in disco; default true
	Moderated   *bool     `json:"moderated,omitempty"`
	Owners      *[]string `json:"owners,omitempty"`
	// RoleDefaults change the roles' permission sets in this room, one
	// permission at a time (docs/PERMISSIONS.md); nil leaves them.
	RoleDefaults perm.Defaults `json:"role_defaults,omitempty"`
	Handover     *Handover     `json:"handover,omitempty"` // default longest
}

// Errors of room management.
var (
	ErrNoRoom     = errors.New("muc: no such room")
	ErrRoomExists = errors.New("muc: the room is already declared")
	ErrNoOccupant = errors.New("muc: no such occupant")
	ErrNoKnock    = errors.New("muc: nobody knocks with that id")
)

// SettingsError reports a room setting that cannot be used.
type SettingsError struct{ Field, Reason string }

func (e *SettingsError) Error() string { return "muc: room " + e.Field + ": " + e.Reason }

// validRoomName checks a room's localpart.
func validRoomName(name, domain string) error {
	j, err := jid.New(name, domain, "")
	if err != nil || name == "" || j.Local != name {
		return &SettingsError{"name", fmt.Sprintf("%q is not a valid room name (lower case, no spaces, @, / or :)", name)}
	}
	return nil
}

// resolveOwner turns a declared owner into a bare JID.
func resolveOwner(owner, userDomain string) (jid.JID, error) {
	if user, ok := strings.CutPrefix(owner, "token:"); ok && user != "" {
		return jid.New(token.SubjectLocalpart(user), userDomain, "")
	}
	if !strings.Contains(owner, "@") {
		return jid.New(owner, userDomain, "")
	}
	j, err := jid.Parse(owner)
	if err != nil {
		return jid.JID{}, err
	}
	return j.Bare(), nil
}

// applySettings changes sr as the settings say.
func applySettings(sr *storedRoom, s RoomSettings, userDomain string) error {
	c := &sr.Config
	if sr.Declared == nil {
		sr.Declared = &Declaration{}
	}
	c.Persistent = true
	if s.Title != nil {
		c.Name = *s.Title
	}
	if s.Description != nil {
		c.Description = *s.Description
	}
	if s.Password != nil {
		c.PasswordProtected, c.PasswordHash = false, ""
		if *s.Password != "" {
			h, err := HashPassword(*s.Password)
			if err != nil {
				return &SettingsError{"password", err.Error()}
			}
			c.PasswordProtected, c.PasswordHash = true, h
		}
	}
	setBool(&c.MembersOnly, s.MembersOnly)
	setBool(&c.Lobby, s.Lobby)
	setBool(&c.Public, s.Public)
	setBool(&c.Moderated, s.Moderated)
	if s.Guests != nil {
		c.NoGuests = !*s.Guests
	}
	if s.MaxUsers != nil {
		if *s.MaxUsers < 0 || *s.MaxUsers > maxUsersLimit {
			return &SettingsError{"max_users", "must be 0 (no limit) to " + strconv.Itoa(maxUsersLimit)}
		}
		c.MaxUsers = *s.MaxUsers
	}
	if s.LastN != nil {
		if *s.LastN < 0 || *s.LastN > MaxLastN {
			return &SettingsError{"last_n", "must be 0 (no cap) to " + strconv.Itoa(MaxLastN)}
		}
		c.LastN = *s.LastN
	}
	if s.Handover != nil {
		switch *s.Handover {
		case HandoverLongest, HandoverNone:
			c.Handover = *s.Handover
		default:
			return &SettingsError{"handover", "must be longest or none"}
		}
	}
	if s.RoleDefaults != nil {
		c.RoleDefaults = maps.Clone(s.RoleDefaults)
	}
	if s.Owners != nil {
		return setOwners(sr, *s.Owners, userDomain)
	}
	return nil
}

func setBool(dst *bool, v *bool) {
	if v != nil {
		*dst = *v
	}
}

// setOwners replaces the declared owners: the old ones lose their owner
// affiliation (unless still listed), the new ones get it.
func setOwners(sr *storedRoom, owners []string, userDomain string) error {
	var bares []string
	for _, o := range owners {
		j, err := resolveOwner(o, userDomain)
		if err != nil {
			return &SettingsError{"owners", fmt.Sprintf("%q is not an account, a JID or token:USER", o)}
		}
		bares = append(bares, j.String())
	}
	if sr.Affiliations == nil {
		sr.Affiliations = make(map[string]string)
	}
	for _, o := range sr.Declared.Owners {
		if j, err := resolveOwner(o, userDomain); err == nil && sr.Affiliations[j.String()] == string(AffOwner) {
			delete(sr.Affiliations, j.String())
		}
	}
	for _, b := range bares {
		sr.Affiliations[b] = string(AffOwner)
	}
	sr.Declared.Owners = slices.Clone(owners)
	return nil
}

// newDeclaredRoom is the stored form of a room declared with s.
func (s *Service) newStoredRoom(name string) storedRoom {
	c := s.roomDefault
	c.Handover = HandoverLongest
	return storedRoom{Name: name, Config: c, Declared: &Declaration{}, Affiliations: map[string]string{}}
}

// DeclareRoom declares a room: it exists from now on, empty or not. A room
// that exists on the fly becomes declared; ErrRoomExists if it already is.
func (s *Service) DeclareRoom(name string, set RoomSettings) (RoomInfo, error) {
	if err := validRoomName(name, s.domain.Domain); err != nil {
		return RoomInfo{}, err
	}
	r := s.lockRoom(name, true)
	defer r.mu.Unlock()
	if r.declared != nil {
		return RoomInfo{}, ErrRoomExists
	}
	sr := s.newStoredRoom(name)
	if !r.isNew {
		sr = storedRoomOf(r)
	}
	if err := applySettings(&sr, set, s.userDomain); err != nil {
		r.removeIfDead()
		return RoomInfo{}, err
	}
	created := r.isNew
	r.loadStored(sr)
	r.isNew, r.locked = false, false
	if created {
		r.event(RoomCreated, nil, "")
	}
	r.persist()
	return r.info(), nil
}

// storedRoomOf is r's durable state, as its file would hold it.
func storedRoomOf(r *room) storedRoom {
	sr := storedRoom{Name: r.jid.Local, Config: r.config, Locked: r.locked, Subject: r.subject,
		SubjectNick: r.subjectNick, Declared: r.declared.clone(), Affiliations: make(map[string]string)}
	for j, a := range r.affiliations {
		sr.Affiliations[j.String()] = string(a)
	}
	return sr
}

// ChangeRoom changes a room's settings; the occupants are told (status
// 104), and a room becomes declared if it was not.
func (s *Service) ChangeRoom(name string, set RoomSettings) (RoomInfo, error) {
	r := s.lockRoom(name, false)
	if r == nil {
		return RoomInfo{}, ErrNoRoom
	}
	defer r.mu.Unlock()
	if r.isNew {
		return RoomInfo{}, ErrNoRoom
	}
	sr := storedRoomOf(r)
	if err := applySettings(&sr, set, s.userDomain); err != nil {
		return RoomInfo{}, err
	}
	old := r.config
	r.loadStored(sr)
	r.persist()
	r.settingsChanged(old)
	return r.info(), nil
}

// settingsChanged carries a changed configuration out on the occupants.
func (r *room) settingsChanged(old RoomConfig) {
	r.reflect(xmlstream.New(xmlstream.NSClient, "message", "type", "groupchat", "from", r.jid.String()).
		Add(xmlstream.New(NSMUCUser, "x").Add(xmlstream.New(NSMUCUser, "status", "code", strconv.Itoa(statusConfigChange)))))
	if r.config.MembersOnly && !old.MembersOnly {
		for _, o := range r.sortedOccupants() {
			if r.affiliationOf(o.real).rank() < AffMember.rank() {
				r.removeOccupant(o, leaveInfo{notifySelf: true, mucUser: mucUser{codes: []int{statusMembersOnly}}})
			}
		}
	}
	if !r.config.Lobby && old.Lobby {
		for _, k := range r.sortedKnocks() { // no lobby any more: everyone waiting comes in
			r.decide(k, true, "", "")
		}
	}
	for _, o := range r.sortedOccupants() { // a new owner list takes effect at once
		want := defaultRole(r.affiliationOf(o.real), r.config.Moderated)
		if want == RoleModerator && o.role != RoleModerator {
			o.role = RoleModerator
			r.broadcastPresence(o, "", mucUser{})
			r.revealJIDs(o, false)
			r.event(OccupantChanged, o, "")
		}
	}
	r.refreshAll() // new role defaults: new permissions, at once
	if r.config.LastN != old.LastN {
		r.event(RoomConfigured, nil, "")
	}
}

// DeleteRoom ends the meeting (everyone told reason) and removes the room
// and its file.
func (s *Service) DeleteRoom(name, reason string) error {
	r := s.lockRoom(name, false)
	if r == nil {
		return ErrNoRoom
	}
	defer r.mu.Unlock()
	if r.isNew {
		return ErrNoRoom
	}
	if reason == "" {
		reason = "the room was deleted"
	}
	r.declared = nil
	r.endMeeting(reason, "")
	if !r.gone {
		r.retire()
	}
	return nil
}

// EndMeeting removes every occupant, each told reason; a declared room
// stays, empty.
func (s *Service) EndMeeting(name, reason string) error {
	return s.withRoom(name, func(r *room) error {
		r.endMeeting(reason, "")
		return nil
	})
}

// KickOccupant removes the occupant with that nick (status 307).
func (s *Service) KickOccupant(name, nick, reason string) error {
	return s.withRoom(name, func(r *room) error {
		o := r.occupants[nick]
		if o == nil {
			return ErrNoOccupant
		}
		r.removeOccupant(o, leaveInfo{notifySelf: true, mucUser: mucUser{codes: []int{statusKicked}, reason: reason}})
		return nil
	})
}

// SetOccupantRole gives the occupant with that nick a role (visitor
// revokes its voice; none kicks it).
func (s *Service) SetOccupantRole(name, nick string, role Role, reason string) error {
	if _, ok := parseRole(string(role)); !ok {
		return &SettingsError{"role", "must be moderator, participant, visitor or none"}
	}
	return s.withRoom(name, func(r *room) error {
		o := r.occupants[nick]
		if o == nil {
			return ErrNoOccupant
		}
		r.applyRole(change{target: o, role: role, reason: reason}, "")
		return nil
	})
}

// DecideKnock admits or denies someone waiting in the room's lobby.
func (s *Service) DecideKnock(name, id string, admit bool, reason string) error {
	return s.withRoom(name, func(r *room) error {
		k := r.lobby.byID[id]
		if k == nil {
			return ErrNoKnock
		}
		r.decide(k, admit, "", reason)
		return nil
	})
}

// withRoom runs fn on an existing room under its lock.
func (s *Service) withRoom(name string, fn func(*room) error) error {
	r := s.lockRoom(name, false)
	if r == nil {
		return ErrNoRoom
	}
	defer r.mu.Unlock()
	if r.isNew {
		return ErrNoRoom
	}
	err := fn(r)
	r.removeIfDead()
	return err
}

// MuteOccupant stops (mute) or lets again (!mute) the forwarding of the
// occupant's media (publish permissions; 0 means audio, video and screen),
// as a moderator's mute does: server-side, whatever its client does.
func (s *Service) MuteOccupant(name, nick string, media perm.Set, mute bool) error {
	if media == 0 {
		media = mediaSet
	}
	return s.withRoom(name, func(r *room) error {
		o := r.occupants[nick]
		if o == nil {
			return ErrNoOccupant
		}
		if mute {
			o.muted |= media & mediaSet
		} else {
			o.muted &^= media
		}
		r.changed(o, "")
		return nil
	})
}

// GrantOccupant changes the occupant's permissions for its visit, one
// permission at a time (later changes win).
func (s *Service) GrantOccupant(name, nick string, o perm.Overrides) error {
	return s.withRoom(name, func(r *room) error {
		t := r.occupants[nick]
		if t == nil {
			return ErrNoOccupant
		}
		t.granted = t.granted.Then(o)
		t.muted &^= o.Grant
		r.changed(t, "")
		return nil
	})
}

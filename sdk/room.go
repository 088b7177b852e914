package sdk

import (
	"context"
	"strings"

	"github.com/pion/rtp"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmlstream"
)

// RoomConfig configures Client.Join.
type RoomConfig struct {
	// Room is the room's name ("standup", in conference.DOMAIN) or its
	// full address ("standup@conference.example.com"). Required.
	Room string
	// Nick is our nickname in the room. Required.
	Nick string
	// Password is the room's password, if it has one. Default none.
	Password string
	// Media, if set, takes part in the call: publish and receive. Default
	// nil: the room is followed for signalling only.
	Media *Media
	// Phone says we are a phone call (the SIP gateway's): our presence
	// carries <phone xmlns='urn:parley:phone:0'/>, and clients show a
	// phone icon. It is a claim, not a credential. Default false.
	Phone bool
}

// Media is what a client does in a room's call.
type Media struct {
	// Audio and Video are published. Default (a zero Source): nothing of
	// that kind is sent, and the tracks of others are still received.
	Audio, Video Source
	// OnRTP, if set, receives every RTP packet of every track that others
	// publish. It runs on one goroutine per track: a slow OnRTP delays only
	// that track. pkt and its payload are valid only during the call; copy
	// what you keep. Default: packets are only counted (see Track.Stats).
	OnRTP func(t Track, pkt *rtp.Packet)
	// ScreenShare declares Video a screen share: the room then needs
	// publish_screen rather than publish_video to forward it. Default
	// false: a camera.
	ScreenShare bool
}

// Room is the client's presence in one room.
type Room struct {
	c    *Client         // the client it belongs to; read-only
	name jid.JID         // bare room JID; read-only
	nick string          // our nick; read-only
	peer *mediapeer.Peer // the engine's presence in the room; read-only
}

// Join enters a room, creating it if it does not exist (we are then its
// owner), and returns once the room has accepted us. The occupants already
// there arrive as EventJoined events with Existing set. In a room with a
// lobby, Join waits (until ctx ends) for a moderator to admit us; a denial
// is a JoinError with condition not-allowed.
func (c *Client) Join(ctx context.Context, cfg RoomConfig) (*Room, error) {
	name, err := c.roomJID(cfg.Room)
	if err != nil {
		return nil, err
	}
	if cfg.Nick == "" {
		return nil, &ConfigError{Field: "Nick", Reason: "required"}
	}
	rc, err := roomConfig(cfg, name)
	if err != nil {
		return nil, err
	}
	p, err := c.conn.NewPeer(rc)
	if err != nil {
		closeSources(rc)
		return nil, sdkError(err)
	}
	r := &Room{c: c, name: name, nick: cfg.Nick, peer: p}
	c.mu.Lock()
	if c.rooms[name.String()] != nil {
		c.mu.Unlock()
		closeSources(rc)
		return nil, ErrAlreadyJoined
	}
	c.rooms[name.String()] = r
	c.mu.Unlock()
	if err := p.Join(ctx); err != nil {
		c.mu.Lock()
		delete(c.rooms, name.String())
		c.mu.Unlock()
		return nil, sdkError(err)
	}
	return r, nil
}

// nsPhone is the namespace of phones in rooms (docs/SIGNALLING.md §16).
const nsPhone = "urn:parley:phone:0"

// roomConfig builds the engine's configuration, opening the sources.
func roomConfig(cfg RoomConfig, name jid.JID) (mediapeer.RoomConfig, error) {
	rc := mediapeer.RoomConfig{Room: name, Nick: cfg.Nick, Password: cfg.Password}
	if cfg.Phone {
		rc.Presence = append(rc.Presence, xmlstream.New(nsPhone, "phone"))
	}
	m := cfg.Media
	if m == nil {
		return rc, nil
	}
	rc.Media = true
	var err error
	if rc.Audio, err = m.Audio.stream(mediaAudio); err != nil {
		return rc, err
	}
	if rc.Video, err = m.Video.stream(mediaVideo); err != nil {
		closeSources(rc)
		return rc, err
	}
	if rc.VideoLayers, err = m.Video.streams(); err != nil {
		closeSources(rc)
		return rc, err
	}
	if m.ScreenShare {
		rc.VideoType = "desktop"
	}
	if m.OnRTP != nil {
		onRTP := m.OnRTP
		rc.OnRTP = func(t *mediapeer.Track, pkt *rtp.Packet) { onRTP(Track{t}, pkt) }
	}
	return rc, nil
}

// closeSources closes the files of a room that did not start.
func closeSources(rc mediapeer.RoomConfig) {
	closeAll(append([]mediapeer.Source{rc.Audio, rc.Video}, rc.VideoLayers...))
}

// ReceiveVideo is what a subscriber asks the SFU to send it.
type ReceiveVideo struct {
	// Quality caps every video: "high", "medium" (a simulcast camera's
	// half layer) or "low" (its quarter). Default "": high.
	Quality string
	// LastN, above 0, receives the camera of only the LastN most recent
	// speakers (fewer if the room's own lastN is lower); audio and screen
	// shares still come from everyone. Default 0: the room's setting.
	LastN int
}

// SetReceiveVideo asks the SFU for what this room's call sends us, as the
// web client's call.setReceiveVideo does; each request replaces the
// previous one. It fails before the call is set up (a little after Join
// returns: wait for the first track) and when the server refuses.
func (r *Room) SetReceiveVideo(ctx context.Context, rv ReceiveVideo) error {
	return sdkError(r.peer.SetReceiveVideo(ctx, mediapeer.ReceiveVideo{Quality: rv.Quality, LastN: rv.LastN}))
}

// roomJID reads a room name or address.
func (c *Client) roomJID(s string) (jid.JID, error) {
	if s == "" {
		return jid.JID{}, &ConfigError{Field: "Room", Reason: "required"}
	}
	if !strings.Contains(s, "@") {
		s += "@conference." + c.cfg.Domain
	}
	j, err := jid.Parse(s)
	if err != nil || !j.IsBare() || j.Local == "" {
		return jid.JID{}, &ConfigError{Field: "Room", Reason: "not a room name or room address: " + s}
	}
	return j, nil
}

// forget removes the room from the client once we are out of it.
func (r *Room) forget() {
	r.c.mu.Lock()
	if r.c.rooms[r.name.String()] == r {
		delete(r.c.rooms, r.name.String())
	}
	r.c.mu.Unlock()
}

// Name returns the room's address, e.g. "standup@conference.example.com".
func (r *Room) Name() string { return r.name.String() }

// Nick returns our nickname in the room.
func (r *Room) Nick() string { return r.nick }

// Occupants returns everyone in the room, ourselves included, by nick.
func (r *Room) Occupants() []Occupant {
	list := r.peer.Occupants()
	out := make([]Occupant, len(list))
	for i, o := range list {
		out[i] = occupant(o)
	}
	return out
}

// Occupant returns the occupant with that nick.
func (r *Room) Occupant(nick string) (Occupant, bool) {
	o, ok := r.peer.Occupant(nick)
	return occupant(o), ok
}

// Subject returns the room's subject.
func (r *Room) Subject() string { return r.peer.Subject() }

// DominantSpeaker returns the nick of the room's dominant speaker as the
// server last named it (EventDominantSpeaker), or "" before it did.
func (r *Room) DominantSpeaker() string { return r.peer.DominantSpeaker() }

// Say sends a message to everyone in the room.
func (r *Room) Say(text string) error { return sdkError(r.peer.Say(text)) }

// SayTo sends a private message to one occupant.
func (r *Room) SayTo(nick, text string) error { return sdkError(r.peer.SayTo(nick, text)) }

// SetSubject changes the room's subject, where our role allows it.
func (r *Room) SetSubject(text string) error { return sdkError(r.peer.SetSubject(text)) }

// Tracks returns the tracks others publish in this room that we received,
// ended ones included. It is empty without Media.
func (r *Room) Tracks() []Track {
	list := r.peer.Tracks()
	out := make([]Track, len(list))
	for i, t := range list {
		out[i] = Track{t}
	}
	return out
}

// Leave leaves the room and ends our part in its call.
func (r *Room) Leave() error {
	err := r.peer.Close()
	r.forget()
	return err
}

// Done is closed once we are out of the room: we left, were kicked or
// banned, the room was destroyed, or the connection ended. Reason says
// which.
func (r *Room) Done() <-chan struct{} { return r.peer.Ended() }

// Reason returns why we are out of the room (one of the Reason constants),
// or "" while we are in.
func (r *Room) Reason() string { return r.peer.EndReason() }

// Role is an occupant's role in a room (XEP-0045 §5.1).
type Role string

// Roles. RoleNone removes the occupant: giving it is a kick.
const (
	RoleModerator   Role = mediapeer.RoleModerator
	RoleParticipant Role = mediapeer.RoleParticipant
	RoleVisitor     Role = mediapeer.RoleVisitor
	RoleNone        Role = mediapeer.RoleNone
)

// Affiliation is a lasting relation between an address and a room
// (XEP-0045 §5.2).
type Affiliation string

// Affiliations. AffiliationOutcast bans.
const (
	AffiliationOwner   Affiliation = mediapeer.AffiliationOwner
	AffiliationAdmin   Affiliation = mediapeer.AffiliationAdmin
	AffiliationMember  Affiliation = mediapeer.AffiliationMember
	AffiliationNone    Affiliation = mediapeer.AffiliationNone
	AffiliationOutcast Affiliation = mediapeer.AffiliationOutcast
)

// Kick removes an occupant from the room; it may come back. We must be a
// moderator. reason may be empty.
func (r *Room) Kick(ctx context.Context, nick, reason string) error {
	return sdkError(r.peer.Kick(ctx, nick, reason))
}

// Ban removes an occupant and keeps its address out. We must be an admin
// or the owner.
func (r *Room) Ban(ctx context.Context, nick, reason string) error {
	return sdkError(r.peer.SetAffiliation(ctx, nick, mediapeer.AffiliationOutcast, reason))
}

// SetRole grants or revokes a role for the duration of the occupant's
// visit: RoleModerator (admins and owners may grant it), RoleParticipant
// (voice), RoleVisitor, or RoleNone (a kick).
func (r *Room) SetRole(ctx context.Context, nick string, role Role, reason string) error {
	return sdkError(r.peer.SetRole(ctx, nick, string(role), reason))
}

// SetAffiliation grants or revokes a lasting affiliation to the address of
// the occupant with that nick. We must be an admin (for member, none,
// outcast) or the owner (for admin and owner).
func (r *Room) SetAffiliation(ctx context.Context, nick string, a Affiliation, reason string) error {
	return sdkError(r.peer.SetAffiliation(ctx, nick, string(a), reason))
}

// SetAffiliationJID is SetAffiliation for an address, in the room or not
// ("alice@example.com").
func (r *Room) SetAffiliationJID(ctx context.Context, address string, a Affiliation, reason string) error {
	j, err := jid.Parse(address)
	if err != nil {
		return &ConfigError{Field: "address", Reason: err.Error()}
	}
	return sdkError(r.peer.SetAffiliationJID(ctx, j, string(a), reason))
}

// Occupant is someone in a room, as we see them.
type Occupant struct {
	Nick        string
	JID         string // the real address, when the room shows it to us; else ""
	Role        Role
	Affiliation Affiliation
	Self        bool // this is us
	// PermissionRole is parley's role (owner, moderator, participant,
	// guest, viewer), Permissions what the occupant may do (names, see
	// docs/PERMISSIONS.md), Muted the media a moderator muted ("audio",
	// "video", "screen"), as the room last said.
	PermissionRole string
	Permissions    []string
	Muted          []string
	// Recording is the id of the recording this occupant makes (it is a
	// recorder: the meeting is being recorded); "" otherwise.
	Recording string
	// Phone says the occupant is a phone call through the SIP gateway
	// (its presence says so: a claim, not a credential).
	Phone bool
}

func occupant(o mediapeer.Occupant) Occupant {
	return Occupant{Nick: o.Nick, JID: o.JID, Role: Role(o.Role), Affiliation: Affiliation(o.Affiliation), Self: o.Self,
		PermissionRole: o.PermRole, Permissions: o.Permissions.Names(), Muted: strings.Fields(o.Muted),
		Recording: o.Recording, Phone: o.Phone}
}

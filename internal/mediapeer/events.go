package mediapeer

import "parley.dev/parley/internal/perm"

// EventKind says what happened in an Event.
type EventKind int

// Event kinds.
const (
	// EventJoined: an occupant is in the room. On our own join it is raised
	// for everyone already there (Existing set), then for ourselves (Self).
	EventJoined EventKind = iota + 1
	// EventLeft: an occupant left; Reason says why.
	EventLeft
	// EventChanged: an occupant's role or affiliation changed.
	EventChanged
	// EventMessage: a groupchat message, or a private one (Private).
	EventMessage
	// EventSubject: the room's subject, on join and when it changes.
	EventSubject
	// EventTrackAdded: another participant's track started arriving.
	EventTrackAdded
	// EventTrackEnded: a remote track ended.
	EventTrackEnded
	// EventRemoved: we are out of the room: kicked, banned, the room was
	// destroyed, or the connection ended. Reason says which.
	EventRemoved
	// EventUnmuteAsked: a moderator (Actor) asks us to unmute the media
	// in Text ("audio", "video", "screen", separated by spaces).
	EventUnmuteAsked
	// EventDominantSpeaker: the server names the room's dominant speaker
	// (Occupant; possibly ourselves).
	EventDominantSpeaker
)

func (k EventKind) String() string {
	switch k {
	case EventJoined:
		return "joined"
	case EventLeft:
		return "left"
	case EventChanged:
		return "changed"
	case EventMessage:
		return "message"
	case EventSubject:
		return "subject"
	case EventTrackAdded:
		return "track-added"
	case EventTrackEnded:
		return "track-ended"
	case EventRemoved:
		return "removed"
	case EventUnmuteAsked:
		return "unmute-asked"
	case EventDominantSpeaker:
		return "dominant-speaker"
	}
	return "unknown"
}

// Reasons an occupant leaves, or we are removed (XEP-0045 status codes).
const (
	ReasonLeft          = "left"
	ReasonKicked        = "kicked"         // 307
	ReasonBanned        = "banned"         // 301
	ReasonNickChanged   = "nick-changed"   // 303
	ReasonAffiliation   = "affiliation"    // 321, 322: lost membership
	ReasonShutdown      = "shutdown"       // 332
	ReasonRoomDestroyed = "room-destroyed" // <destroy/>
	ReasonDisconnected  = "disconnected"   // our XMPP connection ended
	ReasonClosed        = "closed"         // we left with Close
)

// Occupant is one person (or bot) in a room, as we see it.
type Occupant struct {
	Nick        string
	JID         string // the real JID, when the room shows it to us; else ""
	Role        string // moderator, participant, visitor
	Affiliation string // owner, admin, member, none
	Self        bool   // this is us
	// PermRole is parley's role (owner, moderator, participant, guest,
	// viewer), Permissions what it may do, Muted the media a moderator
	// muted ("audio video"), from the room's <perm/>; empty from a server
	// that does not send it.
	PermRole    string
	Permissions perm.Set
	Muted       string
	// Recording is the id of the recording this occupant makes: it is a
	// recorder, and the room is being recorded (the room passes the stamp
	// on only from an occupant with the record permission). "" otherwise.
	Recording string
	// Phone says the occupant is a phone call: its presence carries
	// <phone xmlns='urn:parley:phone:0'/> (its own claim).
	Phone bool
}

// Event is something that happened in a room.
type Event struct {
	Kind     EventKind
	Peer     *Peer    // the room it happened in
	Occupant Occupant // who: joined, left, changed, spoke; for tracks, the publisher
	Existing bool     // EventJoined: was in the room before we joined
	Text     string   // message body, subject, or the reason text given by a moderator
	Reason   string   // EventLeft, EventRemoved: one of the Reason constants
	NewNick  string   // EventLeft with ReasonNickChanged: the new nick
	Private  bool     // EventMessage: sent to us alone
	Delayed  bool     // EventMessage, EventSubject: history replayed on join
	Actor    string   // EventLeft, EventChanged, EventRemoved: the moderator's nick, if the room says
	Track    *Track   // EventTrackAdded, EventTrackEnded
}

package sdk

import "parley.dev/parley/internal/mediapeer"

// EventKind says what happened.
type EventKind int

// Event kinds.
const (
	// EventJoined: someone is in the room. When we join, it is raised for
	// everyone already there (Existing set), then for ourselves
	// (Occupant.Self).
	EventJoined EventKind = iota + 1
	// EventLeft: someone left the room; Reason says why.
	EventLeft
	// EventChanged: someone's role or affiliation changed.
	EventChanged
	// EventMessage: a message to the room, or to us alone (Private).
	EventMessage
	// EventSubject: the room's subject, when we join and when it changes.
	EventSubject
	// EventTrackAdded: another participant's track started arriving.
	EventTrackAdded
	// EventTrackEnded: a track we received ended.
	EventTrackEnded
	// EventRemoved: we are out of the room, not by our own Leave: kicked,
	// banned, the room was destroyed, or the connection ended. Reason says
	// which.
	EventRemoved
	// EventUnmuteAsked: a moderator (Actor) asks us to unmute the media
	// in Text ("audio", "video", "screen", separated by spaces); Unmute
	// accepts.
	EventUnmuteAsked
)

func (k EventKind) String() string { return mediapeer.EventKind(k).String() }

// Why someone left a room, or we are out of one.
const (
	ReasonLeft          = mediapeer.ReasonLeft          // left of their own accord
	ReasonKicked        = mediapeer.ReasonKicked        // a moderator kicked them
	ReasonBanned        = mediapeer.ReasonBanned        // an admin banned them
	ReasonNickChanged   = mediapeer.ReasonNickChanged   // they took another nick (NewNick)
	ReasonAffiliation   = mediapeer.ReasonAffiliation   // they lost the membership a members-only room needs
	ReasonShutdown      = mediapeer.ReasonShutdown      // the server is shutting down
	ReasonRoomDestroyed = mediapeer.ReasonRoomDestroyed // the room was destroyed
	ReasonDisconnected  = mediapeer.ReasonDisconnected  // our connection ended
	ReasonClosed        = mediapeer.ReasonClosed        // we left with Leave or Close
)

// Event is something that happened in a room.
type Event struct {
	Kind     EventKind
	Room     *Room    // where it happened
	Occupant Occupant // who joined, left, changed, spoke; for tracks, the publisher
	Existing bool     // EventJoined: they were there before we joined
	Text     string   // the message, the subject, or the moderator's reason
	Reason   string   // EventLeft, EventRemoved: one of the Reason constants
	NewNick  string   // EventLeft with ReasonNickChanged: their new nick
	Private  bool     // EventMessage: sent to us alone
	Delayed  bool     // EventMessage, EventSubject: history replayed when we joined
	Actor    string   // the moderator who acted, when the room says
	Track    Track    // EventTrackAdded, EventTrackEnded
}

// event converts an engine event of this room.
func (r *Room) event(ev mediapeer.Event) Event {
	out := Event{Kind: EventKind(ev.Kind), Room: r, Occupant: occupant(ev.Occupant), Existing: ev.Existing,
		Text: ev.Text, Reason: ev.Reason, NewNick: ev.NewNick, Private: ev.Private, Delayed: ev.Delayed,
		Actor: ev.Actor}
	if ev.Track != nil {
		out.Track = Track{ev.Track}
	}
	return out
}

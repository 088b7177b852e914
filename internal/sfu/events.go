package sfu

import "github.com/pion/webrtc/v4"

// EventKind says what an Event reports.
type EventKind int

const (
	// EventNeedsOffer: the participant's session must be renegotiated
	// (tracks were published or unpublished). Call Offer, send the offer,
	// and pass the answer to SetAnswer. At most one such event is
	// outstanding per offer: changes arriving while an offer waits for its
	// answer are merged into the next one.
	EventNeedsOffer EventKind = iota + 1
	// EventConnectionState: the participant's connection state changed
	// (Event.State).
	EventConnectionState
	// EventTrackPublished: another participant (Event.ParticipantID)
	// published a track (Event.Track) that will be sent to this
	// participant after the next negotiation.
	EventTrackPublished
	// EventTrackUnpublished: a track another participant published is
	// gone (it left); it is taken out of this participant's session at the
	// next negotiation.
	EventTrackUnpublished
	// EventClosed: the participant is closed; it is the last event, and
	// the channel is closed after it.
	EventClosed
)

func (k EventKind) String() string {
	switch k {
	case EventNeedsOffer:
		return "needs-offer"
	case EventConnectionState:
		return "connection-state"
	case EventTrackPublished:
		return "track-published"
	case EventTrackUnpublished:
		return "track-unpublished"
	case EventClosed:
		return "closed"
	}
	return "unknown"
}

// Event is something the focus has to know about one participant.
type Event struct {
	Kind EventKind
	// ParticipantID is the participant the event is about: the publisher
	// for track events, the receiving participant itself otherwise.
	ParticipantID string
	// Track describes the track of EventTrackPublished and
	// EventTrackUnpublished.
	Track TrackInfo
	// State is the new state for EventConnectionState.
	State ConnectionState
}

// MediaKind is "audio" or "video".
type MediaKind string

// The media kinds.
const (
	Audio MediaKind = "audio"
	Video MediaKind = "video"
)

// Source says what a published track carries. A participant publishes at
// most one track of each source.
type Source string

// The sources, which are also the track id prefixes (see TrackInfo).
const (
	SourceAudio  Source = "audio"  // the microphone
	SourceCamera Source = "video"  // the camera
	SourceScreen Source = "screen" // a shared screen, window or tab: a second video track
)

// numSources is the number of publication slots per participant.
const numSources = 3

// slot returns the publication slot of a source.
func (s Source) slot() int {
	switch s {
	case SourceAudio:
		return 0
	case SourceCamera:
		return 1
	default:
		return 2
	}
}

// Kind returns the media kind a source is sent as.
func (s Source) Kind() MediaKind {
	if s == SourceAudio {
		return Audio
	}
	return Video
}

// TrackInfo identifies a forwarded track the way subscribers see it in SDP.
//
// Stream id convention: every track a participant publishes is forwarded
// with msid "<StreamID> <TrackID>", where StreamID is the publishing
// participant's id and TrackID is the source + "-" + participant id:
// "audio-alice", "video-alice" (the camera), "screen-alice" (a screen
// share, a second video track). Clients map received tracks to people by
// the stream id, and tell a screen from a camera by the track id's prefix;
// the focus puts the same pair into Jingle sources.
type TrackInfo struct {
	Kind     MediaKind // audio or video
	Source   Source    // audio, camera (video) or screen
	StreamID string    // the publishing participant's id
	TrackID  string    // Source + "-" + StreamID
	Codec    string    // MIME type the publisher sends, e.g. "video/VP8"
}

// trackIDFor applies the stream id convention.
func trackIDFor(src Source, participantID string) string {
	return string(src) + "-" + participantID
}

// ConnectionState mirrors the WebRTC peer connection state.
type ConnectionState string

// The connection states.
const (
	StateNew          ConnectionState = "new"
	StateConnecting   ConnectionState = "connecting"
	StateConnected    ConnectionState = "connected"
	StateDisconnected ConnectionState = "disconnected"
	StateFailed       ConnectionState = "failed"
	StateClosed       ConnectionState = "closed"
)

func connectionStateOf(s webrtc.PeerConnectionState) ConnectionState {
	switch s {
	case webrtc.PeerConnectionStateConnecting:
		return StateConnecting
	case webrtc.PeerConnectionStateConnected:
		return StateConnected
	case webrtc.PeerConnectionStateDisconnected:
		return StateDisconnected
	case webrtc.PeerConnectionStateFailed:
		return StateFailed
	case webrtc.PeerConnectionStateClosed:
		return StateClosed
	default:
		return StateNew
	}
}

func mediaKindOf(k webrtc.RTPCodecType) MediaKind {
	if k == webrtc.RTPCodecTypeAudio {
		return Audio
	}
	return Video
}

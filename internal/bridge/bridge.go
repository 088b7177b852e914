// Package bridge is what the focus asks of a media server, and nothing
// else: interfaces and the values they exchange, no implementation (in
// the style of Galène's conn package). The in-process SFU satisfies it
// through internal/localbridge, a bridge in another process through
// internal/remotebridge, and internal/focus's tests through a fake. The
// SFU never imports it; neither does anything XMPP.
//
// A media server is always the offerer: the focus asks a Participant for an
// SDP offer, carries it to the client (as Jingle), and hands the client's
// answer back. Offers are complete (no local trickle); the client's
// candidates may trickle in.
package bridge

import (
	"context"
	"encoding/json"
	"errors"
)

// Server is a media server: one bridge, or a pool that places each new
// conference on one of its bridges.
type Server interface {
	// Conference returns a new media conference for the room id. Each call
	// makes a fresh one (a pool may place it on another bridge than the
	// last); the caller closes it. ErrNoBridge when none can take it.
	Conference(ctx context.Context, id string) (Conference, error)
}

// Conference is one room's media on one bridge.
type Conference interface {
	// Bridge names the bridge it runs on ("local" for the in-process SFU),
	// for logs and operators.
	Bridge() string
	// Join adds a participant whose session is not negotiated yet: the
	// caller follows with Offer and SetAnswer. The id is 1 to 57 SDP
	// token characters.
	Join(ctx context.Context, id string, opts JoinOptions) (Participant, error)
	// SetLastN limits every participant to the cameras of the n most
	// recent speakers (0: everybody's).
	SetLastN(n int)
	// Events reports the conference's news. It is closed after Close, or
	// after EventBridgeFailed.
	Events() <-chan ConferenceEvent
	// Close ends the conference and every participant in it.
	Close()
}

// Cascade is a Conference that can be relayed to the same room's
// conference on another bridge (cascading, internal/sfu's relays): one
// relay participant at each end, one peer connection per bridge pair,
// each stream carried once whatever the number of subscribers behind it.
// The in-process SFU and remote bridges implement it.
type Cascade interface {
	// JoinRelay adds this bridge's end of a relay, named id (not a
	// participant's id). Its offers go to the other end's AnswerOffer
	// and the answers back to its SetAnswer, and the other way round,
	// one exchange at a time.
	JoinRelay(ctx context.Context, id string) (Relay, error)
}

// Relay is one end of a relay between two bridges: a participant for
// signalling (Offer, SetAnswer, Events, Close) that also answers the other
// end's offers.
type Relay interface {
	Participant
	// AnswerOffer answers the other end's offer. ErrOfferPending while
	// an offer of its own waits for its answer.
	AnswerOffer(ctx context.Context, offer string) (string, error)
}

// Participant is one participant's WebRTC session on a bridge.
type Participant interface {
	// Offer returns the SDP offer to send: the first one, or a
	// renegotiation. ErrNothingToNegotiate and ErrOfferPending are
	// harmless.
	Offer(ctx context.Context) (string, error)
	// RestartOffer returns an ICE-restart offer (new credentials, the same
	// m-lines). ErrNotNegotiated before the first answer.
	RestartOffer(ctx context.Context) (string, error)
	// SetAnswer applies the client's SDP answer to the offer out.
	SetAnswer(ctx context.Context, sdp string) error
	// AddRemoteCandidate adds a trickled ICE candidate ("candidate:..." or
	// without the prefix).
	AddRemoteCandidate(ctx context.Context, candidate string) error
	// SetScreenShare turns the forwarding of the participant's screen
	// m-line on or off. ErrNoScreenShare without one.
	SetScreenShare(ctx context.Context, on bool) error
	// SetForwarding gates what the participant publishes of src: off drops
	// it at once (a mute, a withdrawn permission).
	SetForwarding(src Source, on bool)
	// SetReceiveVideo says which videos the participant shows and how
	// big: the bridge picks layers from it.
	SetReceiveVideo(rv ReceiveVideo)
	// OfferPublishing adds a publish m-line of kind at the next offer (a
	// permission newly granted); an EventNeedsOffer follows.
	OfferPublishing(kind MediaKind)
	// Events reports what the focus must act on. It is closed after
	// EventClosed.
	Events() <-chan Event
	// Report describes the connection for operators, as JSON (the
	// bridge's own document: route, round-trip time, counters).
	Report(ctx context.Context) (json.RawMessage, error)
	// Close ends the session.
	Close()
}

// JoinOptions says what a joining participant may publish.
type JoinOptions struct {
	NoAudio     bool // no audio m-line to publish on; default false: it may
	NoVideo     bool // no camera or screen m-lines; default false: it may
	NoSimulcast bool // one layer per video; default false: layers are asked for
}

// Source says what a published track carries; it is also the prefix of
// the track ids (TrackID).
type Source string

// The sources.
const (
	SourceAudio  Source = "audio"
	SourceCamera Source = "video"
	SourceScreen Source = "screen"
)

// Sources lists every Source in publication order.
func Sources() []Source { return []Source{SourceAudio, SourceCamera, SourceScreen} }

// TrackID is the track id a participant's track of src is forwarded with
// (the stream id is the participant id): "video-p1".
func TrackID(src Source, participantID string) string { return string(src) + "-" + participantID }

// MediaKind is audio or video.
type MediaKind string

// The media kinds.
const (
	Audio MediaKind = "audio"
	Video MediaKind = "video"
)

// Quality caps the layers a participant receives.
type Quality int

// The qualities.
const (
	QualityHigh Quality = iota
	QualityMedium
	QualityLow
)

// ReceiveVideo is a participant's view: its quality setting, the height
// each video track is shown at (0: hidden), its own lastN, its pins.
type ReceiveVideo struct {
	Quality Quality        `json:"quality"`
	Heights map[string]int `json:"heights,omitempty"`
	LastN   int            `json:"last_n,omitempty"`
	Pinned  []string       `json:"pinned,omitempty"`
}

// EventKind says what an Event reports.
type EventKind int

// The participant events.
const (
	// EventNeedsOffer: tracks came or went; renegotiate (Offer).
	EventNeedsOffer EventKind = iota + 1
	// EventConnectionState: Event.State is the connection's new state
	// (and Event.Route the path once connected).
	EventConnectionState
	// EventSendLayers: the participant should send only the simulcast
	// layers Event.Layers (rids, comma separated) of Event.Source.
	EventSendLayers
	// EventClosed: the last event.
	EventClosed
)

// Connection states the focus acts on (others pass through as they are).
const (
	StateConnected = "connected"
	StateFailed    = "failed"
)

// Event is news about one participant.
type Event struct {
	Kind   EventKind
	State  string // EventConnectionState: new, connecting, connected, disconnected, failed, closed
	Route  string // EventConnectionState when connected: "host/udp -> host/udp 192.0.2.1:5000"
	Source Source // EventSendLayers
	Layers string // EventSendLayers
}

// ConferenceEventKind says what a ConferenceEvent reports.
type ConferenceEventKind int

// The conference events.
const (
	// EventDominantSpeaker: ParticipantID speaks now.
	EventDominantSpeaker ConferenceEventKind = iota + 1
	// EventBridgeFailed: the bridge is gone (it left, or stopped
	// answering); the conference and its participants are dead, and the
	// caller should place them anew. The last event.
	EventBridgeFailed
)

// ConferenceEvent is news about a conference.
type ConferenceEvent struct {
	Kind          ConferenceEventKind
	ParticipantID string // EventDominantSpeaker
	Reason        string // EventBridgeFailed
}

// Errors a media server returns (possibly wrapped: test with errors.Is).
var (
	ErrClosed             = errors.New("bridge: closed")
	ErrOfferPending       = errors.New("bridge: an offer is waiting for its answer")
	ErrNothingToNegotiate = errors.New("bridge: nothing to negotiate")
	ErrNotNegotiated      = errors.New("bridge: not negotiated yet")
	ErrNoScreenShare      = errors.New("bridge: no screen share in this session")
	ErrNoBridge           = errors.New("bridge: no bridge available")
	ErrGone               = errors.New("bridge: the bridge is gone")
)

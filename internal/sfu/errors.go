package sfu

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error returned by this package either is one of
// these or is an *Error wrapping one (test with errors.Is).
var (
	// ErrConfig: New was given an unusable Config.
	ErrConfig = errors.New("sfu: invalid config")
	// ErrClosed: the SFU, conference or participant has been closed.
	ErrClosed = errors.New("sfu: closed")
	// ErrInvalidParticipantID: the id is empty, too long or has characters
	// an SDP msid cannot carry.
	ErrInvalidParticipantID = errors.New("sfu: invalid participant id")
	// ErrParticipantExists: the conference already has a participant with
	// this id.
	ErrParticipantExists = errors.New("sfu: participant already joined")
	// ErrOfferPending: an offer is still waiting for its answer. Harmless
	// for the caller: once the answer is set, a new EventNeedsOffer follows
	// if anything changed meanwhile.
	ErrOfferPending = errors.New("sfu: an offer is waiting for its answer")
	// ErrNothingToNegotiate: Offer was called although the session is
	// negotiated and nothing changed since. Harmless; there is no offer to
	// send.
	ErrNothingToNegotiate = errors.New("sfu: nothing to negotiate")
	// ErrNoOfferPending: SetAnswer was called with no offer outstanding.
	ErrNoOfferPending = errors.New("sfu: no offer is waiting for an answer")
	// ErrNotNegotiated: RestartOffer was called before the first answer;
	// there is no connection to restart yet.
	ErrNotNegotiated = errors.New("sfu: not negotiated yet")
	// ErrMalformedAnswer: the answer is not SDP, or does not answer the
	// offer (m-lines, mids, ICE credentials, DTLS fingerprint).
	ErrMalformedAnswer = errors.New("sfu: malformed answer")
	// ErrMalformedOffer: another bridge's relay offer (AnswerRelay) is not
	// SDP, or not one the WebRTC stack can answer.
	ErrMalformedOffer = errors.New("sfu: malformed offer")
	// ErrBadCandidate: a remote ICE candidate could not be parsed or used.
	ErrBadCandidate = errors.New("sfu: bad ICE candidate")
	// ErrCodecNotNegotiated: a subscriber's session has no codec at all
	// for a track's kind. (A subscriber lacking just the publisher's codec
	// gets the m-line but no packets; see ParticipantStats.DroppedUnbound.)
	ErrCodecNotNegotiated = errors.New("sfu: codec not negotiated")
	// ErrNoScreenShare: SetScreenShare on a participant whose session has
	// no screen-share m-line (JoinOptions.NoScreen or NoVideo).
	ErrNoScreenShare = errors.New("sfu: no screen share in this session")
	// ErrNegotiation: the WebRTC stack refused a step of the offer/answer
	// exchange; the participant should be closed.
	ErrNegotiation = errors.New("sfu: negotiation failed")
)

// errBroken: an earlier step left the session in a state it cannot be
// negotiated from; the participant should be closed.
var errBroken = wrapf(ErrNegotiation, "session cannot be negotiated any more; close it")

// Error describes a failed operation on one participant. Err is one of the
// sentinel errors above, possibly wrapping the underlying cause.
type Error struct {
	Op          string // what was attempted: "join", "offer", "set answer", "add candidate"
	Conference  string // conference id
	Participant string // participant id
	Err         error  // the reason; errors.Is matches the sentinels
}

func (e *Error) Error() string {
	return fmt.Sprintf("sfu: %s %s/%s: %v", e.Op, e.Conference, e.Participant, e.Err)
}

func (e *Error) Unwrap() error { return e.Err }

// wrapf wraps cause under sentinel with a formatted detail.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

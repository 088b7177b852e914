package sdk

import (
	"errors"

	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

// Errors without details.
var (
	// ErrClosed: the client, or our presence in the room, has ended.
	ErrClosed = errors.New("sdk: closed")
	// ErrAlreadyJoined: the client is already in (or joining) that room.
	ErrAlreadyJoined = errors.New("sdk: already in that room")
)

// ConfigError reports a configuration the SDK cannot use.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "sdk: " + e.Field + ": " + e.Reason }

// ConnectError reports that the server refused the connection: Step is
// "sasl" (wrong credentials: Condition not-authorized), "bind", "starttls"
// or "stream".
type ConnectError struct {
	Step      string
	Condition string
	Text      string
}

func (e *ConnectError) Error() string {
	s := "sdk: connecting failed at " + e.Step + ": " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// JoinError reports that a room refused us: Condition not-authorized (a
// wrong or missing password), conflict (the nick is taken), forbidden
// (banned), registration-required (members only), and so on.
type JoinError struct {
	Room      string
	Condition string
	Text      string
}

func (e *JoinError) Error() string {
	s := "sdk: " + e.Room + " refused us: " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// ModerationError reports that a room refused a moderator action:
// Condition forbidden (we are not a moderator, or not an admin for
// affiliations), not-allowed (the target ranks too high), item-not-found
// (no such occupant), and so on.
type ModerationError struct {
	Action    string // "role" or "affiliation"
	Target    string // the nick or address acted on
	Condition string
	Text      string
}

func (e *ModerationError) Error() string {
	s := "sdk: the room refused the " + e.Action + " change for " + e.Target + ": " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// MediaError reports a media source that cannot be opened: a missing
// file, a file that is not VP8 IVF or Opus Ogg.
type MediaError struct{ Err error }

func (e *MediaError) Error() string { return "sdk: media source: " + e.Err.Error() }
func (e *MediaError) Unwrap() error { return e.Err }

// connectError converts the XMPP client's refusals.
func connectError(err error) error {
	var xe *xmppclient.Error
	if errors.As(err, &xe) {
		return &ConnectError{Step: xe.Step, Condition: xe.Condition, Text: xe.Text}
	}
	return err
}

// sdkError converts the engine's errors to the SDK's.
func sdkError(err error) error {
	var je *mediapeer.JoinError
	var me *mediapeer.ModerationError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &je):
		return &JoinError{Room: je.Room, Condition: je.Condition, Text: je.Text}
	case errors.As(err, &me):
		return &ModerationError{Action: me.Action, Target: me.Target, Condition: me.Condition, Text: me.Text}
	case errors.Is(err, mediapeer.ErrClosed):
		return ErrClosed
	case errors.Is(err, mediapeer.ErrAlreadyJoined):
		return ErrAlreadyJoined
	}
	return err
}

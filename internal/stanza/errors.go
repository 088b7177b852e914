package stanza

import (
	"errors"

	"parley.dev/parley/internal/xmlstream"
)

// Condition is a defined stanza error condition (RFC 6120 §8.3.3).
type Condition string

// The stanza error conditions parley uses.
const (
	BadRequest            Condition = "bad-request"
	Conflict              Condition = "conflict"
	FeatureNotImplemented Condition = "feature-not-implemented"
	Forbidden             Condition = "forbidden"
	Gone                  Condition = "gone"
	InternalServerError   Condition = "internal-server-error"
	ItemNotFound          Condition = "item-not-found"
	JIDMalformed          Condition = "jid-malformed"
	NotAcceptable         Condition = "not-acceptable"
	NotAllowed            Condition = "not-allowed"
	NotAuthorized         Condition = "not-authorized"
	PolicyViolation       Condition = "policy-violation"
	RecipientUnavailable  Condition = "recipient-unavailable"
	RegistrationRequired  Condition = "registration-required"
	RemoteServerNotFound  Condition = "remote-server-not-found"
	ResourceConstraint    Condition = "resource-constraint"
	ServiceUnavailable    Condition = "service-unavailable"
	SubscriptionRequired  Condition = "subscription-required"
	UndefinedCondition    Condition = "undefined-condition"
	UnexpectedRequest     Condition = "unexpected-request"
)

// defaultType is the error type RFC 6120 §8.3.3 suggests for each condition.
var defaultType = map[Condition]string{
	BadRequest:            "modify",
	Conflict:              "cancel",
	FeatureNotImplemented: "cancel",
	Forbidden:             "auth",
	Gone:                  "cancel",
	InternalServerError:   "cancel",
	ItemNotFound:          "cancel",
	JIDMalformed:          "modify",
	NotAcceptable:         "modify",
	NotAllowed:            "cancel",
	NotAuthorized:         "auth",
	PolicyViolation:       "modify",
	RecipientUnavailable:  "wait",
	RegistrationRequired:  "auth",
	RemoteServerNotFound:  "cancel",
	ResourceConstraint:    "wait",
	ServiceUnavailable:    "cancel",
	SubscriptionRequired:  "auth",
	UndefinedCondition:    "cancel",
	UnexpectedRequest:     "wait",
}

// Error is a stanza error: what a request failed with, as its sender will see it.
type Error struct {
	Condition Condition
	Type      string             // "" means the condition's usual type
	Text      string             // optional human-readable explanation
	Extra     *xmlstream.Element // optional application-specific condition
}

// NewError returns an *Error with the condition's usual type and a text.
func NewError(c Condition, text string) *Error { return &Error{Condition: c, Text: text} }

func (e *Error) Error() string {
	if e.Text != "" {
		return string(e.Condition) + ": " + e.Text
	}
	return string(e.Condition)
}

// ErrorType returns the error's type attribute.
func (e *Error) ErrorType() string {
	if e.Type != "" {
		return e.Type
	}
	if t, ok := defaultType[e.Condition]; ok {
		return t
	}
	return "cancel"
}

// Element builds the <error/> child.
func (e *Error) Element() *xmlstream.Element {
	el := xmlstream.New(xmlstream.NSClient, "error", "type", e.ErrorType())
	el.Add(xmlstream.New(NSStanzas, string(e.Condition)))
	if e.Text != "" {
		el.Add(xmlstream.New(NSStanzas, "text", "xml:lang", "en").SetText(e.Text))
	}
	return el.Add(e.Extra)
}

// ParseError reads the <error/> child of an error stanza; nil if there is none.
func ParseError(st *xmlstream.Element) *Error {
	el := st.Child("", "error")
	if el == nil {
		return nil
	}
	e := &Error{Type: el.Attr("type"), Condition: UndefinedCondition}
	for _, c := range el.Children {
		switch {
		case c.Space == NSStanzas && c.Name == "text":
			e.Text = c.Text
		case c.Space == NSStanzas:
			e.Condition = Condition(c.Name)
		default:
			e.Extra = c
		}
	}
	return e
}

// AnswerError returns nil for an IQ result, and the *Error an IQ error
// answer carries (undefined-condition when it names none).
func AnswerError(res *xmlstream.Element) error {
	if res.Attr("type") != "error" {
		return nil
	}
	if se := ParseError(res); se != nil {
		return se
	}
	return NewError(UndefinedCondition, "")
}

// AsError turns any error into a stanza error. Packages that can fail a
// request return errors that are, or wrap, an *Error; anything else is an
// internal error, whose text is not shown to the remote party.
func AsError(err error) *Error {
	var se *Error
	if errors.As(err, &se) {
		return se
	}
	var c interface{ StanzaError() *Error }
	if errors.As(err, &c) {
		return c.StanzaError()
	}
	return &Error{Condition: InternalServerError}
}

// ErrorReply builds the error answer to st (RFC 6120 §8.3.1): the original
// stanza's name, id and payload, addresses swapped, type="error". It returns
// nil if st is itself an error, which must never be answered.
func ErrorReply(st *xmlstream.Element, err error) *xmlstream.Element {
	if st.Attr("type") == "error" {
		return nil
	}
	reply := xmlstream.New(xmlstream.NSClient, st.Name, "type", "error")
	if id := st.Attr("id"); id != "" {
		reply.SetAttr("id", id)
	}
	if from := st.Attr("from"); from != "" {
		reply.SetAttr("to", from)
	}
	if to := st.Attr("to"); to != "" {
		reply.SetAttr("from", to)
	}
	// An IQ error carries the request payload back; messages and presences
	// keep theirs too, minus anything large that would bounce pointlessly.
	if st.Name == "iq" {
		reply.Children = append(reply.Children, st.Children...)
	}
	return reply.Add(AsError(err).Element())
}

// StreamError is a stream-level error (RFC 6120 §4.9): the stream is closed after it.
type StreamError struct {
	Condition string // e.g. "not-well-formed", "policy-violation"
	Text      string
}

// Stream error conditions parley sends.
const (
	StreamBadFormat           = "bad-format"
	StreamConflict            = "conflict"
	StreamConnectionTimeout   = "connection-timeout"
	StreamHostUnknown         = "host-unknown"
	StreamInvalidNamespace    = "invalid-namespace"
	StreamInvalidXML          = "invalid-xml"
	StreamNotAuthorized       = "not-authorized"
	StreamNotWellFormed       = "not-well-formed"
	StreamPolicyViolation     = "policy-violation"
	StreamResourceConstraint  = "resource-constraint"
	StreamRestrictedXML       = "restricted-xml"
	StreamSystemShutdown      = "system-shutdown"
	StreamUnsupportedEncoding = "unsupported-encoding"
	StreamUnsupportedVersion  = "unsupported-version"
	StreamUnsupportedStanza   = "unsupported-stanza-type"
	StreamInternalServerError = "internal-server-error"
	StreamUndefinedCondition  = "undefined-condition"
)

func (e *StreamError) Error() string {
	if e.Text != "" {
		return "stream error " + e.Condition + ": " + e.Text
	}
	return "stream error " + e.Condition
}

// Element builds <stream:error/>.
func (e *StreamError) Element() *xmlstream.Element {
	el := xmlstream.New(xmlstream.NSStream, "error")
	el.Add(xmlstream.New(NSStreams, e.Condition))
	if e.Text != "" {
		el.Add(xmlstream.New(NSStreams, "text", "xml:lang", "en").SetText(e.Text))
	}
	return el
}

package xmlstream

import (
	"errors"
	"strconv"
)

// Stream error conditions (RFC 6120 §4.9.3) that the decoder reports. They
// are the same strings as the stanza package's Stream* constants; they are
// repeated here because stanza imports this package.
const (
	CondNotWellFormed       = "not-well-formed"
	CondPolicyViolation     = "policy-violation"
	CondRestrictedXML       = "restricted-xml"
	CondInvalidNamespace    = "invalid-namespace"
	CondUnsupportedEncoding = "unsupported-encoding"
	CondBadFormat           = "bad-format"
)

// ErrStreamClosed is returned by ReadElement once the peer has closed its
// stream with </stream:stream>. Like io.EOF it is returned unwrapped.
var ErrStreamClosed = errors.New("xmlstream: stream closed by peer")

// ErrNoHeader is returned by ReadElement when no stream header has been read
// since the decoder was created, reset or restarted: a programming error.
var ErrNoHeader = errors.New("xmlstream: ReadElement before ReadHeader")

// SyntaxError reports input the decoder refuses. Condition is the RFC 6120
// stream error condition to send before closing the stream; Offset is the
// byte offset of the problem, counted from the start of the top-level
// element (or of ParseElement's input) for element errors and from the start
// of the header for header errors.
type SyntaxError struct {
	Cond   string // one of the Cond* constants
	Msg    string // human-readable detail, safe to send as <text/>
	Offset int
}

// Condition returns the stream error condition to send (e.g.
// "not-well-formed"), for mapping onto stanza.StreamError.
func (e *SyntaxError) Condition() string { return e.Cond }

func (e *SyntaxError) Error() string {
	return "xmlstream: " + e.Cond + " at byte " + strconv.Itoa(e.Offset) + ": " + e.Msg
}

// ErrorCondition returns the stream error condition carried by err, or "" if
// err is not (and does not wrap) a *SyntaxError.
func ErrorCondition(err error) string {
	var se *SyntaxError
	if errors.As(err, &se) {
		return se.Cond
	}
	return ""
}

func syntaxErr(cond string, off int, msg string) *SyntaxError {
	return &SyntaxError{Cond: cond, Msg: msg, Offset: off}
}

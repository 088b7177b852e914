package record

import (
	"net/http"

	"parley.dev/parley/internal/stanza"
)

// Error is an error of the package that a requester may read: it becomes
// a stanza error (StanzaError) or an HTTP status (HTTPStatus).
type Error struct {
	Text      string
	Condition stanza.Condition
	Status    int
}

func (e *Error) Error() string { return "record: " + e.Text }

// StanzaError makes it a stanza error (internal/stanza's ErrorReply).
func (e *Error) StanzaError() *stanza.Error { return stanza.NewError(e.Condition, e.Text) }

// HTTPStatus is its status in the admin API.
func (e *Error) HTTPStatus() int { return e.Status }

// Errors of the package.
var (
	// ErrDiskFull is the reason of a recording that ran out of disk space,
	// and the error of one that could not start for it.
	ErrDiskFull    = &Error{"not enough free disk space", stanza.ResourceConstraint, http.StatusInsufficientStorage}
	ErrNoRecording = &Error{"no such recording", stanza.ItemNotFound, http.StatusNotFound}
	ErrRunning     = &Error{"the recording is still running", stanza.Conflict, http.StatusConflict}
	ErrBadName     = &Error{"bad room or recording name", stanza.BadRequest, http.StatusBadRequest}
	ErrClosed      = &Error{"recording is shutting down", stanza.ServiceUnavailable, http.StatusServiceUnavailable}
	// ErrCodec is returned for a video codec we do not record.
	ErrCodec = &Error{"video codec not recorded", stanza.FeatureNotImplemented, http.StatusNotImplemented}
)

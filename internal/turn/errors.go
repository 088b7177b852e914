package turn

import (
	"errors"
	"fmt"
)

// Sentinel errors; every error this package returns either is one of these
// or wraps one (test with errors.Is).
var (
	// ErrConfig: New was given an unusable Config.
	ErrConfig = errors.New("turn: invalid config")
	// ErrInvalidUser: a credential was asked for an empty user name or one
	// containing ':', which the "expiry:user" format cannot carry.
	ErrInvalidUser = errors.New("turn: invalid user name")
	// ErrPeerForbidden: the relay policy refuses this peer address.
	ErrPeerForbidden = errors.New("turn: peer address forbidden by the relay policy")
)

// wrapf wraps sentinel with a formatted detail.
func wrapf(sentinel error, format string, args ...any) error {
	return fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...))
}

package turn

import (
	"errors"
	"time"
)

// secrets is the TURN REST secret and, for a while after a rotation, the
// one before it. Immutable: a rotation swaps the pointer.
type secrets struct {
	current  string
	previous string    // "" when no rotation is under way
	until    time.Time // credentials expiring at or before this were signed with previous
}

// forExpiry returns the secret that signed a credential expiring at t. A
// credential's expiry is its issue time plus its life, so with lives of at
// most the overlap given to RotateSecret, a credential that expires before
// the rotation time plus that overlap was issued before the rotation.
// Expiries are whole seconds: sign guarantees that a credential issued
// after the rotation expires after until's second.
func (s *secrets) forExpiry(t time.Time) string {
	if s.previous != "" && t.Unix() <= s.until.Unix() {
		return s.previous
	}
	return s.current
}

// sign makes a credential with the current secret, expiring at expires or,
// in the second of the rotation's end, one second later.
func (s *secrets) sign(user string, expires time.Time) (Credential, error) {
	if s.previous != "" && expires.Unix() <= s.until.Unix() {
		expires = time.Unix(s.until.Unix()+1, 0)
	}
	return NewCredential(s.current, user, expires)
}

// RotateSecret makes secret the one that signs new credentials. The old
// one still checks credentials issued before now, for overlap: the longest
// life of a credential (what Credentials is given as ttl). After that, only
// the new one is known. Credentials from another issuer that shares the
// secret (coturn-style) must not live longer than overlap either.
func (s *Server) RotateSecret(secret string, overlap time.Duration) error {
	if secret == "" {
		return errors.New("turn: empty secret")
	}
	old := s.secrets.Load()
	if secret == old.current {
		return nil
	}
	s.secrets.Store(&secrets{current: secret, previous: old.current, until: s.cfg.Clock().Add(overlap)})
	s.log.Info("TURN secret rotated", "overlap", overlap)
	return nil
}

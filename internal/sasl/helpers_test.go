package sasl

import (
	"encoding/base64"
	"errors"
	"testing"
)

// memLookup is a CredentialLookup over fixed credentials.
type memLookup struct {
	creds map[string]map[Hash]SCRAMCredentials
	decoy bool  // return a lookup-made decoy for unknown users
	err   error // returned for every lookup when set
}

func (m *memLookup) SCRAM(user string, h Hash) (SCRAMCredentials, error) {
	if m.err != nil {
		return SCRAMCredentials{}, m.err
	}
	if c, ok := m.creds[user][h]; ok {
		return c, nil
	}
	if m.decoy {
		return SCRAMCredentials{Salt: []byte("decoy-" + user), Iterations: 5000}, ErrUnknownUser
	}
	return SCRAMCredentials{}, ErrUnknownUser
}

// newLookup derives credentials for user/password pairs with fixed salts.
func newLookup(t testing.TB, iterations int, userPass ...string) *memLookup {
	t.Helper()
	m := &memLookup{creds: map[string]map[Hash]SCRAMCredentials{}}
	for i := 0; i+1 < len(userPass); i += 2 {
		m.creds[userPass[i]] = map[Hash]SCRAMCredentials{}
		for _, h := range []Hash{SHA1, SHA256} {
			c, err := DeriveSCRAM(h, userPass[i+1], []byte("salt-"+userPass[i]+"-"+h.Name()), iterations)
			if err != nil {
				t.Fatalf("DeriveSCRAM(%s): %v", userPass[i], err)
			}
			m.creds[userPass[i]][h] = c
		}
	}
	return m
}

func mustB64(t testing.TB, s string) []byte {
	t.Helper()
	b, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		t.Fatalf("base64 %q: %v", s, err)
	}
	return b
}

// failureCondition returns err's SASL condition, failing the test if err is
// not a *Failure.
func failureCondition(t testing.TB, err error) Condition {
	t.Helper()
	var f *Failure
	if !errors.As(err, &f) {
		t.Fatalf("error %v (%T) is not a *Failure", err, err)
	}
	return f.Condition
}

// exchange runs client and server against each other until one finishes.
// It returns the server's final error (nil on success) and the client's.
func exchange(t testing.TB, c *ClientSession, s *ServerSession) (serverErr, clientErr error) {
	t.Helper()
	msg, _, err := c.Step(nil)
	if err != nil {
		return nil, err
	}
	for range 5 {
		chal, done, err := s.Step(msg)
		if err != nil {
			return err, nil
		}
		if done {
			_, cdone, cerr := c.Step(chal)
			if cerr == nil && !cdone {
				t.Fatal("client not done after server success")
			}
			return nil, cerr
		}
		if msg, _, err = c.Step(chal); err != nil {
			return nil, err
		}
	}
	t.Fatal("exchange did not finish")
	return nil, nil
}

// clientFinalFor computes, independently of ClientSession, the
// client-final-message for server-first sf with the given channel binding
// data, and the server signature to expect (base64).
func clientFinalFor(t testing.TB, h Hash, password, clientFirstBare, sf, binding string) (final, serverSig string) {
	t.Helper()
	parsed, ok := parseServerFirst(sf)
	if !ok {
		t.Fatalf("bad server-first %q", sf)
	}
	salted, err := saltedPassword(h, password, parsed.salt, parsed.iterations)
	if err != nil {
		t.Fatal(err)
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString([]byte(binding)) + ",r=" + parsed.nonce
	auth := clientFirstBare + "," + sf + "," + withoutProof
	clientKey := hmacSum(h, salted, "Client Key")
	proof := xorBytes(clientKey, hmacSum(h, hashSum(h, clientKey), auth))
	sig := hmacSum(h, hmacSum(h, salted, "Server Key"), auth)
	return withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof), base64.StdEncoding.EncodeToString(sig)
}

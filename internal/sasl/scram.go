package sasl

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/subtle"
	"encoding/base64"
	"io"
	"strconv"
	"strings"

	"golang.org/x/text/secure/precis"
)

// SCRAMCredentials are the stored SCRAM keys for one user and one hash
// (RFC 5802 §3): enough to verify a client, not enough to impersonate one.
type SCRAMCredentials struct {
	Salt       []byte
	Iterations int
	StoredKey  []byte // H(HMAC(SaltedPassword, "Client Key"))
	ServerKey  []byte // HMAC(SaltedPassword, "Server Key")
}

// CredentialLookup is what the server side needs from an account store.
type CredentialLookup interface {
	// SCRAM returns the stored credentials of username for hash. For a user
	// it does not have it returns an error wrapping ErrUnknownUser, and
	// should return decoy credentials alongside: a salt that is the same
	// every time for that name (and across restarts) and the store's usual
	// iteration count, so that the exchange cannot tell the two cases apart.
	// If the decoy is empty the server makes one from ServerConfig.DecoyKey.
	// Any other error fails the exchange with TemporaryAuthFailure.
	SCRAM(username string, hash Hash) (SCRAMCredentials, error)
}

// UsernameNormalizer may be implemented by a CredentialLookup whose
// usernames have a canonical form (accounts.Store: XMPP localparts). The
// server then looks up, and reports as Username, the canonical form, so
// "Alice" and "alice" are one account everywhere. A name that does not
// normalize is looked up as sent (and so is an unknown user).
type UsernameNormalizer interface {
	NormalizeUsername(name string) (string, error)
}

// DeriveSCRAM computes the credentials to store for password. The password
// is prepared with SASLprep's successor, the PRECIS OpaqueString profile.
func DeriveSCRAM(h Hash, password string, salt []byte, iterations int) (SCRAMCredentials, error) {
	salted, err := saltedPassword(h, password, salt, iterations)
	if err != nil {
		return SCRAMCredentials{}, err
	}
	clientKey := hmacSum(h, salted, "Client Key")
	return SCRAMCredentials{
		Salt:       append([]byte(nil), salt...),
		Iterations: iterations,
		StoredKey:  hashSum(h, clientKey),
		ServerKey:  hmacSum(h, salted, "Server Key"),
	}, nil
}

// VerifyPlain reports whether password matches the stored credentials c
// (made for hash h). It costs one PBKDF2 run, like a SCRAM client.
func VerifyPlain(c SCRAMCredentials, h Hash, password string) bool {
	d, err := DeriveSCRAM(h, password, c.Salt, c.Iterations)
	if err != nil || len(c.StoredKey) != h.Size() || len(c.ServerKey) != h.Size() {
		return false
	}
	ok := subtle.ConstantTimeCompare(d.StoredKey, c.StoredKey)
	ok &= subtle.ConstantTimeCompare(d.ServerKey, c.ServerKey)
	return ok == 1
}

// valid reports whether c has the shape credentials for h must have.
func (c SCRAMCredentials) valid(h Hash) bool {
	return len(c.Salt) > 0 && c.Iterations > 0 && c.Iterations <= MaxIterations &&
		len(c.StoredKey) == h.Size() && len(c.ServerKey) == h.Size()
}

func saltedPassword(h Hash, password string, salt []byte, iterations int) ([]byte, error) {
	if !h.valid() {
		return nil, ErrInvalidHash
	}
	if len(salt) == 0 || iterations < 1 || iterations > MaxIterations {
		return nil, ErrInvalidParameters
	}
	prepared, err := precis.OpaqueString.String(password)
	if err != nil || prepared == "" {
		return nil, ErrInvalidPassword
	}
	return pbkdf2.Key(h.newFunc(), prepared, salt, iterations, h.Size())
}

func hmacSum(h Hash, key []byte, msg string) []byte {
	m := hmac.New(h.newFunc(), key)
	io.WriteString(m, msg)
	return m.Sum(nil)
}

func hashSum(h Hash, b []byte) []byte {
	d := h.newFunc()()
	d.Write(b)
	return d.Sum(nil)
}

func xorBytes(a, b []byte) []byte {
	out := make([]byte, len(a))
	subtle.XORBytes(out, a, b)
	return out
}

// gs2Header is the parsed start of a client-first-message.
type clientFirst struct {
	gs2Header string // "n,," / "y,," / "n,a=...," exactly as sent
	cbFlag    byte   // 'n', 'y' or 'p'
	cbType    string // the channel binding type after "p=", "" otherwise
	bare      string // client-first-message-bare
	username  string // decoded
	authzid   string // decoded, "" if none
	nonce     string
}

// malformed and refused carry why a message was rejected.
type parseError struct {
	cond Condition
	text string
}

func malformed(text string) *parseError { return &parseError{MalformedRequest, text} }

// parseClientFirst parses gs2-header client-first-message-bare (RFC 5802 §7).
func parseClientFirst(msg string) (clientFirst, *parseError) {
	var cf clientFirst
	flag, rest, ok := strings.Cut(msg, ",")
	if !ok {
		return cf, malformed("missing gs2 header")
	}
	switch {
	case flag == "n" || flag == "y":
		cf.cbFlag = flag[0]
	case strings.HasPrefix(flag, "p=") && len(flag) > 2:
		cf.cbFlag, cf.cbType = 'p', flag[2:]
	default:
		return cf, malformed("bad gs2 channel binding flag")
	}
	authz, bare, ok := strings.Cut(rest, ",")
	if !ok {
		return cf, malformed("truncated gs2 header")
	}
	if authz != "" {
		name, ok := strings.CutPrefix(authz, "a=")
		if !ok {
			return cf, malformed("bad authzid")
		}
		if cf.authzid, ok = decodeSASLName(name); !ok {
			return cf, malformed("bad authzid")
		}
	}
	cf.gs2Header = msg[:len(msg)-len(bare)]
	cf.bare = bare
	attrs := strings.Split(bare, ",")
	if strings.HasPrefix(attrs[0], "m=") {
		return cf, &parseError{NotAuthorized, "mandatory extension not supported"}
	}
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "n=") || !strings.HasPrefix(attrs[1], "r=") {
		return cf, malformed("expected n= and r=")
	}
	if cf.username, ok = decodeSASLName(attrs[0][2:]); !ok {
		return cf, malformed("bad username")
	}
	if cf.nonce = attrs[1][2:]; !validNonce(cf.nonce) {
		return cf, malformed("bad nonce")
	}
	if !validExtensions(attrs[2:]) {
		return cf, malformed("bad extension")
	}
	return cf, nil
}

// clientFinal is a parsed client-final-message.
type clientFinal struct {
	withoutProof string // client-final-message-without-proof
	binding      []byte // decoded c=
	nonce        string
	proof        []byte
}

// parseClientFinal parses c=...,r=...[,ext],p=... (RFC 5802 §7).
func parseClientFinal(msg string) (clientFinal, *parseError) {
	var cf clientFinal
	i := strings.LastIndex(msg, ",p=")
	if i < 0 {
		return cf, malformed("missing proof")
	}
	cf.withoutProof = msg[:i]
	proof, err := base64.StdEncoding.Strict().DecodeString(msg[i+3:])
	if err != nil || len(proof) == 0 {
		return cf, malformed("bad proof encoding")
	}
	cf.proof = proof
	attrs := strings.Split(cf.withoutProof, ",")
	if len(attrs) < 2 || !strings.HasPrefix(attrs[0], "c=") || !strings.HasPrefix(attrs[1], "r=") {
		return cf, malformed("expected c= and r=")
	}
	if cf.binding, err = base64.StdEncoding.Strict().DecodeString(attrs[0][2:]); err != nil {
		return cf, malformed("bad channel binding encoding")
	}
	if cf.nonce = attrs[1][2:]; !validNonce(cf.nonce) {
		return cf, malformed("bad nonce")
	}
	if !validExtensions(attrs[2:]) {
		return cf, malformed("bad extension")
	}
	return cf, nil
}

// validExtensions checks optional attr=value extensions: one ASCII letter
// key (not one of the defined ones), '=' and a value without ','.
func validExtensions(attrs []string) bool {
	for _, a := range attrs {
		if len(a) < 2 || a[1] != '=' || !isAlpha(a[0]) || strings.IndexByte("cimnprsv", a[0]) >= 0 {
			return false
		}
	}
	return true
}

func isAlpha(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// serverFirst is a parsed server-first-message.
type serverFirst struct {
	nonce      string
	salt       []byte
	iterations int
}

// parseServerFirst parses r=...,s=...,i=...[,ext] (RFC 5802 §7).
func parseServerFirst(msg string) (serverFirst, bool) {
	var sf serverFirst
	attrs := strings.Split(msg, ",")
	if len(attrs) < 3 || !strings.HasPrefix(attrs[0], "r=") ||
		!strings.HasPrefix(attrs[1], "s=") || !strings.HasPrefix(attrs[2], "i=") {
		return sf, false
	}
	sf.nonce = attrs[0][2:]
	salt, err := base64.StdEncoding.Strict().DecodeString(attrs[1][2:])
	if err != nil || len(salt) == 0 || !validNonce(sf.nonce) {
		return sf, false
	}
	sf.salt = salt
	digits := attrs[2][2:]
	if digits == "" || len(digits) > 10 || strings.Trim(digits, "0123456789") != "" || digits[0] == '0' {
		return sf, false
	}
	sf.iterations, err = strconv.Atoi(digits)
	return sf, err == nil && validExtensions(attrs[3:])
}

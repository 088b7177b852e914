// Package sasl implements the SASL mechanisms parley's XMPP server offers and
// its test clients use: SCRAM-SHA-1 and SCRAM-SHA-256 (RFC 5802, RFC 7677)
// without channel binding, PLAIN (RFC 4616) and ANONYMOUS (RFC 4505).
//
// The package only runs exchanges; which mechanisms to offer is the XMPP
// server's policy. The intended policy is: SCRAM-SHA-256 and SCRAM-SHA-1
// always; PLAIN only over TLS or on a loopback connection, because it sends
// the password itself (elsewhere refuse it with EncryptionRequired);
// ANONYMOUS only when guest access is enabled. No -PLUS variant is offered,
// so a client asking for channel binding ("p=" gs2 flag) is refused.
//
// Passwords are never needed on the server: SCRAM works from stored keys and
// PLAIN is checked by deriving those keys again (VerifyPlain).
//
// SCRAM exchanges can carry XEP-0474 downgrade protection (ssdp.go): the
// server hashes what it advertised into its first message, which the
// client's proof signs.
//
// The server side hides which users exist: for an unknown user it runs the
// SCRAM exchange with decoy credentials (a salt stable per name) and fails at
// the proof, exactly like a wrong password.
package sasl

import (
	"crypto/sha1"
	"crypto/sha256"
	"errors"
	"hash"
	"strings"
	"unicode/utf8"
)

// Mechanism names, as advertised in <mechanisms/>.
const (
	MechSCRAMSHA256 = "SCRAM-SHA-256"
	MechSCRAMSHA1   = "SCRAM-SHA-1"
	// The -PLUS variants bind the exchange to the TLS channel (RFC 5802 §6,
	// RFC 9266 tls-exporter, RFC 5929 tls-server-end-point).
	MechSCRAMSHA256Plus = "SCRAM-SHA-256-PLUS"
	MechSCRAMSHA1Plus   = "SCRAM-SHA-1-PLUS"
	MechPlain           = "PLAIN"
	MechAnonymous       = "ANONYMOUS"
)

// DefaultIterations is the PBKDF2 iteration count for new credentials, and
// the smallest one a client accepts (RFC 7677 §4).
const DefaultIterations = 4096

// MaxIterations is the largest iteration count a client accepts and a store
// may use: it bounds the CPU a hostile server can make a client burn.
const MaxIterations = 1_000_000

// MaxMessageSize bounds every message of an exchange, in bytes.
const MaxMessageSize = 4096

// maxNameSize bounds usernames, authzids and traces, in bytes.
const maxNameSize = 1023

// Hash selects the hash function of a SCRAM mechanism.
type Hash int

// The SCRAM hashes.
const (
	SHA1 Hash = iota + 1
	SHA256
)

// Name returns the SCRAM mechanism name for h, or "" for an invalid Hash.
func (h Hash) Name() string {
	switch h {
	case SHA1:
		return MechSCRAMSHA1
	case SHA256:
		return MechSCRAMSHA256
	}
	return ""
}

// Size returns the digest size of h in bytes, 0 for an invalid Hash.
func (h Hash) Size() int {
	switch h {
	case SHA1:
		return sha1.Size
	case SHA256:
		return sha256.Size
	}
	return 0
}

// String returns the mechanism name.
func (h Hash) String() string { return h.Name() }

func (h Hash) valid() bool { return h == SHA1 || h == SHA256 }

func (h Hash) newFunc() func() hash.Hash {
	if h == SHA1 {
		return sha1.New
	}
	return sha256.New
}

// hashForMechanism maps a SCRAM mechanism name to its Hash; 0 if none.
func hashForMechanism(mech string) Hash {
	switch mech {
	case MechSCRAMSHA1, MechSCRAMSHA1Plus:
		return SHA1
	case MechSCRAMSHA256, MechSCRAMSHA256Plus:
		return SHA256
	}
	return 0
}

// IsPlus reports whether mech is a channel-binding (-PLUS) mechanism.
func IsPlus(mech string) bool { return strings.HasSuffix(mech, "-PLUS") }

// Channel binding types (RFC 9266, RFC 5929).
const (
	CBTLSExporter       = "tls-exporter"
	CBTLSServerEndPoint = "tls-server-end-point"
)

// Condition is a SASL failure condition (RFC 6120 §6.5).
type Condition string

// The SASL failure conditions.
const (
	Aborted              Condition = "aborted"
	AccountDisabled      Condition = "account-disabled"
	CredentialsExpired   Condition = "credentials-expired"
	EncryptionRequired   Condition = "encryption-required"
	IncorrectEncoding    Condition = "incorrect-encoding"
	InvalidAuthzid       Condition = "invalid-authzid"
	InvalidMechanism     Condition = "invalid-mechanism"
	MalformedRequest     Condition = "malformed-request"
	MechanismTooWeak     Condition = "mechanism-too-weak"
	NotAuthorized        Condition = "not-authorized"
	TemporaryAuthFailure Condition = "temporary-auth-failure"
)

// Failure is how a server exchange ends when it does not succeed: the
// condition to put in <failure/>. Text is safe to show the client: it never
// says whether the user exists.
type Failure struct {
	Condition Condition
	Text      string
	Err       error // underlying cause for logs (e.g. a lookup error); never sent
}

func (f *Failure) Error() string {
	s := "sasl: " + string(f.Condition)
	if f.Text != "" {
		s += ": " + f.Text
	}
	if f.Err != nil {
		s += ": " + f.Err.Error()
	}
	return s
}

// Unwrap returns the underlying cause.
func (f *Failure) Unwrap() error { return f.Err }

// Errors of this package.
var (
	// ErrInvalidMechanism: NewServer or NewClient got a mechanism this package does not implement.
	ErrInvalidMechanism = errors.New("sasl: invalid mechanism")
	// ErrUnknownUser is what a CredentialLookup returns for a user it does not have.
	ErrUnknownUser = errors.New("sasl: unknown user")
	// ErrInvalidHash: a Hash value other than SHA1 or SHA256.
	ErrInvalidHash = errors.New("sasl: invalid hash")
	// ErrInvalidPassword: the password is empty or not allowed by SASLprep (PRECIS OpaqueString).
	ErrInvalidPassword = errors.New("sasl: invalid password")
	// ErrInvalidParameters: empty salt or an iteration count out of range.
	ErrInvalidParameters = errors.New("sasl: invalid salt or iteration count")
	// ErrInvalidUsername: empty, too long or not UTF-8.
	ErrInvalidUsername = errors.New("sasl: invalid username")
	// ErrMalformedChallenge: the server sent something the client cannot parse or did not expect.
	ErrMalformedChallenge = errors.New("sasl: malformed challenge")
	// ErrNonceMismatch: the server's nonce does not extend the client's.
	ErrNonceMismatch = errors.New("sasl: server nonce does not extend client nonce")
	// ErrTooFewIterations: the server asked for fewer iterations than the client accepts.
	ErrTooFewIterations = errors.New("sasl: iteration count too low")
	// ErrTooManyIterations: the server asked for more than MaxIterations.
	ErrTooManyIterations = errors.New("sasl: iteration count too high")
	// ErrServerSignature: the server could not prove it knows the credentials.
	ErrServerSignature = errors.New("sasl: server signature mismatch")
	// ErrServerRefused: the server ended SCRAM with an e= error.
	ErrServerRefused = errors.New("sasl: server refused authentication")
)

// encodeSASLName escapes ',' and '=' as RFC 5802 §5.1 requires.
func encodeSASLName(s string) string {
	if !strings.ContainsAny(s, ",=") {
		return s
	}
	s = strings.ReplaceAll(s, "=", "=3D")
	return strings.ReplaceAll(s, ",", "=2C")
}

// decodeSASLName undoes encodeSASLName; any other '=' sequence, a raw ',',
// NUL, invalid UTF-8, an empty or over-long result is an error.
func decodeSASLName(s string) (string, bool) {
	if s == "" || len(s) > 3*maxNameSize || !utf8.ValidString(s) || strings.ContainsAny(s, ",\x00") {
		return "", false
	}
	if !strings.Contains(s, "=") {
		return s, len(s) <= maxNameSize
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '=' {
			b.WriteByte(s[i])
			continue
		}
		switch {
		case strings.HasPrefix(s[i:], "=2C"):
			b.WriteByte(',')
		case strings.HasPrefix(s[i:], "=3D"):
			b.WriteByte('=')
		default:
			return "", false
		}
		i += 2
	}
	out := b.String()
	return out, len(out) <= maxNameSize
}

// validNonce reports whether s is a SCRAM nonce: printable ASCII except ','.
func validNonce(s string) bool {
	if s == "" || len(s) > 1024 {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < 0x21 || s[i] > 0x7e || s[i] == ',' {
			return false
		}
	}
	return true
}

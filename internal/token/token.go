// Package token verifies and mints the JSON Web Tokens that let a user into
// parley without an account: HS256 with a shared secret, RS256, ES256 and
// EdDSA with public keys (given directly or in a JWKS file). It reads
// Jitsi's claim layout (room, context.user, moderator) so that existing
// token issuers work unchanged, and parley's own "parley" claim, which
// carries a role and a permission set.
//
// Every refusal is a *RefusedError with a Reason, and is counted.
package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Reason says why a token was refused.
type Reason int

// Reasons, in the order Refusals reports them.
const (
	ReasonMalformed   Reason = iota // not a JWT, or claims of the wrong type
	ReasonAlgNone                   // alg "none": an unsigned token
	ReasonAlgorithm                 // an algorithm no configured key is for (HS256 with only public keys, ...)
	ReasonSignature                 // the signature does not match any key
	ReasonExpired                   // exp is past (beyond the leeway)
	ReasonNotYetValid               // nbf (or iat) is in the future (beyond the leeway)
	ReasonAudience                  // aud does not name this server
	ReasonIssuer                    // iss is not the configured issuer
	ReasonRoom                      // the token is for another room
	numReasons
)

var reasonNames = [numReasons]string{
	ReasonMalformed:   "malformed",
	ReasonAlgNone:     "alg-none",
	ReasonAlgorithm:   "algorithm",
	ReasonSignature:   "signature",
	ReasonExpired:     "expired",
	ReasonNotYetValid: "not-yet-valid",
	ReasonAudience:    "audience",
	ReasonIssuer:      "issuer",
	ReasonRoom:        "room",
}

func (r Reason) String() string {
	if r >= 0 && r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// RefusedError is why a token was not accepted.
type RefusedError struct {
	Reason Reason
	Detail string // for logs and the SASL failure text; never the token
}

func (e *RefusedError) Error() string {
	return "token refused (" + e.Reason.String() + "): " + e.Detail
}

// Is lets errors.Is(err, &RefusedError{Reason: r}) match on the reason.
func (e *RefusedError) Is(target error) bool {
	t, ok := target.(*RefusedError)
	return ok && t.Reason == e.Reason
}

// ReasonOf returns err's Reason, and false if err is no refusal.
func ReasonOf(err error) (Reason, bool) {
	var re *RefusedError
	if errors.As(err, &re) {
		return re.Reason, true
	}
	return 0, false
}

// Config configures a Verifier. At least one of Secret, PublicKeys and
// JWKS must be given.
type Config struct {
	// Secret turns on HS256 with this shared secret. Default nil: off.
	Secret []byte
	// PublicKeys turns on RS256 (*rsa.PublicKey), ES256 (*ecdsa.PublicKey
	// on P-256) and EdDSA (ed25519.PublicKey), by key type. Default none.
	PublicKeys []any
	// JWKS is the content of a JWKS file (RFC 7517) whose keys are added
	// to PublicKeys; a token's kid picks among them. Default none.
	JWKS []byte
	// Audience, when set, must be one of the token's aud values. Default
	// "": aud is not checked.
	Audience string
	// Issuer, when set, must be the token's iss. Default "": not checked.
	Issuer string
	// Leeway is the clock skew allowed on exp, nbf and iat. Default 30 s;
	// a negative value means none.
	Leeway time.Duration
	// Clock gives the time. Default time.Now.
	Clock func() time.Time
}

// ConfigError reports an unusable Config.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "token: config " + e.Field + ": " + e.Reason }

// Verifier checks tokens. It is safe for concurrent use.
type Verifier struct {
	ring    atomic.Pointer[keyring]   // swapped whole by Reload
	refused [numReasons]atomic.Uint64 // refusals by reason
	ok      atomic.Uint64             // tokens accepted
}

// keyring is a Verifier's configuration and keys. Immutable.
type keyring struct {
	cfg     Config
	keys    []namedKey // public keys
	methods []string   // the algorithms a key exists for
}

type namedKey struct {
	kid string // "" for keys not from a JWKS
	key any
}

// New returns a Verifier.
func New(cfg Config) (*Verifier, error) {
	kr, err := newKeyring(cfg)
	if err != nil {
		return nil, err
	}
	v := &Verifier{}
	v.ring.Store(kr)
	return v, nil
}

// Reload replaces the keys and checks (a SIGHUP after a key rotation): the
// tokens checked from now on use cfg. A bad cfg changes nothing.
func (v *Verifier) Reload(cfg Config) error {
	kr, err := newKeyring(cfg)
	if err != nil {
		return err
	}
	v.ring.Store(kr)
	return nil
}

func newKeyring(cfg Config) (*keyring, error) {
	if cfg.Leeway == 0 {
		cfg.Leeway = 30 * time.Second
	} else if cfg.Leeway < 0 {
		cfg.Leeway = 0
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	v := &keyring{cfg: cfg}
	for _, k := range cfg.PublicKeys {
		v.keys = append(v.keys, namedKey{key: k})
	}
	if len(cfg.JWKS) > 0 {
		ks, err := parseJWKS(cfg.JWKS)
		if err != nil {
			return nil, &ConfigError{"JWKS", err.Error()}
		}
		v.keys = append(v.keys, ks...)
	}
	if len(cfg.Secret) > 0 {
		if len(cfg.Secret) < 16 {
			return nil, &ConfigError{"Secret", "shorter than 16 bytes"}
		}
		v.methods = append(v.methods, "HS256")
	}
	for _, m := range []string{"RS256", "ES256", "EdDSA"} {
		for _, k := range v.keys {
			if keyFits(m, k.key) {
				v.methods = append(v.methods, m)
				break
			}
		}
	}
	if len(v.methods) == 0 {
		return nil, &ConfigError{"Secret/PublicKeys/JWKS", "no usable key"}
	}
	return v, nil
}

// keyFits says whether key can check alg: the key type decides, so that an
// RSA public key is never used as an HMAC secret (key confusion).
func keyFits(alg string, key any) bool {
	switch k := key.(type) {
	case *rsa.PublicKey:
		return alg == "RS256"
	case *ecdsa.PublicKey:
		return alg == "ES256" && k.Curve.Params().Name == "P-256"
	case ed25519.PublicKey:
		return alg == "EdDSA"
	}
	return false
}

// Methods returns the algorithms accepted.
func (v *Verifier) Methods() []string { return append([]string(nil), v.ring.Load().methods...) }

// Refusals returns how many tokens were refused, by reason name, and how
// many were accepted under "accepted".
func (v *Verifier) Refusals() map[string]uint64 {
	m := make(map[string]uint64, numReasons+1)
	for r := Reason(0); r < numReasons; r++ {
		m[r.String()] = v.refused[r].Load()
	}
	m["accepted"] = v.ok.Load()
	return m
}

// CountRefusal counts a refusal decided outside Verify (the room check).
func (v *Verifier) CountRefusal(err error) {
	if r, ok := ReasonOf(err); ok {
		v.refused[r].Add(1)
	}
}

func (v *Verifier) refuse(r Reason, format string, args ...any) error {
	v.refused[r].Add(1)
	return &RefusedError{Reason: r, Detail: fmt.Sprintf(format, args...)}
}

// Verify checks raw's signature and times (and aud, iss when configured)
// and returns who it names. Errors are *RefusedError.
func (v *Verifier) Verify(raw string) (*Identity, error) {
	kr := v.ring.Load()
	alg, err := headerAlg(raw)
	if err != nil {
		return nil, v.refuse(ReasonMalformed, "%v", err)
	}
	if strings.EqualFold(alg, "none") {
		return nil, v.refuse(ReasonAlgNone, "unsigned tokens (alg none) are never accepted")
	}
	if !contains(kr.methods, alg) {
		return nil, v.refuse(ReasonAlgorithm, "algorithm %q is not accepted here (accepted: %s)", alg, strings.Join(kr.methods, ", "))
	}
	var c claims
	opts := []jwt.ParserOption{
		jwt.WithValidMethods([]string{alg}),
		jwt.WithLeeway(kr.cfg.Leeway),
		jwt.WithTimeFunc(kr.cfg.Clock),
		jwt.WithIssuedAt(),
		// A token without exp would be good forever: never accepted.
		jwt.WithExpirationRequired(),
	}
	if kr.cfg.Audience != "" {
		opts = append(opts, jwt.WithAudience(kr.cfg.Audience))
	}
	if kr.cfg.Issuer != "" {
		opts = append(opts, jwt.WithIssuer(kr.cfg.Issuer))
	}
	_, err = jwt.ParseWithClaims(raw, &c, kr.keyFunc, opts...)
	if err != nil {
		return nil, v.classify(kr, err)
	}
	id, err := c.identity()
	if err != nil {
		return nil, v.refuse(ReasonMalformed, "%v", err)
	}
	v.ok.Add(1)
	return id, nil
}

// classify maps the library's error to a Reason.
func (v *Verifier) classify(kr *keyring, err error) error {
	switch {
	case errors.Is(err, jwt.ErrTokenExpired):
		return v.refuse(ReasonExpired, "the token has expired")
	case errors.Is(err, jwt.ErrTokenNotValidYet), errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return v.refuse(ReasonNotYetValid, "the token is not valid yet")
	case errors.Is(err, jwt.ErrTokenInvalidAudience),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), "aud claim is required"):
		return v.refuse(ReasonAudience, "the token is not for audience %q", kr.cfg.Audience)
	case errors.Is(err, jwt.ErrTokenInvalidIssuer),
		errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), "iss claim is required"):
		return v.refuse(ReasonIssuer, "the token is not from issuer %q", kr.cfg.Issuer)
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing) && strings.Contains(err.Error(), "exp claim is required"):
		return v.refuse(ReasonMalformed, "the token has no exp: tokens must expire")
	case errors.Is(err, jwt.ErrTokenSignatureInvalid), errors.Is(err, jwt.ErrTokenUnverifiable):
		return v.refuse(ReasonSignature, "the signature matches no key")
	}
	return v.refuse(ReasonMalformed, "%v", err)
}

// errNoKey makes the library report an unverifiable token.
var errNoKey = errors.New("no key for this token")

// keyFunc returns the key(s) for the token's algorithm (and kid).
func (kr *keyring) keyFunc(t *jwt.Token) (any, error) {
	alg := t.Method.Alg()
	if alg == "HS256" {
		return kr.cfg.Secret, nil
	}
	kid, _ := t.Header["kid"].(string)
	var set jwt.VerificationKeySet
	for _, k := range kr.keys {
		if keyFits(alg, k.key) && (kid == "" || k.kid == "" || k.kid == kid) {
			set.Keys = append(set.Keys, k.key)
		}
	}
	if len(set.Keys) == 0 {
		return nil, errNoKey
	}
	return set, nil
}

// headerAlg reads the alg of raw's header without trusting anything else.
func headerAlg(raw string) (string, error) {
	head, _, ok := strings.Cut(raw, ".")
	if !ok || strings.Count(raw, ".") != 2 {
		return "", errors.New("not a JWT (three dot-separated parts)")
	}
	b, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(head, "="))
	if err != nil {
		return "", errors.New("the header is not base64url")
	}
	var h struct {
		Alg string `json:"alg"`
	}
	if err := json.Unmarshal(b, &h); err != nil || h.Alg == "" {
		return "", errors.New("the header has no alg")
	}
	return h.Alg, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// Identity is who a valid token names, and what it grants.
type Identity struct {
	Issuer  string
	Subject string // sub; in Jitsi's layout the tenant, not the user
	UserID  string // context.user.id, else "email:"+email, else sub+"/name:"+name, else sub
	Name    string // context.user.name
	Avatar  string // context.user.avatar
	Email   string // context.user.email
	// Room is the room the token is for: "" or "*" means any room.
	Room string
	// Moderator: Jitsi's moderator claim (top level or context.user).
	Moderator bool
	// Role is parley's role name from the "parley" claim; "" if none.
	Role string
	// Perms is the permission set (names) from the "parley" claim; nil if
	// the claim gives none, and then the role's defaults apply.
	Perms []string
	// Overrides change the role's defaults one permission at a time
	// (name → allowed), from the "parley" claim.
	Overrides map[string]bool
	// Expires is exp; zero if the token has none.
	Expires time.Time
}

// AllowsRoom checks that the token may enter room (a MUC room's
// localpart). Room names compare without regard to case, as Jitsi's do.
func (id *Identity) AllowsRoom(room string) error {
	if id.Room == "" || id.Room == "*" || strings.EqualFold(id.Room, room) {
		return nil
	}
	return &RefusedError{Reason: ReasonRoom, Detail: fmt.Sprintf("the token is for room %q, not %q", id.Room, room)}
}

// Localpart is the XMPP localpart a token's user is bound to: stable for
// one user, so that a returning user gets the same JID (and keeps its
// affiliations), and prefixed so that it cannot be an account's. Only
// trusted keys sign tokens, so the user id alone names the user.
func (id *Identity) Localpart() string { return SubjectLocalpart(id.UserID) }

// SubjectLocalpart is Localpart for a user id: what a room's owner list
// resolves a token subject to.
func SubjectLocalpart(user string) string {
	h := sha256.Sum256([]byte(user))
	return "tok-" + hex.EncodeToString(h[:10])
}

package sasl

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"io"
	"strconv"
	"unicode/utf8"
)

// ServerConfig configures one server-side exchange.
type ServerConfig struct {
	// Lookup finds stored credentials. Required for SCRAM and PLAIN.
	Lookup CredentialLookup
	// Rand supplies server nonces. Default: crypto/rand.Reader.
	Rand io.Reader
	// Authorize says whether username may act as the non-empty authzid it
	// asked for; it is only called once the credentials are proven. The
	// XMPP server should accept the user's own bare JID. Default: every
	// non-empty authzid is refused with InvalidAuthzid.
	Authorize func(username, authzid string) bool
	// DecoyKey keys decoy salts for unknown users when Lookup supplies no
	// decoy. It should be secret and stable across restarts. Default: empty,
	// which still gives stable salts but lets anyone who reads this code
	// predict them (and so tell unknown users apart).
	DecoyKey []byte
	// ChannelBinding returns the TLS channel's binding data for a type
	// (CBTLSExporter, CBTLSServerEndPoint), nil when it has none. Default
	// nil: the -PLUS mechanisms fail.
	ChannelBinding func(cbType string) []byte
	// PlusOffered says the -PLUS mechanisms were offered: a client that
	// answers "y" is then refused (RFC 5802 §6 downgrade protection).
	// Default false.
	PlusOffered bool
	// Advertised, when set, is what the server advertised: SCRAM's
	// server-first-message then carries its XEP-0474 downgrade hash.
	// Default nil: no hash.
	Advertised *Advertised
}

// serverState is where a ServerSession is in its exchange.
type serverState int

const (
	serverStart      serverState = iota
	serverPrompted               // sent an empty challenge, waiting for the initial message
	serverAwaitFinal             // SCRAM: sent server-first, waiting for client-final
	serverDone
	serverFailed
)

// ServerSession runs one server-side SASL exchange. It is not safe for
// concurrent use: it belongs to the connection's read loop.
type ServerSession struct {
	mech  string       // mechanism name; set by NewServer
	hash  Hash         // SCRAM hash, 0 for PLAIN and ANONYMOUS; set by NewServer
	cfg   ServerConfig // with defaults applied; set by NewServer
	state serverState  // owned by Step

	// The fields below are owned by Step.
	username  string           // authentication identity as the client sent it
	authzid   string           // requested authorization identity, "" if none
	trace     string           // ANONYMOUS trace information
	anonymous bool             // ANONYMOUS succeeded
	gs2Header string           // SCRAM: gs2 header of client-first
	cbData    []byte           // SCRAM-PLUS: the channel's binding data
	first     string           // SCRAM: client-first-message-bare
	server1st string           // SCRAM: server-first-message
	nonce     string           // SCRAM: combined nonce
	snonce    string           // SCRAM: server nonce; tests may preset it
	creds     SCRAMCredentials // SCRAM: real or decoy credentials
	known     bool             // SCRAM: creds are real
}

// NewServer starts a server-side exchange for mechanism (one of the Mech
// constants); ErrInvalidMechanism for any other name.
func NewServer(mechanism string, cfg ServerConfig) (*ServerSession, error) {
	h := hashForMechanism(mechanism)
	if h == 0 && mechanism != MechPlain && mechanism != MechAnonymous {
		return nil, ErrInvalidMechanism
	}
	if IsPlus(mechanism) && cfg.ChannelBinding == nil {
		return nil, ErrInvalidMechanism // no channel to bind to
	}
	if cfg.Lookup == nil && mechanism != MechAnonymous {
		return nil, errors.New("sasl: ServerConfig.Lookup is required for " + mechanism)
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	return &ServerSession{mech: mechanism, hash: h, cfg: cfg}, nil
}

// Mechanism returns the mechanism name.
func (s *ServerSession) Mechanism() string { return s.mech }

// Username returns the authentication identity the client claimed, in
// canonical form if the lookup is a UsernameNormalizer (accounts.Store is),
// else as sent. Trust it only once Step reported done without error.
func (s *ServerSession) Username() string { return s.username }

// Authzid returns the authorization identity the client asked for, or "".
func (s *ServerSession) Authzid() string { return s.authzid }

// Anonymous reports whether the exchange was a successful ANONYMOUS login.
func (s *ServerSession) Anonymous() bool { return s.anonymous }

// Trace returns the trace information an ANONYMOUS client sent, if any.
func (s *ServerSession) Trace() string { return s.trace }

// Step consumes the client's next message and returns the server's answer.
//
// In the first call, a nil response means the client sent no initial
// response (XMPP <auth/> without text) and an empty non-nil one means an
// empty initial response (XMPP "="); later, nil and empty are the same.
//
// While done is false the caller sends challenge in <challenge/>. When done
// is true and err is nil the client is authenticated and challenge, if not
// nil, is the additional data for <success/>. On error (always a *Failure)
// the exchange is over: send <failure/> with its Condition.
func (s *ServerSession) Step(response []byte) (challenge []byte, done bool, err error) {
	switch {
	case s.state == serverDone || s.state == serverFailed:
		return nil, false, s.fail(MalformedRequest, "exchange already finished", nil)
	case len(response) > MaxMessageSize:
		return nil, false, s.fail(MalformedRequest, "message too long", nil)
	case s.state == serverStart && response == nil && s.mech == MechAnonymous:
		// No initial response is an empty trace (RFC 4505): succeed at
		// once; clients such as strophe.js do not expect a challenge here.
		return s.anon(nil)
	case s.state == serverStart && response == nil:
		s.state = serverPrompted
		return []byte{}, false, nil
	}
	switch {
	case s.hash != 0 && s.state == serverAwaitFinal:
		return s.scramFinal(response)
	case s.hash != 0:
		return s.scramFirst(response)
	case s.mech == MechPlain:
		return s.plain(response)
	default:
		return s.anon(response)
	}
}

// fail ends the exchange with a *Failure.
func (s *ServerSession) fail(c Condition, text string, cause error) *Failure {
	s.state = serverFailed
	return &Failure{Condition: c, Text: text, Err: cause}
}

// failAuth is the one failure for both a wrong password and an unknown user.
func (s *ServerSession) failAuth() *Failure {
	return s.fail(NotAuthorized, "authentication failed", nil)
}

func (s *ServerSession) scramFirst(msg []byte) ([]byte, bool, error) {
	if !utf8.Valid(msg) {
		return nil, false, s.fail(MalformedRequest, "not UTF-8", nil)
	}
	cf, perr := parseClientFirst(string(msg))
	if perr != nil {
		return nil, false, s.fail(perr.cond, perr.text, nil)
	}
	s.gs2Header, s.first, s.username, s.authzid = cf.gs2Header, cf.bare, s.canonical(cf.username), cf.authzid
	if f := s.checkBinding(cf); f != nil {
		return nil, false, f
	}
	if err := s.lookup(s.hash); err != nil {
		return nil, false, err
	}
	if s.snonce == "" {
		b := make([]byte, 18)
		if _, err := io.ReadFull(s.cfg.Rand, b); err != nil {
			return nil, false, s.fail(TemporaryAuthFailure, "", err)
		}
		s.snonce = base64.StdEncoding.EncodeToString(b)
	}
	s.nonce = cf.nonce + s.snonce
	s.server1st = "r=" + s.nonce + ",s=" + base64.StdEncoding.EncodeToString(s.creds.Salt) +
		",i=" + strconv.Itoa(s.creds.Iterations)
	if s.cfg.Advertised != nil {
		s.server1st += ",h=" + DowngradeHash(s.hash, *s.cfg.Advertised)
	}
	s.state = serverAwaitFinal
	return []byte(s.server1st), false, nil
}

// checkBinding applies RFC 5802 §6: a -PLUS mechanism needs a channel
// binding type the server has data for; other mechanisms take none, and a
// client saying "y" (it could bind but thinks the server cannot) while
// -PLUS was offered is being downgraded.
func (s *ServerSession) checkBinding(cf clientFirst) *Failure {
	switch plus := IsPlus(s.mech); {
	case plus && cf.cbFlag != 'p':
		return s.fail(NotAuthorized, s.mech+" needs channel binding", nil)
	case plus:
		if s.cfg.ChannelBinding != nil {
			s.cbData = s.cfg.ChannelBinding(cf.cbType)
		}
		if s.cbData == nil {
			return s.fail(NotAuthorized, "channel binding type "+cf.cbType+" is not available", nil)
		}
	case cf.cbFlag == 'p':
		return s.fail(NotAuthorized, "channel binding needs a -PLUS mechanism", nil)
	case cf.cbFlag == 'y' && s.cfg.PlusOffered:
		return s.fail(NotAuthorized, "channel binding was offered: possible downgrade", nil)
	}
	return nil
}

// canonical normalizes name if the lookup knows how.
func (s *ServerSession) canonical(name string) string {
	if n, ok := s.cfg.Lookup.(UsernameNormalizer); ok {
		if c, err := n.NormalizeUsername(name); err == nil {
			return c
		}
	}
	return name
}

// lookup fetches the user's credentials, or decoy ones for an unknown user.
func (s *ServerSession) lookup(h Hash) *Failure {
	creds, err := s.cfg.Lookup.SCRAM(s.username, h)
	switch {
	case err == nil && creds.valid(h):
		s.creds, s.known = creds, true
	case err == nil:
		return s.fail(TemporaryAuthFailure, "", errors.New("sasl: stored credentials are malformed"))
	case errors.Is(err, ErrUnknownUser):
		s.creds = s.decoy(creds, h)
	default:
		return s.fail(TemporaryAuthFailure, "", err)
	}
	return nil
}

// decoy completes the lookup's decoy credentials, or makes them from
// DecoyKey, so that an unknown user gets a stable salt and the same work.
func (s *ServerSession) decoy(c SCRAMCredentials, h Hash) SCRAMCredentials {
	mac := hmac.New(sha256.New, s.cfg.DecoyKey)
	io.WriteString(mac, h.Name()+"\x00"+s.username)
	sum := mac.Sum(nil)
	if len(c.Salt) == 0 || c.Iterations < 1 || c.Iterations > MaxIterations {
		c.Salt, c.Iterations = sum[:16], DefaultIterations
	}
	// Keys of the right size keep the proof check's cost identical.
	c.StoredKey = hashSum(h, sum)
	c.ServerKey = hmacSum(h, sum, "Server Key")
	return c
}

func (s *ServerSession) scramFinal(msg []byte) ([]byte, bool, error) {
	cf, perr := parseClientFinal(string(msg))
	if perr != nil {
		return nil, false, s.fail(perr.cond, perr.text, nil)
	}
	if !bytes.Equal(cf.binding, append([]byte(s.gs2Header), s.cbData...)) {
		return nil, false, s.fail(NotAuthorized, "channel binding data does not match", nil)
	}
	if cf.nonce != s.nonce {
		return nil, false, s.fail(NotAuthorized, "nonce mismatch", nil)
	}
	if len(cf.proof) != s.hash.Size() {
		return nil, false, s.fail(MalformedRequest, "bad proof length", nil)
	}
	authMessage := s.first + "," + s.server1st + "," + cf.withoutProof
	clientKey := xorBytes(cf.proof, hmacSum(s.hash, s.creds.StoredKey, authMessage))
	match := subtle.ConstantTimeCompare(hashSum(s.hash, clientKey), s.creds.StoredKey) == 1
	if !match || !s.known {
		return nil, false, s.failAuth()
	}
	if !s.authorized() {
		return nil, false, s.fail(InvalidAuthzid, "not allowed to act as "+s.authzid, nil)
	}
	s.state = serverDone
	return []byte("v=" + base64.StdEncoding.EncodeToString(hmacSum(s.hash, s.creds.ServerKey, authMessage))), true, nil
}

func (s *ServerSession) authorized() bool {
	return s.authzid == "" || s.cfg.Authorize != nil && s.cfg.Authorize(s.username, s.authzid)
}

// plain checks authzid NUL authcid NUL passwd (RFC 4616 §2).
func (s *ServerSession) plain(msg []byte) ([]byte, bool, error) {
	parts := bytes.Split(msg, []byte{0})
	if len(parts) != 3 || len(parts[1]) == 0 || len(parts[2]) == 0 || !utf8.Valid(msg) ||
		len(parts[0]) > maxNameSize || len(parts[1]) > maxNameSize || len(parts[2]) > maxNameSize {
		return nil, false, s.fail(MalformedRequest, "expected authzid NUL authcid NUL password", nil)
	}
	s.authzid, s.username = string(parts[0]), s.canonical(string(parts[1]))
	if err := s.lookup(SHA256); err != nil {
		return nil, false, err
	}
	// An unknown user's decoy costs the same PBKDF2 run and never matches.
	if !VerifyPlain(s.creds, SHA256, string(parts[2])) || !s.known {
		return nil, false, s.failAuth()
	}
	if !s.authorized() {
		return nil, false, s.fail(InvalidAuthzid, "not allowed to act as "+s.authzid, nil)
	}
	s.state = serverDone
	return nil, true, nil
}

// anon accepts any valid trace (RFC 4505 §2).
func (s *ServerSession) anon(msg []byte) ([]byte, bool, error) {
	if len(msg) > maxNameSize || !utf8.Valid(msg) || bytes.IndexByte(msg, 0) >= 0 {
		return nil, false, s.fail(MalformedRequest, "bad trace", nil)
	}
	s.trace, s.anonymous = string(msg), true
	s.state = serverDone
	return nil, true, nil
}

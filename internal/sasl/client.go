package sasl

import (
	"crypto/hmac"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// ClientConfig configures one client-side exchange.
type ClientConfig struct {
	// Username is the authentication identity (for XMPP, the localpart).
	// Required for SCRAM and PLAIN; for ANONYMOUS it is sent as the trace.
	Username string
	// Password is required for SCRAM and PLAIN.
	Password string
	// Authzid is the identity to act as. Default: none.
	Authzid string
	// Rand supplies the client nonce. Default: crypto/rand.Reader.
	Rand io.Reader
	// MinIterations is the smallest SCRAM iteration count accepted; values
	// below DefaultIterations are raised to it. Default: DefaultIterations.
	MinIterations int
	// ChannelBindingType and ChannelBindingData bind a -PLUS mechanism to
	// the TLS channel (for example CBTLSExporter and the exporter's 32
	// bytes). Required for -PLUS.
	ChannelBindingType string
	ChannelBindingData []byte
	// Advertised, when set, is what the server advertised: a SCRAM
	// server-first-message whose XEP-0474 hash does not match it fails the
	// exchange with ErrDowngrade. A server that sends no hash is accepted.
	// Default nil: the hash is not checked.
	Advertised *Advertised
}

// clientState is where a ClientSession is in its exchange.
type clientState int

const (
	clientStart      clientState = iota
	clientAwaitFirst             // SCRAM: sent client-first, waiting for server-first
	clientAwaitFinal             // sent the last message, waiting for success data
	clientDone
	clientFailed
)

// ClientSession runs one client-side SASL exchange. It is not safe for
// concurrent use: it belongs to the connection's read loop.
type ClientSession struct {
	mech  string       // mechanism name; set by NewClient
	hash  Hash         // SCRAM hash, 0 otherwise; set by NewClient
	cfg   ClientConfig // with defaults applied; set by NewClient
	state clientState  // owned by Step

	// The fields below are owned by Step.
	nonce     string // SCRAM client nonce; tests may preset it
	first     string // SCRAM client-first-message-bare
	serverSig []byte // SCRAM server signature the server must send back
}

// NewClient starts a client-side exchange for mechanism.
func NewClient(mechanism string, cfg ClientConfig) (*ClientSession, error) {
	h := hashForMechanism(mechanism)
	if h == 0 && mechanism != MechPlain && mechanism != MechAnonymous {
		return nil, ErrInvalidMechanism
	}
	if mechanism != MechAnonymous {
		if cfg.Username == "" || len(cfg.Username) > maxNameSize || !utf8.ValidString(cfg.Username) ||
			strings.IndexByte(cfg.Username, 0) >= 0 {
			return nil, ErrInvalidUsername
		}
		if cfg.Password == "" || len(cfg.Password) > maxNameSize || strings.IndexByte(cfg.Password, 0) >= 0 {
			return nil, ErrInvalidPassword
		}
	}
	if IsPlus(mechanism) && (cfg.ChannelBindingType == "" || len(cfg.ChannelBindingData) == 0 ||
		strings.ContainsAny(cfg.ChannelBindingType, ",=")) {
		return nil, fmt.Errorf("%w: %s needs a channel binding type and data", ErrInvalidMechanism, mechanism)
	}
	if len(cfg.Authzid) > maxNameSize || !utf8.ValidString(cfg.Authzid) || strings.IndexByte(cfg.Authzid, 0) >= 0 {
		return nil, ErrInvalidUsername
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	cfg.MinIterations = max(cfg.MinIterations, DefaultIterations)
	return &ClientSession{mech: mechanism, hash: h, cfg: cfg}, nil
}

// Step consumes the server's next challenge (ignored in the first call,
// which produces the initial response) and returns the client's answer.
// While done is false the caller sends response (for the first call, as the
// initial response of <auth/>). When the server reports <success/>, the
// caller passes its additional data (nil if none) to Step, which then
// returns done=true if the server proved itself (SCRAM) or there is
// nothing to prove (PLAIN, ANONYMOUS).
func (c *ClientSession) Step(challenge []byte) (response []byte, done bool, err error) {
	switch c.state {
	case clientStart:
		return c.start()
	case clientAwaitFirst:
		return c.scramFinal(challenge)
	case clientAwaitFinal:
		return c.finish(challenge)
	}
	return nil, false, fmt.Errorf("%w: exchange already finished", ErrMalformedChallenge)
}

func (c *ClientSession) failf(err error, format string, args ...any) error {
	c.state = clientFailed
	if format == "" {
		return err
	}
	return fmt.Errorf("%w: "+format, append([]any{err}, args...)...)
}

func (c *ClientSession) start() ([]byte, bool, error) {
	switch c.mech {
	case MechPlain:
		c.state = clientAwaitFinal
		return []byte(c.cfg.Authzid + "\x00" + c.cfg.Username + "\x00" + c.cfg.Password), false, nil
	case MechAnonymous:
		c.state = clientAwaitFinal
		return []byte(c.cfg.Username), false, nil
	}
	if c.nonce == "" {
		b := make([]byte, 18)
		if _, err := io.ReadFull(c.cfg.Rand, b); err != nil {
			return nil, false, c.failf(err, "")
		}
		c.nonce = base64.StdEncoding.EncodeToString(b)
	}
	c.first = "n=" + encodeSASLName(c.cfg.Username) + ",r=" + c.nonce
	c.state = clientAwaitFirst
	return []byte(c.gs2Header() + c.first), false, nil
}

// gs2Header says "no channel binding" or, for -PLUS, its type; with the
// authzid if there is one.
func (c *ClientSession) gs2Header() string {
	flag := "n"
	if IsPlus(c.mech) {
		flag = "p=" + c.cfg.ChannelBindingType
	}
	if c.cfg.Authzid == "" {
		return flag + ",,"
	}
	return flag + ",a=" + encodeSASLName(c.cfg.Authzid) + ","
}

// scramFinal checks server-first and computes the proof.
func (c *ClientSession) scramFinal(challenge []byte) ([]byte, bool, error) {
	msg := string(challenge)
	if strings.HasPrefix(msg, "m=") {
		return nil, false, c.failf(ErrMalformedChallenge, "mandatory extension not supported")
	}
	sf, ok := parseServerFirst(msg)
	switch {
	case !ok:
		return nil, false, c.failf(ErrMalformedChallenge, "bad server-first-message")
	case !strings.HasPrefix(sf.nonce, c.nonce) || len(sf.nonce) == len(c.nonce):
		return nil, false, c.failf(ErrNonceMismatch, "")
	case sf.iterations < c.cfg.MinIterations:
		return nil, false, c.failf(ErrTooFewIterations, "%d < %d", sf.iterations, c.cfg.MinIterations)
	case sf.iterations > MaxIterations:
		return nil, false, c.failf(ErrTooManyIterations, "%d > %d", sf.iterations, MaxIterations)
	}
	if c.cfg.Advertised != nil {
		if got, ok := downgradeAttr(msg); ok && got != DowngradeHash(c.hash, *c.cfg.Advertised) {
			return nil, false, c.failf(ErrDowngrade, "")
		}
	}
	salted, err := saltedPassword(c.hash, c.cfg.Password, sf.salt, sf.iterations)
	if err != nil {
		return nil, false, c.failf(err, "")
	}
	withoutProof := "c=" + base64.StdEncoding.EncodeToString(append([]byte(c.gs2Header()), c.cfg.ChannelBindingData...)) + ",r=" + sf.nonce
	authMessage := c.first + "," + msg + "," + withoutProof
	clientKey := hmacSum(c.hash, salted, "Client Key")
	proof := xorBytes(clientKey, hmacSum(c.hash, hashSum(c.hash, clientKey), authMessage))
	c.serverSig = hmacSum(c.hash, hmacSum(c.hash, salted, "Server Key"), authMessage)
	c.state = clientAwaitFinal
	return []byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)), false, nil
}

// finish checks the success data: the server signature for SCRAM, nothing
// for PLAIN and ANONYMOUS.
func (c *ClientSession) finish(data []byte) ([]byte, bool, error) {
	if c.hash == 0 {
		if len(data) != 0 {
			return nil, false, c.failf(ErrMalformedChallenge, "unexpected success data")
		}
		c.state = clientDone
		return nil, true, nil
	}
	msg := string(data)
	if e, ok := strings.CutPrefix(msg, "e="); ok {
		return nil, false, c.failf(ErrServerRefused, "%q", e)
	}
	v, ok := strings.CutPrefix(msg, "v=")
	if !ok {
		return nil, false, c.failf(ErrMalformedChallenge, "bad server-final-message")
	}
	v, _, _ = strings.Cut(v, ",") // extensions may follow
	sig, err := base64.StdEncoding.Strict().DecodeString(v)
	if err != nil || !hmac.Equal(sig, c.serverSig) {
		return nil, false, c.failf(ErrServerSignature, "")
	}
	c.state = clientDone
	return nil, true, nil
}

package sip

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"net"
	"net/netip"
	"sync"
	"time"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"

	"parley.dev/parley/internal/admission"
)

// realm is the digest realm of our challenges.
const realm = "parley"

// verdict is what the trunk policy says of an INVITE.
type verdict int

const (
	allowed    verdict = iota
	challenge          // ask for credentials (401)
	forbidden          // no trunk matches (403)
	badRequest         // the credentials are malformed (400)
)

// policy decides who may dial in: the configured trunks.
type policy struct {
	trunks []Trunk // read-only
	// nonces are the digest nonces we issued and when; guarded by mu.
	mu     sync.Mutex
	nonces map[string]time.Time
}

// nonceLife is how long a digest nonce is good for.
const nonceLife = 5 * time.Minute

// maxNonces bounds the nonces held: a flood of unauthenticated INVITEs
// cannot grow it without bound (the oldest are forgotten).
const maxNonces = 4096

func newPolicy(trunks []Trunk) *policy {
	return &policy{trunks: trunks, nonces: make(map[string]time.Time)}
}

// open says whether anyone may dial in (no trunk is configured).
func (p *policy) open() bool { return len(p.trunks) == 0 }

// check says whether req, from src, may call, and which trunk it is.
func (p *policy) check(req *sip.Request, src netip.Addr) (verdict, string) {
	if p.open() {
		return allowed, ""
	}
	var creds *digest.Credentials
	if h := req.GetHeader("Authorization"); h != nil {
		c, err := digest.ParseCredentials(h.Value())
		if err != nil {
			return badRequest, ""
		}
		creds = c
	}
	wantsCreds := false
	for _, t := range p.trunks {
		if len(t.Addrs) > 0 && !containsAddr(t.Addrs, src) {
			continue
		}
		if t.Username == "" {
			return allowed, trunkName(t)
		}
		wantsCreds = true
		if creds != nil && p.verify(req, creds, t) {
			return allowed, trunkName(t)
		}
	}
	if wantsCreds {
		return challenge, ""
	}
	return forbidden, ""
}

func trunkName(t Trunk) string {
	if t.Name != "" || len(t.Addrs) == 0 {
		return t.Name
	}
	return t.Addrs[0].String()
}

func containsAddr(prefixes []netip.Prefix, a netip.Addr) bool {
	for _, p := range prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// verify checks a digest response against a trunk's credentials and a
// nonce we issued.
func (p *policy) verify(req *sip.Request, c *digest.Credentials, t Trunk) bool {
	if c.Username != t.Username || c.Realm != realm || !p.knownNonce(c.Nonce) {
		return false
	}
	want, err := digest.Digest(&digest.Challenge{Realm: realm, Nonce: c.Nonce, Algorithm: "MD5", QOP: qopOf(c)},
		digest.Options{Method: string(req.Method), URI: c.URI, Username: t.Username, Password: t.Password,
			Cnonce: c.Cnonce, Count: c.Nc})
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare([]byte(want.Response), []byte(c.Response)) == 1
}

func qopOf(c *digest.Credentials) []string {
	if c.QOP == "" {
		return nil
	}
	return []string{c.QOP}
}

// challengeHeader issues a nonce and returns the WWW-Authenticate header.
func (p *policy) challengeHeader() sip.Header {
	var b [16]byte
	_, _ = rand.Read(b[:]) // crypto/rand never fails
	nonce := hex.EncodeToString(b[:])
	now := time.Now()
	p.mu.Lock()
	if len(p.nonces) >= maxNonces {
		for n, at := range p.nonces {
			if now.Sub(at) > nonceLife || len(p.nonces) >= maxNonces {
				delete(p.nonces, n)
			}
		}
	}
	p.nonces[nonce] = now
	p.mu.Unlock()
	ch := digest.Challenge{Realm: realm, Nonce: nonce, Algorithm: "MD5", QOP: []string{"auth"}}
	return sip.NewHeader("WWW-Authenticate", ch.String())
}

func (p *policy) knownNonce(n string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	at, ok := p.nonces[n]
	return ok && time.Since(at) <= nonceLife
}

// limiter is admission.RateLimiter made safe for the SIP transports'
// goroutines.
type limiter struct {
	mu sync.Mutex
	rl *admission.RateLimiter // guarded by mu
}

func newLimiter(perSecond float64, burst int) *limiter {
	return &limiter{rl: admission.NewRateLimiter(admission.RateConfig{PerSecond: perSecond, Burst: burst})}
}

func (l *limiter) allow(a netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	ok, _ := l.rl.Allow(a)
	return ok
}

// errFlood closes a TCP connection whose source sends too fast.
var errFlood = errors.New("sip: source over its message rate")

// addrOf returns the IP of a net.Addr or a "host:port" string.
func addrOf(a any) netip.Addr {
	var s string
	switch v := a.(type) {
	case *net.UDPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	case *net.TCPAddr:
		ip, _ := netip.AddrFromSlice(v.IP)
		return ip.Unmap()
	case net.Addr:
		s = v.String()
	case string:
		s = v
	}
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		return netip.Addr{}
	}
	return ap.Addr().Unmap()
}

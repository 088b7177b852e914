package xmpp

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"strconv"
	"time"

	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/xmlstream"
)

// FAST (XEP-0484): on a password login over SASL2 the client asks for a
// token; later logins present HMAC(token, "Initiator") with the
// HT-SHA-256-NONE mechanism (draft-schmaus-kitten-sasl-ht) and need no
// password and no PBKDF2 round. Tokens are bound to the account and to the
// app's user-agent id; the store keeps the current token and the one
// before it (a client may not have received a rotation), each with its
// expiry, in bucket "fast" under user NUL user-agent-id.

const (
	nsFAST           = "urn:xmpp:fast:0"
	mechHTSHA256None = "HT-SHA-256-NONE"
	bucketFAST       = "fast"
	// fastTokenLifetime is how long a token logs in.
	fastTokenLifetime = 21 * 24 * time.Hour
	// maxFASTPerAccount bounds the user agents holding a token per account;
	// beyond, the token expiring first is dropped.
	maxFASTPerAccount = 32
)

// fastRecord is what the store keeps for one user agent of one account.
type fastRecord struct {
	cur, prev       string    // tokens; prev may be ""
	curExp, prevExp time.Time // their expiry
	count           uint64    // the highest XEP-0484 count seen
}

func fastKey(user, agent string) []byte { return []byte(user + "\x00" + agent) }

func (r fastRecord) element() *xmlstream.Element {
	return xmlstream.New(nsFAST, "record", "cur", r.cur, "cur-exp", strconv.FormatInt(r.curExp.Unix(), 10),
		"prev", r.prev, "prev-exp", strconv.FormatInt(r.prevExp.Unix(), 10), "count", strconv.FormatUint(r.count, 10))
}

func parseFASTRecord(v []byte) (fastRecord, bool) {
	el, err := xmlstream.ParseElementIn(v, xmlstream.Limits{}, nsFAST)
	if err != nil {
		return fastRecord{}, false
	}
	unix := func(name string) time.Time {
		n, _ := strconv.ParseInt(el.Attr(name), 10, 64)
		return time.Unix(n, 0)
	}
	count, _ := strconv.ParseUint(el.Attr("count"), 10, 64)
	return fastRecord{cur: el.Attr("cur"), prev: el.Attr("prev"), curExp: unix("cur-exp"), prevExp: unix("prev-exp"), count: count}, true
}

// fastLogin is a FAST authentication that succeeded.
type fastLogin struct {
	key []byte
	rec fastRecord
}

func htHash(token, label string) []byte {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte(label))
	return m.Sum(nil)
}

// userAgentID is the id of the SASL2 request's <user-agent/>, "" if none.
func userAgentID(req *xmlstream.Element) string {
	if ua := req.Child(nsSASL2, "user-agent"); ua != nil && len(ua.Attr("id")) <= 256 {
		return ua.Attr("id")
	}
	return ""
}

// fastAuthenticate checks an HT-SHA-256-NONE initial response: authcid NUL
// HMAC(token, "Initiator"). A wrong or expired token fails like a wrong
// password, and counts towards the throttle like one.
func (ss *session) fastAuthenticate(req *xmlstream.Element) (bool, error) {
	ss.mech = mechHTSHA256None
	addr := ss.throttleAddr()
	if th := ss.srv.cfg.Throttle; th != nil {
		if allowed, _ := th.Allow("", addr); !allowed {
			return ss.saslFail(&sasl.Failure{Condition: sasl.TemporaryAuthFailure, Text: "too many failed attempts, try again later"}, "")
		}
	}
	data, err := decodeSASL(req.ChildText(nsSASL2, "initial-response"), false)
	if err != nil {
		return ss.saslFail(err, "")
	}
	name, proof, found := bytes.Cut(data, []byte{0})
	if !found || len(name) == 0 || len(proof) != sha256.Size {
		return ss.saslFail(&sasl.Failure{Condition: sasl.MalformedRequest, Text: "expected authcid NUL HMAC-SHA-256"}, "")
	}
	user := string(name)
	if n, ok := ss.srv.cfg.Accounts.(sasl.UsernameNormalizer); ok {
		if c, err := n.NormalizeUsername(user); err == nil {
			user = c
		}
	}
	agent := userAgentID(req)
	key := fastKey(user, agent)
	v, _ := ss.srv.cfg.Store.Get(bucketFAST, key)
	rec, ok := parseFASTRecord(v)
	now := ss.srv.cfg.Clock()
	match := false
	for _, t := range []struct {
		token string
		exp   time.Time
	}{{rec.cur, rec.curExp}, {rec.prev, rec.prevExp}} {
		if t.token != "" && now.Before(t.exp) && subtle.ConstantTimeCompare(htHash(t.token, "Initiator"), proof) == 1 {
			match = true
			ss.sasl2.final = htHash(t.token, "Responder")
		}
	}
	// XEP-0484 §4: a count, when given, must grow (replays are refused).
	if f := req.Child(nsFAST, "fast"); match && f != nil && f.Attr("count") != "" {
		n, err := strconv.ParseUint(f.Attr("count"), 10, 64)
		if match = err == nil && n > rec.count; match {
			rec.count = n
		}
	}
	if !ok || agent == "" || !match || !ss.srv.cfg.Accounts.Exists(user) {
		ss.sasl2.final = nil
		return ss.saslFail(&sasl.Failure{Condition: sasl.NotAuthorized, Text: "the token is not valid"}, user)
	}
	if th := ss.srv.cfg.Throttle; th != nil {
		if allowed, _ := th.Allow(user, addr); !allowed {
			return ss.saslFail(&sasl.Failure{Condition: sasl.TemporaryAuthFailure, Text: "too many failed attempts, try again later"}, "")
		}
		th.Succeeded(user, addr)
	}
	if err := ss.loggedIn(false); err != nil {
		return ss.admissionRefused(err)
	}
	ss.identity = Identity{Kind: IdentityAccount}
	ss.user = user
	ss.log = ss.log.With("user", user)
	ss.sasl2.fast = &fastLogin{key: key, rec: rec}
	if f := req.Child(nsFAST, "fast"); f != nil && (f.Attr("invalidate") == "true" || f.Attr("invalidate") == "1") {
		ss.srv.cfg.Store.Delete(bucketFAST, key)
		ss.sasl2.fast = nil
	} else if rec.count > 0 {
		ss.srv.cfg.Store.Put(bucketFAST, key, []byte(rec.element().String()))
	}
	return true, nil
}

// fastResult issues a token when the SASL2 request asked for one
// (<request-token mechanism='HT-SHA-256-NONE'/>), for an account and a
// user agent with an id; the token it replaces stays valid as the previous.
func (ss *session) fastResult() *xmlstream.Element {
	req := ss.sasl2.req
	rt := req.Child(nsFAST, "request-token")
	agent := userAgentID(req)
	if rt == nil || rt.Attr("mechanism") != mechHTSHA256None || ss.anonymous || agent == "" {
		return nil
	}
	key := fastKey(ss.user, agent)
	var rec fastRecord
	if l := ss.sasl2.fast; l != nil {
		rec = l.rec
	} else if v, _ := ss.srv.cfg.Store.Get(bucketFAST, key); v != nil {
		rec, _ = parseFASTRecord(v)
	} else {
		ss.srv.makeRoomForFAST(ss.user)
	}
	var b [32]byte
	rand.Read(b[:])
	now := ss.srv.cfg.Clock()
	rec.prev, rec.prevExp = rec.cur, rec.curExp
	rec.cur, rec.curExp = base64.RawURLEncoding.EncodeToString(b[:]), now.Add(fastTokenLifetime)
	if err := ss.srv.cfg.Store.Put(bucketFAST, key, []byte(rec.element().String())); err != nil {
		ss.log.Error("fast token store", "err", err)
		return nil
	}
	return xmlstream.New(nsFAST, "token", "token", rec.cur, "expiry", rec.curExp.UTC().Format(time.RFC3339))
}

// makeRoomForFAST drops the expired records of user, then the one expiring
// first while the account holds maxFASTPerAccount or more.
func (s *Server) makeRoomForFAST(user string) {
	now := s.cfg.Clock()
	var live, expired [][]byte
	var oldest []byte
	var oldestExp time.Time
	s.cfg.Store.Scan(bucketFAST, userPrefix(user), nil, false, func(k, v []byte) bool {
		rec, _ := parseFASTRecord(v)
		if !now.Before(rec.curExp) {
			expired = append(expired, bytes.Clone(k))
			return true
		}
		live = append(live, bytes.Clone(k))
		if oldest == nil || rec.curExp.Before(oldestExp) {
			oldest, oldestExp = bytes.Clone(k), rec.curExp
		}
		return true
	})
	// Deleted after the scan: a write inside a bbolt read transaction can deadlock.
	for _, k := range expired {
		s.cfg.Store.Delete(bucketFAST, k)
	}
	if len(live) >= maxFASTPerAccount && oldest != nil {
		s.cfg.Store.Delete(bucketFAST, oldest)
	}
}

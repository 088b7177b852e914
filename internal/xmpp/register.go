package xmpp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// In-band registration (XEP-0077) before authentication, off by default,
// optionally gated by invitations (XEP-0401 style): an admin makes a token
// with NewInvite (parley invite), the client presents it with a XEP-0379
// preauth IQ or in the registration form's "token" field, and each token
// makes one account.

const (
	nsRegister        = "jabber:iq:register"
	nsRegisterFeature = "http://jabber.org/features/iq-register"
	nsPreauth         = "urn:xmpp:pars:0"
	bucketInvites     = "invites-used"
)

// Registration modes for Config.Registration.
const (
	RegistrationOff    = ""       // no in-band registration (the default)
	RegistrationInvite = "invite" // with a valid, unused invitation only
	RegistrationOpen   = "open"   // anyone (not recommended on a public server)
)

// NewInvite makes an invitation token valid until now+ttl, signed with
// secret: base64url(expiry, nonce, HMAC-SHA-256 prefix).
func NewInvite(secret []byte, ttl time.Duration, now time.Time) string {
	b := make([]byte, 16, 32)
	binary.BigEndian.PutUint64(b, uint64(now.Add(ttl).Unix()))
	rand.Read(b[8:16])
	return base64.RawURLEncoding.EncodeToString(append(b, inviteMAC(secret, b)...))
}

func inviteMAC(secret, body []byte) []byte {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return m.Sum(nil)[:16]
}

var errBadInvite = errors.New("the invitation is unknown, used or expired")

// checkInvite verifies a token's signature and expiry, and that it was
// not used; it returns the key that marks it used.
func (s *Server) checkInvite(token string) ([]byte, error) {
	b, err := base64.RawURLEncoding.DecodeString(token)
	if err != nil || len(b) != 32 || len(s.cfg.InviteSecret) == 0 {
		return nil, errBadInvite
	}
	if !hmac.Equal(b[16:], inviteMAC(s.cfg.InviteSecret, b[:16])) {
		return nil, errBadInvite
	}
	if time.Unix(int64(binary.BigEndian.Uint64(b)), 0).Before(s.cfg.Clock()) {
		return nil, errBadInvite
	}
	if v, _ := s.cfg.Store.Get(bucketInvites, b[8:16]); v != nil {
		return nil, errBadInvite
	}
	return b[8:16], nil
}

// registrationOffered: registration is on and the password cannot be sniffed.
func (ss *session) registrationOffered() bool {
	return ss.srv.cfg.Registration != RegistrationOff && (ss.t.Secure() || isLoopback(ss.t.RemoteAddr()))
}

// handlePreAuthIQ answers registration IQs before authentication. It
// reports false for anything else (which the caller refuses).
func (ss *session) handlePreAuthIQ(iq *xmlstream.Element) (bool, error) {
	if !ss.registrationOffered() || !validIQ(iq) {
		return false, nil
	}
	p := iq.FirstChild()
	var res *xmlstream.Element
	switch {
	case p.Is(nsPreauth, "preauth") && iq.Attr("type") == "set":
		if _, err := ss.srv.checkInvite(p.Attr("token")); err != nil {
			ss.registerFailed()
			res = stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, err.Error()))
		} else {
			ss.invite = p.Attr("token")
			res = stanza.IQResult(iq)
		}
	case p.Is(nsRegister, "query") && iq.Attr("type") == "get":
		res = stanza.IQResult(iq, ss.registerForm())
	case p.Is(nsRegister, "query") && iq.Attr("type") == "set":
		res = ss.register(iq, p)
	default:
		return false, nil
	}
	res.SetAttr("from", "")
	res.SetAttr("to", "")
	return true, ss.t.Write(res)
}

func (ss *session) registerForm() *xmlstream.Element {
	q := xmlstream.New(nsRegister, "query").Add(
		xmlstream.New(nsRegister, "instructions").SetText("Choose a user name and a password."),
		xmlstream.New(nsRegister, "username"), xmlstream.New(nsRegister, "password"))
	if ss.srv.cfg.Registration == RegistrationInvite {
		x := xmlstream.New(nsXData, "x", "type", "form").Add(
			xmlstream.New(nsXData, "field", "var", "FORM_TYPE", "type", "hidden").Add(xmlstream.New(nsXData, "value").SetText(nsRegister)),
			xmlstream.New(nsXData, "field", "var", "username", "type", "text-single").Add(xmlstream.New(nsXData, "required")),
			xmlstream.New(nsXData, "field", "var", "password", "type", "text-private").Add(xmlstream.New(nsXData, "required")),
			xmlstream.New(nsXData, "field", "var", "token", "type", "text-single", "label", "Invitation").Add(xmlstream.New(nsXData, "required")))
		q.Add(x)
	}
	return q
}

// register creates the account; one per stream.
func (ss *session) register(iq, q *xmlstream.Element) *xmlstream.Element {
	if ss.registered {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.NotAllowed, "one account per connection"))
	}
	user, pass, token := q.ChildText(nsRegister, "username"), q.ChildText(nsRegister, "password"), ss.invite
	if x := q.Child(nsXData, "x"); x != nil {
		for _, f := range x.ChildrenNamed(nsXData, "field") {
			v := f.ChildText(nsXData, "value")
			switch f.Attr("var") {
			case "username":
				user = v
			case "password":
				pass = v
			case "token":
				token = v
			}
		}
	}
	if q.Child(nsRegister, "remove") != nil {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.NotAllowed, "log in to remove an account"))
	}
	var used []byte
	if ss.srv.cfg.Registration == RegistrationInvite {
		var err error
		if used, err = ss.srv.checkInvite(token); err != nil {
			ss.registerFailed()
			return stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, err.Error()))
		}
	}
	if user == "" || len(pass) < 8 {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.NotAcceptable, "a user name and a password of 8 characters or more are required"))
	}
	if ss.srv.cfg.Accounts.Exists(user) {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.Conflict, "that name is taken"))
	}
	if used != nil {
		// Marked before the account exists: a crash here loses the
		// invitation, never spends it twice.
		if err := ss.srv.cfg.Store.Put(bucketInvites, used, []byte{1}); err != nil {
			return stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, ""))
		}
	}
	if err := ss.srv.cfg.Register(user, pass); err != nil {
		ss.srv.cfg.Store.Delete(bucketInvites, used)
		return stanza.ErrorReply(iq, stanza.NewError(stanza.NotAcceptable, err.Error()))
	}
	ss.registered = true
	ss.log.Info("account registered in band", "user", user, "invited", used != nil)
	return stanza.IQResult(iq)
}

// registerFailed counts a bad invitation like a failed login.
func (ss *session) registerFailed() {
	if th := ss.srv.cfg.Throttle; th != nil {
		th.Failed("", ss.throttleAddr())
	}
}

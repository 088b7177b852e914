package xmpp

import (
	"strings"
	"time"

	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

// Guest resumption. A guest's JID is random, so a reconnecting guest would
// come back as someone else and lose what it held (ownership of the room it
// created, a moderator's grant). Once bound, a guest asks the server for a
// resumption token (an IQ get of <resume xmlns='urn:parley:resume:0'/> to
// its server); the client keeps it and, on reconnecting, sends it in the
// WebSocket URL (?resume=TOKEN) with SASL ANONYMOUS, and gets the same
// guest JID back. The token is a JWT signed with a secret only this server
// holds (Config.Resume); a bad or expired one fails SASL with
// not-authorized, and the client logs in afresh.

// NSResume is the namespace of the resumption request.
const NSResume = "urn:parley:resume:0"

// resumeTTL is how long a resumption token is good for.
const resumeTTL = 24 * time.Hour

type urlResumeKey struct{}

// handleResumeIQ answers a guest's request for a resumption token; false if
// iq is not one.
func (s *Server) handleResumeIQ(ss *session, iq *xmlstream.Element) bool {
	q := iq.FirstChild()
	if q == nil || !q.Is(NSResume, "resume") {
		return false
	}
	switch {
	case iq.Attr("type") != "get":
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "ask with a get")))
	case s.cfg.Resume == nil:
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, "this server does not resume guests")))
	case ss.identity.Kind != IdentityGuest:
		ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.NotAllowed, "only guests need resumption: log in again as before")))
	default:
		raw, exp, err := s.cfg.Resume.Mint(token.MintRequest{User: ss.user, TTL: resumeTTL})
		if err != nil {
			ss.send(stanza.ErrorReply(iq, stanza.NewError(stanza.InternalServerError, "")))
			return true
		}
		ss.send(stanza.IQResult(iq, xmlstream.New(NSResume, "resume", "token", raw,
			"expires", exp.UTC().Format(time.RFC3339))))
	}
	return true
}

// resumeAuth binds a guest again from its resumption token (ANONYMOUS on a
// connection whose URL carried ?resume=). handled is false otherwise.
func (ss *session) resumeAuth(auth *xmlstream.Element) (handled, ok bool, err error) {
	if auth.Attr("mechanism") != sasl.MechAnonymous || ss.urlResume == "" {
		return false, false, nil
	}
	v := ss.srv.cfg.Resume
	if !ss.srv.cfg.AllowAnonymous {
		return false, false, nil // guests are off: ANONYMOUS is not even offered
	}
	if v == nil {
		ok, err = ss.saslFail(&sasl.Failure{Condition: sasl.NotAuthorized, Text: "this server does not resume guests"}, "")
		return true, ok, err
	}
	id, verr := v.Verify(ss.urlResume)
	if verr != nil || !strings.HasPrefix(id.UserID, "guest-") {
		ss.log.Info("resumption refused", "err", verr)
		text := "the resumption token is not valid"
		if verr != nil {
			text = verr.Error()
		}
		ok, err = ss.saslFail(&sasl.Failure{Condition: sasl.NotAuthorized, Text: text}, "")
		return true, ok, err
	}
	if err := ss.loggedIn(true); err != nil { // a resumed guest is a guest
		ok, err = ss.admissionRefused(err)
		return true, ok, err
	}
	ss.user = id.UserID
	ss.anonymous = true
	ss.identity = Identity{Kind: IdentityGuest}
	ss.log = ss.log.With("user", ss.user)
	ss.log.Debug("guest resumed")
	return true, true, ss.t.Write(xmlstream.New(nsSASL, "success"))
}

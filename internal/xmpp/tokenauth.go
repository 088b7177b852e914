package xmpp

import (
	"bytes"
	"context"
	"encoding/base64"
	"strings"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

// Token logins. A client proves who it is with a JWT in one of two ways:
//
//   - WebSocket: the token rides in the URL (/xmpp-websocket?token=JWT, as
//     Jitsi's clients send it) and the client then authenticates with SASL
//     ANONYMOUS; the server binds the identity the token names. ANONYMOUS is
//     offered on such a connection even when guests are off, and a bad
//     token fails it with not-authorized: never a guest login instead.
//   - Any transport: SASL OAUTHBEARER (RFC 7628), the token in the
//     initial response ("n,,\x01auth=Bearer JWT\x01\x01").
//
// A token user's localpart is token.Identity.Localpart (tok-…), stable per
// user, so a returning user gets the same JID back.

// MechOAuthBearer is the SASL mechanism that carries a bearer token.
const MechOAuthBearer = "OAUTHBEARER"

// IdentityKind says how a session authenticated.
type IdentityKind int

// Identity kinds.
const (
	IdentityAccount IdentityKind = iota + 1 // SCRAM or PLAIN against the account store
	IdentityGuest                           // SASL ANONYMOUS without a token
	IdentityToken                           // a verified JWT
)

func (k IdentityKind) String() string {
	switch k {
	case IdentityAccount:
		return "account"
	case IdentityGuest:
		return "guest"
	case IdentityToken:
		return "token"
	}
	return "unknown"
}

// Identity is who a bound session is.
type Identity struct {
	Kind  IdentityKind
	Token *token.Identity // for IdentityToken; read-only
}

// urlTokenKey carries the WebSocket URL's token from the HTTP handler to
// the session.
type urlTokenKey struct{}

func withURLToken(ctx context.Context, raw, resume string) context.Context {
	if raw != "" {
		ctx = context.WithValue(ctx, urlTokenKey{}, raw)
	}
	if resume != "" {
		ctx = context.WithValue(ctx, urlResumeKey{}, resume)
	}
	return ctx
}

func urlTokenFrom(ctx context.Context) string {
	s, _ := ctx.Value(urlTokenKey{}).(string)
	return s
}

func urlResumeFrom(ctx context.Context) string {
	s, _ := ctx.Value(urlResumeKey{}).(string)
	return s
}

// IdentityOf returns how the session bound to full authenticated; false if
// there is no such session.
func (s *Server) IdentityOf(full jid.JID) (Identity, bool) {
	ss := s.sessionFor(full)
	if ss == nil {
		return Identity{}, false
	}
	return ss.identity, true
}

// tokenMechanisms adds what token logins need to the offered mechanisms.
func (ss *session) tokenMechanisms(m []string) []string {
	if ss.srv.cfg.Tokens != nil {
		m = append(m, MechOAuthBearer)
	}
	if ss.urlToken != "" && !ss.srv.cfg.AllowAnonymous {
		m = append(m, sasl.MechAnonymous)
	}
	return m
}

// tokenAuth handles the token mechanisms: ANONYMOUS on a connection whose
// URL carried a token, and OAUTHBEARER. handled is false for every other
// exchange.
func (ss *session) tokenAuth(auth *xmlstream.Element) (handled, ok bool, err error) {
	if ss.urlToken == "" { // a token, when given too, wins
		if handled, ok, err := ss.resumeAuth(auth); handled {
			return handled, ok, err
		}
	}
	mech := auth.Attr("mechanism")
	var raw string
	switch {
	case mech == sasl.MechAnonymous && ss.urlToken != "":
		raw = ss.urlToken
	case mech == MechOAuthBearer:
		data, derr := decodeSASL(auth.Text, true)
		if derr != nil {
			ok, err = ss.saslFail(derr, "")
			return true, ok, err
		}
		if raw = bearerToken(data); raw == "" {
			ok, err = ss.saslFail(&sasl.Failure{Condition: sasl.MalformedRequest, Text: "expected n,,\\x01auth=Bearer TOKEN\\x01\\x01"}, "")
			return true, ok, err
		}
	default:
		return false, false, nil
	}
	v := ss.srv.cfg.Tokens
	if v == nil {
		ok, err = ss.saslFail(&sasl.Failure{Condition: sasl.NotAuthorized, Text: "this server accepts no tokens"}, "")
		return true, ok, err
	}
	id, verr := v.Verify(raw)
	if verr != nil {
		ss.log.Info("token refused", "err", verr)
		ok, err = ss.saslFail(&sasl.Failure{Condition: sasl.NotAuthorized, Text: verr.Error()}, "")
		return true, ok, err
	}
	if err := ss.loggedIn(false); err != nil { // a token names someone: no guest cap
		ok, err = ss.admissionRefused(err)
		return true, ok, err
	}
	ss.user = id.Localpart()
	ss.anonymous = true // no stored roster: the token is the account
	ss.identity = Identity{Kind: IdentityToken, Token: id}
	ss.log = ss.log.With("user", ss.user, "token_user", id.UserID)
	ss.log.Debug("authenticated with a token", "name", id.Name, "moderator", id.Moderator)
	return true, true, ss.t.Write(xmlstream.New(nsSASL, "success"))
}

// bearerToken reads the token of an OAUTHBEARER initial response
// (RFC 7628 §3.1): a GS2 header, then \x01-separated key=value pairs.
func bearerToken(data []byte) string {
	parts := bytes.Split(data, []byte{1})
	if len(parts) < 2 || !bytes.HasPrefix(parts[0], []byte("n,")) {
		return ""
	}
	for _, kv := range parts[1:] {
		k, v, found := strings.Cut(string(kv), "=")
		if found && k == "auth" && len(v) > 7 && strings.EqualFold(v[:7], "Bearer ") {
			return strings.TrimSpace(v[7:])
		}
	}
	return ""
}

// OAuthBearerResponse is a client's OAUTHBEARER initial response for raw,
// base64-encoded as it goes in <auth/>.
func OAuthBearerResponse(raw string) string {
	return base64.StdEncoding.EncodeToString([]byte("n,,\x01auth=Bearer " + raw + "\x01\x01"))
}

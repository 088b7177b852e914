package xmpp

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

// Negotiation namespaces (RFC 6120).
const (
	nsTLS     = "urn:ietf:params:xml:ns:xmpp-tls"
	nsSASL    = "urn:ietf:params:xml:ns:xmpp-sasl"
	nsBind    = "urn:ietf:params:xml:ns:xmpp-bind"
	nsSession = "urn:ietf:params:xml:ns:xmpp-session"
)

// maxSASLFailures is how many failed attempts one stream may make before it
// is closed (RFC 6120 §6.4.5 suggests 2 to 5).
const maxSASLFailures = 3

// negotiate runs the stream from its opening to a bound resource: STARTTLS
// where offered, SASL, the stream restart, then resource binding.
func (ss *session) negotiate() error {
	for {
		if err := ss.openStream(); err != nil {
			return err
		}
		switch {
		case ss.user == "":
			restart, err := ss.negotiatePreAuth()
			if err != nil {
				return err
			}
			if restart {
				ss.t.Restart()
				continue
			}
			// SASL2 (XEP-0388) succeeded: no stream restart. Bound
			// inline (Bind 2, or a resumption), the session runs;
			// otherwise the client gets the features and binds.
			if ss.bound.Load() {
				return nil
			}
			if err := ss.t.Write(ss.features()); err != nil {
				return err
			}
			return ss.negotiateBind()
		default:
			return ss.negotiateBind()
		}
	}
}

// openStream reads the client's header and answers with ours and the features.
func (ss *session) openStream() error {
	h, err := ss.t.ReadOpen()
	if err != nil {
		return err
	}
	ss.touch()
	reply := stream.Header{From: ss.srv.domain.Domain, ID: ss.srv.newID("s"), Version: "1.0", Lang: "en"}
	if h.From != "" {
		reply.To = h.From
	}
	if err := ss.t.WriteOpen(reply); err != nil {
		return err
	}
	if d, err := jid.Parse(h.To); err != nil || d.Domain != ss.srv.domain.Domain || d.Local != "" {
		return &stanza.StreamError{Condition: stanza.StreamHostUnknown, Text: "this server serves " + ss.srv.domain.Domain}
	}
	if h.Version != "1.0" && h.Version != "" {
		return &stanza.StreamError{Condition: stanza.StreamUnsupportedVersion}
	}
	return ss.t.Write(ss.features())
}

// features lists what the client may do next.
func (ss *session) features() *xmlstream.Element {
	f := xmlstream.New(xmlstream.NSStream, "features")
	if ss.user != "" {
		f.Add(xmlstream.New(nsBind, "bind"))
		f.Add(xmlstream.New(nsSession, "session").Add(xmlstream.New(nsSession, "optional")))
		f.Add(xmlstream.New(nsRosterVer, "ver"))
		f.Add(xmlstream.New(nsSM, "sm"))
		f.Add(xmlstream.New(nsCSI, "csi"))
		return f
	}
	canTLS := ss.srv.cfg.TLS != nil && ss.t.CanStartTLS()
	if canTLS {
		st := xmlstream.New(nsTLS, "starttls")
		if ss.tlsRequired() {
			st.Add(xmlstream.New(nsTLS, "required"))
			return f.Add(st)
		}
		f.Add(st)
	}
	if ss.registrationOffered() {
		f.Add(xmlstream.New(nsRegisterFeature, "register"))
	}
	if ss.plusOffered() {
		// XEP-0440: which channel binding types the -PLUS mechanisms take.
		cb := xmlstream.New(nsSASLCB, "sasl-channel-binding")
		for _, typ := range ss.bindingTypes() {
			cb.Add(xmlstream.New(nsSASLCB, "channel-binding", "type", typ))
		}
		f.Add(cb)
	}
	mechs := xmlstream.New(nsSASL, "mechanisms")
	for _, m := range ss.mechanisms() {
		mechs.Add(xmlstream.New(nsSASL, "mechanism").SetText(m))
	}
	return f.Add(mechs, ss.sasl2Feature())
}

// tlsRequired: STARTTLS is mandatory for remote TCP peers when configured.
func (ss *session) tlsRequired() bool {
	return ss.srv.cfg.RequireTLS && !ss.t.Secure() && !isLoopback(ss.t.RemoteAddr())
}

// mechanisms offered now. PLAIN only where the password cannot be sniffed.
func (ss *session) mechanisms() []string {
	m := []string{"SCRAM-SHA-256", "SCRAM-SHA-1"}
	if ss.plusOffered() {
		m = append([]string{sasl.MechSCRAMSHA256Plus, sasl.MechSCRAMSHA1Plus}, m...)
	}
	if ss.t.Secure() || isLoopback(ss.t.RemoteAddr()) {
		m = append(m, "PLAIN")
	}
	if ss.srv.cfg.AllowAnonymous {
		m = append(m, "ANONYMOUS")
	}
	return ss.tokenMechanisms(m)
}

func (ss *session) mechanismOffered(name string) bool {
	for _, m := range ss.mechanisms() {
		if m == name {
			return true
		}
	}
	return false
}

// negotiatePreAuth handles STARTTLS and SASL. It returns restart=true when
// a new stream must be opened (after TLS or after SASL success).
func (ss *session) negotiatePreAuth() (restart bool, err error) {
	for {
		el, err := ss.t.ReadElement()
		if err != nil {
			return false, err
		}
		ss.touch()
		switch {
		case el.Is(nsTLS, "starttls"):
			return true, ss.startTLS()
		case el.Is(nsSASL2, "authenticate"):
			if ss.tlsRequired() {
				return false, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "STARTTLS required"}
			}
			ok, err := ss.authenticate2(el)
			if err != nil || ok {
				return false, err
			}
		case el.Is(nsSASL, "auth"):
			if ss.tlsRequired() {
				return false, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "STARTTLS required"}
			}
			ok, err := ss.authenticate(el)
			if err != nil || ok {
				return ok, err
			}
		case el.Name == "iq":
			if handled, err := ss.handlePreAuthIQ(el); handled || err != nil {
				if err != nil {
					return false, err
				}
				continue
			}
			return false, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "authenticate first"}
		default:
			return false, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "authenticate first"}
		}
	}
}

func (ss *session) startTLS() error {
	if ss.srv.cfg.TLS == nil || !ss.t.CanStartTLS() {
		ss.t.Write(xmlstream.New(nsTLS, "failure"))
		return &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "STARTTLS not available"}
	}
	if err := ss.t.Write(xmlstream.New(nsTLS, "proceed")); err != nil {
		return err
	}
	return ss.t.StartTLS(ss.srv.cfg.TLS, true)
}

// authenticate runs one SASL exchange. ok reports success; a failed attempt
// returns ok=false, err=nil so the client may try again.
func (ss *session) authenticate(auth *xmlstream.Element) (ok bool, err error) {
	addr := ss.throttleAddr()
	mech := auth.Attr("mechanism")
	ss.mech = mech
	if !ss.mechanismOffered(mech) {
		return ss.saslFail(sasl.ErrInvalidMechanism, "")
	}
	if th := ss.srv.cfg.Throttle; th != nil {
		if allowed, _ := th.Allow("", addr); !allowed {
			return ss.saslFail(&sasl.Failure{Condition: "temporary-auth-failure", Text: "too many failed attempts, try again later"}, "")
		}
	}
	if handled, ok, err := ss.tokenAuth(auth); handled {
		return ok, err
	}
	srv, err := sasl.NewServer(mech, sasl.ServerConfig{Lookup: ss.srv.cfg.Accounts, Authorize: ss.srv.authorizeSelf,
		ChannelBinding: ss.channelBinding, PlusOffered: ss.plusOffered(), Advertised: ss.advertised()})
	if err != nil {
		return ss.saslFail(err, "")
	}
	data, err := decodeSASL(auth.Text, true)
	for {
		if err != nil {
			return ss.saslFail(err, srv.Username())
		}
		challenge, done, stepErr := srv.Step(data)
		if stepErr != nil {
			return ss.saslFail(stepErr, srv.Username())
		}
		if done {
			return ss.saslSucceed(srv, challenge, addr)
		}
		// An empty challenge is an empty element: RFC 6120 keeps "=" for
		// empty initial responses and success data, and clients choke on it here.
		if werr := ss.t.Write(xmlstream.New(ss.saslNS(), "challenge").SetText(base64.StdEncoding.EncodeToString(challenge))); werr != nil {
			return false, werr
		}
		el, rerr := ss.t.ReadElement()
		if rerr != nil {
			return false, rerr
		}
		ss.touch()
		switch {
		case el.Is(ss.saslNS(), "abort"):
			return ss.saslFail(&sasl.Failure{Condition: "aborted"}, "")
		case el.Is(ss.saslNS(), "response"):
			data, err = decodeSASL(el.Text, false)
		default:
			return false, &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "expected a SASL response"}
		}
	}
}

// authorizeSelf lets a user act only as its own bare JID (RFC 6120 §6.3.8).
func (s *Server) authorizeSelf(username, authzid string) bool {
	j, err := jid.Parse(authzid)
	return err == nil && j.IsBare() && j.Local == username && j.Domain == s.domain.Domain
}

func (ss *session) saslSucceed(srv *sasl.ServerSession, final []byte, addr string) (bool, error) {
	user := srv.Username()
	if th := ss.srv.cfg.Throttle; th != nil && !srv.Anonymous() {
		if allowed, _ := th.Allow(user, addr); !allowed {
			return ss.saslFail(&sasl.Failure{Condition: "temporary-auth-failure", Text: "too many failed attempts, try again later"}, "")
		}
		th.Succeeded(user, addr)
	}
	if err := ss.loggedIn(srv.Anonymous()); err != nil {
		return ss.admissionRefused(err)
	}
	ss.identity = Identity{Kind: IdentityAccount}
	if srv.Anonymous() {
		user = randomLocalpart()
		ss.anonymous = true
		ss.identity = Identity{Kind: IdentityGuest}
	}
	ss.user = user
	if ss.sasl2 != nil {
		ss.sasl2.final = final // the SASL2 success is written once the inline features ran
		ss.log = ss.log.With("user", user)
		return true, nil
	}
	success := xmlstream.New(nsSASL, "success")
	if len(final) > 0 {
		success.SetText(base64.StdEncoding.EncodeToString(final))
	}
	ss.log = ss.log.With("user", user)
	ss.log.Debug("authenticated", "anonymous", ss.anonymous)
	return true, ss.t.Write(success)
}

// saslFail answers <failure/>, counts the failure and closes the stream
// after too many.
func (ss *session) saslFail(err error, user string) (bool, error) {
	cond, text := "not-authorized", ""
	var f *sasl.Failure
	switch {
	case errors.As(err, &f):
		cond, text = string(f.Condition), f.Text
	case errors.Is(err, sasl.ErrInvalidMechanism):
		cond = "invalid-mechanism"
	case errors.Is(err, errBadBase64):
		cond = "incorrect-encoding"
	}
	failure := xmlstream.New(ss.saslNS(), "failure").Add(xmlstream.New(nsSASL, cond))
	if text != "" {
		failure.Add(xmlstream.New(ss.saslNS(), "text", "xml:lang", "en").SetText(text))
	}
	if cond == "not-authorized" {
		// The throttle bounds how often one address can get here.
		ss.log.Info("login failed", "mechanism", ss.mech, "user", user, "addr", ss.throttleAddr())
		ss.srv.stats.authFailure(ss.mech)
		if th := ss.srv.cfg.Throttle; th != nil {
			th.Failed(user, ss.throttleAddr())
		}
	}
	if werr := ss.t.Write(failure); werr != nil {
		return false, werr
	}
	ss.saslFails++
	if ss.saslFails >= maxSASLFailures {
		return false, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "too many failed authentication attempts"}
	}
	return false, nil
}

var errBadBase64 = errors.New("xmpp: bad base64 in SASL data")

// decodeSASL decodes SASL data: "=" is an empty response; in <auth/> no
// text at all means "no initial response" (nil), in <response/> empty data.
func decodeSASL(text string, initial bool) ([]byte, error) {
	switch text {
	case "":
		if initial {
			return nil, nil
		}
		return []byte{}, nil
	case "=":
		return []byte{}, nil
	}
	b, err := base64.StdEncoding.DecodeString(text)
	if err != nil {
		return nil, errBadBase64
	}
	return b, nil
}

// negotiateBind waits for the bind IQ, binds a resource and registers the
// session with the router.
func (ss *session) negotiateBind() error {
	for {
		el, err := ss.t.ReadElement()
		if err != nil {
			return err
		}
		ss.touch()
		if el.Is(nsSM, "resume") {
			if ok, err := ss.resume(el); ok || err != nil {
				return err
			}
			continue
		}
		if el.Is(nsSM, "enable") {
			if err := ss.t.Write(smFailed("unexpected-request")); err != nil {
				return err
			}
			continue
		}
		if el.Name != "iq" {
			return &stanza.StreamError{Condition: stanza.StreamNotAuthorized, Text: "bind a resource first"}
		}
		bind := el.Child(nsBind, "bind")
		if bind == nil || el.Attr("type") != "set" {
			ss.t.Write(stanza.ErrorReply(el, stanza.NewError(stanza.NotAuthorized, "bind a resource first")))
			continue
		}
		full, err := ss.bindResource(bind.ChildText(nsBind, "resource"))
		if err != nil {
			return err
		}
		reply := xmlstream.New(xmlstream.NSClient, "iq", "type", "result", "id", el.Attr("id")).
			Add(xmlstream.New(nsBind, "bind").Add(xmlstream.New(nsBind, "jid").SetText(full.String())))
		return ss.t.Write(reply)
	}
}

// bindResource binds res (a random resource when empty or invalid) and
// makes the session routable.
func (ss *session) bindResource(res string) (jid.JID, error) {
	full, err := jid.New(ss.user, ss.srv.domain.Domain, res)
	if res == "" || err != nil {
		full, err = jid.New(ss.user, ss.srv.domain.Domain, randomResource())
	}
	if err != nil {
		return jid.JID{}, &stanza.StreamError{Condition: stanza.StreamInternalServerError}
	}
	ss.full = full
	ss.out = make(chan *xmlstream.Element, ss.srv.cfg.SendQueue)
	ss.writerDone = make(chan struct{})
	ss.csiActive.Store(true)
	ss.bound.Store(true)
	ss.log = ss.log.With("jid", full.String())
	ss.srv.register(ss)
	return full, nil
}

func randomLocalpart() string {
	var b [8]byte
	rand.Read(b[:])
	return "guest-" + hex.EncodeToString(b[:])
}

func randomResource() string {
	var b [6]byte
	rand.Read(b[:])
	return "parley-" + hex.EncodeToString(b[:])
}

// throttleAddr is the address failed logins are counted against. Loopback
// peers count as none: behind a reverse proxy on the same host every client
// would share it, and one guesser would lock everyone out. The per-account
// limit still applies to them.
func (ss *session) throttleAddr() string {
	if isLoopback(ss.t.RemoteAddr()) {
		return ""
	}
	return hostOf(ss.t.RemoteAddr())
}

func hostOf(a net.Addr) string {
	if a == nil {
		return ""
	}
	host, _, err := net.SplitHostPort(a.String())
	if err != nil {
		return a.String()
	}
	return host
}

func isLoopback(a net.Addr) bool {
	ip := net.ParseIP(hostOf(a))
	return ip != nil && ip.IsLoopback()
}

// advertised is what this stream advertised for the SASL profile in use,
// for XEP-0474 downgrade protection.
func (ss *session) advertised() *sasl.Advertised {
	a := &sasl.Advertised{Mechanisms: ss.mechanisms()}
	if ss.sasl2 != nil {
		a.Mechanisms = ss.sasl2Mechanisms()
	}
	if ss.plusOffered() {
		a.ChannelBindings = ss.bindingTypes()
	}
	return a
}

// nsSASLCB advertises channel binding types (XEP-0440).
const nsSASLCB = "urn:xmpp:sasl-cb:0"

// channelBinding gives SCRAM-PLUS the TLS channel's binding data.
func (ss *session) channelBinding(cbType string) []byte {
	return stream.ChannelBinding(ss.t, cbType)
}

// bindingTypes are the channel binding types this stream has data for:
// tls-exporter on TLS 1.3, tls-server-end-point when the certificate is known.
func (ss *session) bindingTypes() []string {
	var types []string
	for _, typ := range []string{sasl.CBTLSExporter, sasl.CBTLSServerEndPoint} {
		if ss.channelBinding(typ) != nil {
			types = append(types, typ)
		}
	}
	return types
}

// plusOffered: -PLUS mechanisms, when configured, need a channel binding
// type with data.
func (ss *session) plusOffered() bool {
	return ss.srv.cfg.ChannelBinding && len(ss.bindingTypes()) > 0
}

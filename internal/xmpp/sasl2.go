package xmpp

import (
	"encoding/base64"

	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Extensible SASL Profile (XEP-0388) with Bind 2 (XEP-0386), inline stream
// management (XEP-0198 §inline) and FAST tokens (XEP-0484, fast.go): a
// mobile app logs in, binds, turns on carbons and stream management, or
// resumes its session, in one round trip after the stream opens, without
// the stream restart of RFC 6120 SASL. The SASL exchange itself is the
// same as RFC 6120's (authenticate in negotiate.go); only the framing and
// what is done on success differ.

const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
)

// sasl2Exchange is one SASL2 authentication, owned by the read loop.
type sasl2Exchange struct {
	req   *xmlstream.Element // the client's <authenticate/>
	final []byte             // the mechanism's additional data for <success/>
	fast  *fastLogin         // the FAST token that authenticated, if any
}

// saslNS is the namespace SASL elements are exchanged in on this stream now.
func (ss *session) saslNS() string {
	if ss.sasl2 != nil {
		return nsSASL2
	}
	return nsSASL
}

// sasl2Offered: SASL2 is for account and guest logins; the web client's
// token logins (a token or resumption in the WebSocket URL) stay on RFC 6120
// SASL, which they were built on.
func (ss *session) sasl2Offered() bool {
	return ss.urlToken == "" && ss.urlResume == ""
}

// sasl2Mechanisms are the mechanisms SASL2 offers: the usual ones, less the
// token mechanism of the web client.
func (ss *session) sasl2Mechanisms() []string {
	var out []string
	for _, m := range ss.mechanisms() {
		if m != MechOAuthBearer {
			out = append(out, m)
		}
	}
	return out
}

// sasl2Feature is <authentication/> with the inline features it takes.
func (ss *session) sasl2Feature() *xmlstream.Element {
	if !ss.sasl2Offered() {
		return nil
	}
	f := xmlstream.New(nsSASL2, "authentication")
	for _, m := range ss.sasl2Mechanisms() {
		f.Add(xmlstream.New(nsSASL2, "mechanism").SetText(m))
	}
	inline := xmlstream.New(nsSASL2, "inline").Add(
		xmlstream.New(nsBind2, "bind").Add(xmlstream.New(nsBind2, "inline").Add(
			xmlstream.New(nsBind2, "feature", "var", nsCarbons),
			xmlstream.New(nsBind2, "feature", "var", nsCSI),
			xmlstream.New(nsBind2, "feature", "var", nsSM))),
		xmlstream.New(nsSM, "sm"),
		xmlstream.New(nsFAST, "fast").Add(xmlstream.New(nsFAST, "mechanism").SetText(mechHTSHA256None)))
	return f.Add(inline)
}

// authenticate2 runs one SASL2 exchange. ok reports success, after which
// the session may already be bound (Bind 2 or a resumption). A failed
// attempt returns ok=false, err=nil: the client may try again.
func (ss *session) authenticate2(req *xmlstream.Element) (ok bool, err error) {
	ss.sasl2 = &sasl2Exchange{req: req}
	defer func() { ss.sasl2 = nil }()
	if !ss.sasl2Offered() {
		return false, &stanza.StreamError{Condition: stanza.StreamPolicyViolation, Text: "SASL2 is not offered on this stream"}
	}
	mech := req.Attr("mechanism")
	if mech == mechHTSHA256None {
		ok, err = ss.fastAuthenticate(req)
	} else {
		if !contains(ss.sasl2Mechanisms(), mech) {
			return ss.saslFail(sasl.ErrInvalidMechanism, "")
		}
		// The RFC 6120 exchange, fed SASL2's initial response: none when
		// the element is absent, an empty one when it is empty ("=").
		auth := xmlstream.New(nsSASL, "auth", "mechanism", mech)
		if ir := req.Child(nsSASL2, "initial-response"); ir != nil {
			auth.SetText(ir.Text)
			if ir.Text == "" {
				auth.SetText("=")
			}
		}
		ok, err = ss.authenticate(auth)
	}
	if err != nil || !ok {
		return ok, err
	}
	return true, ss.sasl2Success()
}

// sasl2Success runs the inline features the client asked for (a
// resumption, else Bind 2 with carbons, CSI and stream management; a FAST
// token) and writes <success/> with their results.
func (ss *session) sasl2Success() error {
	x := ss.sasl2
	success := xmlstream.New(nsSASL2, "success")
	if len(x.final) > 0 {
		success.Add(xmlstream.New(nsSASL2, "additional-data").SetText(base64.StdEncoding.EncodeToString(x.final)))
	}
	aid := jidOf(ss.user, ss.srv.domain.Domain).String()
	var results []*xmlstream.Element
	resumed := false
	if r := x.req.Child(nsSM, "resume"); r != nil {
		var reply *xmlstream.Element
		resumed, reply = ss.resumeReply(r)
		results = append(results, reply)
		if resumed {
			aid = ss.full.String()
		}
	}
	if b := x.req.Child(nsBind2, "bind"); b != nil && !resumed {
		bound, err := ss.bind2(b)
		if err != nil {
			return err
		}
		results = append(results, bound)
		aid = ss.full.String()
	}
	if t := ss.fastResult(); t != nil {
		results = append(results, t)
	}
	success.Add(xmlstream.New(nsSASL2, "authorization-identifier").SetText(aid))
	success.Add(results...)
	return ss.t.Write(success)
}

// bind2 binds a resource made from the client's tag (XEP-0386 §3: the
// server picks the resource) and runs the inline session features.
func (ss *session) bind2(b *xmlstream.Element) (*xmlstream.Element, error) {
	res := randomResource()
	if tag := b.ChildText(nsBind2, "tag"); tag != "" && len(tag) <= 64 {
		res = tag + "." + res[len("parley-"):]
	}
	if _, err := ss.bindResource(res); err != nil {
		return nil, err
	}
	bound := xmlstream.New(nsBind2, "bound")
	for _, c := range b.Children {
		switch {
		case c.Is(nsCarbons, "enable"):
			ss.carbons.Store(true)
		case c.Is(nsCSI, "inactive"):
			ss.csiActive.Store(false)
		case c.Is(nsSM, "enable"):
			bound.Add(ss.smEnable(c))
		}
	}
	return bound, nil
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

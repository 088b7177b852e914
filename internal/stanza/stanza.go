// Package stanza holds the vocabulary shared by every XMPP endpoint in parley:
// stanza and stream error conditions (RFC 6120 §8.3 and §4.9), reply
// builders, and the Router interface that lets services (MUC, focus, ...)
// send stanzas without importing the server.
package stanza

import (
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

// Namespaces of RFC 6120 errors.
const (
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	NSStreams = "urn:ietf:params:xml:ns:xmpp-streams"
)

// Router delivers a stanza to whoever its "to" address names: a local
// session, a service (MUC, focus) or, for the server's own domain, the
// server. Route never blocks on a slow receiver: it queues or drops (and
// counts) instead. The stanza must not be modified after Route is called.
type Router interface {
	Route(st *xmlstream.Element)
}

// Handler receives the stanzas addressed to a service's domain
// (conference.example.test, focus.example.test). Handlers must not block:
// they hand work to their own goroutines.
type Handler interface {
	HandleStanza(st *xmlstream.Element)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(st *xmlstream.Element)

// HandleStanza calls f.
func (f HandlerFunc) HandleStanza(st *xmlstream.Element) { f(st) }

// Kind reports whether st is a top-level stanza: "message", "presence", "iq",
// or "" for anything else.
func Kind(st *xmlstream.Element) string {
	switch st.Name {
	case "message", "presence", "iq":
		if st.Space == xmlstream.NSClient || st.Space == xmlstream.NSServer || st.Space == "" {
			return st.Name
		}
	}
	return ""
}

// From parses the from attribute; a missing or malformed one gives the zero JID.
func From(st *xmlstream.Element) jid.JID {
	j, _ := jid.Parse(st.Attr("from"))
	return j
}

// To parses the to attribute; a missing or malformed one gives the zero JID.
func To(st *xmlstream.Element) jid.JID {
	j, _ := jid.Parse(st.Attr("to"))
	return j
}

// IQResult builds the empty result to an IQ request, addressed back to its sender.
func IQResult(req *xmlstream.Element, payload ...*xmlstream.Element) *xmlstream.Element {
	res := xmlstream.New(xmlstream.NSClient, "iq", "type", "result", "id", req.Attr("id"))
	if to := req.Attr("from"); to != "" {
		res.SetAttr("to", to)
	}
	if from := req.Attr("to"); from != "" {
		res.SetAttr("from", from)
	}
	return res.Add(payload...)
}

// IQ builds a request.
func IQ(typ, id string, from, to jid.JID, payload ...*xmlstream.Element) *xmlstream.Element {
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", typ, "id", id)
	if !from.IsZero() {
		iq.SetAttr("from", from.String())
	}
	if !to.IsZero() {
		iq.SetAttr("to", to.String())
	}
	return iq.Add(payload...)
}

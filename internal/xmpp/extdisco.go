package xmpp

import (
	"strconv"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// nsExtDisco is XEP-0215 External Service Discovery.
const nsExtDisco = "urn:xmpp:extdisco:2"

// ExternalService is one STUN or TURN service offered to a user through
// XEP-0215, with the credentials made for that user.
type ExternalService struct {
	Type      string    // "stun", "turn" or "turns"
	Host      string    // a host name or address the client can reach
	Port      int       // 0 leaves the port out (the type's default)
	Transport string    // "udp" or "tcp"; "" leaves it out
	Username  string    // "" for a service without credentials
	Password  string    // with Username
	Expires   time.Time // when the credentials expire; zero leaves it out
}

// element renders the service as XEP-0215's <service/>.
func (es ExternalService) element() *xmlstream.Element {
	el := xmlstream.New(nsExtDisco, "service", "type", es.Type, "host", es.Host)
	if es.Port > 0 {
		el.SetAttr("port", strconv.Itoa(es.Port))
	}
	if es.Transport != "" {
		el.SetAttr("transport", es.Transport)
	}
	if es.Username != "" {
		// Inline, also in <services/>: Conversations never asks <credentials/>.
		el.SetAttr("restricted", "1")
		el.SetAttr("username", es.Username)
		el.SetAttr("password", es.Password)
	}
	if !es.Expires.IsZero() {
		el.SetAttr("expires", es.Expires.UTC().Format(time.RFC3339))
	}
	return el
}

// handleExtDisco answers <services/> and <credentials/> sent to the domain.
// Only the server's own users get answers: the credentials are theirs.
func (s *Server) handleExtDisco(iq, q *xmlstream.Element) *xmlstream.Element {
	if iq.Attr("type") != "get" {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "external services are only read"))
	}
	from, err := jid.Parse(iq.Attr("from"))
	if err != nil || from.Domain != s.domain.Domain || from.Local == "" {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.Forbidden, "external services are for this server's users"))
	}
	services := s.cfg.ExternalServices(from.Bare())
	switch q.Name {
	case "services":
		res := xmlstream.New(nsExtDisco, "services")
		if t := q.Attr("type"); t != "" {
			res.SetAttr("type", t)
		}
		for _, es := range services {
			if t := q.Attr("type"); t == "" || t == es.Type {
				res.Add(es.element())
			}
		}
		return stanza.IQResult(iq, res)
	case "credentials":
		return s.extDiscoCredentials(iq, q, services)
	}
	return stanza.ErrorReply(iq, stanza.NewError(stanza.FeatureNotImplemented, ""))
}

// extDiscoCredentials answers <credentials><service host='H' type='T'/>…:
// every listed service with credentials that matches host and type (and
// port and transport when given), or item-not-found.
func (s *Server) extDiscoCredentials(iq, q *xmlstream.Element, services []ExternalService) *xmlstream.Element {
	wanted := q.ChildrenNamed(nsExtDisco, "service")
	if len(wanted) == 0 {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.BadRequest, "name a <service/> with host and type"))
	}
	res := xmlstream.New(nsExtDisco, "credentials")
	for _, w := range wanted {
		for _, es := range services {
			if es.Username != "" && matchesService(es, w) {
				res.Add(es.element())
			}
		}
	}
	if len(res.Children) == 0 {
		return stanza.ErrorReply(iq, stanza.NewError(stanza.ItemNotFound, "no such service with credentials"))
	}
	return stanza.IQResult(iq, res)
}

func matchesService(es ExternalService, w *xmlstream.Element) bool {
	if w.Attr("host") != es.Host || w.Attr("type") != es.Type {
		return false
	}
	if p := w.Attr("port"); p != "" && p != strconv.Itoa(es.Port) {
		return false
	}
	if t := w.Attr("transport"); t != "" && t != es.Transport {
		return false
	}
	return true
}

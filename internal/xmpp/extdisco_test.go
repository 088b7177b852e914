package xmpp_test

import (
	"errors"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
)

const nsExtDisco = "urn:xmpp:extdisco:2"

// extServices is a fake credential source that records who asked.
type extServices struct {
	mu      sync.Mutex
	askedBy []jid.JID
	expires time.Time
}

func (e *extServices) services(user jid.JID) []xmpp.ExternalService {
	e.mu.Lock()
	e.askedBy = append(e.askedBy, user)
	e.mu.Unlock()
	name, pass := "exp:"+user.String(), "pw-"+user.String()
	return []xmpp.ExternalService{
		{Type: "stun", Host: "turn.example.test", Port: 443, Transport: "udp"},
		{Type: "turn", Host: "turn.example.test", Port: 443, Transport: "udp", Username: name, Password: pass, Expires: e.expires},
		{Type: "turn", Host: "turn.example.test", Port: 443, Transport: "tcp", Username: name, Password: pass, Expires: e.expires},
		{Type: "turns", Host: "turn.example.test", Port: 443, Transport: "tcp", Username: name, Password: pass, Expires: e.expires},
	}
}

func newExtDiscoHarness(t *testing.T) (*harness, *extServices) {
	ext := &extServices{expires: time.Date(2030, 1, 2, 3, 4, 5, 0, time.FixedZone("x", 3600))}
	return newHarness(t, func(c *xmpp.Config) { c.ExternalServices = ext.services }), ext
}

func hasFeature(info *xmlstream.Element, feature string) bool {
	for _, f := range info.FirstChild().ChildrenNamed("http://jabber.org/protocol/disco#info", "feature") {
		if f.Attr("var") == feature {
			return true
		}
	}
	return false
}

func TestExtDiscoAdvertisedOnlyWhenConfigured(t *testing.T) {
	for _, configured := range []bool{false, true} {
		var h *harness
		if configured {
			h, _ = newExtDiscoHarness(t)
		} else {
			h = newHarness(t, nil)
		}
		c := h.dial("alice", false, nil)
		info, err := iq(ctx5(t), t, c, "get", testDomain, xmlstream.New("http://jabber.org/protocol/disco#info", "query"))
		if err != nil {
			t.Fatal(err)
		}
		if got := hasFeature(info, nsExtDisco); got != configured {
			t.Errorf("configured=%v: feature advertised=%v", configured, got)
		}
		_, err = iq(ctx5(t), t, c, "get", testDomain, xmlstream.New(nsExtDisco, "services"))
		var se *stanza.Error
		if configured && err != nil {
			t.Errorf("services with the feature on: %v", err)
		}
		if !configured && (!errors.As(err, &se) || se.Condition != stanza.ServiceUnavailable) {
			t.Errorf("services with the feature off: %v, want service-unavailable", err)
		}
	}
}

func TestExtDiscoServicesCarryCredentialsInline(t *testing.T) {
	h, ext := newExtDiscoHarness(t)
	for _, ws := range []bool{false, true} {
		for _, user := range []string{"alice", ""} { // an account and a guest
			c := h.dial(user, ws, nil)
			for _, to := range []string{testDomain, ""} {
				res, err := iq(ctx5(t), t, c, "get", to, xmlstream.New(nsExtDisco, "services"))
				if err != nil {
					t.Fatalf("services (to=%q): %v", to, err)
				}
				q := res.Child(nsExtDisco, "services")
				if q == nil || len(q.Children) != 4 {
					t.Fatalf("services answer: %s", res)
				}
				stun, turns := q.Children[0], q.Children[3]
				if stun.Attr("type") != "stun" || stun.Attr("username") != "" || stun.HasAttr("restricted") {
					t.Errorf("stun service: %s", stun)
				}
				want := map[string]string{
					"type": "turns", "host": "turn.example.test", "port": "443", "transport": "tcp",
					"restricted": "1", "username": "exp:" + c.JID().Bare().String(),
					"password": "pw-" + c.JID().Bare().String(), "expires": "2030-01-02T02:04:05Z",
				}
				for k, v := range want {
					if got := turns.Attr(k); got != v {
						t.Errorf("turns %s = %q, want %q", k, got, v)
					}
				}
			}
		}
	}
	ext.mu.Lock()
	defer ext.mu.Unlock()
	if len(ext.askedBy) != 8 || !ext.askedBy[0].IsBare() || ext.askedBy[0].Local != "alice" {
		t.Fatalf("asked by %v", ext.askedBy)
	}
}

func TestExtDiscoTypeFilter(t *testing.T) {
	h, _ := newExtDiscoHarness(t)
	c := h.dial("bob", true, nil)
	res, err := iq(ctx5(t), t, c, "get", testDomain, xmlstream.New(nsExtDisco, "services", "type", "turn"))
	if err != nil {
		t.Fatal(err)
	}
	q := res.Child(nsExtDisco, "services")
	if q.Attr("type") != "turn" || len(q.Children) != 2 {
		t.Fatalf("type='turn' answer: %s", res)
	}
	for _, s := range q.Children {
		if s.Attr("type") != "turn" {
			t.Errorf("filtered answer lists %s", s)
		}
	}
}

func TestExtDiscoCredentials(t *testing.T) {
	h, _ := newExtDiscoHarness(t)
	c := h.dial("carol", false, nil)
	ask := func(attrs ...string) (*xmlstream.Element, error) {
		return iq(ctx5(t), t, c, "get", testDomain,
			xmlstream.New(nsExtDisco, "credentials").Add(xmlstream.New(nsExtDisco, "service", attrs...)))
	}
	res, err := ask("host", "turn.example.test", "type", "turn", "transport", "tcp")
	if err != nil {
		t.Fatal(err)
	}
	got := res.Child(nsExtDisco, "credentials")
	if got == nil || len(got.Children) != 1 || got.Children[0].Attr("transport") != "tcp" ||
		got.Children[0].Attr("username") != "exp:carol@"+testDomain {
		t.Fatalf("credentials answer: %s", res)
	}
	var se *stanza.Error
	for _, attrs := range [][]string{
		{"host", "elsewhere.test", "type", "turn"},
		{"host", "turn.example.test", "type", "stun"}, // no credentials to give
		{"host", "turn.example.test", "type", "turn", "port", "3478"},
	} {
		if _, err := ask(attrs...); !errors.As(err, &se) || se.Condition != stanza.ItemNotFound {
			t.Errorf("credentials for %v: %v, want item-not-found", attrs, err)
		}
	}
	if _, err := iq(ctx5(t), t, c, "get", testDomain, xmlstream.New(nsExtDisco, "credentials")); !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Errorf("credentials without a service: %v, want bad-request", err)
	}
	if _, err := iq(ctx5(t), t, c, "set", testDomain, xmlstream.New(nsExtDisco, "services")); !errors.As(err, &se) || se.Condition != stanza.BadRequest {
		t.Errorf("services set: %v, want bad-request", err)
	}
}

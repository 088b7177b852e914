package xmpp_test

import (
	"net"
	"testing"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

// preAuthClient opens a stream without logging in (loopback: registration
// is offered without TLS there).
func preAuthClient(t *testing.T, h *harness) (*rawClient, *xmlstream.Element) {
	conn, err := net.Dial("tcp", h.tcp)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	c := &rawClient{t: t, conn: conn, tr: stream.NewTCP(conn, stream.TCPConfig{})}
	return c, c.open()
}

func registerIQ(user, pass, token string) *xmlstream.Element {
	q := xmlstream.New("jabber:iq:register", "query").Add(
		xmlstream.New("jabber:iq:register", "username").SetText(user),
		xmlstream.New("jabber:iq:register", "password").SetText(pass))
	if token != "" {
		q.Add(xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
			xmlstream.New("jabber:x:data", "field", "var", "token").Add(xmlstream.New("jabber:x:data", "value").SetText(token))))
	}
	return xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "r").Add(q)
}

func TestInBandRegistrationWithInvite(t *testing.T) {
	secret := []byte("0123456789abcdef0123")
	var acc *accounts.Store
	h := newHarness(t, func(c *xmpp.Config) {
		acc = c.Accounts.(*accounts.Store)
		c.Registration = xmpp.RegistrationInvite
		c.InviteSecret = secret
		c.Register = func(u, p string) error { return acc.Add(u, p) }
	})
	c, features := preAuthClient(t, h)
	if features.Child("http://jabber.org/features/iq-register", "register") == nil {
		t.Fatalf("no register feature: %s", features)
	}
	// The form asks for a token.
	c.write(xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "id", "f").Add(xmlstream.New("jabber:iq:register", "query")))
	if form := c.read(); form.Attr("type") != "result" || form.FirstChild().Child("jabber:x:data", "x") == nil {
		t.Fatalf("form: %s", form)
	}
	// No token, a forged one: refused.
	c.write(registerIQ("dave", "long-password", ""))
	if el := c.read(); el.Attr("type") != "error" {
		t.Fatalf("without invitation: %s", el)
	}
	c.write(registerIQ("dave", "long-password", "AAAA"+xmpp.NewInvite([]byte("another secret 12345"), time.Hour, time.Now())[4:]))
	if el := c.read(); el.Attr("type") != "error" {
		t.Fatalf("forged invitation: %s", el)
	}
	// A preauth IQ then the registration.
	token := xmpp.NewInvite(secret, time.Hour, time.Now())
	c.write(xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "p").Add(xmlstream.New("urn:xmpp:pars:0", "preauth", "token", token)))
	if el := c.read(); el.Attr("type") != "result" {
		t.Fatalf("preauth: %s", el)
	}
	c.write(registerIQ("dave", "long-password", ""))
	if el := c.read(); el.Attr("type") != "result" {
		t.Fatalf("register: %s", el)
	}
	// The new account logs in.
	d, err := h.tryDial("dave", false, func(cfg *xmppclient.Config) { cfg.Password = "long-password" })
	if err != nil {
		t.Fatalf("login of the new account: %v", err)
	}
	d.Close()
	// The token is spent; an expired one is refused.
	c2, _ := preAuthClient(t, h)
	c2.write(registerIQ("erin", "long-password", token))
	if el := c2.read(); el.Attr("type") != "error" {
		t.Fatalf("reused invitation: %s", el)
	}
	c2.write(registerIQ("erin", "long-password", xmpp.NewInvite(secret, -time.Minute, time.Now())))
	if el := c2.read(); el.Attr("type") != "error" {
		t.Fatalf("expired invitation: %s", el)
	}
	if acc.Exists("erin") {
		t.Fatal("erin was registered")
	}
}

// Off by default: no feature, and a registration IQ before auth ends the stream.
func TestInBandRegistrationOffByDefault(t *testing.T) {
	h := newHarness(t, nil)
	c, features := preAuthClient(t, h)
	if features.Child("http://jabber.org/features/iq-register", "register") != nil {
		t.Fatalf("register offered: %s", features)
	}
	c.write(registerIQ("mallory", "long-password", ""))
	c.readUntil("stream error", func(el *xmlstream.Element) bool { return el.Name == "error" && el.Space == xmlstream.NSStream })
}

// SCRAM-*-PLUS over STARTTLS (TLS 1.3, tls-exporter): off by default; when
// on, a login with it works, and it is never offered on a plain stream.
func TestSCRAMPlusLogin(t *testing.T) {
	if _, err := newHarness(t, nil).tryDial("alice", false, func(cfg *xmppclient.Config) { cfg.Mechanism = "SCRAM-SHA-256-PLUS" }); err == nil {
		t.Fatal("-PLUS offered while Config.ChannelBinding is off")
	}
	h := newHarness(t, func(c *xmpp.Config) { c.ChannelBinding = true })
	for _, mech := range []string{"SCRAM-SHA-256-PLUS", "SCRAM-SHA-1-PLUS"} {
		c, err := h.tryDial("alice", false, func(cfg *xmppclient.Config) { cfg.Mechanism = mech })
		if err != nil {
			t.Fatalf("%s: %v", mech, err)
		}
		c.Close()
	}
	_, features := preAuthClient(t, h)
	for _, m := range features.Child("urn:ietf:params:xml:ns:xmpp-sasl", "mechanisms").ChildrenNamed("urn:ietf:params:xml:ns:xmpp-sasl", "mechanism") {
		if m.Text == "SCRAM-SHA-256-PLUS" {
			t.Fatalf("-PLUS offered without TLS: %s", features)
		}
	}
}

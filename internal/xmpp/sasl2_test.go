package xmpp_test

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"net"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
)

const (
	nsSASL2 = "urn:xmpp:sasl:2"
	nsBind2 = "urn:xmpp:bind:0"
	nsFAST  = "urn:xmpp:fast:0"
	nsSASL1 = "urn:ietf:params:xml:ns:xmpp-sasl"
)

// rawOpen connects without logging in and returns the pre-auth features.
func rawOpen(t *testing.T, h *harness) (*rawClient, *xmlstream.Element) {
	t.Helper()
	conn, err := net.Dial("tcp", h.tcp)
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, conn: conn, tr: stream.NewTCP(conn, stream.TCPConfig{})}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	return c, c.open()
}

func plainIR(user, pass string) string {
	return base64.StdEncoding.EncodeToString([]byte("\x00" + user + "\x00" + pass))
}

func htIR(user, token string) string {
	m := hmac.New(sha256.New, []byte(token))
	m.Write([]byte("Initiator"))
	return base64.StdEncoding.EncodeToString(append([]byte(user+"\x00"), m.Sum(nil)...))
}

// authenticate2 builds a SASL2 <authenticate/>.
func authenticate2(mech, ir, agent string, extra ...*xmlstream.Element) *xmlstream.Element {
	a := xmlstream.New(nsSASL2, "authenticate", "mechanism", mech).Add(
		xmlstream.New(nsSASL2, "initial-response").SetText(ir),
		xmlstream.New(nsSASL2, "user-agent", "id", agent).Add(xmlstream.New(nsSASL2, "software").SetText("test")))
	return a.Add(extra...)
}

// One <authenticate/> with PLAIN binds (Bind 2), enables carbons and
// stream management and hands out a FAST token; the token logs in as that
// user agent only, and resumes the session inline; a wrong token fails
// with SASL2's <failure/>.
func TestSASL2Bind2FAST(t *testing.T) {
	h := newHarness(t, nil)
	c, features := rawOpen(t, h)
	auth := features.Child(nsSASL2, "authentication")
	if auth == nil || auth.Child(nsSASL2, "inline") == nil || auth.Child(nsSASL2, "inline").Child(nsFAST, "fast") == nil {
		t.Fatalf("features: %s", features)
	}
	c.write(authenticate2("PLAIN", plainIR("alice", "secret-alice"), "agent-1",
		xmlstream.New(nsBind2, "bind").Add(
			xmlstream.New(nsBind2, "tag").SetText("phone"),
			xmlstream.New(nsCarbons, "enable"),
			xmlstream.New(nsSM, "enable", "resume", "true")),
		xmlstream.New(nsFAST, "request-token", "mechanism", "HT-SHA-256-NONE")))
	success := c.read()
	if !success.Is(nsSASL2, "success") {
		t.Fatalf("success: %s", success)
	}
	full := success.ChildText(nsSASL2, "authorization-identifier")
	if !strings.HasPrefix(full, "alice@"+testDomain+"/phone.") {
		t.Fatalf("authorization-identifier %q", full)
	}
	bound := success.Child(nsBind2, "bound")
	enabled := bound.Child(nsSM, "enabled")
	token := success.Child(nsFAST, "token")
	if bound == nil || enabled == nil || enabled.Attr("id") == "" || token == nil || token.Attr("token") == "" {
		t.Fatalf("success: %s", success)
	}
	// The session runs at once: carbons are on, bob's message arrives.
	bob := h.dial("bob", false, nil)
	c.write(xmlstream.New(xmlstream.NSClient, "presence"))
	bob.Send(chat("alice@"+testDomain, "one round trip"))
	c.readUntil("bob's message", func(el *xmlstream.Element) bool {
		return len(bodies([]*xmlstream.Element{el})) == 1
	})
	c.conn.Close()
	time.Sleep(300 * time.Millisecond) // the server notices the cut; the session hibernates
	bob.Send(chat("alice@"+testDomain, "while away"))

	// Another user agent cannot use the token.
	c2, _ := rawOpen(t, h)
	c2.write(authenticate2("HT-SHA-256-NONE", htIR("alice", token.Attr("token")), "agent-2"))
	if el := c2.read(); !el.Is(nsSASL2, "failure") || el.Child(nsSASL1, "not-authorized") == nil {
		t.Fatalf("token from another agent: %s", el)
	}
	// A wrong token fails the same way.
	c2.write(authenticate2("HT-SHA-256-NONE", htIR("alice", token.Attr("token")+"x"), "agent-1"))
	if el := c2.read(); !el.Is(nsSASL2, "failure") {
		t.Fatalf("wrong token: %s", el)
	}

	// The right agent logs in with the token and resumes inline: the
	// message routed while it was away arrives, and the server proves it
	// knows the token too.
	c3, _ := rawOpen(t, h)
	c3.write(authenticate2("HT-SHA-256-NONE", htIR("alice", token.Attr("token")), "agent-1",
		xmlstream.New(nsSM, "resume", "previd", enabled.Attr("id"), "h", "2"), // own presence, bob's message
		xmlstream.New(nsBind2, "bind")))
	success = c3.read()
	resumed := success.Child(nsSM, "resumed")
	if !success.Is(nsSASL2, "success") || resumed == nil || success.Child(nsBind2, "bound") != nil ||
		success.ChildText(nsSASL2, "authorization-identifier") != full {
		t.Fatalf("FAST with inline resumption: %s", success)
	}
	m := hmac.New(sha256.New, []byte(token.Attr("token")))
	m.Write([]byte("Responder"))
	if got := success.ChildText(nsSASL2, "additional-data"); got != base64.StdEncoding.EncodeToString(m.Sum(nil)) {
		t.Fatalf("responder proof %q", got)
	}
	got := c3.readUntil("while away", func(el *xmlstream.Element) bool {
		b := bodies([]*xmlstream.Element{el})
		return len(b) == 1 && b[0] == "while away"
	})
	if b := bodies(got); len(b) != 1 {
		t.Fatalf("after the resumption: %v", b)
	}
	// invalidate ends the token: it logs in once more, then never.
	c3.conn.Close()
	c4, _ := rawOpen(t, h)
	c4.write(authenticate2("HT-SHA-256-NONE", htIR("alice", token.Attr("token")), "agent-1",
		xmlstream.New(nsFAST, "fast", "invalidate", "true")))
	if el := c4.read(); !el.Is(nsSASL2, "success") {
		t.Fatalf("invalidating login: %s", el)
	}
	c5, _ := rawOpen(t, h)
	c5.write(authenticate2("HT-SHA-256-NONE", htIR("alice", token.Attr("token")), "agent-1"))
	if el := c5.read(); !el.Is(nsSASL2, "failure") {
		t.Fatalf("an invalidated token: %s", el)
	}
}

// Without Bind 2, SASL2 success is followed by the post-login features on
// the same stream (no restart), and an RFC 6120 bind works.
func TestSASL2WithoutBind(t *testing.T) {
	h := newHarness(t, nil)
	c, _ := rawOpen(t, h)
	c.write(authenticate2("PLAIN", plainIR("bob", "wrong"), "a"))
	if el := c.read(); !el.Is(nsSASL2, "failure") || el.Child(nsSASL1, "not-authorized") == nil {
		t.Fatalf("wrong password: %s", el)
	}
	c.write(authenticate2("PLAIN", plainIR("bob", "secret-bob"), "a"))
	if el := c.read(); !el.Is(nsSASL2, "success") || el.ChildText(nsSASL2, "authorization-identifier") != "bob@"+testDomain {
		t.Fatalf("success: %s", el)
	}
	if f := c.read(); f.Name != "features" || f.Child("urn:ietf:params:xml:ns:xmpp-bind", "bind") == nil {
		t.Fatalf("features after SASL2: %s", f)
	}
	c.bind("desk")
}

// XEP-0474: the SCRAM server-first-message of each profile carries the hash
// of the mechanisms that profile advertised: a client checking it against
// the features it read logs in; one shown a shortened list refuses.
func TestDowngradeHashMatchesAdvertisement(t *testing.T) {
	h := newHarness(t, nil)
	for _, profile := range []string{"sasl1", "sasl2"} {
		for _, tamper := range []bool{false, true} {
			c, features := rawOpen(t, h)
			var mechs []string
			if profile == "sasl1" {
				for _, m := range features.Child(nsSASL1, "mechanisms").Children {
					mechs = append(mechs, m.Text)
				}
			} else {
				for _, m := range features.Child(nsSASL2, "authentication").ChildrenNamed(nsSASL2, "mechanism") {
					mechs = append(mechs, m.Text)
				}
			}
			if tamper {
				mechs = mechs[1:] // SCRAM-SHA-256 removed in transit
			}
			cl, err := sasl.NewClient("SCRAM-SHA-1", sasl.ClientConfig{Username: "carol", Password: "secret-carol",
				Advertised: &sasl.Advertised{Mechanisms: mechs}})
			if err != nil {
				t.Fatal(err)
			}
			first, _, _ := cl.Step(nil)
			ns := nsSASL1
			if profile == "sasl1" {
				c.write(xmlstream.New(nsSASL1, "auth", "mechanism", "SCRAM-SHA-1").SetText(base64.StdEncoding.EncodeToString(first)))
			} else {
				ns = nsSASL2
				c.write(authenticate2("SCRAM-SHA-1", base64.StdEncoding.EncodeToString(first), "a"))
			}
			chal := c.read()
			data, _ := base64.StdEncoding.DecodeString(chal.Text)
			if !chal.Is(ns, "challenge") || !strings.Contains(string(data), ",h=") {
				t.Fatalf("%s challenge: %s (%q)", profile, chal, data)
			}
			final, _, err := cl.Step(data)
			if tamper {
				if !errors.Is(err, sasl.ErrDowngrade) {
					t.Fatalf("%s with a shortened list: %v, want ErrDowngrade", profile, err)
				}
				continue
			}
			if err != nil {
				t.Fatalf("%s: %v", profile, err)
			}
			resp := xmlstream.New(ns, "response").SetText(base64.StdEncoding.EncodeToString(final))
			c.write(resp)
			if el := c.read(); !el.Is(ns, "success") {
				t.Fatalf("%s: %s", profile, el)
			}
		}
	}
}

// SCRAM-SHA-256-PLUS with tls-server-end-point (RFC 5929) over STARTTLS,
// both binding types advertised (XEP-0440), and the XEP-0474 hash covering
// them.
func TestSCRAMPlusServerEndPoint(t *testing.T) {
	h := newHarness(t, func(c *xmpp.Config) { c.ChannelBinding = true })
	c, features := rawOpen(t, h)
	if features.Child("urn:ietf:params:xml:ns:xmpp-tls", "starttls") == nil {
		t.Fatalf("no STARTTLS: %s", features)
	}
	c.write(xmlstream.New("urn:ietf:params:xml:ns:xmpp-tls", "starttls"))
	if el := c.read(); el.Name != "proceed" {
		t.Fatalf("starttls: %s", el)
	}
	if err := c.tr.StartTLS(&tls.Config{InsecureSkipVerify: true}, false); err != nil {
		t.Fatal(err)
	}
	features = c.open()
	var types []string
	for _, cb := range features.Child("urn:xmpp:sasl-cb:0", "sasl-channel-binding").Children {
		types = append(types, cb.Attr("type"))
	}
	if strings.Join(types, " ") != "tls-exporter tls-server-end-point" {
		t.Fatalf("binding types %v: %s", types, features)
	}
	var mechs []string
	for _, m := range features.Child(nsSASL1, "mechanisms").Children {
		mechs = append(mechs, m.Text)
	}
	data := stream.ChannelBinding(c.tr, sasl.CBTLSServerEndPoint)
	state, _ := c.tr.TLSState()
	if want := sha256.Sum256(state.PeerCertificates[0].Raw); string(data) != string(want[:]) {
		t.Fatalf("client-side tls-server-end-point %x, want %x", data, want)
	}
	cl, _ := sasl.NewClient(sasl.MechSCRAMSHA256Plus, sasl.ClientConfig{Username: "alice", Password: "secret-alice",
		ChannelBindingType: sasl.CBTLSServerEndPoint, ChannelBindingData: data,
		Advertised: &sasl.Advertised{Mechanisms: mechs, ChannelBindings: types}})
	first, _, _ := cl.Step(nil)
	c.write(xmlstream.New(nsSASL1, "auth", "mechanism", sasl.MechSCRAMSHA256Plus).SetText(base64.StdEncoding.EncodeToString(first)))
	chal, _ := base64.StdEncoding.DecodeString(c.read().Text)
	final, _, err := cl.Step(chal)
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	c.write(xmlstream.New(nsSASL1, "response").SetText(base64.StdEncoding.EncodeToString(final)))
	el := c.read()
	if el.Name != "success" {
		t.Fatalf("SCRAM-SHA-256-PLUS with tls-server-end-point: %s", el)
	}
	add, _ := base64.StdEncoding.DecodeString(el.Text)
	if _, done, err := cl.Step(add); !done || err != nil {
		t.Fatalf("server signature: %v", err)
	}
}

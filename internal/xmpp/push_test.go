package xmpp_test

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"net"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
)

const (
	nsPush      = "urn:xmpp:push:0"
	nsComponent = "jabber:component:accept"
	pushDomain  = "push.example.test"
	pushSecret  = "component-secret"
)

// pushHarness is a server whose component listener accepts pushDomain.
func pushHarness(t *testing.T) (*harness, string) {
	t.Helper()
	h := newHarness(t, func(c *xmpp.Config) { c.Components = map[string]string{pushDomain: pushSecret} })
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go h.srv.ServeComponent(context.Background(), c)
		}
	}()
	return h, ln.Addr().String()
}

// appServer is a push service of the test's own: an XEP-0114 component.
type appServer struct {
	t  *testing.T
	tr *stream.TCP
	in chan *xmlstream.Element
}

// dialComponent connects as domain with secret; it returns the stream
// error, if the server sent one instead of the handshake.
func dialComponent(t *testing.T, addr, domain, secret string) (*appServer, *xmlstream.Element) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	tr := stream.NewTCP(conn, stream.TCPConfig{Namespace: nsComponent})
	if err := tr.WriteOpen(stream.Header{To: domain}); err != nil {
		t.Fatal(err)
	}
	h, err := tr.ReadOpen()
	if err != nil {
		t.Fatal(err)
	}
	sum := sha1.Sum([]byte(h.ID + secret))
	tr.Write(xmlstream.New(nsComponent, "handshake").SetText(hex.EncodeToString(sum[:])))
	el, err := tr.ReadElement()
	if err != nil {
		t.Fatalf("handshake answer: %v", err)
	}
	if !el.Is(nsComponent, "handshake") {
		return nil, el
	}
	conn.SetDeadline(time.Time{})
	a := &appServer{t: t, tr: tr, in: make(chan *xmlstream.Element, 64)}
	go func() {
		defer close(a.in)
		for {
			el, err := tr.ReadElement()
			if err != nil {
				return
			}
			a.in <- el
		}
	}()
	return a, nil
}

// next waits for a stanza; nil after d.
func (a *appServer) next(d time.Duration) *xmlstream.Element {
	select {
	case el := <-a.in:
		return el
	case <-time.After(d):
		return nil
	}
}

// publish waits for a push notification and checks its shape.
func (a *appServer) publish(from, node string) *xmlstream.Element {
	a.t.Helper()
	el := a.next(5 * time.Second)
	if el == nil {
		a.t.Fatal("no push notification")
	}
	ps := el.Child(nsPubSub, "pubsub")
	if el.Name != "iq" || el.Attr("type") != "set" || el.Attr("from") != from || el.Attr("to") != pushDomain || ps == nil {
		a.t.Fatalf("push: %s", el)
	}
	pub := ps.Child(nsPubSub, "publish")
	if pub == nil || (node != "" && pub.Attr("node") != node) || pub.Child(nsPubSub, "item") == nil ||
		pub.Child(nsPubSub, "item").Child(nsPush, "notification") == nil {
		a.t.Fatalf("push publish: %s", el)
	}
	return el
}

func (a *appServer) answer(req *xmlstream.Element, typ string, payload ...*xmlstream.Element) {
	res := xmlstream.New(nsComponent, "iq", "type", typ, "id", req.Attr("id"), "from", req.Attr("to"), "to", req.Attr("from")).Add(payload...)
	if err := a.tr.Write(res); err != nil {
		a.t.Fatal(err)
	}
}

func pushEnable(node string, secret string) *xmlstream.Element {
	return xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "push1").Add(
		xmlstream.New(nsPush, "enable", "jid", pushDomain, "node", node).Add(
			xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
				xmlstream.New("jabber:x:data", "field", "var", "FORM_TYPE").Add(
					xmlstream.New("jabber:x:data", "value").SetText("http://jabber.org/protocol/pubsub#publish-options")),
				xmlstream.New("jabber:x:data", "field", "var", "secret").Add(
					xmlstream.New("jabber:x:data", "value").SetText(secret)))))
}

func formValue(x *xmlstream.Element, name string) string {
	for _, f := range x.ChildrenNamed("jabber:x:data", "field") {
		if f.Attr("var") == name {
			return f.ChildText("jabber:x:data", "value")
		}
	}
	return ""
}

// A phone that enabled push and whose stream-management session hibernates
// gets one notification at its app server when a message comes, another
// after it resumed and slept again; publish-options carry its secret and
// the notification neither the sender nor the body.
func TestPushWhileHibernating(t *testing.T) {
	h, addr := pushHarness(t)
	app, se := dialComponent(t, addr, pushDomain, pushSecret)
	if se != nil {
		t.Fatalf("component refused: %s", se)
	}
	alice, _ := smLogin(t, h, "alice")
	alice.bind("phone")
	alice.write(xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "id", "d", "to", "alice@"+testDomain).Add(
		xmlstream.New("http://jabber.org/protocol/disco#info", "query")))
	info := alice.read()
	found := false
	for _, f := range info.Child("http://jabber.org/protocol/disco#info", "query").Children {
		found = found || f.Attr("var") == nsPush
	}
	if !found {
		t.Fatalf("account disco#info lacks %s: %s", nsPush, info)
	}
	// A push service at a domain parley cannot reach is refused at once.
	bad := pushEnable("n", "s")
	bad.Child(nsPush, "enable").SetAttr("jid", "p2.siacs.eu")
	alice.write(bad)
	if el := alice.read(); el.Attr("type") != "error" || el.Child("", "error").Child("urn:ietf:params:xml:ns:xmpp-stanzas", "remote-server-not-found") == nil {
		t.Fatalf("enable with a remote push service: %s", el)
	}
	alice.write(pushEnable("phone-node", "s3"))
	if el := alice.read(); el.Attr("type") != "result" {
		t.Fatalf("enable: %s", el)
	}
	alice.write(xmlstream.New(nsSM, "enable", "resume", "true"))
	enabled := alice.read()
	alice.write(xmlstream.New(xmlstream.NSClient, "presence"))
	alice.readUntil("own presence", func(el *xmlstream.Element) bool { return el.Name == "presence" })

	bob := h.dial("bob", false, nil)
	bob.Send(chat("alice@"+testDomain, "awake"))
	alice.readUntil("awake", func(el *xmlstream.Element) bool { return len(bodies([]*xmlstream.Element{el})) == 1 })
	if el := app.next(300 * time.Millisecond); el != nil {
		t.Fatalf("push while the phone is connected: %s", el)
	}
	alice.conn.Close()
	waitFor(t, "hibernation", func() bool { return h.srv.Stats().Sessions == 2 })
	time.Sleep(100 * time.Millisecond)
	// A receipt wakes nobody: the first push is for the message after it.
	bob.Send(xmlstream.New(xmlstream.NSClient, "message", "to", "alice@"+testDomain, "type", "chat").Add(
		xmlstream.New("urn:xmpp:receipts", "received", "id", "x")))
	if el := app.next(300 * time.Millisecond); el != nil {
		t.Fatalf("a push for a receipt: %s", el)
	}
	bob.Send(chat("alice@"+testDomain, "wake up"))
	req := app.publish("alice@"+testDomain, "phone-node")
	ps := req.Child(nsPubSub, "pubsub")
	opts := ps.Child(nsPubSub, "publish-options")
	if opts == nil || formValue(opts.Child("jabber:x:data", "x"), "secret") != "s3" {
		t.Fatalf("publish-options: %s", req)
	}
	summary := ps.Child(nsPubSub, "publish").Child(nsPubSub, "item").Child(nsPush, "notification").Child("jabber:x:data", "x")
	if formValue(summary, "FORM_TYPE") != "urn:xmpp:push:summary" || formValue(summary, "message-count") == "" {
		t.Fatalf("summary: %s", summary)
	}
	if s := req.String(); strings.Contains(s, "wake up") || strings.Contains(s, "bob@") {
		t.Fatalf("the notification leaks the message: %s", s)
	}
	app.answer(req, "result")
	bob.Send(chat("alice@"+testDomain, "still asleep?"))
	if el := app.next(300 * time.Millisecond); el != nil {
		t.Fatalf("second push in one hibernation: %s", el)
	}
	if n := h.srv.Stats().Pushes; n != 1 {
		t.Fatalf("pushes = %d, want 1", n)
	}
	// The app wakes up and resumes: both messages are there; asleep again,
	// the next message pushes again.
	alice2, _ := smLogin(t, h, "alice")
	alice2.write(xmlstream.New(nsSM, "resume", "previd", enabled.Attr("id"), "h", "0"))
	if el := alice2.read(); !el.Is(nsSM, "resumed") {
		t.Fatalf("resume: %s", el)
	}
	alice2.readUntil("still asleep?", func(el *xmlstream.Element) bool {
		b := bodies([]*xmlstream.Element{el})
		return len(b) == 1 && b[0] == "still asleep?"
	})
	alice2.conn.Close()
	time.Sleep(200 * time.Millisecond)
	bob.Send(chat("alice@"+testDomain, "again"))
	app.answer(app.publish("alice@"+testDomain, "phone-node"), "result")
}

// With no resource online, a message stored offline pushes to every
// registration; an app server answering item-not-found ends that one, and
// disable ends the others.
func TestPushOfflineAndRemoval(t *testing.T) {
	h, addr := pushHarness(t)
	app, _ := dialComponent(t, addr, pushDomain, pushSecret)
	alice, _ := smLogin(t, h, "alice")
	alice.bind("phone")
	for _, node := range []string{"n1", "n2"} {
		en := pushEnable(node, "s")
		en.SetAttr("id", node)
		alice.write(en)
		if el := alice.read(); el.Attr("type") != "result" || el.Attr("id") != node {
			t.Fatalf("enable %s: %s", node, el)
		}
	}
	alice.conn.Close() // no stream management: the session ends
	waitFor(t, "alice gone", func() bool { return h.srv.Stats().Sessions == 0 })
	bob := h.dial("bob", false, nil)
	bob.Send(chat("alice@"+testDomain, "one"))
	reqs := map[string]*xmlstream.Element{}
	for range 2 {
		req := app.publish("alice@"+testDomain, "")
		reqs[req.Child(nsPubSub, "pubsub").Child(nsPubSub, "publish").Attr("node")] = req
	}
	if reqs["n1"] == nil || reqs["n2"] == nil {
		t.Fatalf("pushes went to %v, want n1 and n2", reqs)
	}
	app.answer(reqs["n1"], "error", xmlstream.New(nsComponent, "error", "type", "cancel").Add(
		xmlstream.New("urn:ietf:params:xml:ns:xmpp-stanzas", "item-not-found")))
	app.answer(reqs["n2"], "result")
	time.Sleep(1100 * time.Millisecond) // past the minimum interval between two pushes
	bob.Send(chat("alice@"+testDomain, "two"))
	req := app.publish("alice@"+testDomain, "n2")
	app.answer(req, "result")
	if el := app.next(300 * time.Millisecond); el != nil {
		t.Fatalf("a push to the removed registration: %s", el)
	}
	alice2, _ := smLogin(t, h, "alice")
	alice2.bind("laptop")
	alice2.write(xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "off").Add(
		xmlstream.New(nsPush, "disable", "jid", pushDomain)))
	if el := alice2.read(); el.Attr("type") != "result" {
		t.Fatalf("disable: %s", el)
	}
	alice2.conn.Close()
	waitFor(t, "alice gone", func() bool { return h.srv.Stats().Sessions == 1 })
	time.Sleep(1100 * time.Millisecond)
	bob.Send(chat("alice@"+testDomain, "three"))
	if el := app.next(500 * time.Millisecond); el != nil {
		t.Fatalf("a push after disable: %s", el)
	}
	if n := h.srv.Stats().Pushes; n != 3 {
		t.Fatalf("pushes = %d, want 3", n)
	}
}

// Only a configured domain with its secret gets in, and a component speaks
// only for its own domain.
func TestComponentHandshake(t *testing.T) {
	h, addr := pushHarness(t)
	if _, se := dialComponent(t, addr, pushDomain, "wrong"); se == nil || se.Child("urn:ietf:params:xml:ns:xmpp-streams", "not-authorized") == nil {
		t.Fatalf("wrong secret: %v", se)
	}
	if _, se := dialComponent(t, addr, "other.example.test", pushSecret); se == nil || se.Child("urn:ietf:params:xml:ns:xmpp-streams", "host-unknown") == nil {
		t.Fatalf("unknown domain: %v", se)
	}
	app, se := dialComponent(t, addr, pushDomain, pushSecret)
	if se != nil {
		t.Fatalf("component: %s", se)
	}
	if _, se := dialComponent(t, addr, pushDomain, pushSecret); se == nil || se.Child("urn:ietf:params:xml:ns:xmpp-streams", "conflict") == nil {
		t.Fatalf("second connection for one domain: %v", se)
	}
	// Messages both ways, bodies in each side's namespace.
	bob := online(t, h, "bob", "desk")
	app.tr.Write(xmlstream.New(nsComponent, "message", "from", "bot@"+pushDomain, "to", "bob@"+testDomain, "type", "chat").Add(
		xmlstream.New(nsComponent, "body").SetText("from the component")))
	expect(t, bob, "the component's message", hasBody("from the component"))
	bob.Send(chat("x@"+pushDomain, "to the component"))
	el := app.next(5 * time.Second)
	if el == nil || el.Space != nsComponent || el.ChildText(nsComponent, "body") != "to the component" || el.Attr("from") != bob.JID().String() {
		t.Fatalf("at the component: %v", el)
	}
	// Spoofing another domain closes the stream.
	app.tr.Write(xmlstream.New(nsComponent, "message", "from", "mallory@"+testDomain, "to", "bob@"+testDomain).Add(
		xmlstream.New(nsComponent, "body").SetText("spoofed")))
	for el := app.next(5 * time.Second); ; el = app.next(5 * time.Second) {
		if el == nil {
			t.Fatal("no stream error for a spoofed from")
		}
		if el.Name == "error" && el.Child("urn:ietf:params:xml:ns:xmpp-streams", "invalid-from") != nil {
			break
		}
	}
	expectNone(t, bob, 200*time.Millisecond, "spoofed message", hasBody("spoofed"))
	// Its domain is free again for the next connection.
	waitFor(t, "reconnect", func() bool {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return false
		}
		conn.Close()
		return true
	})
	if _, se := dialComponent(t, addr, pushDomain, pushSecret); se != nil {
		t.Fatalf("reconnecting: %s", se)
	}
}

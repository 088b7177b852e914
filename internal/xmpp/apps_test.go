package xmpp_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/store"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

const (
	nsCarbons = "urn:xmpp:carbons:2"
	nsMAM     = "urn:xmpp:mam:2"
	nsRSM     = "http://jabber.org/protocol/rsm"
	nsPubSub  = "http://jabber.org/protocol/pubsub"
)

func online(t *testing.T, h *harness, user, res string) *xmppclient.Client {
	t.Helper()
	c := h.dial(user, false, func(cfg *xmppclient.Config) { cfg.Resource = res })
	c.Send(xmlstream.New(xmlstream.NSClient, "presence"))
	expect(t, c, "own presence", func(el *xmlstream.Element) bool { return el.Name == "presence" })
	return c
}

func hasBody(body string) func(*xmlstream.Element) bool {
	return func(el *xmlstream.Element) bool {
		return el.Name == "message" && el.ChildText(xmlstream.NSClient, "body") == body
	}
}

// Offline storage survives a server restart on a bbolt file.
func TestOfflineMessagesDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	kv, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *xmpp.Config) { c.Store = kv })
	bob := h.dial("bob", false, nil)
	bob.Send(chat("alice@"+testDomain, "while you slept"))
	expectNone(t, bob, 200*time.Millisecond, "bounce", func(el *xmlstream.Element) bool { return el.Attr("type") == "error" })
	waitFor(t, "stored", func() bool { return h.srv.Stats().OfflineStored == 1 })
	kv.Close()
	kv2, err := store.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer kv2.Close()
	h2 := newHarness(t, func(c *xmpp.Config) { c.Store = kv2 })
	a := h2.dial("alice", false, nil)
	expectNone(t, a, 200*time.Millisecond, "message before presence", hasBody("while you slept"))
	a.Send(xmlstream.New(xmlstream.NSClient, "presence"))
	m := expect(t, a, "offline message", hasBody("while you slept"))
	if m.Attr("from") != "bob@"+testDomain+"/"+bob.JID().Resource || m.Child("urn:xmpp:delay", "delay") == nil {
		t.Fatalf("offline message: %s", m)
	}
	// Delivered once: a second login gets nothing.
	a2 := online(t, h2, "alice", "two")
	expectNone(t, a2, 300*time.Millisecond, "redelivery", hasBody("while you slept"))
	// Headlines and groupchat are not stored.
	bob2 := h2.dial("bob", false, nil)
	bob2.Send(xmlstream.New(xmlstream.NSClient, "message", "to", "carol@"+testDomain, "type", "headline").Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText("x")))
	time.Sleep(100 * time.Millisecond)
	if n := h2.srv.Stats().OfflineStored; n != 0 {
		t.Fatalf("headline stored: %d", n)
	}
}

func enableCarbons(t *testing.T, c *xmppclient.Client) {
	t.Helper()
	res, err := iq(ctx5(t), t, c, "set", "", xmlstream.New(nsCarbons, "enable"))
	if err != nil || res.Attr("type") != "result" {
		t.Fatalf("carbons: %v %v", res, err)
	}
}

func TestCarbons(t *testing.T) {
	h := newHarness(t, nil)
	phone := online(t, h, "alice", "phone")
	desk := online(t, h, "alice", "desk")
	old := online(t, h, "alice", "old") // no carbons
	bob := online(t, h, "bob", "b")
	enableCarbons(t, phone)
	enableCarbons(t, desk)

	// Received: bob writes to alice's phone; desk gets a received carbon.
	bob.Send(chat("alice@"+testDomain+"/phone", "hi phone"))
	expect(t, phone, "direct", hasBody("hi phone"))
	cc := expect(t, desk, "received carbon", func(el *xmlstream.Element) bool { return el.Child(nsCarbons, "received") != nil })
	fwd := cc.Child(nsCarbons, "received").Child("urn:xmpp:forward:0", "forwarded").Child(xmlstream.NSClient, "message")
	if cc.Attr("from") != "alice@"+testDomain || fwd.ChildText(xmlstream.NSClient, "body") != "hi phone" {
		t.Fatalf("carbon: %s", cc)
	}
	expectNone(t, old, 200*time.Millisecond, "carbon without enabling", func(el *xmlstream.Element) bool { return el.Name == "message" })

	// Sent: the phone writes to bob; desk gets a sent carbon, the phone none.
	phone.Send(chat("bob@"+testDomain, "from phone"))
	expect(t, bob, "message", hasBody("from phone"))
	sent := expect(t, desk, "sent carbon", func(el *xmlstream.Element) bool { return el.Child(nsCarbons, "sent") != nil })
	if sent.Child(nsCarbons, "sent").Child("urn:xmpp:forward:0", "forwarded").Child(xmlstream.NSClient, "message").Attr("to") != "bob@"+testDomain {
		t.Fatalf("sent carbon: %s", sent)
	}
	expectNone(t, phone, 200*time.Millisecond, "own carbon", func(el *xmlstream.Element) bool { return el.Child(nsCarbons, "sent") != nil })

	// Private messages are not copied; groupchat-like headline neither.
	priv := chat("alice@"+testDomain+"/phone", "secret")
	priv.Add(xmlstream.New(nsCarbons, "private"))
	bob.Send(priv)
	expect(t, phone, "private", hasBody("secret"))
	expectNone(t, desk, 200*time.Millisecond, "private carbon", func(el *xmlstream.Element) bool { return el.Child(nsCarbons, "received") != nil })

	// Disabling stops them.
	if res, err := iq(ctx5(t), t, desk, "set", "", xmlstream.New(nsCarbons, "disable")); err != nil || res.Attr("type") != "result" {
		t.Fatal(err)
	}
	bob.Send(chat("alice@"+testDomain+"/phone", "after disable"))
	expect(t, phone, "direct", hasBody("after disable"))
	expectNone(t, desk, 200*time.Millisecond, "carbon after disable", func(el *xmlstream.Element) bool { return el.Name == "message" })
}

// XEP-0353: a call proposal to the bare JID rings every device; the accept
// of one reaches the others through sent carbons, which stops their ring.
func TestJingleMessageRingsAllDevices(t *testing.T) {
	h := newHarness(t, nil)
	phone := online(t, h, "alice", "phone")
	desk := online(t, h, "alice", "desk")
	enableCarbons(t, phone)
	enableCarbons(t, desk)
	bob := online(t, h, "bob", "b")
	propose := xmlstream.New(xmlstream.NSClient, "message", "to", "alice@"+testDomain, "type", "chat", "id", "call1").Add(
		xmlstream.New("urn:xmpp:jingle-message:0", "propose", "id", "sess1").Add(
			xmlstream.New("urn:xmpp:jingle:apps:rtp:1", "description", "media", "audio")))
	bob.Send(propose)
	isPropose := func(el *xmlstream.Element) bool {
		return el.Name == "message" && el.Child("urn:xmpp:jingle-message:0", "propose") != nil
	}
	expect(t, phone, "propose on phone", isPropose)
	expect(t, desk, "propose on desk", isPropose)
	phone.Send(xmlstream.New(xmlstream.NSClient, "message", "to", bob.JID().String(), "type", "chat").Add(
		xmlstream.New("urn:xmpp:jingle-message:0", "proceed", "id", "sess1")))
	expect(t, bob, "proceed", func(el *xmlstream.Element) bool { return el.Child("urn:xmpp:jingle-message:0", "proceed") != nil })
	cc := expect(t, desk, "accept carbon", func(el *xmlstream.Element) bool { return el.Child(nsCarbons, "sent") != nil })
	if cc.Child(nsCarbons, "sent").Child("urn:xmpp:forward:0", "forwarded").Child(xmlstream.NSClient, "message").Child("urn:xmpp:jingle-message:0", "proceed") == nil {
		t.Fatalf("carbon: %s", cc)
	}
}

func mamQuery(t *testing.T, c *xmppclient.Client, qid string, fields map[string]string, rsm ...*xmlstream.Element) (*xmlstream.Element, []*xmlstream.Element) {
	t.Helper()
	q := xmlstream.New(nsMAM, "query", "queryid", qid)
	x := xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
		xmlstream.New("jabber:x:data", "field", "var", "FORM_TYPE", "type", "hidden").Add(xmlstream.New("jabber:x:data", "value").SetText(nsMAM)))
	for k, v := range fields {
		x.Add(xmlstream.New("jabber:x:data", "field", "var", k).Add(xmlstream.New("jabber:x:data", "value").SetText(v)))
	}
	q.Add(x)
	if len(rsm) > 0 {
		q.Add(xmlstream.New(nsRSM, "set").Add(rsm...))
	}
	res, err := iq(ctx5(t), t, c, "set", "", q)
	if err != nil || res.Attr("type") != "result" {
		t.Fatalf("mam query: %v %v", res, err)
	}
	var msgs []*xmlstream.Element
	for {
		select {
		case el := <-c.Incoming():
			if r := el.Child(nsMAM, "result"); r != nil && r.Attr("queryid") == qid {
				msgs = append(msgs, el)
				continue
			}
		default:
			return res.Child(nsMAM, "fin"), msgs
		}
	}
}

func TestMAMPaging(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	carol := online(t, h, "carol", "c")
	const n = 500
	start := time.Now()
	for i := range n {
		bob.Send(chat("alice@"+testDomain, "m"+strconv.Itoa(i)))
	}
	expect(t, alice, "last", hasBody("m"+strconv.Itoa(n-1)))
	mid := time.Now()
	carol.Send(chat("alice@"+testDomain, "from carol"))
	expect(t, alice, "carol", hasBody("from carol"))
	alice.Send(chat("bob@"+testDomain, "reply"))
	expect(t, bob, "reply", hasBody("reply"))

	// Page forward through bob's messages 100 at a time.
	var seen []string
	after := ""
	for page := 0; ; page++ {
		rsm := []*xmlstream.Element{xmlstream.New(nsRSM, "max").SetText("100")}
		if after != "" {
			rsm = append(rsm, xmlstream.New(nsRSM, "after").SetText(after))
		}
		fin, msgs := mamQuery(t, alice, "q"+strconv.Itoa(page), map[string]string{"with": "bob@" + testDomain}, rsm...)
		for _, m := range msgs {
			fwd := m.Child(nsMAM, "result").Child("urn:xmpp:forward:0", "forwarded")
			if fwd.Child("urn:xmpp:delay", "delay") == nil {
				t.Fatalf("result without delay: %s", m)
			}
			seen = append(seen, fwd.Child(xmlstream.NSClient, "message").ChildText(xmlstream.NSClient, "body"))
		}
		set := fin.Child(nsRSM, "set")
		if set.ChildText(nsRSM, "count") != strconv.Itoa(n+1) {
			t.Fatalf("count: %s", fin)
		}
		if fin.Attr("complete") == "true" {
			break
		}
		after = set.ChildText(nsRSM, "last")
		if page > 10 {
			t.Fatal("paging does not end")
		}
	}
	if len(seen) != n+1 || seen[0] != "m0" || seen[n-1] != "m"+strconv.Itoa(n-1) || seen[n] != "reply" {
		t.Fatalf("paged %d: first %v last %v", len(seen), seen[:2], seen[len(seen)-2:])
	}
	// The last page backwards.
	fin, msgs := mamQuery(t, alice, "last", nil, xmlstream.New(nsRSM, "max").SetText("2"), xmlstream.New(nsRSM, "before"))
	if len(msgs) != 2 || fin.Attr("complete") == "true" {
		t.Fatalf("last page: %d %s", len(msgs), fin)
	}
	last := msgs[1].Child(nsMAM, "result").Child("urn:xmpp:forward:0", "forwarded").Child(xmlstream.NSClient, "message")
	if last.ChildText(xmlstream.NSClient, "body") != "reply" {
		t.Fatalf("newest: %s", last)
	}
	// Date range: only carol's message and the reply are after mid.
	_, msgs = mamQuery(t, alice, "since", map[string]string{"start": mid.UTC().Format(time.RFC3339Nano)})
	if len(msgs) != 2 {
		t.Fatalf("since mid: %d", len(msgs))
	}
	_, msgs = mamQuery(t, alice, "before", map[string]string{"end": start.Add(-time.Hour).UTC().Format(time.RFC3339Nano)})
	if len(msgs) != 0 {
		t.Fatalf("before start: %d", len(msgs))
	}
	// Bob's archive has his side: 500 sent and the reply.
	fin, _ = mamQuery(t, bob, "b", nil, xmlstream.New(nsRSM, "max").SetText("0"))
	if fin.Child(nsRSM, "set").ChildText(nsRSM, "count") != strconv.Itoa(n+1) {
		t.Fatalf("bob's count: %s", fin)
	}
	// A delivered message carries its archive id.
	carol.Send(chat("alice@"+testDomain, "with id"))
	m := expect(t, alice, "stanza-id", hasBody("with id"))
	if sid := m.Child("urn:xmpp:sid:0", "stanza-id"); sid == nil || sid.Attr("by") != "alice@"+testDomain {
		t.Fatalf("no stanza-id: %s", m)
	}
}

func TestMAMRetention(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	h := newHarness(t, func(c *xmpp.Config) {
		c.ArchiveRetention = 24 * time.Hour
		c.Clock = func() time.Time { return clock() }
	})
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	bob.Send(chat("alice@"+testDomain, "old"))
	expect(t, alice, "old", hasBody("old"))
	now = now.Add(49 * time.Hour)
	bob.Send(chat("alice@"+testDomain, "new"))
	expect(t, alice, "new", hasBody("new"))
	_, msgs := mamQuery(t, alice, "r", nil)
	if len(msgs) != 1 {
		t.Fatalf("after retention: %d", len(msgs))
	}
}

func TestBlocking(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	res, err := iq(ctx5(t), t, alice, "get", "", xmlstream.New("urn:xmpp:blocking", "blocklist"))
	if err != nil || res.Child("urn:xmpp:blocking", "blocklist") == nil {
		t.Fatalf("blocklist: %v %v", res, err)
	}
	if _, err := iq(ctx5(t), t, alice, "set", "", xmlstream.New("urn:xmpp:blocking", "block").Add(
		xmlstream.New("urn:xmpp:blocking", "item", "jid", "bob@"+testDomain))); err != nil {
		t.Fatal(err)
	}
	expect(t, alice, "block push", func(el *xmlstream.Element) bool { return el.Child("urn:xmpp:blocking", "block") != nil })
	bob.Send(chat("alice@"+testDomain+"/a", "spam"))
	expectNone(t, alice, 300*time.Millisecond, "blocked message", hasBody("spam"))
	res, _ = iq(ctx5(t), t, alice, "get", "", xmlstream.New("urn:xmpp:blocking", "blocklist"))
	if items := res.Child("urn:xmpp:blocking", "blocklist").ChildrenNamed("urn:xmpp:blocking", "item"); len(items) != 1 {
		t.Fatalf("list: %s", res)
	}
	iq(ctx5(t), t, alice, "set", "", xmlstream.New("urn:xmpp:blocking", "unblock"))
	bob.Send(chat("alice@"+testDomain+"/a", "welcome back"))
	expect(t, alice, "after unblock", hasBody("welcome back"))
}

func TestCSIHoldsPresenceAndChatStates(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	alice.Send(xmlstream.New("urn:xmpp:csi:0", "inactive"))
	time.Sleep(50 * time.Millisecond)
	bob.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", "alice@"+testDomain+"/a"))
	bob.Send(xmlstream.New(xmlstream.NSClient, "message", "to", "alice@"+testDomain+"/a", "type", "chat").Add(
		xmlstream.New("http://jabber.org/protocol/chatstates", "composing")))
	expectNone(t, alice, 300*time.Millisecond, "held stanza", func(el *xmlstream.Element) bool { return el.Name == "presence" || el.Name == "message" })
	bob.Send(chat("alice@"+testDomain+"/a", "urgent"))
	first := expect(t, alice, "flushed presence", func(el *xmlstream.Element) bool { return el.Name == "presence" || el.Name == "message" })
	if first.Name != "presence" {
		t.Fatalf("order: %s first", first)
	}
	expect(t, alice, "body", hasBody("urgent"))
}

func TestPEPOpenAccessAndNotify(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	// carol is no contact: open access lets her fetch the device list.
	carol := online(t, h, "carol", "c")
	const devices = "eu.siacs.conversations.axolotl.devicelist"
	pub := xmlstream.New(nsPubSub, "pubsub").Add(
		xmlstream.New(nsPubSub, "publish", "node", devices).Add(
			xmlstream.New(nsPubSub, "item", "id", "current").Add(
				xmlstream.New("eu.siacs.conversations.axolotl", "list").Add(
					xmlstream.New("eu.siacs.conversations.axolotl", "device", "id", "42")))),
		xmlstream.New(nsPubSub, "publish-options").Add(
			xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
				xmlstream.New("jabber:x:data", "field", "var", "FORM_TYPE").Add(xmlstream.New("jabber:x:data", "value").SetText(nsPubSub+"#publish-options")),
				xmlstream.New("jabber:x:data", "field", "var", "pubsub#access_model").Add(xmlstream.New("jabber:x:data", "value").SetText("open")))))
	if res, err := iq(ctx5(t), t, alice, "set", "", pub); err != nil || res.Attr("type") != "result" {
		t.Fatalf("publish: %v %v", res, err)
	}
	get := xmlstream.New(nsPubSub, "pubsub").Add(xmlstream.New(nsPubSub, "items", "node", devices))
	res, err := iq(ctx5(t), t, carol, "get", "alice@"+testDomain, get)
	if err != nil {
		t.Fatal(err)
	}
	item := res.Child(nsPubSub, "pubsub").Child(nsPubSub, "items").Child(nsPubSub, "item")
	if item == nil || item.Child("eu.siacs.conversations.axolotl", "list").Child("eu.siacs.conversations.axolotl", "device").Attr("id") != "42" {
		t.Fatalf("items: %s", res)
	}
	// A presence-access node is closed to a non-contact.
	avatar := xmlstream.New(nsPubSub, "pubsub").Add(xmlstream.New(nsPubSub, "publish", "node", "urn:xmpp:avatar:metadata").Add(
		xmlstream.New(nsPubSub, "item", "id", "abc").Add(xmlstream.New("urn:xmpp:avatar:metadata", "metadata"))))
	if _, err := iq(ctx5(t), t, alice, "set", "", avatar); err != nil {
		t.Fatal(err)
	}
	if _, err := iq(ctx5(t), t, carol, "get", "alice@"+testDomain, xmlstream.New(nsPubSub, "pubsub").Add(
		xmlstream.New(nsPubSub, "items", "node", "urn:xmpp:avatar:metadata"))); err == nil {
		t.Fatal("a non-contact read a presence-access node")
	}
	// The owner's own resource with +notify caps gets the last item and later ones.
	own := h.dial("alice", false, func(cfg *xmppclient.Config) { cfg.Resource = "caps" })
	own.Send(xmlstream.New(xmlstream.NSClient, "presence").Add(
		xmlstream.New("http://jabber.org/protocol/caps", "c", "hash", "sha-1", "node", "https://example.test/client", "ver", "v1")))
	disco := expect(t, own, "caps disco#info", func(el *xmlstream.Element) bool { return el.Name == "iq" && el.Attr("type") == "get" })
	q := disco.Child("http://jabber.org/protocol/disco#info", "query")
	if q == nil || q.Attr("node") != "https://example.test/client#v1" {
		t.Fatalf("caps query: %s", disco)
	}
	ans := xmlstream.New("http://jabber.org/protocol/disco#info", "query", "node", q.Attr("node")).Add(
		xmlstream.New("http://jabber.org/protocol/disco#info", "feature", "var", "urn:xmpp:avatar:metadata+notify"))
	own.Send(xmlstream.New(xmlstream.NSClient, "iq", "type", "result", "id", disco.Attr("id"), "to", disco.Attr("from")).Add(ans))
	isEvent := func(el *xmlstream.Element) bool {
		ev := el.Child("http://jabber.org/protocol/pubsub#event", "event")
		return ev != nil && ev.Child("http://jabber.org/protocol/pubsub#event", "items").Attr("node") == "urn:xmpp:avatar:metadata"
	}
	expect(t, own, "last item", isEvent)
	iq(ctx5(t), t, alice, "set", "", avatar)
	expect(t, own, "notification", isEvent)
	expectNone(t, carol, 200*time.Millisecond, "event to a non-contact", isEvent)
}

func TestVCard(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	v := xmlstream.New("vcard-temp", "vCard").Add(xmlstream.New("vcard-temp", "FN").SetText("Alice A."))
	if _, err := iq(ctx5(t), t, alice, "set", "", v); err != nil {
		t.Fatal(err)
	}
	res, err := iq(ctx5(t), t, bob, "get", "alice@"+testDomain, xmlstream.New("vcard-temp", "vCard"))
	if err != nil || res.Child("vcard-temp", "vCard").ChildText("vcard-temp", "FN") != "Alice A." {
		t.Fatalf("vcard: %v %v", res, err)
	}
	if _, err := iq(ctx5(t), t, bob, "set", "alice@"+testDomain, v); err == nil {
		t.Fatal("bob set alice's vCard")
	}
}

// A 1:1 Jingle session between two users goes from one to the other and
// nowhere else: the focus (a service at focus.<domain>) never sees it.
func TestOneToOneJinglePassesThrough(t *testing.T) {
	var focusSaw []*xmlstream.Element
	h := newHarness(t, nil)
	h.srv.AddService("focus."+testDomain, stanzaFunc(func(el *xmlstream.Element) { focusSaw = append(focusSaw, el) }), xmpp.DiscoIdentity{})
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	init := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "id", "j1", "to", alice.JID().String()).Add(
		xmlstream.New("urn:xmpp:jingle:1", "jingle", "action", "session-initiate", "sid", "s1"))
	bob.Send(init)
	got := expect(t, alice, "session-initiate", func(el *xmlstream.Element) bool { return el.Attr("id") == "j1" })
	if got.Attr("from") != bob.JID().String() {
		t.Fatalf("from: %s", got)
	}
	if len(focusSaw) != 0 {
		t.Fatalf("the focus saw %v", focusSaw)
	}
}

type stanzaFunc func(*xmlstream.Element)

func (f stanzaFunc) HandleStanza(el *xmlstream.Element) { f(el) }

// Bookmarks (XEP-0402): many items, whitelist access: the owner's other
// resource with +notify gets each, another account cannot read them.
func TestBookmarksNode(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	bob := online(t, h, "bob", "b")
	const node = "urn:xmpp:bookmarks:1"
	publish := func(room string) {
		pub := xmlstream.New(nsPubSub, "pubsub").Add(
			xmlstream.New(nsPubSub, "publish", "node", node).Add(
				xmlstream.New(nsPubSub, "item", "id", room).Add(xmlstream.New(node, "conference", "autojoin", "true"))),
			xmlstream.New(nsPubSub, "publish-options").Add(xmlstream.New("jabber:x:data", "x", "type", "submit").Add(
				xmlstream.New("jabber:x:data", "field", "var", "FORM_TYPE").Add(xmlstream.New("jabber:x:data", "value").SetText(nsPubSub+"#publish-options")),
				xmlstream.New("jabber:x:data", "field", "var", "pubsub#max_items").Add(xmlstream.New("jabber:x:data", "value").SetText("max")),
				xmlstream.New("jabber:x:data", "field", "var", "pubsub#access_model").Add(xmlstream.New("jabber:x:data", "value").SetText("whitelist")))))
		if res, err := iq(ctx5(t), t, alice, "set", "", pub); err != nil || res.Attr("type") != "result" {
			t.Fatalf("publish: %v %v", res, err)
		}
	}
	publish("a@conference." + testDomain)
	publish("b@conference." + testDomain)
	res, err := iq(ctx5(t), t, alice, "get", "", xmlstream.New(nsPubSub, "pubsub").Add(xmlstream.New(nsPubSub, "items", "node", node)))
	if err != nil {
		t.Fatal(err)
	}
	if items := res.Child(nsPubSub, "pubsub").Child(nsPubSub, "items").ChildrenNamed(nsPubSub, "item"); len(items) != 2 {
		t.Fatalf("bookmarks: %s", res)
	}
	if _, err := iq(ctx5(t), t, bob, "get", "alice@"+testDomain, xmlstream.New(nsPubSub, "pubsub").Add(xmlstream.New(nsPubSub, "items", "node", node))); err == nil {
		t.Fatal("bob read alice's bookmarks")
	}
}

// One account cannot fill the server's disk through PEP.
func TestPEPQuota(t *testing.T) {
	h := newHarness(t, nil)
	alice := online(t, h, "alice", "a")
	big := strings.Repeat("A", 200<<10)
	refused := false
	for i := 0; i < 60 && !refused; i++ {
		pub := xmlstream.New(nsPubSub, "pubsub").Add(xmlstream.New(nsPubSub, "publish", "node", "urn:xmpp:avatar:data:"+strconv.Itoa(i)).Add(
			xmlstream.New(nsPubSub, "item", "id", "x").Add(xmlstream.New("urn:xmpp:avatar:data", "data").SetText(big))))
		res, err := iq(ctx5(t), t, alice, "set", "", pub)
		if err != nil {
			if !strings.Contains(err.Error(), "resource-constraint") {
				t.Fatalf("publish %d: %v", i, err)
			}
			refused = true
			if i < 30 {
				t.Fatalf("refused after %d items of 200 KiB", i)
			}
		} else if res.Attr("type") != "result" {
			t.Fatalf("publish %d: %s", i, res)
		}
	}
	if !refused {
		t.Fatal("12 MB of PEP items accepted")
	}
}

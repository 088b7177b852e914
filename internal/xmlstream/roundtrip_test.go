package xmlstream

import (
	"strings"
	"testing"
)

// roundTripCorpus is well-formed XMPP-ish input that must survive
// parse → serialize → parse unchanged.
var roundTripCorpus = []string{
	`<message xmlns="jabber:client" to="room@conference.example.com" type="groupchat" id="m1"><body>Hello &amp; &lt;welcome&gt; "all" 'of' you</body><x xmlns="http://jabber.org/protocol/muc#user"><item affiliation="none" role="participant"/></x></message>`,
	`<presence xmlns="jabber:client" from="a@b/c" xml:lang="fr"><c xmlns="http://jabber.org/protocol/caps" hash="sha-1" node="https://parley.dev" ver="q07IKJEyjvHSyhy//CH0CxmKi8w="/><status>Été ☀ 😀</status></presence>`,
	`<iq xmlns="jabber:client" type="set" id="j1"><jingle xmlns="urn:xmpp:jingle:1" action="session-initiate" sid="s"><content creator="initiator" name="audio"><description xmlns="urn:xmpp:jingle:apps:rtp:1" media="audio"><payload-type id="111" name="opus" clockrate="48000" channels="2"><parameter name="minptime" value="10"/></payload-type></description><transport xmlns="urn:xmpp:jingle:transports:ice-udp:1" ufrag="a" pwd="b"><fingerprint xmlns="urn:xmpp:jingle:apps:dtls:0" hash="sha-256" setup="actpass">AB:CD</fingerprint></transport></content></jingle></iq>`,
	`<stream:features xmlns:stream="http://etherx.jabber.org/streams"><mechanisms xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><mechanism>SCRAM-SHA-256</mechanism></mechanisms></stream:features>`,
	`<stream:error xmlns:stream="http://etherx.jabber.org/streams"><not-well-formed xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">bad</text></stream:error>`,
	`<a v="tab&#9;nl&#10;cr&#13;sp  &quot;q&quot; &apos;a&apos; &lt;&gt;&amp;">x<b/>y<![CDATA[<z>]]></a>`,
	`<p:a xmlns:p="urn:p" xmlns="urn:d"><b/><p:c xmlns:p="urn:q"><d xmlns=""/></p:c></p:a>`,
	`<a xmlns="urn:a"><stream:x xmlns:stream="http://etherx.jabber.org/streams"><y/></stream:x></a>`,
	"<a>\n  <b>\t</b>\n</a>",
	`<a>]]&gt; ]] &gt;</a>`,
	`<close xmlns="urn:ietf:params:xml:ns:xmpp-framing"/>`,
}

func TestRoundTrip(t *testing.T) {
	for _, in := range roundTripCorpus {
		for _, space := range []string{"", NSClient} {
			first, err := ParseElementIn([]byte(in), Limits{}, space)
			if err != nil {
				t.Fatalf("ParseElementIn(%q): %v", in, err)
			}
			checkRoundTrip(t, first, space, Limits{})
		}
	}
}

// checkRoundTrip serializes el both standalone and inside a stream whose
// content namespace is space, and checks that both parse back to the same
// tree and serialize to the same bytes again.
func checkRoundTrip(t *testing.T, el *Element, space string, lim Limits) {
	t.Helper()
	standalone := el.String()
	again, err := ParseElement([]byte(standalone), lim)
	if err != nil {
		t.Fatalf("re-parse of %q: %v", standalone, err)
	}
	if dump(again) != dump(el) {
		t.Fatalf("standalone round trip changed the tree:\n%s\n%s\nvia %q", dump(el), dump(again), standalone)
	}
	if s2 := again.String(); s2 != standalone {
		t.Fatalf("serialization not stable: %q then %q", standalone, s2)
	}
	inStream := string(el.Append(nil, space))
	again, err = ParseElementIn([]byte(inStream), lim, space)
	if err != nil {
		t.Fatalf("re-parse of %q in %q: %v", inStream, space, err)
	}
	if dump(again) != dump(el) {
		t.Fatalf("in-stream round trip changed the tree:\n%s\n%s\nvia %q", dump(el), dump(again), inStream)
	}
}

func TestRoundTripThroughDecoder(t *testing.T) {
	h := Header{Space: NSClient, To: "example.com", Version: "1.0", Lang: "en", ID: `a"b<c`}
	var stream []byte
	stream = h.Append(stream)
	var want []*Element
	for _, in := range roundTripCorpus {
		el, err := ParseElementIn([]byte(in), Limits{}, NSClient)
		if err != nil {
			t.Fatal(err)
		}
		want = append(want, el)
		stream = el.Append(stream, NSClient)
	}
	stream = AppendClose(stream)
	got, els, err := readAll(t, NewDecoder(strings.NewReader(string(stream)), Limits{}))
	if err != ErrStreamClosed {
		t.Fatalf("%v in %s", err, stream)
	}
	if got.Space != h.Space || got.To != h.To || got.ID != h.ID || got.Lang != h.Lang || got.Version != h.Version {
		t.Errorf("header %+v, want %+v", got, h)
	}
	if len(els) != len(want) {
		t.Fatalf("got %d elements, want %d", len(els), len(want))
	}
	for i := range want {
		if dump(els[i]) != dump(want[i]) {
			t.Errorf("element %d:\n%s want\n%s", i, dump(els[i]), dump(want[i]))
		}
	}
}

func TestHeaderAppend(t *testing.T) {
	h := Header{Space: NSServer, From: "a.example", To: "b.example", ID: "x'y", Version: "1.0",
		Prefixes: []Prefix{{"db", "jabber:server:dialback"}}}
	got := string(h.Append(nil))
	want := `<?xml version="1.0"?><stream:stream xmlns="jabber:server" xmlns:stream="http://etherx.jabber.org/streams" xmlns:db="jabber:server:dialback" to="b.example" from="a.example" id="x&apos;y" version="1.0">`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	back, err := NewDecoder(strings.NewReader(got), Limits{}).ReadHeader()
	if err != nil || back.ID != h.ID || back.From != h.From || len(back.Prefixes) != 1 || back.Prefixes[0] != h.Prefixes[0] {
		t.Errorf("re-read %+v %v", back, err)
	}
	if s := string(AppendClose(nil)); s != "</stream:stream>" {
		t.Errorf("AppendClose = %q", s)
	}
}

func TestHeaderOpen(t *testing.T) {
	h := Header{To: "example.com", Version: "1.0", Lang: "en"}
	open := h.AppendOpen(nil)
	if want := `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0" xml:lang="en"/>`; string(open) != want {
		t.Errorf("got %s", open)
	}
	el, err := ParseElement(open, Limits{})
	if err != nil {
		t.Fatal(err)
	}
	back, err := HeaderFromOpen(el)
	if err != nil || back.To != h.To || back.Version != h.Version || back.Lang != h.Lang {
		t.Errorf("got %+v %v", back, err)
	}
	_, err = HeaderFromOpen(New(NSClient, "open"))
	wantCondition(t, "open in wrong namespace", err, CondInvalidNamespace)
}

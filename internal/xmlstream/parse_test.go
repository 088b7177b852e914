package xmlstream

import (
	"strings"
	"testing"
)

func TestParseElementTrees(t *testing.T) {
	tests := []struct {
		name, in string
		want     *Element
	}{
		{"message", `<message xmlns="jabber:client" to="a@b/c" type='chat'><body>hi</body></message>`,
			New(NSClient, "message", "to", "a@b/c", "type", "chat").Add(New(NSClient, "body").SetText("hi"))},
		{"predefined entities and char refs", `<a>&lt;&gt;&amp;&quot;&apos;&#65;&#x42;&#x1F600;</a>`,
			New("", "a").SetText(`<>&"'AB😀`)},
		{"entities in attributes", `<a v="&lt;&#x9;&#10;&amp;"/>`,
			New("", "a", "v", "<\t\n&")},
		{"attribute whitespace normalized", "<a v='x\ty\nz\r\nw\rv'/>",
			New("", "a", "v", "x y z w v")},
		{"text line ends normalized", "<a>x\r\ny\rz\n</a>",
			New("", "a").SetText("x\ny\nz\n")},
		{"cdata", `<a>x<![CDATA[<y>&amp;]]]]>z</a>`,
			New("", "a").SetText("x<y>&amp;]]z")},
		{"cdata line ends", "<a><![CDATA[\r\n]]></a>",
			New("", "a").SetText("\n")},
		{"mixed content concatenated", `<a>x<b/>y<c>z</c>w</a>`,
			New("", "a").SetText("xyw").Add(New("", "b"), New("", "c").SetText("z"))},
		{"prefixed element", `<p:a xmlns:p="urn:p"><b/><p:c/></p:a>`,
			New("urn:p", "a").Add(New("", "b"), New("urn:p", "c"))},
		{"default namespace scoping", `<a xmlns="urn:a"><b xmlns="urn:b"><c/></b><d/></a>`,
			New("urn:a", "a").Add(New("urn:b", "b").Add(New("urn:b", "c")), New("urn:a", "d"))},
		{"default namespace undeclared", `<a xmlns="urn:a"><b xmlns=""/></a>`,
			New("urn:a", "a").Add(New("", "b"))},
		{"prefix rebinding is scoped", `<p:a xmlns:p="urn:1"><p:b xmlns:p="urn:2"/><p:c/></p:a>`,
			New("urn:1", "a").Add(New("urn:2", "b"), New("urn:1", "c"))},
		{"xml:lang kept, xmlns dropped", `<a xmlns="urn:a" xmlns:x="urn:x" xml:lang="en" id="1"/>`,
			New("urn:a", "a", "xml:lang", "en", "id", "1")},
		{"declared xml prefix allowed", `<a xmlns:xml="http://www.w3.org/XML/1998/namespace" xml:space="preserve"/>`,
			New("", "a", "xml:space", "preserve")},
		{"foreign prefixed attribute dropped", `<a xmlns:x="urn:x" x:foo="1" foo="2"/>`,
			New("", "a", "foo", "2")},
		{"stream prefix", `<stream:error xmlns:stream="http://etherx.jabber.org/streams"><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
			New(NSStream, "error").Add(New("urn:ietf:params:xml:ns:xmpp-streams", "conflict"))},
		{"websocket open", `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="example.com" version="1.0"/>`,
			New(NSFraming, "open", "to", "example.com", "version", "1.0")},
		{"whitespace in tags", "<a  b = 'c'\n\t d=\"e\" ></a >",
			New("", "a", "b", "c", "d", "e")},
		{"non-ASCII names and text", `<café xmlns="urn:ü" ñ="ö">日本</café>`,
			New("urn:ü", "café", "ñ", "ö").SetText("日本")},
		{"surrounding whitespace", " \n<a/>\t ", New("", "a")},
		{"gt in text and attributes", `<a b=">">></a>`, New("", "a", "b", ">").SetText(">")},
		{"quote inside other quote", `<a b="it's" c='say "x"'/>`, New("", "a", "b", "it's", "c", `say "x"`)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseElement([]byte(tt.in), Limits{})
			if err != nil {
				t.Fatalf("ParseElement(%q): %v", tt.in, err)
			}
			if dump(got) != dump(tt.want) {
				t.Errorf("ParseElement(%q) =\n%s want\n%s", tt.in, dump(got), dump(tt.want))
			}
		})
	}
}

func TestParseElementInDefaultSpace(t *testing.T) {
	got, err := ParseElementIn([]byte(`<iq type="get"><query xmlns="jabber:iq:roster"/><x/></iq>`), Limits{}, NSClient)
	if err != nil {
		t.Fatal(err)
	}
	want := New(NSClient, "iq", "type", "get").Add(New("jabber:iq:roster", "query"), New(NSClient, "x"))
	if dump(got) != dump(want) {
		t.Errorf("got\n%s want\n%s", dump(got), dump(want))
	}
}

func TestParseElementErrors(t *testing.T) {
	tests := []struct{ in, cond string }{
		// Not well-formed.
		{``, CondNotWellFormed},
		{`   `, CondNotWellFormed},
		{`hello`, CondNotWellFormed},
		{`<a>`, CondNotWellFormed},
		{`<a><b></a>`, CondNotWellFormed},
		{`<a></b>`, CondNotWellFormed},
		{`<a></ab>`, CondNotWellFormed},
		{`<a/><b/>`, CondNotWellFormed},
		{`<a/>x`, CondNotWellFormed},
		{`<a b="1" b="2"/>`, CondNotWellFormed},
		{`<a xmlns:p="urn:x" xmlns:q="urn:x" p:b="1" q:b="2"/>`, CondNotWellFormed},
		{`<a b=1/>`, CondNotWellFormed},
		{`<a b="1"c="2"/>`, CondNotWellFormed},
		{`<a b/>`, CondNotWellFormed},
		{`<a b="<"/>`, CondNotWellFormed},
		{`<a b="x/>`, CondNotWellFormed},
		{`<a / >`, CondNotWellFormed},
		{`<1a/>`, CondNotWellFormed},
		{`<a:/>`, CondNotWellFormed},
		{`<:a/>`, CondNotWellFormed},
		{`<a:b:c xmlns:a="urn:a"/>`, CondNotWellFormed},
		{`< a/>`, CondNotWellFormed},
		{`<a>&</a>`, CondNotWellFormed},
		{`<a>&amp</a>`, CondNotWellFormed},
		{`<a>& b;</a>`, CondNotWellFormed},
		{`<a>&#;</a>`, CondNotWellFormed},
		{`<a>&#x;</a>`, CondNotWellFormed},
		{`<a>&#xG;</a>`, CondNotWellFormed},
		{`<a>&#0;</a>`, CondNotWellFormed},
		{`<a>&#x1;</a>`, CondNotWellFormed},
		{`<a>&#xD800;</a>`, CondNotWellFormed},
		{`<a>&#xFFFE;</a>`, CondNotWellFormed},
		{`<a>&#x110000;</a>`, CondNotWellFormed},
		{`<a>&#99999999999999999999;</a>`, CondNotWellFormed},
		{`<a b="&#1;"/>`, CondNotWellFormed},
		{"<a>\x00</a>", CondNotWellFormed},
		{"<a>\x1b</a>", CondNotWellFormed},
		{"<a b='\x07'/>", CondNotWellFormed},
		{"<a>\xff</a>", CondNotWellFormed},
		{"<a>\xc3</a>", CondNotWellFormed},
		{"<a>\xed\xa0\x80</a>", CondNotWellFormed}, // UTF-8-encoded surrogate
		{"<a>\xef\xbf\xbe</a>", CondNotWellFormed}, // U+FFFE
		{"<a>\xc0\xbc</a>", CondNotWellFormed},     // overlong '<'
		{`<a>]]></a>`, CondNotWellFormed},
		{`<a><![CDATA[x</a>`, CondNotWellFormed},
		{`<a><![CDAT[x]]></a>`, CondRestrictedXML},
		{`<p:a/>`, CondNotWellFormed},
		{`<a p:b="1"/>`, CondNotWellFormed},
		{`<a xmlns:p=""/>`, CondNotWellFormed},
		{`<a xmlns:xmlns="urn:x"/>`, CondNotWellFormed},
		{`<a xmlns:xml="urn:x"/>`, CondNotWellFormed},
		{`<a xmlns:p="http://www.w3.org/XML/1998/namespace"/>`, CondNotWellFormed},
		{`<a xmlns:p="http://www.w3.org/2000/xmlns/"/>`, CondNotWellFormed},
		{`<a xmlns="http://www.w3.org/XML/1998/namespace"/>`, CondNotWellFormed},
		{`<xmlns:a/>`, CondNotWellFormed},
		{`<xml:a/>`, CondNotWellFormed},
		{`<a xmlns="x" xmlns="y"/>`, CondNotWellFormed},
		// Restricted XML.
		{`<a><!-- hi --></a>`, CondRestrictedXML},
		{`<a><?pi x?></a>`, CondRestrictedXML},
		{`<a><!DOCTYPE a></a>`, CondRestrictedXML},
		{`<a><!ENTITY x "y"></a>`, CondRestrictedXML},
		{`<a>&foo;</a>`, CondRestrictedXML},
		{`<a b="&foo;"/>`, CondRestrictedXML},
		{`<?xml version="1.0"?><a/>`, CondRestrictedXML},
		{`<!DOCTYPE a [<!ENTITY x "y">]><a>&x;</a>`, CondRestrictedXML},
		{`<!-- x --><a/>`, CondRestrictedXML},
	}
	for _, tt := range tests {
		el, err := ParseElement([]byte(tt.in), Limits{})
		if err == nil {
			t.Errorf("ParseElement(%q) = %s, want %s error", tt.in, el, tt.cond)
			continue
		}
		wantCondition(t, tt.in, err, tt.cond)
	}
}

func TestParseElementLimits(t *testing.T) {
	lim := Limits{MaxElementBytes: 64, MaxDepth: 3, MaxAttrs: 2}
	ok := []string{
		`<a><b><c/></b></a>`,
		`<a x="1" y="2"/>`,
		`<a xmlns="urn:x" y="2"/>`,
		"<a>" + strings.Repeat("x", 64-7) + "</a>",
		"  <a>" + strings.Repeat("x", 64-7) + "</a>\n",
	}
	for _, in := range ok {
		if _, err := ParseElement([]byte(in), lim); err != nil {
			t.Errorf("ParseElement(%q): %v", in, err)
		}
	}
	bad := []string{
		`<a><b><c><d/></c></b></a>`,
		`<a><b><c>x<d></d></c></b></a>`,
		`<a x="1" y="2" z="3"/>`,
		`<a xmlns="urn:x" xmlns:p="urn:p" y="2"/>`,
		`<a><b x="1" y="2" z="3"/></a>`,
		"<a>" + strings.Repeat("x", 64-6) + "</a>",
	}
	for _, in := range bad {
		_, err := ParseElement([]byte(in), lim)
		wantCondition(t, in, err, CondPolicyViolation)
	}
}

func TestParseElementDefaultLimits(t *testing.T) {
	deep := strings.Repeat("<a>", DefaultMaxDepth) + strings.Repeat("</a>", DefaultMaxDepth)
	if _, err := ParseElement([]byte(deep), Limits{}); err != nil {
		t.Errorf("depth %d: %v", DefaultMaxDepth, err)
	}
	deeper := "<a>" + deep + "</a>"
	_, err := ParseElement([]byte(deeper), Limits{})
	wantCondition(t, "deeper", err, CondPolicyViolation)

	var sb strings.Builder
	sb.WriteString("<a")
	for i := range DefaultMaxAttrs + 1 {
		sb.WriteString(" a" + strings.Repeat("x", i) + "='1'")
	}
	sb.WriteString("/>")
	_, err = ParseElement([]byte(sb.String()), Limits{})
	wantCondition(t, "many attributes", err, CondPolicyViolation)

	big := "<a>" + strings.Repeat("x", DefaultMaxElementBytes) + "</a>"
	_, err = ParseElement([]byte(big), Limits{})
	wantCondition(t, "big", err, CondPolicyViolation)
}

func TestSyntaxErrorOffsetAndText(t *testing.T) {
	_, err := ParseElement([]byte(`  <a>&bogus;</a>`), Limits{})
	se, ok := err.(*SyntaxError)
	if !ok {
		t.Fatalf("got %T %v", err, err)
	}
	if se.Offset != 5 {
		t.Errorf("offset %d, want 5", se.Offset)
	}
	if !strings.Contains(se.Error(), "restricted-xml") || !strings.Contains(se.Error(), "bogus") {
		t.Errorf("Error() = %q", se.Error())
	}
	if ErrorCondition(err) != CondRestrictedXML {
		t.Errorf("ErrorCondition = %q", ErrorCondition(err))
	}
	if ErrorCondition(nil) != "" {
		t.Error("ErrorCondition(nil) not empty")
	}
}

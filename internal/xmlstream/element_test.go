package xmlstream

import (
	"strings"
	"testing"
)

// Tests of element.go's serializer, checked by parsing its output back.

func TestAppendEscapingRoundTrips(t *testing.T) {
	values := []string{
		`plain`, `<>&"'`, "tab\there", "nl\nhere", "crlf\r\n", "lone\rcr", "]]>", "ünïcödé 😀",
		"\t\n", " leading and trailing ",
	}
	for _, v := range values {
		el := New(NSClient, "message", "a", v).Add(New(NSClient, "body").SetText(v))
		got, err := ParseElement([]byte(el.String()), Limits{})
		if err != nil {
			t.Errorf("%q: output %q does not parse: %v", v, el.String(), err)
			continue
		}
		if got.Attr("a") != v {
			t.Errorf("attribute %q came back as %q via %q", v, got.Attr("a"), el.String())
		}
		if body := got.ChildText(NSClient, "body"); body != v {
			t.Errorf("text %q came back as %q via %q", v, body, el.String())
		}
	}
}

func TestAppendDropsCharactersXMLCannotCarry(t *testing.T) {
	el := New("", "a", "v", "x\x00\x1by\uFFFE").SetText("p\x01q\uFFFF")
	got, err := ParseElement([]byte(el.String()), Limits{})
	if err != nil {
		t.Fatalf("output %q does not parse: %v", el.String(), err)
	}
	if got.Attr("v") != "xy" || got.Text != "pq" {
		t.Errorf("got %q %q", got.Attr("v"), got.Text)
	}
}

func TestAppendNamespaces(t *testing.T) {
	el := New(NSClient, "iq").Add(
		New(NSClient, "a"),
		New("urn:x", "b").Add(New("urn:x", "c"), New(NSClient, "d")),
		New(NSStream, "e").Add(New(NSClient, "f")),
		New("", "g"),
	)
	got := string(el.Append(nil, NSClient))
	want := `<iq><a/><b xmlns="urn:x"><c/><d xmlns="jabber:client"/></b>` +
		`<stream:e xmlns:stream="http://etherx.jabber.org/streams"><f/></stream:e><g xmlns=""/></iq>`
	if got != want {
		t.Errorf("got  %s\nwant %s", got, want)
	}
	back, err := ParseElementIn([]byte(got), Limits{}, NSClient)
	if err != nil || dump(back) != dump(el) {
		t.Errorf("parsed back as\n%s(%v), want\n%s", dump(back), err, dump(el))
	}
	if !strings.HasPrefix(el.String(), `<iq xmlns="jabber:client">`) {
		t.Errorf("String() = %s", el.String())
	}
}

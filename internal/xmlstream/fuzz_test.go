package xmlstream

import (
	"encoding/xml"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzLimits are small so that the fuzzer reaches every limit.
var fuzzLimits = Limits{MaxElementBytes: 2048, MaxDepth: 8, MaxAttrs: 8}

// reparseLimits keep the depth limit but allow for escaping making the
// serialized form longer than the input, and for the namespace declarations
// (xmlns, xmlns:stream) that serializing a fragment on its own adds.
var reparseLimits = Limits{MaxElementBytes: 64 << 10, MaxDepth: 8, MaxAttrs: 8 + 2}

var fuzzSeeds = append([]string{
	`<a/>`, `<a b='c'>d</a>`, `<a>&amp;&#x41;&#66;</a>`, `<a><![CDATA[x]]></a>`,
	`<p:a xmlns:p='urn:p' xmlns='urn:d' xml:lang='en' p:x='1'><b/></p:a>`,
	"<a v='\t\r\n'>\r\n</a>", `<a>]]></a>`, `<a><!-- c --></a>`, `<a>&x;</a>`,
	`<a><b><c><d><e><f><g><h><i/></h></g></f></e></d></c></b></a>`,
	`<a a1='' a2='' a3='' a4='' a5='' a6='' a7='' a8='' a9=''/>`,
}, roundTripCorpus...)

func FuzzParseElement(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		el, err := ParseElement(data, fuzzLimits)
		if err != nil {
			checkSyntaxError(t, err, len(data))
			return
		}
		checkLimits(t, el, fuzzLimits)
		checkRoundTrip(t, el, "", reparseLimits)
		checkAgainstEncodingXML(t, data, el)
	})
}

func FuzzDecoder(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s), true, uint8(3))
	}
	f.Add([]byte(clientHeader+`<a/></stream:stream>`), false, uint8(1))
	f.Add([]byte(`<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback'><db:result/></stream:stream>`), false, uint8(7))
	f.Add([]byte("\xEF\xBB\xBF<?xml version='1.0'?>\n<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'> <a/>\n<b/>"), false, uint8(0))
	f.Fuzz(func(t *testing.T, data []byte, withHeader bool, chunk uint8) {
		if withHeader {
			data = append([]byte(clientHeader), data...)
		}
		whole := decodeStream(t, strings.NewReader(string(data)))
		chunked := decodeStream(t, &chunkReader{data: data, size: int(chunk)})
		if whole != chunked {
			t.Fatalf("result depends on read sizes:\nwhole:   %s\nchunked: %s", whole, chunked)
		}
	})
}

// decodeStream decodes a whole stream, checking every element and error, and
// returns a transcript of what it saw.
func decodeStream(t *testing.T, r io.Reader) string {
	d := NewDecoder(r, fuzzLimits)
	var out strings.Builder
	h, err := d.ReadHeader()
	for err == nil {
		out.WriteString("header " + h.Space + "\n")
		var el *Element
		el, err = d.ReadElement()
		if err != nil {
			break
		}
		checkLimits(t, el, fuzzLimits)
		checkRoundTrip(t, el, h.Space, reparseLimits)
		out.WriteString(dump(el))
		if cap(d.buf) > max(fuzzLimits.MaxElementBytes, idleBufSize) {
			t.Fatalf("buffer grew to %d", cap(d.buf))
		}
	}
	switch {
	case err == ErrStreamClosed, err == io.EOF, err == io.ErrUnexpectedEOF:
		out.WriteString(err.Error())
	default:
		checkSyntaxError(t, err, -1)
		out.WriteString("error " + ErrorCondition(err))
	}
	return out.String()
}

// chunkReader returns data in reads of varying sizes derived from size.
type chunkReader struct {
	data []byte
	size int
	n    int
}

func (c *chunkReader) Read(p []byte) (int, error) {
	if len(c.data) == 0 {
		return 0, io.EOF
	}
	c.n++
	k := 1 + (c.size*c.n)%17
	k = min(k, len(p), len(c.data))
	copy(p, c.data[:k])
	c.data = c.data[k:]
	return k, nil
}

func checkSyntaxError(t *testing.T, err error, inputLen int) {
	t.Helper()
	var se *SyntaxError
	if !errors.As(err, &se) {
		t.Fatalf("error %v (%T) is not a SyntaxError", err, err)
	}
	switch se.Condition() {
	case CondNotWellFormed, CondPolicyViolation, CondRestrictedXML, CondInvalidNamespace, CondUnsupportedEncoding, CondBadFormat:
	default:
		t.Fatalf("unknown condition %q", se.Condition())
	}
	if se.Offset < 0 || inputLen >= 0 && se.Offset > inputLen {
		t.Fatalf("offset %d outside input of %d bytes", se.Offset, inputLen)
	}
}

func checkLimits(t *testing.T, el *Element, lim Limits) {
	t.Helper()
	if d := treeDepth(el); d > lim.MaxDepth {
		t.Fatalf("accepted depth %d > %d", d, lim.MaxDepth)
	}
	if n := maxAttrs(el); n > lim.MaxAttrs {
		t.Fatalf("accepted %d attributes > %d", n, lim.MaxAttrs)
	}
	if n := len(el.String()); n > 6*lim.MaxElementBytes+64*treeSize(el) {
		t.Fatalf("accepted an element serializing to %d bytes", n)
	}
}

func treeSize(e *Element) int {
	n := 1
	for _, c := range e.Children {
		n += treeSize(c)
	}
	return n
}

// checkAgainstEncodingXML cross-checks an accepted input with the standard
// library's strict parser: it must accept ASCII input we accept (we are
// stricter, never laxer), and whenever it accepts, the trees must agree.
func checkAgainstEncodingXML(t *testing.T, data []byte, el *Element) {
	t.Helper()
	std, err := stdParse(string(data))
	if err != nil {
		if isASCII(data) {
			t.Fatalf("accepted %q, which encoding/xml rejects: %v", data, err)
		}
		return
	}
	if got, want := dump(normalizeAttrSpace(el)), dump(normalizeAttrSpace(std)); got != want {
		t.Fatalf("tree differs from encoding/xml's for %q:\n%s\n%s", data, got, want)
	}
}

func isASCII(b []byte) bool {
	for _, c := range b {
		if c >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// normalizeAttrSpace copies e with whitespace in attribute values (and so in
// namespace names) mapped to spaces: encoding/xml does not normalize
// attribute values.
func normalizeAttrSpace(e *Element) *Element {
	c := e.Copy()
	spaces := func(s string) string {
		return strings.Map(func(r rune) rune {
			if r == '\t' || r == '\n' || r == '\r' {
				return ' '
			}
			return r
		}, s)
	}
	var walk func(*Element)
	walk = func(e *Element) {
		e.Space = spaces(e.Space)
		for i := range e.Attrs {
			e.Attrs[i].Value = spaces(e.Attrs[i].Value)
		}
		for _, k := range e.Children {
			walk(k)
		}
	}
	walk(c)
	return c
}

// stdParse builds an Element tree with encoding/xml, mapping names the way
// the decoder documents (xmlns dropped, xml:* kept, other prefixed
// attributes dropped).
func stdParse(s string) (*Element, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	d.Strict = true
	var stack []*Element
	var root *Element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			if root == nil || len(stack) > 0 {
				return nil, io.ErrUnexpectedEOF
			}
			return root, nil
		}
		if err != nil {
			return nil, err
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("second root")
			}
			el := &Element{Space: tok.Name.Space, Name: tok.Name.Local}
			for _, a := range tok.Attr {
				switch {
				case a.Name.Space == "xmlns", a.Name.Space == "" && a.Name.Local == "xmlns":
				case a.Name.Space == "":
					el.Attrs = append(el.Attrs, Attr{a.Name.Local, a.Value})
				case a.Name.Space == NSXML:
					el.Attrs = append(el.Attrs, Attr{"xml:" + a.Name.Local, a.Value})
				}
			}
			if len(stack) > 0 {
				stack[len(stack)-1].Add(el)
			} else {
				root = el
			}
			stack = append(stack, el)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(tok)
			} else if strings.Trim(string(tok), " \t\r\n") != "" {
				return nil, errors.New("text outside the root")
			}
		default:
			return nil, errors.New("comment, directive or processing instruction")
		}
	}
}

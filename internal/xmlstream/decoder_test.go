package xmlstream

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

const clientHeader = `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0' xml:lang='en'>`

// readAll reads a header and then elements until an error.
func readAll(t *testing.T, d *Decoder) (Header, []*Element, error) {
	t.Helper()
	h, err := d.ReadHeader()
	if err != nil {
		return h, nil, err
	}
	var els []*Element
	for {
		el, err := d.ReadElement()
		if err != nil {
			return h, els, err
		}
		els = append(els, el)
	}
}

func TestDecoderStream(t *testing.T) {
	in := clientHeader + `
	<stream:features><bind xmlns='urn:ietf:params:xml:ns:xmpp-bind'/></stream:features>
	<message to='a@b'><body>x</body></message>  ` + "\n\n " + `<iq type='get' id='1'><query xmlns='jabber:iq:roster'/></iq></stream:stream>trailing garbage`
	for name, r := range map[string]io.Reader{
		"whole":    strings.NewReader(in),
		"one byte": iotest.OneByteReader(strings.NewReader(in)),
		"half":     iotest.HalfReader(strings.NewReader(in)),
	} {
		t.Run(name, func(t *testing.T) {
			h, els, err := readAll(t, NewDecoder(r, Limits{}))
			if err != ErrStreamClosed {
				t.Fatalf("got %v, want ErrStreamClosed", err)
			}
			wantH := Header{Space: NSClient, To: "example.com", Version: "1.0", Lang: "en"}
			if h.Space != wantH.Space || h.To != wantH.To || h.Version != wantH.Version || h.Lang != wantH.Lang || h.From != "" || h.ID != "" || len(h.Prefixes) != 0 {
				t.Errorf("header %+v, want %+v", h, wantH)
			}
			want := []*Element{
				New(NSStream, "features").Add(New("urn:ietf:params:xml:ns:xmpp-bind", "bind")),
				New(NSClient, "message", "to", "a@b").Add(New(NSClient, "body").SetText("x")),
				New(NSClient, "iq", "type", "get", "id", "1").Add(New("jabber:iq:roster", "query")),
			}
			if len(els) != len(want) {
				t.Fatalf("got %d elements, want %d", len(els), len(want))
			}
			for i := range want {
				if dump(els[i]) != dump(want[i]) {
					t.Errorf("element %d:\n%s want\n%s", i, dump(els[i]), dump(want[i]))
				}
			}
		})
	}
}

func TestDecoderErrorsAreSticky(t *testing.T) {
	d := NewDecoder(strings.NewReader(clientHeader+`<a>&bogus;</a><b/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err1 := d.ReadElement()
	_, err2 := d.ReadElement()
	wantCondition(t, "first", err1, CondRestrictedXML)
	if err1 != err2 {
		t.Errorf("second call returned %v, want the same error %v", err2, err1)
	}
	if _, err := d.ReadHeader(); err != err1 {
		t.Errorf("ReadHeader after error: %v", err)
	}
}

func TestDecoderServerStreamWithDialbackPrefix(t *testing.T) {
	in := `<stream:stream xmlns='jabber:server' xmlns:stream='http://etherx.jabber.org/streams' xmlns:db='jabber:server:dialback' from='a.example' to='b.example' id='s1' version='1.0'>` +
		`<db:result from='a.example' to='b.example'>key</db:result><presence/></stream:stream>`
	h, els, err := readAll(t, NewDecoder(strings.NewReader(in), Limits{}))
	if err != ErrStreamClosed {
		t.Fatalf("got %v", err)
	}
	if h.Space != NSServer || h.From != "a.example" || h.ID != "s1" || len(h.Prefixes) != 1 || h.Prefixes[0] != (Prefix{"db", "jabber:server:dialback"}) {
		t.Errorf("header %+v", h)
	}
	if len(els) != 2 || !els[0].Is("jabber:server:dialback", "result") || els[0].Text != "key" || !els[1].Is(NSServer, "presence") {
		t.Errorf("elements %v", els)
	}
}

func TestDecoderStreamPrefixOtherThanStream(t *testing.T) {
	in := `<s:stream xmlns='jabber:client' xmlns:s='http://etherx.jabber.org/streams'><s:features/></s:stream>`
	_, els, err := readAll(t, NewDecoder(strings.NewReader(in), Limits{}))
	if err != ErrStreamClosed || len(els) != 1 || !els[0].Is(NSStream, "features") {
		t.Errorf("got %v %v", els, err)
	}
}

func TestDecoderRestartKeepsBufferedInput(t *testing.T) {
	// A client may pipeline its new header after SASL success.
	in := clientHeader + `<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl'/>` +
		`<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='example.com' version='1.0'>` +
		`<iq type='set' id='b'/>`
	d := NewDecoder(strings.NewReader(in), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.ReadElement(); err != nil || el.Name != "auth" {
		t.Fatalf("got %v %v", el, err)
	}
	h, err := d.ReadHeader()
	if err != nil || h.Lang != "" || h.To != "example.com" {
		t.Fatalf("restart header %+v %v", h, err)
	}
	el, err := d.ReadElement()
	if err != nil || !el.Is(NSClient, "iq") || el.Attr("id") != "b" {
		t.Fatalf("got %v %v", el, err)
	}
	if _, err := d.ReadElement(); err != io.EOF {
		t.Errorf("at end: %v, want io.EOF", err)
	}
}

func TestDecoderResetDiscardsBufferedInput(t *testing.T) {
	// Bytes that arrive with <starttls/> must not be processed after TLS.
	d := NewDecoder(strings.NewReader(clientHeader+`<starttls xmlns='urn:ietf:params:xml:ns:xmpp-tls'/><message to='injected'/>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.ReadElement(); err != nil || el.Name != "starttls" {
		t.Fatalf("got %v %v", el, err)
	}
	if d.Buffered() == 0 {
		t.Fatal("test needs the injected stanza to be buffered")
	}
	d.Reset(strings.NewReader(clientHeader + `<presence/>`))
	if d.Buffered() != 0 {
		t.Errorf("Buffered() = %d after Reset", d.Buffered())
	}
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.ReadElement(); err != nil || el.Name != "presence" {
		t.Errorf("got %v %v", el, err)
	}
}

func TestDecoderBOM(t *testing.T) {
	d := NewDecoder(strings.NewReader("\xEF\xBB\xBF"+clientHeader+"<a/>"), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.ReadElement(); err != nil || el.Name != "a" {
		t.Errorf("got %v %v", el, err)
	}
	_, err := NewDecoder(strings.NewReader("\xFF\xFE<\x00"), Limits{}).ReadHeader()
	wantCondition(t, "UTF-16 BOM", err, CondUnsupportedEncoding)
}

func TestDecoderHeaderErrors(t *testing.T) {
	const ns = ` xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'`
	tests := []struct{ in, cond string }{
		{`<?xml version='1.0' encoding='ISO-8859-1'?><stream:stream` + ns + `>`, CondUnsupportedEncoding},
		{`<?xml version='1.0' encoding='UTF-16'?><stream:stream` + ns + `>`, CondUnsupportedEncoding},
		{`<?xml version='2.0'?><stream:stream` + ns + `>`, CondNotWellFormed},
		{`<?xml encoding='UTF-8'?><stream:stream` + ns + `>`, CondNotWellFormed},
		{`<?xml version='1.0' standalone='maybe'?><stream:stream` + ns + `>`, CondNotWellFormed},
		{`<?xml version='1.0' bogus='1'?><stream:stream` + ns + `>`, CondNotWellFormed},
		{`<?xml-stylesheet href='x'?><stream:stream` + ns + `>`, CondRestrictedXML},
		{`<?xml version='1.0'?><?pi?><stream:stream` + ns + `>`, CondRestrictedXML},
		{`<!DOCTYPE stream><stream:stream` + ns + `>`, CondRestrictedXML},
		{`<!-- hi --><stream:stream` + ns + `>`, CondRestrictedXML},
		{`<stream:stream xmlns='jabber:client' xmlns:stream='urn:wrong'>`, CondInvalidNamespace},
		{`<stream:stream xmlns:stream='http://etherx.jabber.org/streams'>`, CondInvalidNamespace},
		{`<stream xmlns='http://etherx.jabber.org/streams'>`, CondInvalidNamespace},
		{`<stream:foo` + ns + `>`, CondInvalidNamespace},
		{`<stream:stream xmlns='jabber:client'>`, CondNotWellFormed},
		{`<stream:stream` + ns + `/>`, CondNotWellFormed},
		{`GET / HTTP/1.1` + "\r\n", CondNotWellFormed},
		{`<stream:stream` + ns + ` to='a' to='b'>`, CondNotWellFormed},
		{`<stream:stream` + ns + ` to='&x;'>`, CondRestrictedXML},
		{"<stream:stream" + ns + " to='\x00'>", CondNotWellFormed},
	}
	for _, tt := range tests {
		_, err := NewDecoder(strings.NewReader(tt.in), Limits{}).ReadHeader()
		wantCondition(t, tt.in, err, tt.cond)
	}
}

func TestDecoderHeaderVariants(t *testing.T) {
	for _, in := range []string{
		`<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>`,
		"\n <?xml version=\"1.0\" encoding=\"utf-8\" standalone='yes' ?>\n<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' >",
		`<?xml version='1.1'?><stream:stream xmlns:stream='http://etherx.jabber.org/streams' xmlns='jabber:client' to='a&amp;b'>`,
	} {
		h, err := NewDecoder(strings.NewReader(in), Limits{}).ReadHeader()
		if err != nil || h.Space != NSClient {
			t.Errorf("%q: %+v %v", in, h, err)
		}
	}
}

func TestDecoderElementErrors(t *testing.T) {
	tests := []struct{ in, cond string }{
		{`hello`, CondBadFormat},
		{`<![CDATA[x]]>`, CondBadFormat},
		{`<!-- c -->`, CondRestrictedXML},
		{`<?pi?>`, CondRestrictedXML},
		{`<!DOCTYPE x>`, CondRestrictedXML},
		{`<a><!-- c --></a>`, CondRestrictedXML},
		{`<a><?pi?></a>`, CondRestrictedXML},
		{`<a>&lol;</a>`, CondRestrictedXML},
		{`</stream:foo>`, CondNotWellFormed},
		{`</stream:stream` + strings.Repeat(" ", 100), CondNotWellFormed},
		{`<a></b>`, CondNotWellFormed},
		{`<a b='1' b='2'/>`, CondNotWellFormed},
		{`<a>` + "\x01" + `</a>`, CondNotWellFormed},
		{`<a></a b>`, CondNotWellFormed},
		{`<x:a/>`, CondNotWellFormed},
		{`<a><b></a></b>`, CondNotWellFormed},
		{`<a / >`, CondNotWellFormed},
	}
	for _, tt := range tests {
		d := NewDecoder(strings.NewReader(clientHeader+tt.in), Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		el, err := d.ReadElement()
		if err == nil {
			t.Errorf("%q: got %s, want %s", tt.in, el, tt.cond)
			continue
		}
		wantCondition(t, tt.in, err, tt.cond)
	}
}

func TestDecoderEOF(t *testing.T) {
	tests := []struct {
		in   string
		want error
	}{
		{"", io.EOF},
		{"   ", io.EOF},
		{clientHeader[:20], io.ErrUnexpectedEOF},
		{clientHeader + "<a>", io.ErrUnexpectedEOF},
		{clientHeader + "<", io.ErrUnexpectedEOF},
		{clientHeader + "</stream:str", io.ErrUnexpectedEOF},
		{clientHeader + "<a/> \n", io.EOF},
	}
	for _, tt := range tests {
		_, _, err := readAll(t, NewDecoder(strings.NewReader(tt.in), Limits{}))
		if err != tt.want {
			t.Errorf("%q: got %v, want %v", tt.in, err, tt.want)
		}
	}
}

// errReader returns data and then a transport error.
type errReader struct {
	data []byte
	err  error
}

func (r *errReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, r.err
	}
	n := copy(p, r.data)
	r.data = r.data[n:]
	return n, nil
}

func TestDecoderTransportErrorPassesThrough(t *testing.T) {
	boom := errors.New("connection reset")
	_, els, err := readAll(t, NewDecoder(&errReader{[]byte(clientHeader + "<a/><b>"), boom}, Limits{}))
	if err != boom || len(els) != 1 {
		t.Errorf("got %d elements, %v; want 1, %v", len(els), err, boom)
	}
}

func TestDecoderNoProgress(t *testing.T) {
	_, err := NewDecoder(&errReader{nil, nil}, Limits{}).ReadHeader()
	if err != io.ErrNoProgress {
		t.Errorf("got %v, want io.ErrNoProgress", err)
	}
}

func TestDecoderReadElementBeforeHeader(t *testing.T) {
	if _, err := NewDecoder(strings.NewReader("<a/>"), Limits{}).ReadElement(); err != ErrNoHeader {
		t.Errorf("ReadElement before ReadHeader: %v, want ErrNoHeader", err)
	}
}

// countingReader counts bytes handed out, to show the decoder stops reading
// once a limit is exceeded.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// endless is an unbounded source of the same byte.
type endless byte

func (e endless) Read(p []byte) (int, error) {
	for i := range p {
		p[i] = byte(e)
	}
	return len(p), nil
}

func TestDecoderElementSizeLimit(t *testing.T) {
	lim := Limits{MaxElementBytes: 4096}
	// An element that never ends is refused after MaxElementBytes.
	cr := &countingReader{r: io.MultiReader(strings.NewReader(clientHeader+"<message><body>"), endless('x'))}
	d := NewDecoder(cr, lim)
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err := d.ReadElement()
	wantCondition(t, "endless text", err, CondPolicyViolation)
	if cr.n > len(clientHeader)+2*lim.MaxElementBytes {
		t.Errorf("read %d bytes before refusing a %d-byte element", cr.n, lim.MaxElementBytes)
	}
	if cap(d.buf) > lim.MaxElementBytes {
		t.Errorf("buffer grew to %d, limit %d", cap(d.buf), lim.MaxElementBytes)
	}

	// Exactly at the limit is fine, one byte more is not.
	for _, tc := range []struct {
		size int
		ok   bool
	}{{lim.MaxElementBytes, true}, {lim.MaxElementBytes + 1, false}} {
		el := "<a>" + strings.Repeat("y", tc.size-7) + "</a>"
		d := NewDecoder(iotest.HalfReader(strings.NewReader(clientHeader+el+"<b/>")), lim)
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		got, err := d.ReadElement()
		if tc.ok && (err != nil || len(got.Text) != tc.size-7) {
			t.Errorf("size %d: %v", tc.size, err)
		}
		if !tc.ok {
			wantCondition(t, "over limit", err, CondPolicyViolation)
		}
	}
}

func TestDecoderDepthLimitStopsEarly(t *testing.T) {
	// Nesting deeper than the limit is refused as soon as it is seen, not
	// once the element is complete or too large.
	cr := &countingReader{r: io.MultiReader(strings.NewReader(clientHeader), strings.NewReader(strings.Repeat("<a>", 100)), endless('x'))}
	d := NewDecoder(cr, Limits{MaxDepth: 8})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err := d.ReadElement()
	wantCondition(t, "deep", err, CondPolicyViolation)
	if cr.n > len(clientHeader)+300+idleBufSize {
		t.Errorf("read %d bytes before refusing", cr.n)
	}
}

func TestDecoderWhitespaceKeepalivesAreNotBuffered(t *testing.T) {
	cr := &countingReader{r: io.MultiReader(strings.NewReader(clientHeader), io.LimitReader(endless(' '), 1<<20), strings.NewReader("<a/>"))}
	d := NewDecoder(cr, Limits{MaxElementBytes: 1024})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	el, err := d.ReadElement()
	if err != nil || el.Name != "a" {
		t.Fatalf("got %v %v", el, err)
	}
	if cap(d.buf) > idleBufSize {
		t.Errorf("1 MiB of whitespace grew the buffer to %d", cap(d.buf))
	}
}

func TestDecoderHeaderSizeLimit(t *testing.T) {
	in := io.MultiReader(strings.NewReader(`<stream:stream xmlns='jabber:client' to='`), endless('a'))
	_, err := NewDecoder(in, Limits{MaxElementBytes: 2048}).ReadHeader()
	wantCondition(t, "endless header", err, CondPolicyViolation)
	in = io.MultiReader(strings.NewReader(`<?xml version='1.0' `), endless(' '))
	_, err = NewDecoder(in, Limits{MaxElementBytes: 2048}).ReadHeader()
	wantCondition(t, "endless declaration", err, CondPolicyViolation)
}

// pausingReader hands out one chunk per Read, like a socket with the peer
// pausing between chunks.
type pausingReader struct{ chunks [][]byte }

func (r *pausingReader) Read(p []byte) (int, error) {
	if len(r.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.chunks[0])
	r.chunks[0] = r.chunks[0][n:]
	if len(r.chunks[0]) == 0 {
		r.chunks = r.chunks[1:]
	}
	return n, nil
}

func TestDecoderShrinksBufferWhenIdle(t *testing.T) {
	big := "<message><body>" + strings.Repeat("z", 20000) + "</body></message>"
	r := &pausingReader{chunks: [][]byte{[]byte(clientHeader), []byte(big), []byte("<presence/>")}}
	d := NewDecoder(r, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if el, err := d.ReadElement(); err != nil || len(el.Child("", "body").Text) != 20000 {
		t.Fatalf("big element: %v", err)
	}
	if cap(d.buf) > idleBufSize {
		t.Errorf("buffer still %d bytes after a big element, with the peer idle", cap(d.buf))
	}
	if el, err := d.ReadElement(); err != nil || el.Name != "presence" {
		t.Fatalf("got %v %v", el, err)
	}
}

func TestDecoderElementsDoNotAliasBuffer(t *testing.T) {
	d := NewDecoder(strings.NewReader(clientHeader+`<a x='1'>t</a><b y='2'>u</b>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	a, _ := d.ReadElement()
	b, _ := d.ReadElement()
	for i := range d.buf {
		d.buf[i] = '#'
	}
	if a.Attr("x") != "1" || a.Text != "t" || b.Attr("y") != "2" || b.Text != "u" {
		t.Errorf("elements changed with the buffer: %s %s", a, b)
	}
}

func TestDecoderManyElementsInOneRead(t *testing.T) {
	var in bytes.Buffer
	in.WriteString(clientHeader)
	for range 1000 {
		in.WriteString(`<message to='x@y'><body>hello</body></message>`)
	}
	in.WriteString(`</stream:stream>`)
	_, els, err := readAll(t, NewDecoder(&in, Limits{}))
	if err != ErrStreamClosed || len(els) != 1000 {
		t.Errorf("got %d elements, %v", len(els), err)
	}
}

// footprint estimates the heap a Decoder holds beyond its own struct.
func footprint(d *Decoder) int {
	const ptr = 8
	n := cap(d.buf)
	p := &d.p
	n += cap(p.frames) * int(unsafeSizeofFrame)
	for _, f := range p.frames[:cap(p.frames)] {
		n += cap(f.textBuf)
	}
	n += cap(p.kids)*ptr + cap(p.bindings)*4*ptr + cap(p.attrs)*int(unsafeSizeofRawAttr) + cap(p.scratch)
	n += cap(d.ctx.bindings) * 4 * ptr
	return n
}

func TestDecoderIdleFootprint(t *testing.T) {
	var attrs strings.Builder
	for i := range DefaultMaxAttrs - 1 {
		attrs.WriteString(" a" + strings.Repeat("x", i) + "='&amp;" + strings.Repeat("v", 300) + "'")
	}
	deep := strings.Repeat("<d>"+strings.Repeat("&lt;", 1000), DefaultMaxDepth-1) + strings.Repeat("</d>", DefaultMaxDepth-1)
	heavy := "<message" + attrs.String() + ">" + deep + strings.Repeat("<x xmlns:p='urn:p'/>", 5000) + "</message>"
	r := &pausingReader{chunks: [][]byte{[]byte(clientHeader), []byte(heavy), []byte("<presence/>")}}
	d := NewDecoder(r, Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if n := footprint(d); n > 4096 {
		t.Errorf("idle decoder holds about %d bytes after a heavy element", n)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	if n := footprint(d); n > 4096 {
		t.Errorf("idle decoder holds about %d bytes", n)
	}
}

func TestDecoderParsedInputNotPinned(t *testing.T) {
	// After an element is returned, the decoder's scratch must not point
	// into it: a retained scratch string would pin the whole element.
	d := NewDecoder(strings.NewReader(clientHeader+`<a x='1' xmlns:p='urn:p'><b>t</b></a>`), Limits{})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	if _, err := d.ReadElement(); err != nil {
		t.Fatal(err)
	}
	p := &d.p
	if p.s != "" {
		t.Error("parser keeps its input")
	}
	for _, f := range p.frames[:cap(p.frames)] {
		if f.el != nil || f.qname != "" || f.text != "" {
			t.Errorf("frame keeps %+v", f)
		}
	}
	for _, a := range p.attrs[:cap(p.attrs)] {
		if a != (rawAttr{}) {
			t.Errorf("attr scratch keeps %+v", a)
		}
	}
	for _, b := range p.bindings[:cap(p.bindings)] {
		if b != (nsBinding{}) {
			t.Errorf("binding scratch keeps %+v", b)
		}
	}
	for _, k := range p.kids[:cap(p.kids)] {
		if k != nil {
			t.Error("kids scratch keeps an element")
		}
	}
}

func TestParserReuse(t *testing.T) {
	p := NewParser(Limits{MaxDepth: 3})
	for i, in := range []string{`<a><b>x</b></a>`, `<c xmlns='urn:c' d='e'/>`, `<a><b><c><d/></c></b></a>`, `<f>&amp;</f>`} {
		el, err := p.Parse([]byte(in), NSClient)
		switch i {
		case 2:
			wantCondition(t, in, err, CondPolicyViolation)
		default:
			if err != nil {
				t.Fatalf("%q: %v", in, err)
			}
			again, _ := ParseElementIn([]byte(in), Limits{}, NSClient)
			if dump(el) != dump(again) {
				t.Errorf("%q: reused parser gave\n%s want\n%s", in, dump(el), dump(again))
			}
		}
	}
}

func TestDecoderRefusesMalformedTagsWithoutWaiting(t *testing.T) {
	// The peer sends a broken tag and then nothing: the decoder must not
	// wait for the element's end.
	wouldBlock := errors.New("would block")
	for _, in := range []string{`<a>< b>`, `<a/ x>`, `<a><1>`, `<a b='1' <c>`, `<a><:b>`, `<a><!-- x`, `<a><?x`} {
		d := NewDecoder(&errReader{[]byte(clientHeader + in), wouldBlock}, Limits{})
		if _, err := d.ReadHeader(); err != nil {
			t.Fatal(err)
		}
		_, err := d.ReadElement()
		if ErrorCondition(err) == "" {
			t.Errorf("%q: got %v, want a SyntaxError before reading on", in, err)
		}
	}
}

func TestDecoderSizeLimitBelowBufferSize(t *testing.T) {
	// With a limit smaller than one read, the element is refused on size,
	// not on whatever follows the limit.
	in := `<stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams'>` + "<a>" + strings.Repeat("x", 200) + "<b></c>"
	d := NewDecoder(strings.NewReader(in), Limits{MaxElementBytes: 100})
	if _, err := d.ReadHeader(); err != nil {
		t.Fatal(err)
	}
	_, err := d.ReadElement()
	wantCondition(t, in, err, CondPolicyViolation)
}

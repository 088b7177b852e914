package xmlstream

import (
	"bytes"
	"strings"
)

// Header is a stream header: the attributes of <stream:stream> (TCP) or of
// <open/> (WebSocket).
type Header struct {
	Space   string // content namespace: "jabber:client", "jabber:server", ...
	To      string // the domain the stream is for
	From    string // the sender's domain or JID, if it says
	ID      string // stream ID, set by the receiving entity
	Version string // "1.0" for RFC 6120 peers
	Lang    string // xml:lang
	// Prefixes are extra prefix declarations on the stream header, such as
	// db for "jabber:server:dialback"; the stream prefix is not listed.
	Prefixes []Prefix
}

// Prefix is one namespace prefix declaration.
type Prefix struct {
	Prefix string
	URI    string
}

// Append appends the XML declaration and the stream's opening tag.
func (h Header) Append(buf []byte) []byte {
	buf = append(buf, `<?xml version="1.0"?><stream:stream xmlns="`...)
	buf = appendEscaped(buf, h.Space, true)
	buf = append(buf, `" xmlns:stream="`+NSStream+`"`...)
	for _, p := range h.Prefixes {
		buf = appendAttr(buf, "xmlns:"+p.Prefix, p.URI)
	}
	buf = h.appendAttrs(buf)
	return append(buf, '>')
}

// AppendClose appends the stream's closing tag.
func AppendClose(buf []byte) []byte { return append(buf, "</stream:stream>"...) }

// AppendOpen appends the WebSocket equivalent of the header, the RFC 7395
// <open/> element. Space and Prefixes do not apply there.
func (h Header) AppendOpen(buf []byte) []byte {
	buf = append(buf, `<open xmlns="`+NSFraming+`"`...)
	buf = h.appendAttrs(buf)
	return append(buf, "/>"...)
}

func (h Header) appendAttrs(buf []byte) []byte {
	for _, a := range [...]Attr{{"to", h.To}, {"from", h.From}, {"id", h.ID}, {"version", h.Version}, {"xml:lang", h.Lang}} {
		if a.Value != "" {
			buf = appendAttr(buf, a.Name, a.Value)
		}
	}
	return buf
}

func appendAttr(buf []byte, name, value string) []byte {
	buf = append(buf, ' ')
	buf = append(buf, name...)
	buf = append(buf, `="`...)
	buf = appendEscaped(buf, value, true)
	return append(buf, '"')
}

// HeaderFromOpen reads a WebSocket <open/> element (RFC 7395 §3.3.1) as a
// Header; Space is left empty.
func HeaderFromOpen(el *Element) (Header, error) {
	if !el.Is(NSFraming, "open") {
		return Header{}, syntaxErr(CondInvalidNamespace, 0, "expected <open xmlns='"+NSFraming+"'/>")
	}
	return Header{
		To: el.Attr("to"), From: el.Attr("from"), ID: el.Attr("id"),
		Version: el.Attr("version"), Lang: el.Attr("xml:lang"),
	}, nil
}

// ReadHeader reads an optional XML declaration and the stream's opening tag.
// Call it again after a stream restart (SASL success); after STARTTLS call
// Reset with the TLS connection first.
func (d *Decoder) ReadHeader() (Header, error) {
	if d.err != nil {
		return Header{}, d.err
	}
	d.restart()
	h, err := d.readHeader()
	if err != nil {
		d.err = err
		return Header{}, err
	}
	d.inHeader = true
	return h, nil
}

func (d *Decoder) readHeader() (Header, error) {
	if err := d.skipBOM(); err != nil {
		return Header{}, err
	}
	tag, err := d.readMarkup(true)
	if err != nil {
		return Header{}, err
	}
	if bytes.HasPrefix(tag, []byte("<?")) {
		if err := checkDeclaration(tag); err != nil {
			return Header{}, err
		}
		d.start += len(tag)
		if tag, err = d.readMarkup(false); err != nil {
			return Header{}, err
		}
	}
	h, err := d.parseStreamTag(tag)
	if err != nil {
		return Header{}, err
	}
	d.start += len(tag)
	return h, nil
}

// skipBOM drops a UTF-8 byte order mark at the very start of the transport
// and refuses UTF-16 ones.
func (d *Decoder) skipBOM() error {
	if !d.firstRead {
		return nil
	}
	for d.end-d.start < 3 {
		if err := d.fill(); err != nil {
			if d.end > d.start {
				break // shorter than a BOM; let the header parser judge
			}
			return err
		}
	}
	d.firstRead = false
	b := d.buf[d.start:d.end]
	switch {
	case bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")):
		d.start += 3
	case bytes.HasPrefix(b, []byte("\xFE\xFF")), bytes.HasPrefix(b, []byte("\xFF\xFE")):
		return syntaxErr(CondUnsupportedEncoding, 0, "only UTF-8 is supported")
	}
	return nil
}

// readMarkup skips whitespace and returns the next "<...>" (an XML
// declaration if allowDecl, else a start tag), still buffered.
func (d *Decoder) readMarkup(allowDecl bool) ([]byte, error) {
	fr := framer{state: inStartTag, pos: 1}
	for {
		for d.start < d.end && isSpace(d.buf[d.start]) {
			d.start++
		}
		if tag, err := d.scanMarkup(&fr, allowDecl); tag != nil || err != nil {
			return tag, err
		}
		if d.end-d.start >= d.lim.MaxElementBytes {
			return nil, syntaxErr(CondPolicyViolation, d.lim.MaxElementBytes, "stream header too large")
		}
		if err := d.fill(); err != nil {
			if d.start < d.end {
				return nil, unexpected(err)
			}
			return nil, err
		}
	}
}

// scanMarkup looks for the end of the header markup in the buffered input;
// it returns nil, nil when more input is needed.
func (d *Decoder) scanMarkup(fr *framer, allowDecl bool) ([]byte, error) {
	b := d.buf[d.start:min(d.end, d.start+d.lim.MaxElementBytes)]
	if len(b) < 2 {
		return nil, nil
	}
	if b[0] != '<' {
		return nil, syntaxErr(CondNotWellFormed, 0, "expected a stream header")
	}
	switch b[1] {
	case '!':
		return nil, syntaxErr(CondRestrictedXML, 0, "comments and DTDs are not allowed")
	case '?':
		if len(b) < 6 && allowDecl {
			return nil, nil
		}
		if !allowDecl || !bytes.HasPrefix(b, []byte("<?xml")) || !isSpace(b[5]) {
			return nil, syntaxErr(CondRestrictedXML, 0, "processing instructions are not allowed")
		}
		// fr.pos remembers how far we looked, so a trickling declaration
		// is scanned once.
		if i := bytes.Index(b[fr.pos:], []byte("?>")); i >= 0 {
			return b[:fr.pos+i+2], nil
		}
		fr.pos = max(fr.pos, len(b)-1)
		return nil, nil
	}
	if n := fr.tagEnd(b); n > 0 {
		return b[:n], nil
	}
	return nil, nil
}

// checkDeclaration checks an XML declaration: version 1.x, UTF-8.
func checkDeclaration(decl []byte) error {
	s := string(decl)
	if bad := invalidCharAt(decl); bad >= 0 {
		return syntaxErr(CondNotWellFormed, bad, "invalid character in XML declaration")
	}
	// "<?xml version='1.0'?>" scans like the start tag "<xml version='1.0'/>".
	p := parser{s: "<xml" + s[5:len(s)-2] + "/>", lim: Limits{MaxAttrs: 3}.withDefaults()}
	if _, err := p.scanStartTag(); err != nil {
		return syntaxErr(CondNotWellFormed, 0, "malformed XML declaration")
	}
	want := [...]string{"version", "encoding", "standalone"}
	next := 0
	for _, a := range p.attrs {
		for next < len(want) && want[next] != a.qname {
			next++
		}
		if next == len(want) {
			return syntaxErr(CondNotWellFormed, 0, "malformed XML declaration")
		}
		switch a.qname {
		case "version":
			if len(a.raw) < 3 || a.raw[:2] != "1." || strings.Trim(a.raw[2:], "0123456789") != "" {
				return syntaxErr(CondNotWellFormed, 0, "unsupported XML version")
			}
		case "encoding":
			if !strings.EqualFold(a.raw, "UTF-8") {
				return syntaxErr(CondUnsupportedEncoding, 0, "only UTF-8 is supported")
			}
		case "standalone":
			if a.raw != "yes" && a.raw != "no" {
				return syntaxErr(CondNotWellFormed, 0, "malformed XML declaration")
			}
		}
	}
	if len(p.attrs) == 0 || p.attrs[0].qname != "version" {
		return syntaxErr(CondNotWellFormed, 0, "XML declaration without version")
	}
	return nil
}

// parseStreamTag checks the stream's opening tag and records its namespace
// context for the elements that follow.
func (d *Decoder) parseStreamTag(raw []byte) (Header, error) {
	if bad := invalidCharAt(raw); bad >= 0 {
		return Header{}, syntaxErr(CondNotWellFormed, bad, "invalid UTF-8 or character not allowed in XML")
	}
	tag := string(raw)
	p := &d.p
	defer p.release()
	p.s, p.pos = tag, 0
	p.bindings, p.frames, p.kids = p.bindings[:0], p.frames[:0], p.kids[:0]
	open, err := p.scanStartTag()
	if err != nil {
		return Header{}, err
	}
	if !open {
		return Header{}, syntaxErr(CondNotWellFormed, 0, "self-closing stream header")
	}
	defaultNS, err := p.declareNamespaces("")
	if err != nil {
		return Header{}, err
	}
	el, err := p.buildElement(0, defaultNS)
	if err != nil {
		return Header{}, err
	}
	if !el.Is(NSStream, "stream") {
		return Header{}, syntaxErr(CondInvalidNamespace, 1, "the root element must be <stream:stream xmlns:stream='"+NSStream+"'>")
	}
	if defaultNS == "" || defaultNS == NSStream {
		return Header{}, syntaxErr(CondInvalidNamespace, 1, "the stream declares no content namespace")
	}
	h := Header{
		Space: defaultNS, To: el.Attr("to"), From: el.Attr("from"), ID: el.Attr("id"),
		Version: el.Attr("version"), Lang: el.Attr("xml:lang"),
	}
	for _, b := range p.bindings {
		if b.uri != NSStream {
			h.Prefixes = append(h.Prefixes, Prefix{Prefix: b.prefix, URI: b.uri})
		}
	}
	d.ctx = nsContext{defaultNS: defaultNS, bindings: append([]nsBinding(nil), p.bindings...)}
	d.rootQName = p.tagName
	return h, nil
}

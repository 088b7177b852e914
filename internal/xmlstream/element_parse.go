package xmlstream

// ParseElement parses b as exactly one complete element, as carried by one
// WebSocket message (RFC 7395): stanzas, <open/>, <close/>, <stream:features>.
// Whitespace around the element is allowed; anything else around it is an
// error, as are XML declarations. Unprefixed elements that declare no
// namespace get Space "". Names, attributes and text are treated as by
// Decoder (attributes in namespaces other than xml are dropped). Errors are
// *SyntaxError.
func ParseElement(b []byte, lim Limits) (*Element, error) {
	return ParseElementIn(b, lim, "")
}

// ParseElementIn is ParseElement with defaultSpace as the namespace of
// unprefixed elements that declare none, for peers that rely on the
// WebSocket session's content namespace (jabber:client) instead of declaring
// it on every stanza.
func ParseElementIn(b []byte, lim Limits, defaultSpace string) (*Element, error) {
	return NewParser(lim).Parse(b, defaultSpace)
}

// Parser parses one complete element at a time, like ParseElementIn, reusing
// its scratch memory between calls: keep one per WebSocket connection. It
// keeps no reference to b or to returned elements. A Parser is used by one
// goroutine.
type Parser struct {
	p parser // scratch; owned by the caller's read loop
}

// NewParser returns a Parser with the given limits (zero fields take their
// defaults).
func NewParser(lim Limits) *Parser {
	return &Parser{p: parser{lim: lim.withDefaults()}}
}

// Parse parses b as exactly one element; see ParseElementIn.
func (ps *Parser) Parse(b []byte, defaultSpace string) (*Element, error) {
	lim := ps.p.lim
	start, end := 0, len(b)
	for start < end && isSpace(b[start]) {
		start++
	}
	for end > start && isSpace(b[end-1]) {
		end--
	}
	if end-start > lim.MaxElementBytes {
		return nil, syntaxErr(CondPolicyViolation, start+lim.MaxElementBytes, "element too large")
	}
	if start == end {
		return nil, syntaxErr(CondNotWellFormed, start, "no element")
	}
	if b[start] != '<' {
		return nil, syntaxErr(CondNotWellFormed, start, "character data outside an element")
	}
	if end-start > 1 {
		switch b[start+1] {
		case '?':
			return nil, syntaxErr(CondRestrictedXML, start, "processing instructions are not allowed")
		case '!':
			return nil, syntaxErr(CondRestrictedXML, start, "comments and DTDs are not allowed")
		}
	}
	el, n, err := ps.p.parseElement(b[start:end], nsContext{defaultNS: defaultSpace})
	if err != nil {
		return nil, shift(err, start)
	}
	if n != end-start {
		return nil, syntaxErr(CondNotWellFormed, start+n, "data after the element")
	}
	return el, nil
}

// shift moves a SyntaxError's offset by delta.
func shift(err error, delta int) error {
	if se, ok := err.(*SyntaxError); ok && delta != 0 {
		se.Offset += delta
	}
	return err
}

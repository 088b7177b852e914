package xmlstream

import "strings"

// scanQName reads a qualified name (NCName or NCName:NCName) at s[i].
func scanQName(s string, i int) (prefix, local string, end int, ok bool) {
	e := scanNCName(s, i)
	if e == i {
		return "", "", i, false
	}
	if e < len(s) && s[e] == ':' {
		e2 := scanNCName(s, e+1)
		if e2 == e+1 {
			return "", "", e, false
		}
		return s[i:e], s[e+1 : e2], e2, true
	}
	return "", s[i:e], e, true
}

func (p *parser) skipSpace() bool {
	start := p.pos
	for p.pos < len(p.s) && isSpace(p.s[p.pos]) {
		p.pos++
	}
	return p.pos > start
}

// startTag parses the start tag at p.pos, attaches the new element to its
// parent and, unless the tag was self-closing, opens a frame for it.
func (p *parser) startTag(parentNS string) (*Element, error) {
	tagStart := p.pos
	open, err := p.scanStartTag()
	if err != nil {
		return nil, err
	}
	depth := len(p.frames) + 1
	if depth > p.lim.MaxDepth {
		return nil, p.fail(CondPolicyViolation, tagStart, "elements nested too deeply")
	}
	nBindings := len(p.bindings)
	defaultNS, err := p.declareNamespaces(parentNS)
	if err != nil {
		return nil, err
	}
	el, err := p.buildElement(tagStart, defaultNS)
	if err != nil {
		return nil, err
	}
	if len(p.frames) > 0 {
		p.kids = append(p.kids, el)
	}
	if !open {
		p.bindings = p.bindings[:nBindings]
		return el, nil
	}
	if len(p.frames) < cap(p.frames) {
		p.frames = p.frames[:len(p.frames)+1] // keep the slot's textBuf
	} else {
		p.frames = append(p.frames, frame{})
	}
	f := &p.frames[len(p.frames)-1]
	f.el, f.qname, f.defaultNS = el, p.tagName, defaultNS
	f.nBindings, f.nKids = nBindings, len(p.kids)
	f.textBuf, f.bufUsed, f.text = f.textBuf[:0], false, ""
	return el, nil
}

// scanStartTag reads the start tag at p.pos into p.attrs, checking its
// syntax, and reports whether it leaves the element open (is not "/>").
func (p *parser) scanStartTag() (open bool, err error) {
	s := p.s
	p.pos++ // '<'
	prefix, local, end, ok := scanQName(s, p.pos)
	if !ok {
		return false, p.fail(CondNotWellFormed, p.pos, "expected an element name")
	}
	p.tagName, p.tagPrefix, p.tagLocal = s[p.pos:end], prefix, local
	p.pos = end
	p.attrs = p.attrs[:0]
	for {
		spaced := p.skipSpace()
		if p.pos >= len(s) {
			return false, p.fail(CondNotWellFormed, p.pos, "unexpected end of input in a start tag")
		}
		switch s[p.pos] {
		case '>':
			p.pos++
			return true, nil
		case '/':
			if p.pos+1 < len(s) && s[p.pos+1] == '>' {
				p.pos += 2
				return false, nil
			}
			return false, p.fail(CondNotWellFormed, p.pos, "expected '/>'")
		}
		if !spaced {
			return false, p.fail(CondNotWellFormed, p.pos, "expected whitespace before an attribute")
		}
		if err := p.scanAttr(); err != nil {
			return false, err
		}
		if len(p.attrs) > p.lim.MaxAttrs {
			return false, p.fail(CondPolicyViolation, p.attrs[len(p.attrs)-1].off, "too many attributes")
		}
	}
}

// scanAttr reads one name="value" pair at p.pos.
func (p *parser) scanAttr() error {
	s := p.s
	off := p.pos
	prefix, local, end, ok := scanQName(s, p.pos)
	if !ok {
		return p.fail(CondNotWellFormed, p.pos, "expected an attribute name")
	}
	qname := s[off:end]
	p.pos = end
	p.skipSpace()
	if p.pos >= len(s) || s[p.pos] != '=' {
		return p.fail(CondNotWellFormed, p.pos, "expected '=' after attribute "+qname)
	}
	p.pos++
	p.skipSpace()
	if p.pos >= len(s) || (s[p.pos] != '"' && s[p.pos] != '\'') {
		return p.fail(CondNotWellFormed, p.pos, "expected a quoted value for attribute "+qname)
	}
	q := s[p.pos]
	p.pos++
	n := strings.IndexByte(s[p.pos:], q)
	if n < 0 {
		return p.fail(CondNotWellFormed, len(s), "unterminated attribute value")
	}
	raw := s[p.pos : p.pos+n]
	if lt := strings.IndexByte(raw, '<'); lt >= 0 {
		return p.fail(CondNotWellFormed, p.pos+lt, "'<' in an attribute value")
	}
	for _, a := range p.attrs {
		if a.qname == qname {
			return p.fail(CondNotWellFormed, off, "duplicate attribute "+qname)
		}
	}
	p.attrs = append(p.attrs, rawAttr{qname: qname, prefix: prefix, local: local, raw: raw, off: off})
	p.pos += n + 1
	return nil
}

// attrValue decodes an attribute value; plain values are substrings of the
// input.
func (p *parser) attrValue(a *rawAttr) (string, error) {
	if !needsDecoding(a.raw) {
		return a.raw, nil
	}
	valueOff := a.off + len(a.qname) // near enough for error reports
	buf, err := p.decode(p.scratch[:0], a.raw, valueOff, true)
	p.scratch = buf
	if err != nil {
		return "", err
	}
	return string(buf), nil
}

// needsDecoding reports whether an attribute value holds references or
// whitespace that normalization turns into spaces.
func needsDecoding(v string) bool {
	for i := 0; i < len(v); i++ {
		switch v[i] {
		case '&', '\t', '\n', '\r':
			return true
		}
	}
	return false
}

// declareNamespaces applies the start tag's namespace declarations and
// returns the default namespace in force for the element.
func (p *parser) declareNamespaces(parentNS string) (string, error) {
	defaultNS := parentNS
	for i := range p.attrs {
		a := &p.attrs[i]
		switch {
		case a.prefix == "" && a.local == "xmlns":
			v, err := p.attrValue(a)
			if err != nil {
				return "", err
			}
			if v == NSXML || v == nsXMLNS {
				return "", p.fail(CondNotWellFormed, a.off, "reserved namespace as default namespace")
			}
			defaultNS = v
		case a.prefix == "xmlns":
			v, err := p.attrValue(a)
			if err != nil {
				return "", err
			}
			if err := p.bindPrefix(a, v); err != nil {
				return "", err
			}
		}
	}
	return defaultNS, nil
}

// bindPrefix checks and records xmlns:prefix="uri" (Namespaces in XML 1.0 §3).
func (p *parser) bindPrefix(a *rawAttr, uri string) error {
	switch {
	case a.local == "xml":
		if uri != NSXML {
			return p.fail(CondNotWellFormed, a.off, "the xml prefix cannot be rebound")
		}
		return nil // predeclared
	case a.local == "xmlns":
		return p.fail(CondNotWellFormed, a.off, "the xmlns prefix cannot be declared")
	case uri == "":
		return p.fail(CondNotWellFormed, a.off, "a prefix cannot be undeclared")
	case uri == NSXML || uri == nsXMLNS:
		return p.fail(CondNotWellFormed, a.off, "reserved namespace bound to a prefix")
	}
	p.bindings = append(p.bindings, nsBinding{prefix: a.local, uri: uri})
	return nil
}

// lookup resolves a prefix other than xml and xmlns.
func (p *parser) lookup(prefix string) (string, bool) {
	for i := len(p.bindings) - 1; i >= 0; i-- {
		if p.bindings[i].prefix == prefix {
			return p.bindings[i].uri, true
		}
	}
	return "", false
}

// buildElement resolves the tag's names and builds its Element. Attributes
// with a prefix other than xml are checked but dropped (see Decoder).
func (p *parser) buildElement(tagStart int, defaultNS string) (*Element, error) {
	prefix := p.tagPrefix
	el := &p.elems.take(1)[0]
	el.Name, el.Space = p.tagLocal, defaultNS
	switch prefix {
	case "":
	case "xml", "xmlns":
		return nil, p.fail(CondNotWellFormed, tagStart+1, "element with reserved prefix "+prefix)
	default:
		uri, ok := p.lookup(prefix)
		if !ok {
			return nil, p.fail(CondNotWellFormed, tagStart+1, "undeclared prefix "+prefix)
		}
		el.Space = uri
	}
	kept := 0
	for i := range p.attrs {
		a := &p.attrs[i]
		if a.prefix == "" && a.local != "xmlns" || a.prefix == "xml" {
			kept++
		}
	}
	if kept > 0 {
		el.Attrs = p.attrSlab.take(kept)[:0]
	}
	for i := range p.attrs {
		a := &p.attrs[i]
		switch {
		case a.prefix == "" && a.local == "xmlns", a.prefix == "xmlns":
			continue
		case a.prefix == "" || a.prefix == "xml":
			v, err := p.attrValue(a)
			if err != nil {
				return nil, err
			}
			el.Attrs = append(el.Attrs, Attr{Name: a.qname, Value: v})
		default:
			if err := p.checkForeignAttr(i); err != nil {
				return nil, err
			}
		}
	}
	return el, nil
}

// checkForeignAttr checks an attribute in another namespace: its prefix must
// be declared, it must not repeat another's expanded name, and its value must
// be well-formed, even though it is then dropped. Earlier foreign attributes
// have their namespace in uri already.
func (p *parser) checkForeignAttr(i int) error {
	a := &p.attrs[i]
	uri, ok := p.lookup(a.prefix)
	if !ok {
		return p.fail(CondNotWellFormed, a.off, "undeclared prefix "+a.prefix)
	}
	a.uri = uri
	for j := range i {
		if b := &p.attrs[j]; b.uri == uri && b.local == a.local {
			return p.fail(CondNotWellFormed, a.off, "duplicate attribute "+a.qname)
		}
	}
	_, err := p.attrValue(a)
	return err
}

// endTag parses the end tag at p.pos and closes the innermost element.
func (p *parser) endTag() error {
	s := p.s
	top := &p.frames[len(p.frames)-1]
	start := p.pos
	nameStart := p.pos + 2
	if !strings.HasPrefix(s[nameStart:], top.qname) {
		return p.fail(CondNotWellFormed, start, "end tag does not match <"+top.qname+">")
	}
	p.pos = nameStart + len(top.qname)
	p.skipSpace()
	if p.pos >= len(s) || s[p.pos] != '>' {
		return p.fail(CondNotWellFormed, start, "end tag does not match <"+top.qname+">")
	}
	p.pos++
	p.closeFrame(top)
	return nil
}

// closeFrame finishes the innermost element and pops it.
func (p *parser) closeFrame(f *frame) {
	el := f.el
	if f.bufUsed {
		el.Text = string(f.textBuf)
	} else {
		el.Text = f.text
	}
	if n := len(p.kids) - f.nKids; n > 0 {
		el.Children = p.kidSlab.take(n)
		copy(el.Children, p.kids[f.nKids:])
		clear(p.kids[f.nKids:])
		p.kids = p.kids[:f.nKids]
	}
	p.bindings = p.bindings[:f.nBindings]
	f.el, f.text = nil, ""
	p.frames = p.frames[:len(p.frames)-1]
}

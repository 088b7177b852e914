package xmlstream

import (
	"strings"
	"unicode/utf8"
)

// nsXMLNS is the namespace of namespace declarations; nothing may be bound
// to it.
const nsXMLNS = "http://www.w3.org/2000/xmlns/"

// nsBinding is one prefix declaration in scope.
type nsBinding struct {
	prefix, uri string
}

// nsContext is the namespace context an element is parsed in: the default
// namespace and the prefixes declared by its ancestors (for a top-level
// element on TCP, by the stream header).
type nsContext struct {
	defaultNS string
	bindings  []nsBinding
}

// rawAttr is one attribute of the start tag being parsed.
type rawAttr struct {
	qname  string // as written, e.g. "xml:lang"
	prefix string // "" when unprefixed
	local  string
	raw    string // value as written, between the quotes
	off    int    // offset of the name, for errors
	uri    string // namespace of a foreign prefixed attribute, once resolved
}

// frame is one open element.
type frame struct {
	el        *Element
	qname     string // raw name of the start tag, which the end tag must repeat
	defaultNS string // default namespace in force for the children
	nBindings int    // len(parser.bindings) before this element's declarations
	nKids     int    // len(parser.kids) when the element opened
	text      string // character data, while it is a single undecoded run
	textBuf   []byte // character data once it needs decoding or concatenation
	bufUsed   bool   // textBuf, not text, holds the character data
}

// parser turns one complete element (held in a string, so that names and
// plain values can be substrings of it without copies) into an Element tree.
// A parser is reused by its owner (a Decoder or one ParseElement call) and is
// not safe for concurrent use.
type parser struct {
	lim       Limits      // with defaults applied
	s         string      // input being parsed; owned by the current parse call
	pos       int         // read position in s
	bindings  []nsBinding // prefixes in scope, innermost last
	frames    []frame     // open elements, root first
	kids      []*Element  // children of open elements, collected before they close
	attrs     []rawAttr   // attributes of the start tag being parsed
	tagName   string      // name of the start tag being parsed, as written
	tagPrefix string      // its prefix ("" if none)
	tagLocal  string      // its local part
	scratch   []byte      // decoding buffer for attribute values

	// Arrays the parsed tree is carved from, fresh for each parse.
	elems    slab[Element]
	attrSlab slab[Attr]
	kidSlab  slab[*Element]
}

// Bounds on the scratch memory a parser keeps between elements, so that an
// idle connection stays small even after a large or deep element.
const (
	keepBytes    = 256 // textBuf of each frame, scratch
	keepFrames   = 8
	keepKids     = 64
	keepBindings = 16
	keepAttrs    = 16
)

func (p *parser) fail(cond string, off int, msg string) error {
	return syntaxErr(cond, off, msg)
}

// parseElement parses the element that starts at b[0] ('<') and returns it
// with the offset just past its end tag. Text after it is the caller's
// business. The tree does not share memory with b.
func (p *parser) parseElement(b []byte, ctx nsContext) (*Element, int, error) {
	if bad := invalidCharAt(b); bad >= 0 {
		return nil, bad, p.fail(CondNotWellFormed, bad, "invalid UTF-8 or character not allowed in XML")
	}
	s := string(b) // the one copy; names and plain values are substrings of it
	p.s, p.pos = s, 0
	p.bindings = append(p.bindings[:0], ctx.bindings...)
	p.frames = p.frames[:0]
	p.kids = p.kids[:0]
	starts := strings.Count(s, "<") - strings.Count(s, "</")
	p.elems.reset(starts)
	p.attrSlab.reset(strings.Count(s, "="))
	p.kidSlab.reset(starts - 1)
	defer p.release()
	root, err := p.startTag(ctx.defaultNS)
	if err != nil {
		return nil, p.pos, err
	}
	for len(p.frames) > 0 {
		if err := p.content(); err != nil {
			return nil, p.pos, err
		}
	}
	return root, p.pos, nil
}

// release drops references into the parsed input and oversized scratch
// memory so that an idle parser pins nothing.
func (p *parser) release() {
	p.s, p.tagName, p.tagPrefix, p.tagLocal = "", "", "", ""
	p.elems.free, p.attrSlab.free, p.kidSlab.free = nil, nil, nil
	if cap(p.frames) > keepFrames {
		p.frames = nil
	}
	all := p.frames[:cap(p.frames)]
	for i := range all {
		f := &all[i]
		f.el, f.qname, f.defaultNS, f.text = nil, "", "", ""
		if cap(f.textBuf) > keepBytes {
			f.textBuf = nil
		}
	}
	p.kids = trimScratch(p.kids, keepKids)
	p.bindings = trimScratch(p.bindings, keepBindings)
	p.attrs = trimScratch(p.attrs, keepAttrs)
	if cap(p.scratch) > keepBytes {
		p.scratch = nil
	}
}

// trimScratch clears a scratch slice (its strings point into the input) or
// drops it if it grew beyond keep.
func trimScratch[T any](s []T, keep int) []T {
	if cap(s) > keep {
		return nil
	}
	clear(s[:cap(s)])
	return s[:0]
}

// content consumes character data and markup inside the innermost open
// element up to and including the next tag.
func (p *parser) content() error {
	s := p.s
	start := p.pos
	i := strings.IndexByte(s[start:], '<')
	if i < 0 {
		p.pos = len(s)
		return p.fail(CondNotWellFormed, len(s), "unexpected end of input inside <"+p.frames[len(p.frames)-1].qname+">")
	}
	if i > 0 {
		if err := p.addText(start, start+i); err != nil {
			return err
		}
	}
	p.pos = start + i
	if p.pos+1 >= len(s) {
		return p.fail(CondNotWellFormed, p.pos, "unexpected end of input after '<'")
	}
	switch s[p.pos+1] {
	case '/':
		return p.endTag()
	case '!':
		return p.bang()
	case '?':
		return p.fail(CondRestrictedXML, p.pos, "processing instructions are not allowed")
	}
	top := &p.frames[len(p.frames)-1]
	_, err := p.startTag(top.defaultNS)
	return err
}

// bang handles "<!": a CDATA section, or a comment or DTD, which are
// restricted.
func (p *parser) bang() error {
	s := p.s
	if !strings.HasPrefix(s[p.pos:], cdataOpen) {
		if strings.HasPrefix(s[p.pos:], "<!-") {
			return p.fail(CondRestrictedXML, p.pos, "comments are not allowed")
		}
		return p.fail(CondRestrictedXML, p.pos, "DTDs and markup declarations are not allowed")
	}
	start := p.pos + len(cdataOpen)
	end := strings.Index(s[start:], "]]>")
	if end < 0 {
		return p.fail(CondNotWellFormed, len(s), "unterminated CDATA section")
	}
	end += start
	p.pos = end + 3
	if start == end {
		return nil
	}
	top := &p.frames[len(p.frames)-1]
	seg := s[start:end]
	if strings.IndexByte(seg, '\r') < 0 {
		p.appendText(top, seg)
		return nil
	}
	p.spillText(top)
	top.textBuf = appendNewlines(top.textBuf, seg)
	return nil
}

// appendNewlines appends seg with line ends normalized (XML 1.0 §2.11).
func appendNewlines(buf []byte, seg string) []byte {
	for i := 0; i < len(seg); i++ {
		c := seg[i]
		if c == '\r' {
			if i+1 < len(seg) && seg[i+1] == '\n' {
				continue
			}
			c = '\n'
		}
		buf = append(buf, c)
	}
	return buf
}

// appendText adds a run of character data that needs no decoding.
func (p *parser) appendText(f *frame, seg string) {
	switch {
	case f.bufUsed:
		f.textBuf = append(f.textBuf, seg...)
	case f.text == "":
		f.text = seg
	default:
		p.spillText(f)
		f.textBuf = append(f.textBuf, seg...)
	}
}

// spillText moves f's character data into its buffer, for decoding or
// concatenation.
func (p *parser) spillText(f *frame) {
	if !f.bufUsed {
		f.textBuf = append(f.textBuf[:0], f.text...)
		f.text = ""
		f.bufUsed = true
	}
}

// addText adds the character data s[start:end] to the innermost element.
func (p *parser) addText(start, end int) error {
	top := &p.frames[len(p.frames)-1]
	seg := p.s[start:end]
	plain := true
	for i := 0; i < len(seg); i++ {
		switch seg[i] {
		case '&', '\r':
			plain = false
		case '>':
			if i >= 2 && seg[i-1] == ']' && seg[i-2] == ']' {
				return p.fail(CondNotWellFormed, start+i-2, "']]>' is not allowed in character data")
			}
		}
	}
	if plain {
		p.appendText(top, seg)
		return nil
	}
	p.spillText(top)
	buf, err := p.decode(top.textBuf, seg, start, false)
	top.textBuf = buf
	return err
}

// decode appends seg (which starts at offset off of the input) to buf with
// references replaced and line ends normalized; in attribute values
// whitespace characters also become spaces (XML 1.0 §3.3.3).
func (p *parser) decode(buf []byte, seg string, off int, attr bool) ([]byte, error) {
	for i := 0; i < len(seg); {
		c := seg[i]
		switch {
		case c == '&':
			r, n, err := p.reference(seg[i:], off+i)
			if err != nil {
				return buf, err
			}
			buf = utf8.AppendRune(buf, r)
			i += n
			continue
		case c == '\r':
			if i+1 < len(seg) && seg[i+1] == '\n' {
				i++
				continue
			}
			c = '\n'
		}
		if attr && (c == '\n' || c == '\t') {
			c = ' '
		}
		buf = append(buf, c)
		i++
	}
	return buf, nil
}

// reference decodes the entity or character reference at the start of s
// ("&...;") and returns the character and the reference's length.
func (p *parser) reference(s string, off int) (rune, int, error) {
	end := strings.IndexByte(s, ';')
	if end < 0 {
		return 0, 0, p.fail(CondNotWellFormed, off, "unterminated reference ('&' must be written &amp;)")
	}
	name := s[1:end]
	if len(name) > 0 && name[0] == '#' {
		r, ok := charRef(name[1:])
		if !ok {
			return 0, 0, p.fail(CondNotWellFormed, off, "invalid character reference")
		}
		return r, end + 1, nil
	}
	switch name {
	case "lt":
		return '<', end + 1, nil
	case "gt":
		return '>', end + 1, nil
	case "amp":
		return '&', end + 1, nil
	case "quot":
		return '"', end + 1, nil
	case "apos":
		return '\'', end + 1, nil
	}
	if name == "" || scanNCName(name, 0) != len(name) {
		return 0, 0, p.fail(CondNotWellFormed, off, "malformed reference ('&' must be written &amp;)")
	}
	return 0, 0, p.fail(CondRestrictedXML, off, "undefined entity &"+name+";")
}

// charRef decodes the digits of a character reference: "65" or "x41".
func charRef(digits string) (rune, bool) {
	base := rune(10)
	if len(digits) > 0 && digits[0] == 'x' {
		base, digits = 16, digits[1:]
	}
	if digits == "" {
		return 0, false
	}
	var r rune
	for i := 0; i < len(digits); i++ {
		c := digits[i]
		var d rune
		switch {
		case c >= '0' && c <= '9':
			d = rune(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			d = rune(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			d = rune(c-'A') + 10
		default:
			return 0, false
		}
		r = r*base + d
		if r > utf8.MaxRune {
			return 0, false
		}
	}
	return r, isXMLChar(r)
}

// Package xmlstream holds parley's XML tree (Element), its serializer, and the
// hardened decoder that cuts an XMPP stream into top-level elements.
//
// It knows nothing of transports or of XMPP semantics beyond the stream
// namespaces: the same code serves the server, the focus, bridges and the SDK.
package xmlstream

import (
	"strings"
)

// Well-known namespaces.
const (
	NSClient  = "jabber:client"
	NSServer  = "jabber:server"
	NSStream  = "http://etherx.jabber.org/streams"
	NSFraming = "urn:ietf:params:xml:ns:xmpp-framing" // RFC 7395
	NSXML     = "http://www.w3.org/XML/1998/namespace"
)

// Attr is one attribute. Name is the local name, except for attributes in the
// XML namespace, which keep their "xml:" prefix ("xml:lang").
// Namespace declarations are never stored as attributes: an element's
// namespace is its Space field.
type Attr struct {
	Name  string
	Value string
}

// Element is one XML element with its attributes, children and character data.
//
// Mixed content is simplified: all character data directly inside the element
// is concatenated into Text and serialized before the children. XMPP payloads
// never need more.
type Element struct {
	Space    string // namespace URI
	Name     string // local name
	Attrs    []Attr
	Children []*Element
	Text     string
}

// New returns an element; attrs are name, value pairs.
func New(space, name string, attrs ...string) *Element {
	e := &Element{Space: space, Name: name}
	if len(attrs) > 0 {
		e.Attrs = make([]Attr, 0, len(attrs)/2)
		for i := 0; i+1 < len(attrs); i += 2 {
			e.Attrs = append(e.Attrs, Attr{attrs[i], attrs[i+1]})
		}
	}
	return e
}

// Is reports whether e has the given namespace and local name.
func (e *Element) Is(space, name string) bool {
	return e != nil && e.Name == name && e.Space == space
}

// Attr returns the value of the named attribute, or "".
func (e *Element) Attr(name string) string {
	for _, a := range e.Attrs {
		if a.Name == name {
			return a.Value
		}
	}
	return ""
}

// HasAttr reports whether the named attribute is present.
func (e *Element) HasAttr(name string) bool {
	for _, a := range e.Attrs {
		if a.Name == name {
			return true
		}
	}
	return false
}

// SetAttr sets (or, with an empty value, removes) an attribute and returns e.
func (e *Element) SetAttr(name, value string) *Element {
	for i, a := range e.Attrs {
		if a.Name == name {
			if value == "" {
				e.Attrs = append(e.Attrs[:i], e.Attrs[i+1:]...)
			} else {
				e.Attrs[i].Value = value
			}
			return e
		}
	}
	if value != "" {
		e.Attrs = append(e.Attrs, Attr{name, value})
	}
	return e
}

// Child returns the first child with that namespace and name; an empty space
// matches any namespace.
func (e *Element) Child(space, name string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Name == name && (space == "" || c.Space == space) {
			return c
		}
	}
	return nil
}

// ChildrenNamed returns every child with that namespace and name; an empty
// space matches any namespace.
func (e *Element) ChildrenNamed(space, name string) []*Element {
	var out []*Element
	for _, c := range e.Children {
		if c.Name == name && (space == "" || c.Space == space) {
			out = append(out, c)
		}
	}
	return out
}

// FirstChild returns the first child element, or nil.
func (e *Element) FirstChild() *Element {
	if e == nil || len(e.Children) == 0 {
		return nil
	}
	return e.Children[0]
}

// ChildText returns the text of the first matching child, or "".
func (e *Element) ChildText(space, name string) string {
	if c := e.Child(space, name); c != nil {
		return c.Text
	}
	return ""
}

// Add appends children (nil ones are skipped) and returns e.
func (e *Element) Add(children ...*Element) *Element {
	for _, c := range children {
		if c != nil {
			e.Children = append(e.Children, c)
		}
	}
	return e
}

// SetText sets the character data and returns e.
func (e *Element) SetText(text string) *Element {
	e.Text = text
	return e
}

// RemoveChildren drops every child with that namespace and name.
func (e *Element) RemoveChildren(space, name string) {
	kept := e.Children[:0]
	for _, c := range e.Children {
		if !(c.Name == name && (space == "" || c.Space == space)) {
			kept = append(kept, c)
		}
	}
	for i := len(kept); i < len(e.Children); i++ {
		e.Children[i] = nil
	}
	e.Children = kept
}

// Copy returns a deep copy of e.
func (e *Element) Copy() *Element {
	if e == nil {
		return nil
	}
	c := &Element{Space: e.Space, Name: e.Name, Text: e.Text}
	if len(e.Attrs) > 0 {
		c.Attrs = append([]Attr(nil), e.Attrs...)
	}
	if len(e.Children) > 0 {
		c.Children = make([]*Element, len(e.Children))
		for i, ch := range e.Children {
			c.Children[i] = ch.Copy()
		}
	}
	return c
}

// ShallowCopy returns a copy of e that shares its children but owns its
// attributes, for re-addressing a stanza without copying its payload.
func (e *Element) ShallowCopy() *Element {
	c := *e
	c.Attrs = append([]Attr(nil), e.Attrs...)
	return &c
}

// String serializes e, declaring its namespace.
func (e *Element) String() string {
	return string(e.Append(nil, ""))
}

// Append appends the serialized element to buf. parentSpace is the default
// namespace in force where the element is written: the element declares its
// own namespace only when it differs. Elements in the streams namespace are
// written with the "stream:" prefix, which they declare themselves so that the
// output stands alone (RFC 7395 requires that on WebSocket; on TCP the
// redundant declaration is harmless).
func (e *Element) Append(buf []byte, parentSpace string) []byte {
	buf = append(buf, '<')
	space := parentSpace
	if e.Space == NSStream {
		buf = append(buf, "stream:"...)
		buf = append(buf, e.Name...)
		buf = append(buf, ` xmlns:stream="`+NSStream+`"`...)
	} else {
		buf = append(buf, e.Name...)
		if e.Space != parentSpace {
			buf = append(buf, ` xmlns="`...)
			buf = appendEscaped(buf, e.Space, true)
			buf = append(buf, '"')
			space = e.Space
		}
	}
	for _, a := range e.Attrs {
		buf = append(buf, ' ')
		buf = append(buf, a.Name...)
		buf = append(buf, `="`...)
		buf = appendEscaped(buf, a.Value, true)
		buf = append(buf, '"')
	}
	if e.Text == "" && len(e.Children) == 0 {
		return append(buf, "/>"...)
	}
	buf = append(buf, '>')
	buf = appendEscaped(buf, e.Text, false)
	for _, c := range e.Children {
		buf = c.Append(buf, space)
	}
	buf = append(buf, "</"...)
	if e.Space == NSStream {
		buf = append(buf, "stream:"...)
	}
	buf = append(buf, e.Name...)
	return append(buf, '>')
}

// AppendAttrValue appends s escaped for a double-quoted attribute value.
func AppendAttrValue(buf []byte, s string) []byte { return appendEscaped(buf, s, true) }

// appendEscaped escapes the five XML special characters (quotes only in
// attributes) and drops characters XML 1.0 cannot carry.
func appendEscaped(buf []byte, s string, attr bool) []byte {
	if !needsEscape(s) {
		return append(buf, s...)
	}
	for _, r := range s {
		switch r {
		case '<':
			buf = append(buf, "&lt;"...)
		case '>':
			buf = append(buf, "&gt;"...)
		case '&':
			buf = append(buf, "&amp;"...)
		case '"':
			if attr {
				buf = append(buf, "&quot;"...)
			} else {
				buf = append(buf, '"')
			}
		case '\'':
			if attr {
				buf = append(buf, "&apos;"...)
			} else {
				buf = append(buf, '\'')
			}
		case '\t', '\n', '\r':
			// Parsers normalize line ends and, in attributes, whitespace:
			// a reference keeps the character as it was.
			if attr || r == '\r' {
				buf = append(buf, "&#x"...)
				buf = append(buf, "0123456789ABCDEF"[r>>4], "0123456789ABCDEF"[r&15], ';')
			} else {
				buf = append(buf, byte(r))
			}
		default:
			if validXMLChar(r) {
				buf = append(buf, string(r)...)
			}
		}
	}
	return buf
}

func needsEscape(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c < 0x20 || c == '<' || c == '>' || c == '&' || c == '"' || c == '\'' || c >= 0x80 {
			if c >= 0x80 {
				// Multi-byte runes are usually fine; check them properly.
				return strings.ContainsFunc(s, func(r rune) bool { return !validXMLChar(r) }) || strings.ContainsAny(s, "<>&\"'\t\n\r")
			}
			return true
		}
	}
	return false
}

// validXMLChar reports whether r may appear in an XML 1.0 document.
func validXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

package xmlstream

import (
	"bytes"
	"unicode/utf8"
)

// framerState says what the framer is in the middle of.
type framerState uint8

const (
	inContent  framerState = iota // character data
	atLT                          // at a '<', markup kind not yet known
	inStartTag                    // inside a start tag, outside quotes
	inQuoted                      // inside a quoted attribute value
	inEndTag                      // inside an end tag
	inCDATA                       // inside a CDATA section
)

const cdataOpen = "<![CDATA["

// framer finds where a top-level element ends in a stream that arrives in
// pieces. It only tracks enough syntax to frame well-formed input correctly
// (tags, quotes, CDATA); the parser then checks everything on the complete
// element, and rejects it unless it ends exactly where the framer said.
// Its state survives between calls, so each byte is scanned once however
// slowly the element trickles in. Offsets are relative to the element start.
type framer struct {
	pos   int         // next byte to scan
	depth int         // open elements
	state framerState // what pos is inside
	quote byte        // closing quote, in inQuoted
	slash bool        // the last byte of the start tag so far was '/'
}

// scan continues over b (the element so far, from its '<') and returns the
// element's length once its end tag (or self-closing root) is in b, or 0 if
// more input is needed.
func (f *framer) scan(b []byte, maxDepth int) (int, error) {
	for f.pos < len(b) {
		switch f.state {
		case inContent:
			i := bytes.IndexByte(b[f.pos:], '<')
			if i < 0 {
				f.pos = len(b)
				return 0, nil
			}
			f.pos += i
			f.state = atLT
		case atLT:
			if f.pos+1 >= len(b) {
				return 0, nil
			}
			if err := f.markup(b); err != nil || f.state == atLT {
				return 0, err
			}
		case inStartTag:
			if n, err := f.startTag(b, maxDepth); n > 0 || err != nil {
				return n, err
			}
		case inQuoted:
			i := bytes.IndexByte(b[f.pos:], f.quote)
			if i < 0 {
				f.pos = len(b)
				return 0, nil
			}
			f.pos += i + 1
			f.state = inStartTag
		case inEndTag:
			i := bytes.IndexByte(b[f.pos:], '>')
			if i < 0 {
				f.pos = len(b)
				return 0, nil
			}
			f.pos += i + 1
			f.depth--
			f.state = inContent
			if f.depth <= 0 {
				return f.pos, nil
			}
		case inCDATA:
			i := bytes.Index(b[f.pos:], []byte("]]>"))
			if i < 0 {
				f.pos = max(f.pos, len(b)-2)
				return 0, nil
			}
			f.pos += i + 3
			f.state = inContent
		}
	}
	return 0, nil
}

// markup classifies the markup at b[f.pos] ('<'), leaving the state at
// atLT when more bytes are needed to tell.
func (f *framer) markup(b []byte) error {
	switch b[f.pos+1] {
	case '/':
		f.pos += 2
		f.state = inEndTag
	case '?':
		return syntaxErr(CondRestrictedXML, f.pos, "processing instructions are not allowed")
	case '!':
		rest := b[f.pos:]
		n := min(len(rest), len(cdataOpen))
		if !bytes.Equal(rest[:n], []byte(cdataOpen)[:n]) {
			if len(rest) > 2 && rest[2] == '-' {
				return syntaxErr(CondRestrictedXML, f.pos, "comments are not allowed")
			}
			return syntaxErr(CondRestrictedXML, f.pos, "DTDs and markup declarations are not allowed")
		}
		if n == len(cdataOpen) {
			f.pos += n
			f.state = inCDATA
		}
	default:
		// Refuse a tag that cannot start a name now rather than frame
		// it wrongly and wait for an end that never comes.
		if c := b[f.pos+1]; c < utf8.RuneSelf && asciiClass[c]&clsNameStart == 0 {
			return syntaxErr(CondNotWellFormed, f.pos+1, "expected an element name after '<'")
		}
		f.pos++
		f.state = inStartTag
		f.slash = false
	}
	return nil
}

// startTag scans a start tag up to its '>' or an opening quote.
func (f *framer) startTag(b []byte, maxDepth int) (int, error) {
	for f.pos < len(b) {
		c := b[f.pos]
		f.pos++
		if f.slash && c != '>' {
			return 0, syntaxErr(CondNotWellFormed, f.pos-1, "expected '>' after '/'")
		}
		switch c {
		case '<':
			return 0, syntaxErr(CondNotWellFormed, f.pos-1, "'<' inside a tag")
		case '"', '\'':
			f.quote = c
			f.state = inQuoted
			f.slash = false
			return 0, nil
		case '>':
			f.state = inContent
			if f.slash {
				if f.depth == 0 {
					return f.pos, nil
				}
				return 0, nil
			}
			f.depth++
			if f.depth > maxDepth {
				return 0, syntaxErr(CondPolicyViolation, f.pos-1, "elements nested too deeply")
			}
			return 0, nil
		}
		f.slash = c == '/'
	}
	return 0, nil
}

// tagEnd continues scanning the start tag at b[0] and returns its length once
// its '>' is in b, or 0. The framer must start in inStartTag at pos 1.
func (f *framer) tagEnd(b []byte) int {
	for f.pos < len(b) {
		if f.state == inQuoted {
			i := bytes.IndexByte(b[f.pos:], f.quote)
			if i < 0 {
				f.pos = len(b)
				return 0
			}
			f.pos += i + 1
			f.state = inStartTag
			continue
		}
		if n, _ := f.startTag(b, maxInt); n > 0 || f.state == inContent {
			return f.pos
		}
	}
	return 0
}

const maxInt = int(^uint(0) >> 1)

package xmlstream

import (
	"encoding/binary"
	"unicode/utf8"
)

// Character classes of ASCII bytes, for names and whitespace.
const (
	clsNameStart = 1 << iota // may start an NCName
	clsName                  // may continue an NCName
	clsSpace                 // XML whitespace
)

// asciiClass is a read-only lookup table built once.
var asciiClass = func() (t [utf8.RuneSelf]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c] = clsNameStart | clsName
		t[c-'a'+'A'] = clsNameStart | clsName
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = clsName
	}
	t['_'] = clsNameStart | clsName
	t['-'] = clsName
	t['.'] = clsName
	for _, c := range " \t\r\n" {
		t[c] = clsSpace
	}
	return t
}()

func isSpace(c byte) bool { return c < utf8.RuneSelf && asciiClass[c]&clsSpace != 0 }

// isNameStartRune reports whether a non-ASCII rune may start a name
// (XML 1.0 fifth edition, production [4]).
func isNameStartRune(r rune) bool {
	switch {
	case r >= 0xC0 && r <= 0xD6, r >= 0xD8 && r <= 0xF6, r >= 0xF8 && r <= 0x2FF,
		r >= 0x370 && r <= 0x37D, r >= 0x37F && r <= 0x1FFF, r >= 0x200C && r <= 0x200D,
		r >= 0x2070 && r <= 0x218F, r >= 0x2C00 && r <= 0x2FEF, r >= 0x3001 && r <= 0xD7FF,
		r >= 0xF900 && r <= 0xFDCF, r >= 0xFDF0 && r <= 0xFFFD, r >= 0x10000 && r <= 0xEFFFF:
		return true
	}
	return false
}

// isNameRune reports whether a non-ASCII rune may continue a name
// (production [4a]).
func isNameRune(r rune) bool {
	return isNameStartRune(r) || r == 0xB7 || (r >= 0x300 && r <= 0x36F) || (r >= 0x203F && r <= 0x2040)
}

// scanNCName returns the end of the NCName (a name without colons) starting
// at s[i], or i if there is none there.
func scanNCName(s string, i int) int {
	start := i
	for i < len(s) {
		c := s[i]
		if c < utf8.RuneSelf {
			cls := asciiClass[c]
			if cls&clsName == 0 || (i == start && cls&clsNameStart == 0) {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if (i == start && !isNameStartRune(r)) || !isNameRune(r) {
			return i
		}
		i += size
	}
	return i
}

// isXMLChar reports whether r may appear in an XML 1.0 document
// (production [2]).
func isXMLChar(r rune) bool {
	return r == 0x09 || r == 0x0A || r == 0x0D ||
		(r >= 0x20 && r <= 0xD7FF) ||
		(r >= 0xE000 && r <= 0xFFFD) ||
		(r >= 0x10000 && r <= 0x10FFFF)
}

// invalidCharAt returns the offset of the first byte of b that is not valid
// UTF-8 or not an XML 1.0 character, or -1 if b is clean.
func invalidCharAt(b []byte) int {
	const ones, highs = 0x0101010101010101, 0x8080808080808080
	for i := 0; i < len(b); {
		// Fast path: eight bytes all in 0x20..0x7F are clean.
		if i+8 <= len(b) {
			x := binary.LittleEndian.Uint64(b[i:])
			if (x|(x-0x20*ones))&highs == 0 {
				i += 8
				continue
			}
		}
		c := b[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && asciiClass[c]&clsSpace == 0 {
				return i
			}
			i++
			continue
		}
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return i
		}
		i += size
	}
	return -1
}

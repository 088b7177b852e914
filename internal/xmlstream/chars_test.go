package xmlstream

import (
	"testing"
	"unicode/utf8"
)

// invalidCharAtSlow is the obvious rune-by-rune definition.
func invalidCharAtSlow(b []byte) int {
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError && size == 1 || !isXMLChar(r) {
			return i
		}
		i += size
	}
	return -1
}

func TestInvalidCharAtMatchesDefinition(t *testing.T) {
	probes := [][]byte{{0x00}, {0x09}, {0x0A}, {0x0D}, {0x1F}, {0x20}, {0x7F}, {0x80}, {0xC3}, {0xC3, 0xA9},
		{0xEF, 0xBF, 0xBE}, {0xEF, 0xBF, 0xBD}, {0xED, 0xA0, 0x80}, {0xF0, 0x9F, 0x98, 0x80}, {0xFF}}
	for n := range 20 {
		for pos := 0; pos <= n; pos++ {
			for _, probe := range probes {
				b := make([]byte, 0, n+4)
				for range pos {
					b = append(b, 'a')
				}
				b = append(b, probe...)
				for len(b) < n+len(probe) {
					b = append(b, 'z')
				}
				if got, want := invalidCharAt(b), invalidCharAtSlow(b); got != want {
					t.Fatalf("invalidCharAt(%q) = %d, want %d", b, got, want)
				}
			}
		}
	}
}

func TestNames(t *testing.T) {
	for _, tc := range []struct {
		s   string
		end int
	}{
		{"abc def", 3}, {"a-b.c_1>", 7}, {"1a", 0}, {"-a", 0}, {".a", 0}, {"a:b", 1},
		{"été", len("été")}, {"a·b", len("a·b")}, {"·a", 0}, {"a\u0300", len("a\u0300")}, {"\u0300", 0},
		{"日本語 ", len("日本語")}, {"a\u00D7", 1}, {"\U00010000x", 5},
	} {
		if got := scanNCName(tc.s, 0); got != tc.end {
			t.Errorf("scanNCName(%q) = %d, want %d", tc.s, got, tc.end)
		}
	}
}

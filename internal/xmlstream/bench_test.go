package xmlstream

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// benchStanzas are a typical chat message and a ~2 KB MUC presence as a
// conference client sends it. testdata/prosody-xmppstream-bench.lua feeds
// the same files to Prosody's parser for comparison.
func benchStanzas(b *testing.B) []struct{ name, stanza string } {
	var out []struct{ name, stanza string }
	for _, c := range []struct{ name, file string }{
		{"message", "bench-message.xml"},
		{"presence-muc-2KB", "bench-presence-muc.xml"},
	} {
		data, err := os.ReadFile(filepath.Join("testdata", c.file))
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, struct{ name, stanza string }{c.name, string(data)})
	}
	return out
}

// cycleReader repeats its data forever, like a busy connection.
type cycleReader struct {
	data []byte
	pos  int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.data[c.pos:])
		n += k
		c.pos = (c.pos + k) % len(c.data)
	}
	return n, nil
}

func BenchmarkReadElement(b *testing.B) {
	for _, bc := range benchStanzas(b) {
		b.Run(bc.name, func(b *testing.B) {
			d := NewDecoder(io.MultiReader(strings.NewReader(clientHeader), &cycleReader{data: []byte(bc.stanza)}), Limits{})
			if _, err := d.ReadHeader(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.stanza)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.ReadElement(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseElement(b *testing.B) {
	for _, bc := range benchStanzas(b) {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.stanza)
			p := NewParser(Limits{})
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(in, NSClient); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodingXMLTree is the baseline the hand-written scanner is
// measured against: building the same tree with encoding/xml.
func BenchmarkEncodingXMLTree(b *testing.B) {
	for _, bc := range benchStanzas(b) {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.stanza)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stdParse(bc.stanza); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	el, err := ParseElementIn([]byte(benchStanzas(b)[1].stanza), Limits{}, NSClient)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = el.Append(buf[:0], NSClient)
	}
	b.SetBytes(int64(len(buf)))
}

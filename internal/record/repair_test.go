package record

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/pion/rtp"
)

// TestTrimOgg: an Ogg file that ends in half a page (a write cut short by
// a full disk) is cut back to its last whole page, and decodes.
func TestTrimOgg(t *testing.T) {
	needFFmpeg(t)
	path := filepath.Join(t.TempDir(), "a.ogg")
	o, err := newOpusTrack(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		p := &rtp.Packet{Header: rtp.Header{SequenceNumber: uint16(i), Timestamp: uint32(i * opusFrame20ms), SSRC: 1}, Payload: opusSilence}
		if err := o.push(p); err != nil {
			t.Fatal(err)
		}
	}
	if err := o.close(); err != nil {
		t.Fatal(err)
	}
	whole, _ := os.ReadFile(path)
	if cut, err := trimFile(path, true); err != nil || cut != 0 {
		t.Fatalf("a whole file lost %d bytes, %v", cut, err)
	}
	// The start of a page: its 27-byte header, one segment of 200 bytes
	// announced, 9 of them written.
	page := make([]byte, 27+1+9)
	copy(page, "OggS")
	page[26], page[27] = 1, 200
	if err := os.WriteFile(path, append(whole, page...), 0o640); err != nil {
		t.Fatal(err)
	}
	if cut, err := trimFile(path, true); err != nil || cut != int64(len(page)) {
		t.Errorf("trimming half a page: %d bytes cut, %v; want %d", cut, err, len(page))
	}
	decodes(t, path)
}

package record

import (
	"io"
	"os"
)

// A write that fails (a full disk) can leave half an element at the end of
// a file: half a Matroska block, half an Ogg page. A player reads up to
// there and then reports the file truncated; so a track that ended on a
// write error is cut back to its last whole element. Only the headers are
// read (ReadAt), never the media.

// trimFile cuts path after its last whole element, Ogg pages or Matroska
// elements; it reports the bytes cut.
func trimFile(path string, ogg bool) (int64, error) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, err
	}
	end := matroskaEnd(f, st.Size())
	if ogg {
		end = oggEnd(f, st.Size())
	}
	if end >= st.Size() {
		return 0, nil
	}
	return st.Size() - end, f.Truncate(end)
}

// Matroska element IDs that trimming needs.
const (
	idSegment = 0x18538067
	idCluster = 0x1F43B675
)

// ebmlHeader reads an element's ID and data size at off; unknown is set
// for the "unknown size" value (all ones), which Segment and Cluster
// carry when written live.
func ebmlHeader(r io.ReaderAt, off int64) (id uint32, size, headerLen int64, unknown, ok bool) {
	var b [12]byte
	n, _ := r.ReadAt(b[:], off)
	idLen := vintLen(b[0])
	if idLen == 0 || idLen > 4 || n < idLen+1 {
		return 0, 0, 0, false, false
	}
	for _, c := range b[:idLen] {
		id = id<<8 | uint32(c)
	}
	sizeLen := vintLen(b[idLen])
	if sizeLen == 0 || n < idLen+sizeLen {
		return 0, 0, 0, false, false
	}
	v := uint64(b[idLen]) & (0xff >> sizeLen)
	all := v == 0xff>>sizeLen
	for _, c := range b[idLen+1 : idLen+sizeLen] {
		v = v<<8 | uint64(c)
		all = all && c == 0xff
	}
	return id, int64(v), int64(idLen + sizeLen), all, true
}

// vintLen is the length of an EBML variable-size integer from its first byte.
func vintLen(first byte) int {
	for i := range 8 {
		if first&(0x80>>i) != 0 {
			return i + 1
		}
	}
	return 0
}

// matroskaEnd returns the end of the last whole element of a file the
// recorder wrote: the EBML header, then a Segment whose children (and the
// children of its Clusters of unknown size) are walked.
func matroskaEnd(r io.ReaderAt, fileSize int64) int64 {
	good := int64(0)
	pos := int64(0)
	for pos < fileSize {
		id, size, hl, unknown, ok := ebmlHeader(r, pos)
		if !ok {
			break
		}
		switch {
		case id == idSegment || (id == idCluster && unknown):
			// Descend: the children follow the header.
			pos += hl
			good = pos
			continue
		case unknown:
			return good
		}
		if pos+hl+size > fileSize {
			break
		}
		pos += hl + size
		good = pos
	}
	return good
}

// oggEnd returns the end of the last whole Ogg page (RFC 3533 §6).
func oggEnd(r io.ReaderAt, fileSize int64) int64 {
	pos := int64(0)
	var hdr [27]byte
	for pos+27 <= fileSize {
		if _, err := r.ReadAt(hdr[:], pos); err != nil || string(hdr[:4]) != "OggS" {
			break
		}
		segs := make([]byte, hdr[26])
		if _, err := r.ReadAt(segs, pos+27); err != nil {
			break
		}
		body := int64(0)
		for _, l := range segs {
			body += int64(l)
		}
		end := pos + 27 + int64(len(segs)) + body
		if end > fileSize {
			break
		}
		pos = end
	}
	return pos
}

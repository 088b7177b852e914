package sfu

import (
	"slices"
	"strings"
)

// Simulcast. The SFU is always the offerer, and a browser sends simulcast
// as the answerer only when the offer asks for it: the offer's camera
// m-line carries "a=rid:q recv", "a=rid:h recv", "a=rid:f recv" and
// "a=simulcast:recv q;h;f", the screen m-line two layers "h;f". Pion
// writes rids only when it answers, so the SFU adds the lines to the offer
// it hands out (withSimulcast); Pion learns the rids from the answer.
// Browsers (Chromium and Firefox both) then send one RTP stream per rid,
// smallest first; each arrives as its own track, a layer of the same
// publication.

// maxLayers is the most simulcast layers a publication has.
const maxLayers = 3

// cameraRIDs and screenRIDs are the rids asked for, smallest layer first:
// quarter, half and full resolution for a camera; half and full for a
// screen (sharp text matters more than motion).
func cameraRIDs() []string { return []string{"q", "h", "f"} }
func screenRIDs() []string { return []string{"h", "f"} }

// ridsFor returns the rids asked of a source.
func ridsFor(src Source) []string {
	switch src {
	case SourceCamera:
		return cameraRIDs()
	case SourceScreen:
		return screenRIDs()
	}
	return nil
}

// layerOf maps a track's rid to its layer in src's publication: 0 for no
// rid (a publisher without simulcast), -1 for a rid not asked for.
func layerOf(src Source, rid string) int {
	if rid == "" {
		return 0
	}
	for i, r := range ridsFor(src) {
		if r == rid {
			return i
		}
	}
	return -1
}

// withSimulcast adds the rid and simulcast lines to the m-lines of mids
// (mid -> rids) in an SDP offer. An m-line that has them already is left
// alone: once an answer sent simulcast, Pion's own offers carry its rids.
func withSimulcast(sdp string, mids map[string][]string) string {
	if len(mids) == 0 {
		return sdp
	}
	sections := strings.SplitAfter(sdp, "\r\nm=")
	for i, sec := range sections {
		for mid, rids := range mids {
			at := strings.Index(sec, "\r\na=mid:"+mid+"\r\n")
			if at < 0 || strings.Contains(sec, "\r\na=simulcast:") {
				continue
			}
			var add strings.Builder
			for _, r := range rids {
				add.WriteString("a=rid:" + r + " recv\r\n")
			}
			add.WriteString("a=simulcast:recv " + strings.Join(rids, ";") + "\r\n")
			end := at + len("\r\na=mid:"+mid+"\r\n")
			sections[i] = sec[:end] + add.String() + sec[end:]
		}
	}
	return strings.Join(sections, "")
}

// withoutReceiveRIDs prepares an answer's simulcast for Pion:
//   - it drops "a=rid:X recv" and "a=simulcast:recv" lines: an answerer
//     that cannot send simulcast (Pion) mirrors the offer's recv lines,
//     which would make the SFU wait for rid-tagged streams that never come;
//   - it gives an m-line that sends simulcast an a=msid if it has none:
//     Pion sets up rid streams only for an m-line with one, and a rid
//     answer has no a=ssrc lines for Jingle to carry the msid in (Chromium's
//     comes through without). The ids are the SFU's own anyway.
//
// Lines may end in LF alone: an answer that crossed Prosody or ejabberd
// on its way to a remote bridge lost its CRs (XML parsers turn CRLF into
// LF, and those servers write the CR back unescaped), and Pion reads it.
func withoutReceiveRIDs(sdp string) string {
	if !strings.Contains(sdp, "a=rid:") && !strings.Contains(sdp, "a=simulcast:") {
		return sdp
	}
	sections := strings.SplitAfter(sdp, "\nm=")
	for si, sec := range sections {
		lines := strings.SplitAfter(sec, "\n")
		kept := make([]string, 0, len(lines)+1)
		sends, hasMsid, midAt := false, false, -1
		for _, l := range lines {
			t := strings.TrimRight(l, "\r\n")
			f := strings.Fields(t)
			switch {
			case strings.HasPrefix(t, "a=simulcast:recv"):
				continue
			case strings.HasPrefix(t, "a=rid:") && len(f) >= 2 && f[1] == "recv":
				continue
			case strings.HasPrefix(t, "a=simulcast:send"):
				sends = true
			case strings.HasPrefix(t, "a=msid:"):
				hasMsid = true
			case strings.HasPrefix(t, "a=mid:") && midAt < 0:
				midAt = len(kept)
			}
			kept = append(kept, l)
		}
		if sends && !hasMsid && midAt >= 0 {
			midLine := kept[midAt]
			mid := strings.TrimPrefix(strings.TrimRight(midLine, "\r\n"), "a=mid:")
			if isMsidToken(mid) {
				end := midLine[len("a=mid:")+len(mid):]
				if end == "" { // the last line, unterminated
					kept[midAt], end = midLine+"\r\n", ""
				}
				kept = slices.Insert(kept, midAt+1, "a=msid:simulcast-"+mid+" video-"+mid+end)
			}
		}
		sections[si] = strings.Join(kept, "")
	}
	return strings.Join(sections, "")
}

// isMsidToken reports whether s may go into an msid.
func isMsidToken(s string) bool {
	for i := 0; i < len(s); i++ {
		if !isTokenChar(s[i]) {
			return false
		}
	}
	return s != ""
}

// keyframeStart reports whether an RTP payload starts a keyframe, for the
// codecs the SFU forwards: a subscriber can switch to a layer there.
func keyframeStart(codec codecKind, payload []byte) bool {
	switch codec {
	case codecVP8:
		return vp8KeyframeStart(payload)
	case codecVP9:
		return vp9KeyframeStart(payload)
	case codecH264:
		return h264KeyframeStart(payload)
	}
	return true // audio: every packet stands alone
}

// codecKind is what the forwarding path needs to know of a codec.
type codecKind uint8

const (
	codecOther codecKind = iota
	codecVP8
	codecVP9
	codecH264
)

func codecKindOf(mime string) codecKind {
	switch strings.ToLower(mime) {
	case "video/vp8":
		return codecVP8
	case "video/vp9":
		return codecVP9
	case "video/h264":
		return codecH264
	}
	return codecOther
}

// vp8Descriptor is where the fields of an RFC 7741 payload descriptor are.
type vp8Descriptor struct {
	size     int   // descriptor length; the VP8 payload starts there
	start    bool  // S bit with partition 0: the first packet of a frame
	picAt    int   // offset of the picture id; 0: none
	picWide  bool  // 15-bit picture id (M bit)
	tl0At    int   // offset of TL0PICIDX; 0: none
	tid      uint8 // temporal layer (TID); 0 without the T bit
	sync     bool  // Y bit: the frame depends on the base layer (TL0) only
	parsedOK bool
}

func parseVP8(p []byte) vp8Descriptor {
	var d vp8Descriptor
	if len(p) < 1 {
		return d
	}
	d.start = p[0]&0x10 != 0 && p[0]&0x07 == 0
	i := 1
	if p[0]&0x80 != 0 { // X
		if len(p) < 2 {
			return d
		}
		x := p[1]
		i = 2
		if x&0x80 != 0 { // I
			if len(p) < i+1 {
				return d
			}
			d.picAt = i
			if p[i]&0x80 != 0 {
				d.picWide = true
				i++
			}
			i++
		}
		if x&0x40 != 0 { // L
			d.tl0At = i
			i++
		}
		if x&0x30 != 0 { // T or K: TID, Y and KEYIDX share a byte
			if len(p) < i+1 {
				return d
			}
			if x&0x20 != 0 { // T: TID and Y mean something
				d.tid, d.sync = p[i]>>6, p[i]&0x20 != 0
			}
			i++
		}
	}
	if len(p) <= i {
		return d
	}
	d.size, d.parsedOK = i, true
	return d
}

// vp8KeyframeStart: the first packet of a frame whose P bit is 0.
func vp8KeyframeStart(p []byte) bool {
	return parseVP8(p).keyframe(p)
}

// keyframe reports whether p, whose descriptor is d, is the first packet
// of a frame whose P bit is 0.
func (d vp8Descriptor) keyframe(p []byte) bool {
	return d.parsedOK && d.start && p[d.size]&0x01 == 0
}

// vp8Size reads the picture size from a keyframe's header (RFC 6386
// §9.1); ok is false for anything else.
func vp8Size(p []byte) (width, height uint16, ok bool) {
	d := parseVP8(p)
	if !d.parsedOK || !d.start || p[d.size]&0x01 != 0 || len(p) < d.size+10 {
		return 0, 0, false
	}
	b := p[d.size:]
	if b[3] != 0x9d || b[4] != 0x01 || b[5] != 0x2a {
		return 0, 0, false
	}
	return (uint16(b[6]) | uint16(b[7])<<8) & 0x3fff, (uint16(b[8]) | uint16(b[9])<<8) & 0x3fff, true
}

// vp9KeyframeStart: the flexible or non-flexible descriptor's P bit clear
// and B (beginning of frame) set.
func vp9KeyframeStart(p []byte) bool {
	return len(p) > 0 && p[0]&0x40 == 0 && p[0]&0x08 != 0
}

// h264KeyframeStart: an IDR slice or an SPS at the start of a NAL unit,
// alone, in a STAP-A, or the first fragment of an FU-A.
func h264KeyframeStart(p []byte) bool {
	if len(p) < 1 {
		return false
	}
	switch t := p[0] & 0x1f; t {
	case 5, 7:
		return true
	case 24: // STAP-A: 16-bit sizes before each NAL unit
		for i := 1; i+2 < len(p); {
			n := int(p[i])<<8 | int(p[i+1])
			if t := p[i+2] & 0x1f; t == 5 || t == 7 {
				return true
			}
			i += 2 + n
		}
	case 28: // FU-A
		return len(p) > 1 && p[1]&0x80 != 0 && p[1]&0x1f == 5
	}
	return false
}

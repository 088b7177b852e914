package record

// Keyframes and picture sizes of the video codecs we record, read from the
// first bytes of a frame as a depacketizer gives it.

// vp8Keyframe reports whether a VP8 frame is a keyframe and its size
// (RFC 6386 §9.1: a 3-byte frame tag, then on keyframes the start code
// 9d 01 2a and two little-endian 14-bit dimensions).
func vp8Keyframe(f []byte) (key bool, w, h int) {
	if len(f) < 10 || f[0]&1 != 0 {
		return false, 0, 0
	}
	if f[3] != 0x9d || f[4] != 0x01 || f[5] != 0x2a {
		return false, 0, 0
	}
	w = int(uint16(f[6])|uint16(f[7])<<8) & 0x3fff
	h = int(uint16(f[8])|uint16(f[9])<<8) & 0x3fff
	return true, w, h
}

// bitReader reads big-endian bits.
type bitReader struct {
	b   []byte
	pos int // in bits
}

func (r *bitReader) bits(n int) (int, bool) {
	v := 0
	for range n {
		if r.pos >= len(r.b)*8 {
			return 0, false
		}
		v = v<<1 | int(r.b[r.pos/8]>>(7-r.pos%8)&1)
		r.pos++
	}
	return v, true
}

// vp9Keyframe reads a VP9 frame's uncompressed header (VP9 bitstream
// specification §6.2) as far as the keyframe's size.
func vp9Keyframe(f []byte) (key bool, w, h int) {
	r := &bitReader{b: f}
	if m, ok := r.bits(2); !ok || m != 2 { // frame_marker
		return false, 0, 0
	}
	lo, _ := r.bits(1)
	hi, _ := r.bits(1)
	profile := hi<<1 | lo
	if profile == 3 {
		r.bits(1) // reserved_zero
	}
	if show, ok := r.bits(1); !ok || show == 1 { // show_existing_frame
		return false, 0, 0
	}
	if t, ok := r.bits(1); !ok || t != 0 { // frame_type: 0 is KEY_FRAME
		return false, 0, 0
	}
	r.bits(2) // show_frame, error_resilient_mode
	if sync, ok := r.bits(24); !ok || sync != 0x498342 {
		return false, 0, 0
	}
	// color_config
	if profile >= 2 {
		r.bits(1) // ten_or_twelve_bit
	}
	cs, _ := r.bits(3)
	if cs != 7 { // not CS_RGB
		r.bits(1) // color_range
		if profile == 1 || profile == 3 {
			r.bits(3) // subsampling_x, subsampling_y, reserved_zero
		}
	} else if profile == 1 || profile == 3 {
		r.bits(1)
	}
	wm, ok1 := r.bits(16)
	hm, ok2 := r.bits(16)
	if !ok1 || !ok2 {
		return true, 0, 0
	}
	return true, wm + 1, hm + 1
}

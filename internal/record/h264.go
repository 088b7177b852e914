package record

import (
	"encoding/binary"
	"errors"
)

// H.264 in Matroska (codec V_MPEG4/ISO/AVC): frames are access units in
// AVCC form, each NAL unit behind a 4-byte big-endian length, as pion's
// RFC 6184 depacketizer gives them with IsAVC (single NAL units, STAP-A
// and FU-A), and the track's CodecPrivate is an AVCDecoderConfigurationRecord
// (ISO/IEC 14496-15 §5.2.4.1) made of the SPS and PPS seen in the stream.
//
// The SPS reader below is hand-written: it needs a dozen exp-Golomb fields
// to learn the picture size, and the one Go library that has it
// (bluenviron/mediacommon) is not a dependency of ours.

// NAL unit types (ITU-T H.264 Table 7-1).
const (
	nalIDR = 5
	nalSPS = 7
	nalPPS = 8
)

const h264Codec = "V_MPEG4/ISO/AVC"

// h264Params follows the parameter sets of one H.264 track, so that every
// keyframe written carries the SPS and PPS it needs and a change of them
// (a new resolution) is seen. It is used by the track's goroutine only.
type h264Params struct {
	sps, pps []byte // the latest seen, nil until then
	w, h     int    // the picture size the latest SPS gives
}

var errAVCC = errors.New("record: H.264 frame is not length-prefixed NAL units")

// nalUnits splits an AVCC frame into its NAL units.
func nalUnits(frame []byte) ([][]byte, error) {
	var out [][]byte
	for len(frame) > 0 {
		if len(frame) < 4 {
			return nil, errAVCC
		}
		n := int(binary.BigEndian.Uint32(frame))
		if n == 0 || n > len(frame)-4 {
			return nil, errAVCC
		}
		out = append(out, frame[4:4+n])
		frame = frame[4+n:]
	}
	return out, nil
}

// frame reads one access unit: it keeps the parameter sets it carries and
// says whether it is a keyframe (an IDR picture whose SPS and PPS are
// known). A keyframe without its parameter sets in band gets the latest
// ones put in front, so that a decoder can start at any keyframe.
func (p *h264Params) frame(avcc []byte) (out []byte, key bool, w, h int, err error) {
	nals, err := nalUnits(avcc)
	if err != nil {
		return nil, false, 0, 0, err
	}
	idr, inband := false, false
	for _, n := range nals {
		switch n[0] & 0x1f {
		case nalSPS:
			if w, h, ok := spsSize(n); ok {
				p.sps, p.w, p.h = append([]byte(nil), n...), w, h
				inband = true
			}
		case nalPPS:
			p.pps = append([]byte(nil), n...)
		case nalIDR:
			idr = true
		}
	}
	if !idr || p.sps == nil || p.pps == nil {
		return avcc, false, 0, 0, nil
	}
	if !inband {
		out = make([]byte, 0, 8+len(p.sps)+len(p.pps)+len(avcc))
		out = binary.BigEndian.AppendUint32(out, uint32(len(p.sps)))
		out = append(out, p.sps...)
		out = binary.BigEndian.AppendUint32(out, uint32(len(p.pps)))
		out = append(out, p.pps...)
		avcc = append(out, avcc...)
	}
	return avcc, true, p.w, p.h, nil
}

// codecPrivate is the AVCDecoderConfigurationRecord of the current SPS and
// PPS, with 4-byte NAL lengths.
func (p *h264Params) codecPrivate() []byte {
	b := []byte{1, p.sps[1], p.sps[2], p.sps[3], 0xfc | 3, 0xe0 | 1}
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.sps)))
	b = append(b, p.sps...)
	b = append(b, 1)
	b = binary.BigEndian.AppendUint16(b, uint16(len(p.pps)))
	return append(b, p.pps...)
}

// rbsp removes the emulation prevention bytes (00 00 03) of a NAL unit.
func rbsp(nal []byte) []byte {
	out := make([]byte, 0, len(nal))
	zeros := 0
	for _, c := range nal {
		if zeros >= 2 && c == 3 {
			zeros = 0
			continue
		}
		if c == 0 {
			zeros++
		} else {
			zeros = 0
		}
		out = append(out, c)
	}
	return out
}

// ue reads an unsigned exp-Golomb number.
func (r *bitReader) ue() (int, bool) {
	zeros := 0
	for {
		b, ok := r.bits(1)
		if !ok || zeros > 31 {
			return 0, false
		}
		if b == 1 {
			break
		}
		zeros++
	}
	v, ok := r.bits(zeros)
	return 1<<zeros - 1 + v, ok
}

// se reads a signed exp-Golomb number.
func (r *bitReader) se() (int, bool) {
	k, ok := r.ue()
	if k%2 == 1 {
		return (k + 1) / 2, ok
	}
	return -k / 2, ok
}

// spsSize reads the picture size in a sequence parameter set (ITU-T H.264
// §7.3.2.1.1), cropping applied.
func spsSize(nal []byte) (w, h int, ok bool) {
	if len(nal) < 5 {
		return 0, 0, false
	}
	r := &bitReader{b: rbsp(nal[1:])}
	profile, _ := r.bits(8)
	r.bits(16) // constraint flags, level_idc
	r.ue()     // seq_parameter_set_id
	chroma := 1
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma, _ = r.ue()
		if chroma == 3 {
			if sep, _ := r.bits(1); sep == 1 {
				chroma = 0 // colour planes coded apart: ChromaArrayType 0
			}
		}
		r.ue()    // bit_depth_luma_minus8
		r.ue()    // bit_depth_chroma_minus8
		r.bits(1) // qpprime_y_zero_transform_bypass_flag
		if m, _ := r.bits(1); m == 1 {
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if present, _ := r.bits(1); present == 1 {
					skipScalingList(r, map[bool]int{true: 16, false: 64}[i < 6])
				}
			}
		}
	}
	r.ue() // log2_max_frame_num_minus4
	switch poc, _ := r.ue(); poc {
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.bits(1) // delta_pic_order_always_zero_flag
		r.se()    // offset_for_non_ref_pic
		r.se()    // offset_for_top_to_bottom_field
		n, _ := r.ue()
		for range min(n, 255) {
			r.se()
		}
	}
	r.ue()    // max_num_ref_frames
	r.bits(1) // gaps_in_frame_num_value_allowed_flag
	wmbs, _ := r.ue()
	hmaps, _ := r.ue()
	frameMbsOnly, _ := r.bits(1)
	if frameMbsOnly == 0 {
		r.bits(1) // mb_adaptive_frame_field_flag
	}
	r.bits(1) // direct_8x8_inference_flag
	w, h = (wmbs+1)*16, (2-frameMbsOnly)*(hmaps+1)*16
	crop, ok := r.bits(1)
	if crop == 1 {
		l, _ := r.ue()
		rt, _ := r.ue()
		t, _ := r.ue()
		b, ok2 := r.ue()
		ok = ok2
		ux, uy := 1, 2-frameMbsOnly // ChromaArrayType 0
		switch chroma {
		case 1: // 4:2:0
			ux, uy = 2, 2*(2-frameMbsOnly)
		case 2: // 4:2:2
			ux = 2
		}
		w, h = w-ux*(l+rt), h-uy*(t+b)
	}
	if !ok || w <= 0 || h <= 0 || w > 16384 || h > 16384 {
		return 0, 0, false
	}
	return w, h, true
}

// skipScalingList reads past a scaling_list() (§7.3.2.1.1.1).
func skipScalingList(r *bitReader, size int) {
	last, next := 8, 8
	for range size {
		if next != 0 {
			d, _ := r.se()
			next = (last + d + 256) % 256
		}
		if next != 0 {
			last = next
		}
	}
}

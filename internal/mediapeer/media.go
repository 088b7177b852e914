package mediapeer

// opusSilence is one 20 ms Opus frame of silence (a CELT-only TOC byte and
// an empty frame), small and valid for any decoder.
var opusSilence = []byte{0xf8, 0xff, 0xfe}

// syntheticVP8 returns frame i of a placeholder video stream of about
// 1 Mbit/s at 30 frames/s: every 30th frame is marked as a keyframe in its
// first byte (the VP8 P bit clear), the rest are interframes. The payload
// is not decodable video: receivers that count packets are content with
// it; the SDK's file source sends real VP8.
func syntheticVP8(i int) []byte {
	b := make([]byte, 4000)
	if i%30 == 0 {
		b[0] = 0x10 // keyframe: P bit (bit 0) clear, version 0, show_frame
	} else {
		b[0] = 0x11
	}
	for k := 1; k < len(b); k++ {
		b[k] = byte(i + k)
	}
	return b
}

package sfu

import (
	"strings"

	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// Header extensions the SFU negotiates. Only those in forwardedExtensions are
// copied from a publisher's packets to its subscribers; the others describe
// one hop only and would be wrong on the next.
const (
	uriAudioLevel       = sdp.AudioLevelURI // RFC 6464 client-to-mixer audio level
	uriVideoOrientation = "urn:3gpp:video-orientation"
	uriMid              = sdp.SDESMidURI // lets Pion map SSRCs a peer did not declare
)

// maxForwardedExt is the number of header extensions a downtrack keeps.
const maxForwardedExt = 2

// forwardedExtensions lists the header extensions a downtrack keeps.
func forwardedExtensions() [maxForwardedExt]string {
	return [maxForwardedExt]string{uriAudioLevel, uriVideoOrientation}
}

// videoFeedback is the RTCP feedback offered with every video codec: NACK
// for retransmission from the packet cache, PLI and FIR for keyframes.
func videoFeedback() []webrtc.RTCPFeedback {
	return []webrtc.RTCPFeedback{
		{Type: "nack"},
		{Type: "nack", Parameter: "pli"},
		{Type: "ccm", Parameter: "fir"},
	}
}

// opusFmtp is the Opus fmtp the SFU offers. In an offer it states what the
// SFU wants to receive (RFC 7587 §7): in-band FEC (useinbandfec=1), which
// lets a receiver rebuild a lost packet from the next one, and DTX
// (usedtx=1), which sends a comfort-noise frame every 400 ms instead of 50
// packets a second of silence. Browsers configure their Opus encoder from
// the remote description, so this line is what turns both on in the
// publishers; the SFU forwards the packets as they are.
const opusFmtp = "minptime=10;useinbandfec=1;usedtx=1"

// mimeTypeRED is RFC 2198 redundant audio; Pion has no constant for it.
const mimeTypeRED = "audio/red"

// opusPayloadType is the SFU's Opus payload type; redFmtp says that both
// blocks of a RED packet (the current frame and one earlier) carry it.
const (
	opusPayloadType = 111
	redFmtp         = "111/111"
)

// supportedCodecs is the codec table, in order of preference: for audio
// RED of Opus (RFC 2198; red.go), then Opus; VP8 (every browser has it),
// then VP9 and H.264 for video. The payload types are the ones Chromium
// uses, which eases reading captures.
func supportedCodecs() []struct {
	kind  webrtc.RTPCodecType
	codec webrtc.RTPCodecParameters
} {
	type entry = struct {
		kind  webrtc.RTPCodecType
		codec webrtc.RTPCodecParameters
	}
	video := func(mime, fmtp string, pt webrtc.PayloadType) entry {
		return entry{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecParameters{
			RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: mime, ClockRate: 90000, SDPFmtpLine: fmtp, RTCPFeedback: videoFeedback(),
			},
			PayloadType: pt,
		}}
	}
	return []entry{
		{webrtc.RTPCodecTypeAudio, redCodec()},
		{webrtc.RTPCodecTypeAudio, opusCodec()},
		video(webrtc.MimeTypeVP8, "", 96),
		video(webrtc.MimeTypeVP9, "profile-id=0", 98),
		video(webrtc.MimeTypeH264, "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f", 102),
	}
}

// opusCodec is the table's Opus entry.
func opusCodec() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2, SDPFmtpLine: opusFmtp,
		},
		PayloadType: opusPayloadType,
	}
}

// redCodec is the table's entry for RED of Opus, Chromium's payload type
// and fmtp.
func redCodec() webrtc.RTPCodecParameters {
	return webrtc.RTPCodecParameters{
		RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: mimeTypeRED, ClockRate: 48000, Channels: 2, SDPFmtpLine: redFmtp,
		},
		PayloadType: 63,
	}
}

// publishAudioCodecs returns the codec preferences of a publisher's audio
// m-line: the table's audio entries, which it offers in every offer, RED
// first: Chromium then sends RED, Firefox (which has no audio RED) answers
// Opus alone and sends Opus. Each
// lists transport-cc because Pion offers the intersection of a
// preference's feedback and the media engine's, where ConfigureTWCCSender
// adds it: without it a publisher's audio would lose TWCC.
func publishAudioCodecs() []webrtc.RTPCodecParameters {
	var out []webrtc.RTPCodecParameters
	for _, c := range supportedCodecs() {
		if c.kind == webrtc.RTPCodecTypeAudio {
			c.codec.RTCPFeedback = []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}}
			out = append(out, c.codec)
		}
	}
	return out
}

// newMediaEngine registers the codec table and header extensions.
func newMediaEngine() (*webrtc.MediaEngine, error) {
	me := &webrtc.MediaEngine{}
	for _, c := range supportedCodecs() {
		if err := me.RegisterCodec(c.codec, c.kind); err != nil {
			return nil, err
		}
	}
	exts := []struct {
		uri  string
		kind webrtc.RTPCodecType
	}{
		{uriMid, webrtc.RTPCodecTypeAudio},
		{uriAudioLevel, webrtc.RTPCodecTypeAudio},
		{uriMid, webrtc.RTPCodecTypeVideo},
		{uriVideoOrientation, webrtc.RTPCodecTypeVideo},
		// Simulcast layers arrive tagged with their rid.
		{sdp.SDESRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
		{sdp.SDESRepairRTPStreamIDURI, webrtc.RTPCodecTypeVideo},
	}
	for _, e := range exts {
		if err := me.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, e.kind); err != nil {
			return nil, err
		}
	}
	return me, nil
}

// subscriberCodecs returns the codec preferences of a subscriber's m-line
// for a publication: the SFU's own entry for the codec the publisher sends,
// with payload type 0 so that each subscriber's session picks its own (the
// publisher's codec if the table has no match). For RED of Opus Opus
// follows: a subscriber without RED gets the primary blocks (red.go). For
// Opus RED follows, never used on that m-line: Pion offers a new m-line
// only codecs some earlier answer accepted, so a browser must have
// answered red once for its session to receive RED later.
func subscriberCodecs(pub webrtc.RTPCodecParameters) []webrtc.RTPCodecParameters {
	out := []webrtc.RTPCodecParameters{pub}
	for _, c := range supportedCodecs() {
		if sameCodec(c.codec.RTPCodecCapability, pub.RTPCodecCapability) {
			out[0] = c.codec
			break
		}
	}
	switch {
	case isREDOfOpus(pub.RTPCodecCapability):
		out = append(out, opusCodec())
	case sameCodec(pub.RTPCodecCapability, opusCodec().RTPCodecCapability):
		out = append(out, redCodec())
	}
	for i := range out {
		out[i].PayloadType = 0
	}
	return out
}

// setCodecPreferences sets t's codec preferences to prefs or, if the
// session cannot offer RED (Pion offers only codecs an earlier answer of the
// session accepted, once there was one: a Firefox's, an SDK's), to prefs
// without RED.
func setCodecPreferences(t *webrtc.RTPTransceiver, prefs []webrtc.RTPCodecParameters) error {
	err := t.SetCodecPreferences(prefs)
	if err == nil {
		return nil
	}
	rest := make([]webrtc.RTPCodecParameters, 0, len(prefs))
	for _, c := range prefs {
		if !strings.EqualFold(c.MimeType, mimeTypeRED) {
			rest = append(rest, c)
		}
	}
	if len(rest) == len(prefs) || len(rest) == 0 {
		return err
	}
	return t.SetCodecPreferences(rest)
}

// matchCodec finds the negotiated codec that carries what the publisher
// sends: the same codec or, for RED of Opus, Opus, of which the subscriber
// then gets the primary blocks only (primaryOnly).
func matchCodec(pub webrtc.RTPCodecCapability, negotiated []webrtc.RTPCodecParameters) (c webrtc.RTPCodecParameters, primaryOnly, ok bool) {
	for _, c := range negotiated {
		if sameCodec(pub, c.RTPCodecCapability) {
			return c, false, true
		}
	}
	if isREDOfOpus(pub) {
		opus := opusCodec().RTPCodecCapability
		for _, c := range negotiated {
			if sameCodec(opus, c.RTPCodecCapability) {
				return c, true, true
			}
		}
	}
	return webrtc.RTPCodecParameters{}, false, false
}

// isREDOfOpus reports whether c is RFC 2198 RED whose blocks are Opus: at
// 48 kHz, with the SFU's Opus payload type in every block (red.go checks
// each packet's primary block too). The SFU makes every offer, so the
// payload types a publisher sends with are the SFU's.
func isREDOfOpus(c webrtc.RTPCodecCapability) bool {
	pt, ok := redBlockTypeOf(c)
	return ok && pt == opusPayloadType
}

// redBlockTypeOf returns the payload type of the blocks of RED codec c:
// the one its fmtp names, or without an fmtp the SFU's Opus.
func redBlockTypeOf(c webrtc.RTPCodecCapability) (uint8, bool) {
	if !strings.EqualFold(c.MimeType, mimeTypeRED) || c.ClockRate != 48000 {
		return 0, false
	}
	if strings.TrimSpace(c.SDPFmtpLine) == "" {
		return opusPayloadType, true
	}
	return redBlockType(c.SDPFmtpLine)
}

// sameCodec reports whether packets of codec a can be sent as codec b
// without transcoding: same MIME type and clock rate, and for H.264 the same
// packetization mode and profile, for VP9 the same profile.
func sameCodec(a, b webrtc.RTPCodecCapability) bool {
	if !strings.EqualFold(a.MimeType, b.MimeType) || a.ClockRate != b.ClockRate {
		return false
	}
	switch strings.ToLower(a.MimeType) {
	case strings.ToLower(webrtc.MimeTypeH264):
		fa, fb := parseFmtp(a.SDPFmtpLine), parseFmtp(b.SDPFmtpLine)
		return orDefault(fa["packetization-mode"], "0") == orDefault(fb["packetization-mode"], "0") &&
			h264Profile(fa["profile-level-id"]) == h264Profile(fb["profile-level-id"])
	case strings.ToLower(webrtc.MimeTypeVP9):
		fa, fb := parseFmtp(a.SDPFmtpLine), parseFmtp(b.SDPFmtpLine)
		return orDefault(fa["profile-id"], "0") == orDefault(fb["profile-id"], "0")
	}
	return true
}

// h264Profile returns the profile part (profile_idc and constraint flags)
// of a profile-level-id, ignoring the level, which receivers cap
// themselves. The RFC 6184 default is 420010 (baseline).
func h264Profile(profileLevelID string) string {
	if len(profileLevelID) != 6 {
		profileLevelID = "420010"
	}
	return strings.ToLower(profileLevelID[:4])
}

// parseFmtp splits an a=fmtp parameter list into lowercase keys and values.
func parseFmtp(line string) map[string]string {
	params := make(map[string]string)
	for _, part := range strings.Split(line, ";") {
		key, value, _ := strings.Cut(strings.TrimSpace(part), "=")
		if key != "" {
			params[strings.ToLower(key)] = value
		}
	}
	return params
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}

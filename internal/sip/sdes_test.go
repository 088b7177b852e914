package sip

import (
	"bytes"
	"errors"
	"strings"
	"testing"
)

// savpOffer requires SRTP, offering an unknown suite first, then ours.
const savpOffer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/SAVP 0 101\r\n" +
	"a=rtpmap:101 telephone-event/8000\r\n" +
	"a=crypto:1 AES_256_CM_HMAC_SHA1_80 inline:ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFrZWtleWZha2VrZXlmYWtla2V5ZmFr\r\n" +
	"a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:MDEyMzQ1Njc4OWFiY2RlZmdoaWprbG1ub3BxcnN0|2^20\r\n"

// An offer that requires SRTP gets an RTP/SAVP answer with our own key
// under the tag of the one suite we speak; one whose keys are all in
// suites we do not speak is refused (488); RTP/AVP with a=crypto (SRTP
// offered, not required) is answered in SRTP too.
func TestSDESOffer(t *testing.T) {
	o, err := parseOffer([]byte(savpOffer))
	if err != nil {
		t.Fatal(err)
	}
	if o.srtp == nil || o.srtp.tag != 2 || string(o.srtp.remote) != "0123456789abcdefghijklmnopqrst" || len(o.srtp.local) != 30 {
		t.Fatalf("read %+v", o.srtp)
	}
	if bytes.Equal(o.srtp.local, o.srtp.remote) {
		t.Fatal("our key is the phone's")
	}
	answer := string(answerSDP(o, []byte{127, 0, 0, 1}, 4000, 1))
	if !strings.Contains(answer, "m=audio 4000 RTP/SAVP 0 101\r\n") || !strings.Contains(answer, "a=crypto:2 AES_CM_128_HMAC_SHA1_80 inline:") {
		t.Errorf("answer:\n%s", answer)
	}
	onlyOther := strings.Replace(savpOffer, "a=crypto:2 AES_CM_128_HMAC_SHA1_80", "a=crypto:2 AES_CM_128_HMAC_SHA1_32", 1)
	if _, err := parseOffer([]byte(onlyOther)); !errors.Is(err, errNoCodec) {
		t.Errorf("SRTP in suites we lack: %v, want errNoCodec (488)", err)
	}
	optional := strings.Replace(savpOffer, "RTP/SAVP", "RTP/AVP", 1)
	o, err = parseOffer([]byte(optional))
	if err != nil || o.srtp == nil {
		t.Fatalf("RTP/AVP with a=crypto: %+v %v", o, err)
	}
	if answer := string(answerSDP(o, []byte{127, 0, 0, 1}, 4000, 1)); !strings.Contains(answer, " RTP/AVP ") || !strings.Contains(answer, "a=crypto:2 ") {
		t.Errorf("answer to optional SRTP:\n%s", answer)
	}
}

// SRTP both ways: what one leg's contexts encrypt, the other's decrypt,
// and a tampered packet fails authentication.
func TestSDESContexts(t *testing.T) {
	a := &sdes{remote: newSDESKey(), local: newSDESKey()}
	b := &sdes{remote: a.local, local: a.remote}
	_, aOut, err := a.contexts()
	if err != nil {
		t.Fatal(err)
	}
	bIn, _, err := b.contexts()
	if err != nil {
		t.Fatal(err)
	}
	pkt := append([]byte{0x80, 0, 0, 1, 0, 0, 0, 160, 1, 2, 3, 4}, bytes.Repeat([]byte{0x55}, 160)...)
	sealed, err := aOut.EncryptRTP(nil, pkt, nil)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Equal(sealed[12:172], pkt[12:]) {
		t.Fatal("the payload went in clear")
	}
	plain, err := bIn.DecryptRTP(nil, sealed, nil)
	if err != nil || !bytes.Equal(plain, pkt) {
		t.Fatalf("decrypted %x, %v", plain, err)
	}
	sealed[20] ^= 1
	sealed[2], sealed[3] = 0, 2 // a new sequence number, so that replay protection is not what refuses it
	if _, err := bIn.DecryptRTP(nil, sealed, nil); err == nil {
		t.Error("a tampered packet decrypted")
	}
}

// opusOffer prefers Opus, with telephone-events at its clock and at 8 kHz.
const opusOffer = "v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 111 0 8 101 102\r\n" +
	"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 useinbandfec=1\r\na=rtpmap:101 telephone-event/8000\r\na=rtpmap:102 telephone-event/48000\r\n"

// The codec is the first of the offer's formats we speak, in its order;
// telephone-event comes at that codec's clock when offered.
func TestCodecBySDPOrder(t *testing.T) {
	o, err := parseOffer([]byte(opusOffer))
	if err != nil {
		t.Fatal(err)
	}
	if !o.opus || o.pt != 111 || o.dtmfPT != 102 || o.dtmfClock != "48000" {
		t.Errorf("Opus first: %+v", o)
	}
	answer := string(answerSDP(o, []byte{127, 0, 0, 1}, 4000, 1))
	for _, want := range []string{"m=audio 4000 RTP/AVP 111 102\r\n", "a=rtpmap:111 opus/48000/2\r\n", "a=rtpmap:102 telephone-event/48000\r\n"} {
		if !strings.Contains(answer, want) {
			t.Errorf("answer lacks %q:\n%s", want, answer)
		}
	}
	g711First := strings.Replace(opusOffer, "RTP/AVP 111 0 8", "RTP/AVP 8 111 0", 1)
	if o, err := parseOffer([]byte(g711First)); err != nil || o.opus || o.pt != ptPCMA || o.dtmfClock != "8000" {
		t.Errorf("PCMA first: %+v %v", o, err)
	}
	noOpus := strings.Replace(opusOffer, "RTP/AVP 111 0 8 101 102", "RTP/AVP 111 101", 1)
	noOpus = strings.Replace(noOpus, "opus/48000/2", "SILK/16000", 1)
	if _, err := parseOffer([]byte(noOpus)); !errors.Is(err, errNoCodec) {
		t.Errorf("only SILK: %v, want errNoCodec", err)
	}
}

package sip

import (
	"testing"

	"github.com/emiago/sipgo/sip"
)

// FuzzOffer feeds SDP bodies to parseOffer and answerSDP: no panic, and an
// accepted offer names a G.711 codec and a port.
func FuzzOffer(f *testing.F) {
	f.Add([]byte("v=0\r\no=- 1 1 IN IP4 10.0.0.1\r\ns=-\r\nc=IN IP4 10.0.0.1\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0 8 101\r\na=rtpmap:101 telephone-event/8000\r\n"))
	f.Add([]byte("v=0\r\no=- 1 1 IN IP6 ::1\r\ns=-\r\nt=0 0\r\nm=video 0 RTP/AVP 96\r\nm=audio 5000 RTP/SAVP 8\r\nc=IN IP6 ::1\r\na=sendonly\r\n"))
	f.Add([]byte("v=banana\r\nm=audio 99999999 RTP/AVP x\r\n"))
	f.Add([]byte(savpOffer))
	f.Add([]byte(opusOffer))
	f.Fuzz(func(t *testing.T, body []byte) {
		o, err := parseOffer(body)
		if err != nil {
			return
		}
		if o.pt != ptPCMU && o.pt != ptPCMA && !o.opus || o.rtp.Port() == 0 {
			t.Fatalf("accepted offer %+v", o)
		}
		back, err := parseOffer(answerSDP(o, []byte{127, 0, 0, 1}, 4000, 1))
		if err != nil {
			t.Fatalf("our answer does not parse: %v", err)
		}
		if back.pt != o.pt || back.opus != o.opus || back.dtmfPT != o.dtmfPT {
			t.Fatalf("our answer names %d (opus %v, events %d), the offer %d (opus %v, events %d)", back.pt, back.opus, back.dtmfPT, o.pt, o.opus, o.dtmfPT)
		}
		if (o.srtp == nil) != (back.srtp == nil) || o.srtp != nil && string(back.srtp.remote) != string(o.srtp.local) {
			t.Fatalf("our answer's SDES %+v does not match the offer's %+v", back.srtp, o.srtp)
		}
	})
}

// FuzzRequest parses whole SIP messages with sipgo's parser and runs what
// we read of an INVITE (the room, the caller's nick, the offer) on them.
func FuzzRequest(f *testing.F) {
	f.Add([]byte("INVITE sip:lab@127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:5061;branch=z9hG4bK1\r\nFrom: \"Ann\" <sip:+33612345678@127.0.0.1>;tag=1\r\nTo: <sip:lab@127.0.0.1>\r\nCall-ID: a\r\nCSeq: 1 INVITE\r\nContact: <sip:a@127.0.0.1:5061>\r\nContent-Type: application/sdp\r\nContent-Length: 0\r\n\r\n"))
	f.Add([]byte("INVITE sip:no!room@x SIP/2.0\r\nFrom: <sip:1@x>\r\n\r\n"))
	f.Add([]byte("BYE sip:x SIP/2.0\r\nContent-Length: 5\r\n\r\nabc"))
	parser := sip.NewParser()
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := parser.ParseSIP(data)
		if err != nil {
			return
		}
		req, ok := msg.(*sip.Request)
		if !ok {
			return
		}
		if room, ok := roomOf(req.Recipient.User); ok && room == "" {
			t.Fatal("an empty room accepted")
		}
		nick := callerNick(req.From())
		for i := 0; i < len(nick); i++ {
			if nick[i] < ' ' || nick[i] >= 0x7f {
				t.Fatalf("nick %q is not plain ASCII", nick)
			}
		}
		_, _ = offerOf(req)
		_, _ = newPolicy([]Trunk{{Username: "u", Password: "p"}}).check(req, addrOf(req.Source()))
	})
}

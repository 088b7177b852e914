package jingle

import (
	"strconv"
	"testing"
)

// conference is a focus's offer to one participant of a large meeting: one
// audio and one video m-line per remote participant, all bundled, with the
// transport on the first content only.
func conference(participants int) *Jingle {
	j := &Jingle{Action: ActionSessionInitiate, SID: "bench", Group: &Group{Semantics: "BUNDLE"}}
	for i := 0; i < 2*participants; i++ {
		name := strconv.Itoa(i)
		media, pt := "audio", PayloadType{ID: 111, Name: "opus", ClockRate: 48000, Channels: 2}
		if i%2 == 1 {
			media, pt = "video", PayloadType{ID: 100, Name: "VP8", ClockRate: 90000,
				Feedback: []Feedback{{Type: "nack"}, {Type: "nack", Subtype: "pli"}, {Type: "transport-cc"}}}
		}
		c := Content{Name: name, Senders: SendersInitiator, Description: &RTPDescription{
			Media: media, PayloadTypes: []PayloadType{pt}, RTCPMux: true,
			HeaderExtensions: []HeaderExtension{{ID: 3, URI: "urn:ietf:params:rtp-hdrext:sdes:mid"}},
			Sources:          []Source{{SSRC: uint32(1000 + i), Parameters: []Parameter{{"cname", "p" + name}, {"msid", "s" + name + " t" + name}}}},
		}}
		if i == 0 {
			c.Transport = &ICETransport{Ufrag: "u1", Pwd: "p1p1p1p1p1p1p1p1p1p1p1p1",
				Fingerprints: []Fingerprint{{Hash: "sha-256", Setup: "actpass", Value: "AB:CD"}},
				Candidates:   []Candidate{{Foundation: "1", Component: 1, Protocol: "udp", Priority: 2130706431, IP: "192.0.2.1", Port: 10000, Type: "host", ID: "c1"}}}
		}
		j.Group.Contents = append(j.Group.Contents, name)
		j.Contents = append(j.Contents, c)
	}
	return j
}

func BenchmarkToSDPConference500(b *testing.B) {
	j := conference(500)
	for b.Loop() {
		if _, err := ToSDP(j, RoleInitiator); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkFromSDPConference500(b *testing.B) {
	s, err := ToSDP(conference(500), RoleInitiator)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(s)))
	for b.Loop() {
		if _, err := FromSDP(s, RoleResponder); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseElement(b *testing.B) {
	el := conference(50).Element()
	for b.Loop() {
		if _, err := Parse(el); err != nil {
			b.Fatal(err)
		}
	}
}

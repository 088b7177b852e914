package xmlstream

import (
	"io"
	"strings"
	"testing"
)

const benchMessage = `<message xmlns='jabber:client' from='alice@example.com/phone-4f2a' to='bob@example.com' type='chat' id='msg-8c1e7f'>` +
	`<body>Hello Bob, are we still on for the call at 3? I&apos;ll send the link.</body>` +
	`<active xmlns='http://jabber.org/protocol/chatstates'/><request xmlns='urn:xmpp:receipts'/>` +
	`<origin-id xmlns='urn:xmpp:sid:0' id='c3b2e0a6-6f0e-4b8e-9a43-1d3cf7e0b0a1'/></message>`

// benchPresence is a ~2 KB MUC presence as a conference client sends it.
var benchPresence = `<presence xmlns='jabber:client' from='room42@conference.example.com/7f3a9c21' to='bob@example.com/web-1a2b3c' id='p-77'>` +
	`<stats-id>Lesley-Qm8</stats-id><region xmlns='http://jitsi.org/jitsi-meet' id='eu-west'/>` +
	`<c xmlns='http://jabber.org/protocol/caps' hash='sha-1' node='https://parley.dev/client' ver='kR5LmBmS/1rHLAQ29O4lvtTr3a8='/>` +
	`<features><feature var='urn:ietf:rfc:5888'/><feature var='urn:ietf:rfc:5761'/><feature var='urn:ietf:rfc:4588'/>` +
	`<feature var='http://jitsi.org/tcc'/><feature var='http://jitsi.org/opus-red'/><feature var='http://jitsi.org/remb'/></features>` +
	`<nick xmlns='http://jabber.org/protocol/nick'>Lesley &amp; friends</nick>` +
	`<jitsi_participant_codecList>vp9,vp8,h264,av1</jitsi_participant_codecList><audiomuted>false</audiomuted><videomuted>true</videomuted>` +
	`<SourceInfo>{"7f3a9c21-a0":{"muted":false},"7f3a9c21-v0":{"muted":true,"videoType":"camera"}}</SourceInfo>` +
	`<jitsi_participant_e2ee.enabled>false</jitsi_participant_e2ee.enabled>` +
	`<avatar-url>https://avatars.example.com/u/7f3a9c21.png?size=128&amp;v=3</avatar-url>` +
	`<email>lesley@example.com</email><status>Back in five minutes — grabbing coffee ☕</status><show>away</show><priority>5</priority>` +
	`<x xmlns='vcard-temp:x:update'><photo>01b87fcd030b72895ff8e88db57ec525450f000d</photo></x>` +
	`<occupant-id xmlns='urn:xmpp:occupant-id:0' id='dGhpcyBpcyBhbiBvY2N1cGFudCBpZCBmb3IgdGVzdGluZw=='/>` +
	`<x xmlns='http://jabber.org/protocol/muc#user'><item affiliation='member' role='participant' jid='lesley@example.com/web-9f8e7d' nick='Lesley'>` +
	`<actor nick='moderator'/><reason>Invited to the weekly sync</reason></item><status code='100'/><status code='110'/><status code='170'/></x>` +
	`<delay xmlns='urn:xmpp:delay' from='room42@conference.example.com' stamp='2026-11-20T10:15:00.000Z'/>` +
	`<transcription-status xmlns='http://jitsi.org/protocol/transcription'>off</transcription-status>` +
	`<conference-properties><property key='visitor-count' value='0'/><property key='created-ms' value='1763633700000'/>` +
	`<property key='breakout-main-room' value=''/><property key='audio-limit-reached' value='false'/></conference-properties>` +
	`</presence>`

// cycleReader repeats its data forever, like a busy connection.
type cycleReader struct {
	data []byte
	pos  int
}

func (c *cycleReader) Read(p []byte) (int, error) {
	n := 0
	for n < len(p) {
		k := copy(p[n:], c.data[c.pos:])
		n += k
		c.pos = (c.pos + k) % len(c.data)
	}
	return n, nil
}

func BenchmarkReadElement(b *testing.B) {
	for _, bc := range []struct{ name, stanza string }{
		{"message", benchMessage},
		{"presence-muc-2KB", benchPresence},
	} {
		b.Run(bc.name, func(b *testing.B) {
			d := NewDecoder(io.MultiReader(strings.NewReader(clientHeader), &cycleReader{data: []byte(bc.stanza)}), Limits{})
			if _, err := d.ReadHeader(); err != nil {
				b.Fatal(err)
			}
			b.SetBytes(int64(len(bc.stanza)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := d.ReadElement(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkParseElement(b *testing.B) {
	for _, bc := range []struct{ name, stanza string }{
		{"message", benchMessage},
		{"presence-muc-2KB", benchPresence},
	} {
		b.Run(bc.name, func(b *testing.B) {
			in := []byte(bc.stanza)
			p := NewParser(Limits{})
			b.SetBytes(int64(len(in)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := p.Parse(in, NSClient); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkEncodingXMLTree is the baseline the hand-written scanner is
// measured against: building the same tree with encoding/xml.
func BenchmarkEncodingXMLTree(b *testing.B) {
	for _, bc := range []struct{ name, stanza string }{
		{"message", benchMessage},
		{"presence-muc-2KB", benchPresence},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.SetBytes(int64(len(bc.stanza)))
			b.ReportAllocs()
			for b.Loop() {
				if _, err := stdParse(bc.stanza); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppend(b *testing.B) {
	el, err := ParseElementIn([]byte(benchPresence), Limits{}, NSClient)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 0, 4096)
	b.ReportAllocs()
	for b.Loop() {
		buf = el.Append(buf[:0], NSClient)
	}
	b.SetBytes(int64(len(buf)))
}

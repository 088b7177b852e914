package muc

import (
	"fmt"
	"testing"

	"parley.dev/parley/internal/xmlstream"
)

type discardRouter struct{}

func (discardRouter) Route(*xmlstream.Element) {}

// BenchmarkGroupchat50 measures reflecting one message to 50 occupants.
func BenchmarkGroupchat50(b *testing.B) {
	svc, err := New(Config{Domain: testDomain, Router: discardRouter{}})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	room := "bench@" + testDomain
	for i := range 50 {
		svc.HandleStanza(parse(b, fmt.Sprintf("<presence from='u%d@example.test/r' to='%s/n%d'/>", i, room, i)))
	}
	msg := parse(b, "<message type='groupchat' from='u1@example.test/r' to='"+room+"'><body>hello</body></message>")
	b.ReportAllocs()
	for b.Loop() {
		svc.HandleStanza(msg)
	}
}

// BenchmarkOccupantIQ measures forwarding an IQ to an occupant and its answer back.
func BenchmarkOccupantIQ(b *testing.B) {
	router := &fakeRouter{}
	svc, err := New(Config{Domain: testDomain, Router: router})
	if err != nil {
		b.Fatal(err)
	}
	defer svc.Close()
	room := "bench@" + testDomain
	svc.HandleStanza(parse(b, "<presence from='focus@example.test/f' to='"+room+"/focus'/>"))
	svc.HandleStanza(parse(b, "<presence from='bob@example.test/b' to='"+room+"/bob'/>"))
	req := parse(b, "<iq type='set' id='x' from='focus@example.test/f' to='"+room+"/bob'><jingle xmlns='urn:xmpp:jingle:1'/></iq>")
	router.take()
	b.ReportAllocs()
	for b.Loop() {
		svc.HandleStanza(req)
		fwd := router.take()[0]
		res := xmlstream.New(xmlstream.NSClient, "iq", "type", "result", "id", fwd.Attr("id"),
			"from", "bob@example.test/b", "to", room+"/focus")
		svc.HandleStanza(res)
		router.take()
	}
}

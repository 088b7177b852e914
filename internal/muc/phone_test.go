package muc

import (
	"errors"
	"testing"
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// stubPhones answers for a SIP gateway: room "ph"'s PIN, and a dial-out
// that answers, except to "busy".
type stubPhones struct{}

func (stubPhones) PhoneDialIn(room string) (string, string, error) {
	if room != "ph" {
		return "", "", errors.New("unexpected room " + room)
	}
	return "+33 1 23", "482913", nil
}

func (stubPhones) PhoneDial(room, to, by string) (string, error) {
	if to == "busy" {
		return "", &stanza.Error{Condition: stanza.RecipientUnavailable, Text: "busy", Extra: xmlstream.New(NSPhone, "busy", "code", "486")}
	}
	return "Phone ***" + to[len(to)-4:] + " for " + by, nil
}

// answerTo finds the room's answer to the request with id in sent (what
// sending it routed), or waits for it: the gateway answers from a
// goroutine of its own.
func answerTo(t *testing.T, h *harness, id string, sent []*xmlstream.Element) *xmlstream.Element {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for out := sent; time.Now().Before(deadline); out = h.router.take() {
		for _, st := range out {
			if st.Name == "iq" && st.Attr("id") == id {
				return st
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	t.Fatalf("no answer to %s", id)
	return nil
}

// An occupant reads the dial-in number and PIN, an outsider may not; the
// owner dials out and reads the nick, or the gateway's reason it failed;
// a participant without dial_out is refused before the gateway hears of
// it; a server without a gateway says so.
func TestPhoneIQs(t *testing.T) {
	h := newHarness(t, func(c *Config) { c.Phones = stubPhones{} })
	room := h.room("ph")
	h.mustJoin("bob@example.test/b", room+"/Bob")

	sent := h.send("<iq type='get' id='in1' from='bob@example.test/b' to='%s'><dial-in xmlns='%s'/></iq>", room, NSPhone)
	res := answerTo(t, h, "in1", sent)
	d := res.Child(NSPhone, "dial-in")
	if res.Attr("type") != "result" || d == nil || d.Attr("pin") != "482913" || d.Attr("number") != "+33 1 23" || res.Attr("to") != "bob@example.test/b" {
		t.Fatalf("dial-in answered %s", res)
	}
	out := h.send("<iq type='get' id='in2' from='eve@example.test/e' to='%s'><dial-in xmlns='%s'/></iq>", room, NSPhone)
	if len(out) != 1 || errCond(out[0]) != "forbidden" {
		t.Errorf("an outsider's dial-in: %s", dump(out))
	}

	out = h.send("<iq type='set' id='d1' from='bob@example.test/b' to='%s'><dial xmlns='%s' to='+33612345678'/></iq>", room, NSPhone)
	if len(out) != 1 || errCond(out[0]) != "forbidden" {
		t.Errorf("a participant's dial: %s", dump(out))
	}
	sent = h.send("<iq type='set' id='d2' from='owner@example.test/o' to='%s'><dial xmlns='%s' to='+33612345678'/></iq>", room, NSPhone)
	res = answerTo(t, h, "d2", sent)
	if d := res.Child(NSPhone, "dial"); res.Attr("type") != "result" || d == nil || d.Attr("nick") != "Phone ***5678 for owner" {
		t.Errorf("the owner's dial answered %s", res)
	}
	sent = h.send("<iq type='set' id='d3' from='owner@example.test/o' to='%s'><dial xmlns='%s' to='busy'/></iq>", room, NSPhone)
	res = answerTo(t, h, "d3", sent)
	if se := stanza.ParseError(res); se == nil || se.Condition != stanza.RecipientUnavailable || se.Extra == nil || se.Extra.Name != "busy" || se.Extra.Attr("code") != "486" {
		t.Errorf("a busy callee answered %s", res)
	}
	out = h.send("<iq type='get' id='d4' from='owner@example.test/o' to='%s'><dial xmlns='%s' to='1'/></iq>", room, NSPhone)
	if len(out) != 1 || errCond(out[0]) != "bad-request" {
		t.Errorf("dial as a get: %s", dump(out))
	}

	none := newHarness(t)
	room = none.room("ph")
	out = none.send("<iq type='get' id='n1' from='owner@example.test/o' to='%s'><dial-in xmlns='%s'/></iq>", room, NSPhone)
	if len(out) != 1 || errCond(out[0]) != "feature-not-implemented" {
		t.Errorf("dial-in without a gateway: %s", dump(out))
	}
}

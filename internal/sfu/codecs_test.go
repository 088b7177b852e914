package sfu

import (
	"context"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"parley.dev/parley/internal/jingle"
)

// opusParams returns the fmtp parameters of the Opus payload type of sdpText's
// first audio m-line.
func opusParams(t *testing.T, sdpText string) map[string]string {
	t.Helper()
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(sdpText); err != nil {
		t.Fatalf("SDP does not parse: %v\n%s", err, sdpText)
	}
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		pt := ""
		for _, a := range m.Attributes {
			if id, codec, ok := strings.Cut(a.Value, " "); a.Key == "rtpmap" && ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
				pt = id
			}
		}
		for _, a := range m.Attributes {
			if id, params, ok := strings.Cut(a.Value, " "); a.Key == "fmtp" && ok && pt != "" && id == pt {
				return parseFmtp(params)
			}
		}
		t.Fatalf("audio m-line has no Opus fmtp (payload type %q):\n%s", pt, sdpText)
	}
	t.Fatalf("SDP has no audio m-line:\n%s", sdpText)
	return nil
}

func wantFECAndDTX(t *testing.T, where string, params map[string]string) {
	t.Helper()
	if params["useinbandfec"] != "1" || params["usedtx"] != "1" {
		t.Errorf("%s: Opus fmtp %v, want useinbandfec=1 and usedtx=1", where, params)
	}
}

// jingleRoundTrip translates sdpText to Jingle as role, checks the element
// carries the Opus parameters, parses the element back and writes SDP again,
// as the focus and the web client do between them.
func jingleRoundTrip(t *testing.T, sdpText string, role jingle.Role) string {
	t.Helper()
	j, err := jingle.FromSDP(sdpText, role)
	if err != nil {
		t.Fatalf("FromSDP: %v", err)
	}
	j.Action, j.SID = "session-accept", "s1"
	if role == jingle.RoleInitiator {
		j.Action, j.Initiator = "session-initiate", "focus.example.test"
	}
	el := j.Element()
	xml := el.String()
	for _, want := range []string{`<parameter name="useinbandfec" value="1"/>`, `<parameter name="usedtx" value="1"/>`} {
		if !strings.Contains(xml, want) {
			t.Errorf("Jingle lacks %s:\n%s", want, xml)
		}
	}
	back, err := jingle.Parse(el)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	out, err := jingle.ToSDP(back, role)
	if err != nil {
		t.Fatalf("ToSDP: %v", err)
	}
	return out
}

// TestOpusFECAndDTXNegotiated checks that the SFU's offer asks publishers
// for Opus in-band FEC and DTX, that both survive the Jingle round trip in
// the offer and in an answer that keeps them, and that the SFU accepts such
// an answer.
func TestOpusFECAndDTXNegotiated(t *testing.T) {
	s := newTestSFU(t, nil)
	p, err := s.Conference("room").Join("alice", JoinOptions{NoVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	offer, err := p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	wantFECAndDTX(t, "SFU offer", opusParams(t, offer))
	browserOffer := jingleRoundTrip(t, offer, jingle.RoleInitiator)
	wantFECAndDTX(t, "offer after Jingle", opusParams(t, browserOffer))

	c := newTestClient(t, "alice")
	answer, err := c.answer(browserOffer)
	if err != nil {
		t.Fatal(err)
	}
	// The web client adds what Pion's default Opus line lacks (sdpbridge.js).
	answer = strings.Replace(answer, "useinbandfec=1", "useinbandfec=1;usedtx=1", 1)
	wantFECAndDTX(t, "client answer", opusParams(t, answer))
	focusAnswer := jingleRoundTrip(t, answer, jingle.RoleResponder)
	wantFECAndDTX(t, "answer after Jingle", opusParams(t, focusAnswer))
	if err := p.SetAnswer(focusAnswer); err != nil {
		t.Fatalf("SFU refused the answer: %v", err)
	}
}

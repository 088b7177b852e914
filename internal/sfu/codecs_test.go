package sfu

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"

	"parley.dev/parley/internal/jingle"
)

// opusParams returns the fmtp parameters of the Opus payload type of each
// audio m-line of sdpText.
func opusParams(t *testing.T, sdpText string) []map[string]string {
	t.Helper()
	var desc sdp.SessionDescription
	if err := desc.UnmarshalString(sdpText); err != nil {
		t.Fatalf("SDP does not parse: %v\n%s", err, sdpText)
	}
	var out []map[string]string
	for _, m := range desc.MediaDescriptions {
		if m.MediaName.Media != "audio" {
			continue
		}
		pt, params := "", map[string]string(nil)
		for _, a := range m.Attributes {
			if id, codec, ok := strings.Cut(a.Value, " "); a.Key == "rtpmap" && ok && strings.HasPrefix(strings.ToLower(codec), "opus/") {
				pt = id
			}
		}
		for _, a := range m.Attributes {
			if id, line, ok := strings.Cut(a.Value, " "); a.Key == "fmtp" && ok && pt != "" && id == pt {
				params = parseFmtp(line)
			}
		}
		if params == nil {
			t.Fatalf("audio m-line %q has no Opus fmtp (payload type %q):\n%s", m.MediaName.String(), pt, sdpText)
		}
		out = append(out, params)
	}
	if len(out) == 0 {
		t.Fatalf("SDP has no audio m-line:\n%s", sdpText)
	}
	return out
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
	wantFECAndDTX(t, "SFU offer", opusParams(t, offer)[0])
	browserOffer := jingleRoundTrip(t, offer, jingle.RoleInitiator)
	wantFECAndDTX(t, "offer after Jingle", opusParams(t, browserOffer)[0])

	c := newTestClient(t, "alice")
	answer, err := c.answer(browserOffer)
	if err != nil {
		t.Fatal(err)
	}
	// The web client adds what Pion's default Opus line lacks (sdpbridge.js).
	answer = strings.Replace(answer, "useinbandfec=1", "useinbandfec=1;usedtx=1", 1)
	wantFECAndDTX(t, "client answer", opusParams(t, answer)[0])
	focusAnswer := jingleRoundTrip(t, answer, jingle.RoleResponder)
	wantFECAndDTX(t, "answer after Jingle", opusParams(t, focusAnswer)[0])
	if err := p.SetAnswer(focusAnswer); err != nil {
		t.Fatalf("SFU refused the answer: %v", err)
	}
}

// TestOpusFECAndDTXKeptInReoffers checks that a renegotiation offer still
// asks for FEC and DTX on the publisher's own audio, and on a forwarded
// track's, even when the client's answer did not repeat usedtx=1 (a Go
// client's, or a browser's own): the SFU's offers state its own wishes.
func TestOpusFECAndDTXKeptInReoffers(t *testing.T) {
	s := newTestSFU(t, nil)
	conf := s.Conference("room")
	p, err := conf.Join("alice", JoinOptions{NoVideo: true})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	offer, err := p.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	answer, err := newTestClient(t, "alice").answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	// Pion's answer repeats the offer's fmtp; a browser's says no usedtx.
	answer = strings.Replace(answer, ";usedtx=1", "", 1)
	if params := opusParams(t, answer)[0]; params["usedtx"] != "" {
		t.Fatalf("the answer still has usedtx: %v", params)
	}
	if err := p.SetAnswer(answer); err != nil {
		t.Fatal(err)
	}
	join(t, conf, "bob") // alice renegotiates to receive bob's audio
	var reoffer string
	waitFor(t, "a renegotiation offer for alice", func() error {
		reoffer, err = p.Offer(ctx)
		return err
	})
	all := opusParams(t, reoffer)
	if len(all) != 2 {
		t.Fatalf("re-offer has %d audio m-lines, want 2 (alice's, bob's):\n%s", len(all), reoffer)
	}
	for i, params := range all {
		wantFECAndDTX(t, fmt.Sprintf("re-offer's audio m-line %d", i), params)
	}
}

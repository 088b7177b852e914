package sfu

import (
	"strings"

	"github.com/pion/sdp/v3"
)

// maxAnswerSize bounds an SDP answer; a conference of a hundred
// participants stays far below it.
const maxAnswerSize = 512 << 10

// validateAnswer checks that answerSDP is SDP that answers offerSDP: the
// same m-lines in the same order with the same mids, ICE credentials and a
// DTLS fingerprint and role for every accepted m-line, and a direction the
// offer allows. Pion would reject most of these too, but possibly after
// changing some of its state; checking first keeps a bad answer harmless.
func validateAnswer(offerSDP, answerSDP string) error {
	if strings.TrimSpace(answerSDP) == "" {
		return wrapf(ErrMalformedAnswer, "empty")
	}
	if len(answerSDP) > maxAnswerSize {
		return wrapf(ErrMalformedAnswer, "%d bytes, more than %d", len(answerSDP), maxAnswerSize)
	}
	var offer, answer sdp.SessionDescription
	if err := offer.UnmarshalString(offerSDP); err != nil {
		return wrapf(ErrNegotiation, "own offer does not parse: %v", err)
	}
	if err := answer.UnmarshalString(answerSDP); err != nil {
		return wrapf(ErrMalformedAnswer, "%v", err)
	}
	if len(answer.MediaDescriptions) != len(offer.MediaDescriptions) {
		return wrapf(ErrMalformedAnswer, "%d m-lines answer an offer of %d",
			len(answer.MediaDescriptions), len(offer.MediaDescriptions))
	}
	accepted := 0
	for i, m := range answer.MediaDescriptions {
		if err := checkAnsweredMedia(&answer, offer.MediaDescriptions[i], m, i); err != nil {
			return err
		}
		if m.MediaName.Port.Value != 0 {
			accepted++
		}
	}
	if accepted == 0 && len(offer.MediaDescriptions) > 0 {
		return wrapf(ErrMalformedAnswer, "every m-line rejected")
	}
	return nil
}

// checkAnsweredMedia checks the answer's m-line i against the offer's.
func checkAnsweredMedia(answer *sdp.SessionDescription, om, am *sdp.MediaDescription, i int) error {
	if am.MediaName.Media != om.MediaName.Media {
		return wrapf(ErrMalformedAnswer, "m-line %d is %q, offered %q", i, am.MediaName.Media, om.MediaName.Media)
	}
	offeredMid, _ := om.Attribute("mid")
	if mid, _ := am.Attribute("mid"); mid != offeredMid {
		return wrapf(ErrMalformedAnswer, "m-line %d has mid %q, offered %q", i, mid, offeredMid)
	}
	if am.MediaName.Port.Value == 0 {
		return nil // rejected m-line: nothing else matters
	}
	for _, attr := range []string{"ice-ufrag", "ice-pwd", "fingerprint", "setup"} {
		if value(answer, am, attr) == "" {
			return wrapf(ErrMalformedAnswer, "m-line %d has no a=%s", i, attr)
		}
	}
	if setup := value(answer, am, "setup"); setup != "active" && setup != "passive" {
		return wrapf(ErrMalformedAnswer, "m-line %d has a=setup:%s, want active or passive", i, setup)
	}
	if om.MediaName.Media == "application" {
		return nil
	}
	offered, answered := direction(om), direction(am)
	if !directionAnswers(offered, answered) {
		return wrapf(ErrMalformedAnswer, "m-line %d answers %s with %s", i, offered, answered)
	}
	return nil
}

// value returns a media-level attribute, or the session-level one.
func value(s *sdp.SessionDescription, m *sdp.MediaDescription, key string) string {
	if v, ok := m.Attribute(key); ok {
		return v
	}
	v, _ := s.Attribute(key)
	return v
}

// direction returns an m-line's direction attribute; sendrecv if none.
func direction(m *sdp.MediaDescription) string {
	for _, a := range m.Attributes {
		switch a.Key {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			return a.Key
		}
	}
	return "sendrecv"
}

// directionAnswers reports whether answered is allowed in reply to offered
// (RFC 3264 section 6.1).
func directionAnswers(offered, answered string) bool {
	switch offered {
	case "recvonly":
		return answered == "sendonly" || answered == "inactive"
	case "sendonly":
		return answered == "recvonly" || answered == "inactive"
	case "inactive":
		return answered == "inactive"
	default:
		return true
	}
}

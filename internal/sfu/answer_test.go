package sfu

import (
	"context"
	"errors"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

// realExchange returns an SFU offer and a Pion client's answer to it.
func realExchange(t *testing.T) (offer, answer string) {
	t.Helper()
	s := newTestSFU(t, nil)
	p, err := s.Conference("room").Join("alice", JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	offer, err = p.Offer(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	answer, err = newTestClient(t, "alice").answer(offer)
	if err != nil {
		t.Fatal(err)
	}
	return offer, answer
}

func TestValidateAnswer(t *testing.T) {
	offer, answer := realExchange(t)
	if err := validateAnswer(offer, answer); err != nil {
		t.Fatalf("a real answer is refused: %v", err)
	}
	drop := func(pattern string) string {
		return regexp.MustCompile(`(?m)^`+pattern+`.*\r\n`).ReplaceAllString(answer, "")
	}
	secondMedia := strings.Index(answer, "m=video")
	cases := map[string]string{
		"empty":            "",
		"not SDP":          "hello",
		"binary":           "\x00\x01\x02v=0\r\n",
		"too big":          answer + strings.Repeat("a=x:y\r\n", maxAnswerSize/7),
		"no fingerprint":   drop("a=fingerprint:"),
		"no ufrag":         drop("a=ice-ufrag:"),
		"no password":      drop("a=ice-pwd:"),
		"no setup":         drop("a=setup:"),
		"actpass":          strings.ReplaceAll(answer, "a=setup:active", "a=setup:actpass"),
		"wrong mid":        strings.Replace(answer, "a=mid:1", "a=mid:7", 1),
		"missing m-line":   answer[:secondMedia],
		"swapped kind":     strings.Replace(answer, "m=video", "m=audio", 1),
		"sendrecv answer":  strings.Replace(answer, "a=sendonly", "a=sendrecv", 1),
		"all rejected":     regexp.MustCompile(`m=(audio|video) \d+`).ReplaceAllString(answer, "m=$1 0"),
		"offer as answer":  offer,
		"session garbage":  strings.Replace(answer, "v=0", "v=zero", 1),
		"truncated":        answer[:len(answer)/2],
		"duplicated media": answer + answer[secondMedia:],
	}
	for name, bad := range cases {
		if err := validateAnswer(offer, bad); !errors.Is(err, ErrMalformedAnswer) {
			t.Errorf("%s: validateAnswer = %v, want ErrMalformedAnswer", name, err)
		}
	}
}

func TestDirectionAnswers(t *testing.T) {
	ok := map[string][]string{
		"recvonly": {"sendonly", "inactive"},
		"sendonly": {"recvonly", "inactive"},
		"inactive": {"inactive"},
		"sendrecv": {"sendrecv", "sendonly", "recvonly", "inactive"},
	}
	for offered, allowed := range ok {
		for _, answered := range []string{"sendrecv", "sendonly", "recvonly", "inactive"} {
			want := false
			for _, a := range allowed {
				want = want || a == answered
			}
			if got := directionAnswers(offered, answered); got != want {
				t.Errorf("directionAnswers(%s, %s) = %v, want %v", offered, answered, got, want)
			}
		}
	}
}

// FuzzValidateAnswer checks that no answer, however broken, panics the
// validator, and that whatever it accepts is SDP with the offer's m-lines.
func FuzzValidateAnswer(f *testing.F) {
	offer, err := os.ReadFile("testdata/offer.sdp")
	if err != nil {
		f.Fatal(err)
	}
	answer, err := os.ReadFile("testdata/answer.sdp")
	if err != nil {
		f.Fatal(err)
	}
	if err := validateAnswer(string(offer), string(answer)); err != nil {
		f.Fatalf("stored answer refused: %v", err)
	}
	f.Add(string(answer))
	f.Add("v=0\r\n")
	f.Fuzz(func(t *testing.T, candidate string) {
		err := validateAnswer(string(offer), candidate)
		if err == nil {
			var parsed sdp.SessionDescription
			if perr := parsed.UnmarshalString(candidate); perr != nil || len(parsed.MediaDescriptions) != 2 {
				t.Fatalf("accepted an answer that is not a two-m-line SDP: %v", perr)
			}
			return
		}
		if !errors.Is(err, ErrMalformedAnswer) {
			t.Fatalf("unexpected error class: %v", err)
		}
	})
}

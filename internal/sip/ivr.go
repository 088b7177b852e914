package sip

import (
	"context"
	"embed"
	"errors"
	"strings"
	"time"

	"github.com/zaf/g711"
)

// prompts are the IVR's spoken prompts, LANG-NAME.ul: 8 kHz G.711 mu-law,
// made offline with espeak-ng (scripts/sip-prompts.sh).
//
//go:embed prompts/*.ul
var prompts embed.FS

// Languages the prompts are in.
var Languages = []string{"en", "fr", "es"}

// IVR limits: the tries a caller gets, and how long they may take to
// type one PIN.
const (
	pinTries   = 3
	pinTimeout = 20 * time.Second
)

// say plays a prompt to the phone, over what the room sends it, and
// returns when it has been played.
func (g *Gateway) say(ctx context.Context, mix *mixer, name string) {
	data, err := prompts.ReadFile("prompts/" + g.cfg.Language + "-" + name + ".ul")
	if err != nil {
		return
	}
	done := make(chan struct{})
	mix.play(func(out *[frameLen]int16) bool {
		n := min(len(data), frameLen)
		for i := range n {
			out[i] = g711.DecodeUlawFrame(data[i])
		}
		data = data[n:]
		if len(data) == 0 {
			close(done)
			return false
		}
		return true
	})
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// errNoPIN is a caller who did not give a room's PIN in pinTries tries.
var errNoPIN = errors.New("no valid PIN")

// ivr asks for a PIN until one names a room, and returns the room.
func (g *Gateway) ivr(ctx context.Context, leg *phoneLeg, mix *mixer) (string, error) {
	for try := range pinTries {
		prompt := "pin"
		if try > 0 {
			prompt = "wrong"
		}
		g.say(ctx, mix, prompt)
		pin, err := readPIN(ctx, leg.digits)
		if err != nil {
			return "", err
		}
		if room, ok := g.pins.Room(pin); ok {
			return room, nil
		}
		g.refusals[refusedPIN].Add(1)
	}
	g.say(ctx, mix, "wrong")
	return "", errNoPIN
}

// readPIN collects digits until '#', pinDigits digits, or a pause.
func readPIN(ctx context.Context, digits <-chan byte) (string, error) {
	var pin strings.Builder
	timeout := time.NewTimer(pinTimeout)
	defer timeout.Stop()
	for {
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-timeout.C:
			return pin.String(), nil
		case d := <-digits:
			switch {
			case d == '#' && pin.Len() > 0: // a '#' after a full PIN is ignored
				return pin.String(), nil
			case d == '*':
				pin.Reset()
			case d >= '0' && d <= '9':
				pin.WriteByte(d)
				if pin.Len() == pinDigits {
					return pin.String(), nil
				}
			}
		}
	}
}

// infoDigit reads a SIP INFO's DTMF: application/dtmf-relay ("Signal=5")
// or application/dtmf ("5").
func infoDigit(contentType string, body []byte) (byte, bool) {
	s := strings.TrimSpace(string(body))
	if strings.Contains(strings.ToLower(contentType), "dtmf-relay") {
		for _, line := range strings.Split(s, "\n") {
			if k, v, ok := strings.Cut(line, "="); ok && strings.EqualFold(strings.TrimSpace(k), "signal") {
				s = strings.TrimSpace(v)
				break
			}
		}
	}
	if len(s) != 1 || !strings.Contains("0123456789*#ABCD", s) {
		return 0, false
	}
	return s[0], true
}

//go:build sip

package sip_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"parley.dev/parley/internal/sip"
)

// startIVR is start with the room lab's PIN set to 123456 (the digits
// sipp's RFC 4733 captures hold).
func startIVR(t *testing.T) *harness {
	t.Helper()
	path := filepath.Join(t.TempDir(), "pins.json")
	if err := os.WriteFile(path, []byte(`{"lab": "123456"}`), 0o600); err != nil {
		t.Fatal(err)
	}
	pins, err := sip.OpenPINs(path)
	if err != nil {
		t.Fatal(err)
	}
	return start(t, func(c *sip.Config) { c.PINs = pins; c.Language = "fr" })
}

// A caller reaches the IVR, types a wrong PIN by SIP INFO, then the
// right one by RFC 4733 telephone-events, and is in the room.
func TestIVRJoinsByPIN(t *testing.T) {
	h := startIVR(t)
	l := h.listen(t, "lab")
	done := make(chan error, 1)
	go func() {
		out, err := h.sipp(t, "ivr.xml", "join", "-d", "8000")
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
		done <- err
	}()
	const nick = "Phone ***6789"
	eventually(t, "the caller who typed the PIN is in the room", func() bool { return l.present(nick) })
	eventually(t, "the room hears the caller", func() bool { return l.packets(nick) > 25 })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.idle(t)
	if s := h.gw.Stats(); s.Calls != 1 || s.Refused["pin"] != 1 {
		t.Errorf("%d calls reached a room, %d wrong PINs; want 1 and 1 (9#)", s.Calls, s.Refused["pin"])
	}
}

// A caller who hangs up in the IVR leaves no call behind, and reached no
// room.
func TestIVRHangUp(t *testing.T) {
	h := startIVR(t)
	if out, err := h.sipp(t, "ivr_bye.xml", "join"); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	h.idle(t)
	if s := h.gw.Stats(); s.Calls != 0 {
		t.Errorf("%d calls reached a room, want 0", s.Calls)
	}
}

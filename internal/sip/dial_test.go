//go:build sip

package sip_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"parley.dev/parley/internal/sip"
	"parley.dev/parley/internal/stanza"
)

// callee runs a sipp callee scenario on a free port and returns its URI
// and sipp's result.
func callee(t *testing.T, scenario, user string) (string, <-chan error) {
	t.Helper()
	port := freePort(t)
	done := make(chan error, 1)
	go func() {
		out, err := runSipp(t, scenario, "-p", fmt.Sprint(port), "-m", "1")
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
		done <- err
	}()
	time.Sleep(300 * time.Millisecond) // sipp binds; a later INVITE is retransmitted anyway
	return fmt.Sprintf("sip:%s@127.0.0.1:%d", user, port), done
}

// Dial-out through a trunk that asks for digest credentials: the callee
// answers and appears in the room; the room's moderator kicks it, and the
// gateway hangs up (sipp fails without our BYE).
func TestDialOut(t *testing.T) {
	h := start(t, func(c *sip.Config) { c.Outbound = sip.Outbound{Username: "parley", Password: "s3cret"} })
	l := h.listen(t, "lab")
	uri, done := callee(t, "answer.xml", "+15551234567")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := h.gw.Dial(ctx, "lab", uri)
	if err != nil {
		t.Fatal(err)
	}
	if d.Nick != "Phone ***4567" || d.Room != "lab" {
		t.Errorf("dialled %+v", d)
	}
	eventually(t, "the callee is in the room", func() bool { return l.present(d.Nick) })
	if o, _ := l.room.Occupant(d.Nick); !o.Phone {
		t.Errorf("the callee's occupant %+v is not stamped a phone", o)
	}
	if o, _ := l.room.Occupant(l.room.Nick()); o.Phone {
		t.Error("the SDK participant is stamped a phone")
	}
	eventually(t, "the room hears the callee's leg", func() bool { return l.packets(d.Nick) > 25 })
	if err := l.room.Kick(ctx, d.Nick, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the callee: %v", err)
	}
	h.idle(t)
}

// A busy callee, one who refuses, and one who lets it ring are reported
// as such.
func TestDialOutBusyAndRejected(t *testing.T) {
	h := start(t, func(c *sip.Config) {
		c.Outbound = sip.Outbound{Username: "parley", Password: "wrong", RingTimeout: time.Second}
	})
	for _, c := range []struct{ scenario, reason string }{{"busy.xml", "busy"}, {"answer.xml", "rejected"}, {"ring.xml", "no-answer"}} {
		uri, done := callee(t, c.scenario, "200")
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		_, err := h.gw.Dial(ctx, "lab", uri)
		cancel()
		var de *sip.DialError
		if !errors.As(err, &de) || de.Reason != c.reason {
			t.Errorf("%s: %v, want a DialError %q", c.scenario, err, c.reason)
		}
		// What the web client's dialler reads: the reason as an
		// application condition of the stanza error.
		if se := stanza.AsError(err); se.Extra == nil || se.Extra.Name != c.reason || se.Extra.Space != "urn:parley:phone:0" {
			t.Errorf("%s: the stanza error %v carries %v, want <%s xmlns='urn:parley:phone:0'/>", c.scenario, se, se.Extra, c.reason)
		}
		if err := <-done; err != nil {
			t.Errorf("%s: %v", c.scenario, err)
		}
	}
	h.idle(t)
	if s := h.gw.Stats(); s.Calls != 0 {
		t.Errorf("%d calls reached a room", s.Calls)
	}
}

// MaxCalls bounds dial-outs too: with one call live, a second dial-out is
// refused before any INVITE, as a resource-constraint for the room.
func TestDialOutBoundedByMaxCalls(t *testing.T) {
	h := start(t, func(c *sip.Config) {
		c.MaxCalls = 1
		c.Outbound = sip.Outbound{Username: "parley", Password: "s3cret"} // answer.xml asks for them
	})
	l := h.listen(t, "lab")
	uri, done := callee(t, "answer.xml", "+15551234567")
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	d, err := h.gw.Dial(ctx, "lab", uri)
	if err != nil {
		t.Fatal(err)
	}
	_, err = h.gw.Dial(ctx, "lab", "sip:+15550000000@127.0.0.1:9")
	var de *sip.DialError
	if !errors.As(err, &de) || de.Reason != "failed" || stanza.AsError(err).Condition != stanza.ResourceConstraint {
		t.Errorf("a dial-out beyond MaxCalls: %v", err)
	}
	if err := l.room.Kick(ctx, d.Nick, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the callee: %v", err)
	}
	h.idle(t)
}

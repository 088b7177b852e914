//go:build sip

package sip_test

import (
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	gosip "github.com/emiago/sipgo/sip"
	"github.com/pion/rtp"

	"parley.dev/parley/internal/sip"
	"parley.dev/parley/internal/sip/opus"
	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

func TestMain(m *testing.M) {
	// SIP's timers, shortened so that a caller who never ACKs is given up
	// on in about 6 s rather than 32 s (64*T1).
	gosip.SetTimers(100*time.Millisecond, 400*time.Millisecond, 500*time.Millisecond)
	os.Exit(m.Run())
}

// harness is a parley, a SIP gateway in front of it, and a listener in
// the room who counts what the phone sends.
type harness struct {
	srv *testserver.Server
	gw  *sip.Gateway
}

func start(t *testing.T, mutate func(*sip.Config)) *harness {
	t.Helper()
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	cfg := sip.Config{Listen: "127.0.0.1:0", Server: srv.WebSocket, Domain: srv.Domain, Codec: opus.Codec{}}
	if mutate != nil {
		mutate(&cfg)
	}
	gw, err := sip.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- gw.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return &harness{srv: srv, gw: gw}
}

// listener joins room and counts the RTP packets of each publisher's audio.
type listener struct {
	room *sdk.Room
	mu   sync.Mutex
	pkts map[string]int // by owner nick
}

func (h *harness) listen(t *testing.T, room string) *listener {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := sdk.Connect(ctx, sdk.Config{Server: h.srv.WebSocket, Domain: h.srv.Domain})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	l := &listener{pkts: map[string]int{}}
	l.room, err = c.Join(ctx, sdk.RoomConfig{Room: room, Nick: "listener", Media: &sdk.Media{
		Audio: sdk.SyntheticAudio(),
		OnRTP: func(tr sdk.Track, _ *rtp.Packet) {
			if tr.Kind() == "audio" {
				l.mu.Lock()
				l.pkts[tr.Owner()]++
				l.mu.Unlock()
			}
		}}})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func (l *listener) packets(nick string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.pkts[nick]
}

func (l *listener) present(nick string) bool {
	_, ok := l.room.Occupant(nick)
	return ok
}

// freePort returns a port nothing listens on now (UDP and TCP).
func freePort(t *testing.T) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		tc, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port})
		u.Close()
		if err == nil {
			tc.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

// freePortPair is a free port whose next one is free too, for TCP: baresip
// serves SIP over TLS on the port after its sip_listen one, and failed to
// start when that one was taken (a CI run).
func freePortPair(t *testing.T) int {
	t.Helper()
	for range 50 {
		port := freePort(t)
		tc, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: port + 1})
		if err == nil {
			tc.Close()
			return port
		}
	}
	t.Fatal("no free pair of ports")
	return 0
}

// sipp runs one sipp scenario against the gateway and returns its output
// and whether it reported success.
func (h *harness) sipp(t *testing.T, scenario, room string, extra ...string) (string, error) {
	t.Helper()
	args := []string{h.gw.Addr(), "-s", room, "-p", fmt.Sprint(freePort(t))}
	if !strings.Contains(strings.Join(extra, " "), "-m ") {
		args = append(args, "-m", "1")
	}
	if !strings.Contains(strings.Join(extra, " "), "-d ") {
		args = append(args, "-d", "4000")
	}
	return runSipp(t, scenario, append(args, extra...)...)
}

// runSipp runs sipp with a scenario of testdata on loopback.
func runSipp(t *testing.T, scenario string, args ...string) (string, error) {
	t.Helper()
	path, err := exec.LookPath("sipp")
	if err != nil {
		t.Fatal("sipp is not installed (Debian's sip-tester; scripts/test.sh installs it)")
	}
	sf, _ := filepath.Abs(filepath.Join("testdata", scenario))
	args = append([]string{"-sf", sf, "-i", "127.0.0.1", "-mi", "127.0.0.1", "-mp", fmt.Sprint(freePort(t)),
		"-nostdin", "-timeout", "60s", "-timeout_error"}, args...)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Dir = t.TempDir() // sipp writes its logs next to it
	out, err := cmd.CombinedOutput()
	return string(out), err
}

// eventually polls cond for up to 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after 20 s: %s", what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (h *harness) idle(t *testing.T) {
	t.Helper()
	eventually(t, "the live-call counter is back at zero", func() bool { return h.gw.Stats().LiveCalls == 0 })
}

const phoneNick = "Phone ***5678" // the masked caller ID of call.xml's From

// A phone calls in over UDP and over TCP, is heard in the room, hangs up
// with a BYE, and leaves the room and no call behind.
func TestCallInAndHangUp(t *testing.T) {
	h := start(t, nil)
	l := h.listen(t, "lab")
	for _, transport := range []string{"u1", "t1"} {
		done := make(chan struct{})
		var out string
		var err error
		go func() {
			defer close(done)
			out, err = h.sipp(t, "call.xml", "lab", "-t", transport)
		}()
		eventually(t, "the phone is in the room", func() bool { return l.present(phoneNick) })
		eventually(t, "the room hears the phone", func() bool { return l.packets(phoneNick) > 50 })
		if n := h.gw.Stats().LiveCalls; n != 1 {
			t.Errorf("%s: %d live calls during the call, want 1", transport, n)
		}
		<-done
		if err != nil {
			t.Fatalf("%s: sipp: %v\n%s", transport, err, out)
		}
		h.idle(t)
		eventually(t, "the phone left the room", func() bool { return !l.present(phoneNick) })
		l.mu.Lock()
		clear(l.pkts)
		l.mu.Unlock()
	}
	if s := h.gw.Stats(); s.Calls != 2 {
		t.Errorf("%d calls counted, want 2", s.Calls)
	}
}

// A malformed INVITE gets a 400 (sipp fails if anything else comes), and
// no call.
func TestMalformedInvite(t *testing.T) {
	h := start(t, nil)
	if out, err := h.sipp(t, "malformed.xml", "lab"); err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	s := h.gw.Stats()
	if s.Refused["malformed"] != 1 || s.Calls != 0 {
		t.Errorf("stats %+v, want one malformed refusal and no call", s)
	}
	h.idle(t)
}

// A flood of INVITEs from one source is rate-limited; the gateway still
// takes a call from elsewhere afterwards.
func TestInviteFlood(t *testing.T) {
	h := start(t, nil)
	out, _ := h.sipp(t, "flood.xml", "lab", "-m", "300", "-r", "300", "-l", "300", "-timeout", "8s") // INVITEs dropped unread get no answer
	t.Logf("after the flood: %+v", h.gw.Stats())
	s := h.gw.Stats()
	if s.Refused["rate"]+s.Dropped < 200 {
		t.Errorf("stats %+v: the flood was not rate-limited\n%s", s, out)
	}
	if s.Refused["room"] > 20 {
		t.Errorf("%d INVITEs of the flood were handled, want at most the burst", s.Refused["room"])
	}
	l := h.listen(t, "lab")
	done := make(chan error, 1)
	go func() {
		out, err := h.sipp(t, "call.xml", "lab", "-i", "127.0.0.2", "-mi", "127.0.0.2")
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
		done <- err
	}()
	eventually(t, "a call from another source gets in", func() bool { return l.present(phoneNick) })
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.idle(t)
}

// A caller that never ACKs the 200 OK is hung up on, and leaves the room.
func TestNoAck(t *testing.T) {
	h := start(t, nil)
	l := h.listen(t, "lab")
	done := make(chan error, 1)
	go func() {
		out, err := h.sipp(t, "noack.xml", "lab")
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
		done <- err
	}()
	eventually(t, "the phone is in the room", func() bool { return l.present("Phone ***0100") })
	if err := <-done; err != nil {
		t.Fatalf("sipp did not get our BYE: %v", err)
	}
	h.idle(t)
	eventually(t, "the phone left the room", func() bool { return !l.present("Phone ***0100") })
}

// A moderator's server-side mute of the phone stops its audio for the
// others: the room's existing moderation path, nothing special for phones.
func TestModeratorMutesPhone(t *testing.T) {
	h := start(t, nil)
	l := h.listen(t, "lab") // the first in the room: its owner
	done := make(chan error, 1)
	go func() {
		out, err := h.sipp(t, "call.xml", "lab", "-d", "12000")
		if err != nil {
			err = fmt.Errorf("%v\n%s", err, out)
		}
		done <- err
	}()
	eventually(t, "the room hears the phone", func() bool { return l.packets(phoneNick) > 50 })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := l.room.Mute(ctx, phoneNick, "audio"); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the phone is shown muted", func() bool {
		o, ok := l.room.Occupant(phoneNick)
		return ok && o.IsMuted("audio")
	})
	// The packets stop: a whole second without one, while the phone still
	// sends (sipp plays its audio for 12 s).
	eventually(t, "the phone's audio stops reaching the room", func() bool {
		before := l.packets(phoneNick)
		time.Sleep(time.Second)
		return l.packets(phoneNick) == before
	})
	if !l.present(phoneNick) {
		t.Fatal("the phone left before the check ended: the silence proves nothing")
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	h.idle(t)
}

// Phones with one caller ID (a trunk's withheld numbers, a PBX's outgoing
// number) all join: more of them than the numbered names ("Phone
// ***5678 2", "3") cover.
func TestPhonesSharingACallerID(t *testing.T) {
	h := start(t, nil)
	h.listen(t, "lab")
	const phones = 12
	out, err := h.sipp(t, "call.xml", "lab", "-m", fmt.Sprint(phones), "-l", fmt.Sprint(phones), "-r", "10")
	if err != nil {
		t.Fatalf("sipp: %v\n%s", err, out)
	}
	h.idle(t)
	s := h.gw.Stats()
	if s.Calls != phones || s.Refused["join"] != 0 {
		t.Errorf("%d of %d phones reached the room, %d refused at the join", s.Calls, phones, s.Refused["join"])
	}
}

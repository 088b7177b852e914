package sip

import (
	"net/netip"
	"testing"

	"github.com/emiago/sipgo/sip"
	"github.com/icholy/digest"
)

func invite(t *testing.T) *sip.Request {
	t.Helper()
	req := sip.NewRequest(sip.INVITE, sip.Uri{Scheme: "sip", User: "lab", Host: "gw.example"})
	return req
}

func TestPolicyOpenWithoutTrunks(t *testing.T) {
	p := newPolicy(nil)
	if v, _ := p.check(invite(t), netip.MustParseAddr("203.0.113.9")); v != allowed || !p.open() {
		t.Errorf("no trunk: verdict %v, want allowed", v)
	}
}

func TestPolicyByAddress(t *testing.T) {
	p := newPolicy([]Trunk{{Name: "pbx", Addrs: []netip.Prefix{netip.MustParsePrefix("10.1.0.0/16")}}})
	if v, name := p.check(invite(t), netip.MustParseAddr("10.1.2.3")); v != allowed || name != "pbx" {
		t.Errorf("trunk address: %v %q, want allowed pbx", v, name)
	}
	if v, _ := p.check(invite(t), netip.MustParseAddr("10.2.0.1")); v != forbidden {
		t.Errorf("other address: %v, want forbidden", v)
	}
}

// A trunk with credentials is challenged, then let in with the right
// digest only, and a digest for another nonce or password fails.
func TestPolicyDigest(t *testing.T) {
	p := newPolicy([]Trunk{{Name: "carrier", Username: "parley", Password: "s3cret",
		Addrs: []netip.Prefix{netip.MustParsePrefix("198.51.100.0/24")}}})
	src := netip.MustParseAddr("198.51.100.7")
	req := invite(t)
	if v, _ := p.check(req, src); v != challenge {
		t.Fatalf("without credentials: %v, want a challenge", v)
	}
	chal, err := digest.ParseChallenge(p.challengeHeader().Value())
	if err != nil {
		t.Fatal(err)
	}
	answer := func(password string) *sip.Request {
		cred, err := digest.Digest(chal, digest.Options{Method: "INVITE", URI: req.Recipient.String(), Username: "parley", Password: password})
		if err != nil {
			t.Fatal(err)
		}
		r := invite(t)
		r.AppendHeader(sip.NewHeader("Authorization", cred.String()))
		return r
	}
	if v, name := p.check(answer("s3cret"), src); v != allowed || name != "carrier" {
		t.Errorf("right password: %v %q, want allowed", v, name)
	}
	if v, _ := p.check(answer("guess"), src); v != challenge {
		t.Errorf("wrong password: %v, want a new challenge", v)
	}
	if v, _ := p.check(answer("s3cret"), netip.MustParseAddr("192.0.2.1")); v != forbidden {
		t.Errorf("right password from elsewhere: %v, want forbidden", v)
	}
	chal.Nonce = "00000000000000000000000000000000"
	if v, _ := p.check(answer("s3cret"), src); v != challenge {
		t.Errorf("a nonce we never issued: %v, want a challenge", v)
	}
	bad := invite(t)
	bad.AppendHeader(sip.NewHeader("Authorization", "Digest ,,,=="))
	if v, _ := p.check(bad, src); v != badRequest && v != challenge {
		t.Errorf("garbage credentials: %v", v)
	}
}

func TestJitterBufferReordersAndConceals(t *testing.T) {
	var j jitterBuffer
	frame := func(v int16) []int16 {
		f := make([]int16, frameLen)
		for i := range f {
			f[i] = v
		}
		return f
	}
	// Frames 0, 2, 1 arrive out of order, 3 is lost, 4 comes.
	j.push(0, frame(100))
	j.push(2*frameLen, frame(300))
	j.push(frameLen, frame(200))
	j.push(4*frameLen, frame(500))
	var out [frameLen]int16
	want := []int16{100, 200, 300, 150, 500} // 150: frame 2 concealed at -6 dB
	for i, w := range want {
		j.pop(&out)
		if out[0] != w {
			t.Errorf("frame %d: %d, want %d", i, out[0], w)
		}
	}
	j.push(0, frame(1)) // long gone
	if j.late != 1 {
		t.Errorf("late %d, want 1", j.late)
	}
}

// A room's PIN is stable: the same at each request and after a restart;
// two rooms never share one.
func TestPINsStable(t *testing.T) {
	path := t.TempDir() + "/pins.json"
	p, err := OpenPINs(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := p.PIN("lab")
	if err != nil || len(a) != pinDigits {
		t.Fatalf("PIN %q, %v", a, err)
	}
	b, _ := p.PIN("weekly")
	if again, _ := p.PIN("lab"); again != a || b == a {
		t.Errorf("lab %s then %s, weekly %s", a, again, b)
	}
	q, err := OpenPINs(path)
	if err != nil {
		t.Fatal(err)
	}
	if room, ok := q.Room(a); !ok || room != "lab" {
		t.Errorf("after a restart, PIN %s is room %q", a, room)
	}
	if _, err := q.PIN("no room!"); err == nil {
		t.Error("a PIN for a bad room name")
	}
}

func TestInfoDigit(t *testing.T) {
	for _, c := range []struct {
		ct, body string
		want     byte
	}{
		{"application/dtmf-relay", "Signal=5\r\nDuration=160\r\n", '5'},
		{"application/dtmf-relay", "Signal= #\r\n", '#'},
		{"application/dtmf", "7", '7'},
		{"application/dtmf-relay", "Signal=55", 0},
		{"text/plain", "hello", 0},
	} {
		d, ok := infoDigit(c.ct, []byte(c.body))
		if d != c.want || ok != (c.want != 0) {
			t.Errorf("%s %q: %q %v", c.ct, c.body, d, ok)
		}
	}
}

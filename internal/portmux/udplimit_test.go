package portmux

import (
	"net"
	"testing"
	"time"

	"github.com/pion/stun/v4"

	"parley.dev/parley/internal/admission"
)

// One source's Binding requests, ClientHellos and Allocates beyond its
// rate are dropped and counted; another source's are not, nor is media.
func TestUDPRateLimitsPerSource(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	clock := func() time.Time { return now } // frozen: no bucket refills
	limit := admission.RateConfig{PerSecond: 1, Burst: 5}
	f := newUDPFixture(t, func(c *UDPConfig) {
		c.Clock = clock
		c.Limits = UDPLimits{Binding: limit, DTLSHello: limit, Allocate: limit}
	})
	plain := stunMsg(t, stun.BindingRequest, stun.Fingerprint)
	allocate := stunMsg(t, stun.NewType(stun.MethodAllocate, stun.ClassRequest))
	refresh := stunMsg(t, stun.NewType(stun.MethodRefresh, stun.ClassRequest))
	hello := append([]byte{22, 0xfe, 0xfd}, make([]byte, 60)...)
	hello[13] = 1
	finished := append([]byte{22, 0xfe, 0xfd}, make([]byte, 60)...)
	finished[13] = 20
	rtp := append([]byte{0x80, 96}, make([]byte, 100)...)
	// Another port of the same address floods; the fixture's port sends media.
	flood, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	defer flood.Close()
	for range 20 {
		for _, b := range [][]byte{plain, allocate, refresh, hello, finished} {
			if _, err := flood.WriteTo(b, f.addr); err != nil {
				t.Fatal(err)
			}
		}
		f.send(t, rtp)
	}
	other, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 2)})
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	for _, b := range [][]byte{plain, allocate, hello} {
		if _, err := other.WriteTo(b, f.addr); err != nil {
			t.Fatal(err)
		}
	}
	want := map[string]uint64{"rate_binding": 15, "rate_allocate": 15, "rate_dtls_hello": 15}
	// 5 of each limited kind from 127.0.0.1 and 1 from 127.0.0.2 pass;
	// every refresh, DTLS record other than a hello and RTP packet too.
	wantMedia, wantTURN := uint64(5+20+20+1), uint64(5+5+20+2)
	waitFor(t, func() bool {
		st := f.mux.Stats()
		return st.Media+st.TURN+st.Dropped["rate_binding"]+st.Dropped["rate_allocate"]+st.Dropped["rate_dtls_hello"] >= wantMedia+wantTURN+45
	}, "every datagram handled")
	st := f.mux.Stats()
	for k, v := range want {
		if st.Dropped[k] != v {
			t.Errorf("dropped %s: %d, want %d (%+v)", k, st.Dropped[k], v, st.Dropped)
		}
	}
	if st.Media != wantMedia || st.TURN != wantTURN {
		t.Errorf("media %d turn %d, want %d %d", st.Media, st.TURN, wantMedia, wantTURN)
	}
	// ICE checks (with USERNAME, for the SFU) share the Binding rate.
	ice := stunMsg(t, stun.BindingRequest, stun.NewUsername("sfu:client"), stun.NewShortTermIntegrity("p"), stun.Fingerprint)
	for range 20 {
		flood.WriteTo(ice, f.addr)
	}
	waitFor(t, func() bool { return f.mux.Stats().Dropped["rate_binding"] == 35 }, "the flood's 20 ICE checks dropped")
}

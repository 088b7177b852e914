package sfu

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pion/webrtc/v4"
)

// withoutCandidates drops an SDP's a=candidate lines.
func withoutCandidates(sdp string) string {
	lines := strings.SplitAfter(sdp, "\n")
	out := lines[:0]
	for _, l := range lines {
		if !strings.HasPrefix(l, "a=candidate:") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "")
}

// BenchmarkConnect measures a Pion client's time from joining to a
// connected PeerConnection (ICE and DTLS) with the SFU on loopback, when
// its answer carries its candidates (host) and when it does not, so that
// the SFU knows its address only from its checks (peer-reflexive: a
// client behind a NAT, or a browser that hides its addresses behind mDNS
// names). Pion waits by default a second before nominating a
// peer-reflexive pair; the SFU does not (sfu.go).
//
//	go test -run '^$' -bench Connect -benchtime 20x ./internal/sfu/
func BenchmarkConnect(b *testing.B) {
	for _, hide := range []bool{false, true} {
		name := map[bool]string{false: "host", true: "peer-reflexive"}[hide]
		b.Run(name, func(b *testing.B) {
			s := newTestSFU(b, nil)
			conf := s.Conference("room")
			var total time.Duration
			for i := 0; i < b.N; i++ {
				total += connectOnce(b, conf, fmt.Sprintf("%s-%d", name, i), hide)
			}
			b.ReportMetric(float64(total.Milliseconds())/float64(b.N), "ms/connect")
		})
	}
}

// connectOnce joins one client, waits for its connection and leaves.
func connectOnce(b *testing.B, conf *Conference, id string, hide bool) time.Duration {
	c := newTestClient(b, id)
	c.hideCandidates = hide
	connected := make(chan struct{})
	c.pc.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		if st == webrtc.PeerConnectionStateConnected {
			close(connected)
		}
	})
	start := time.Now()
	p, err := conf.Join(id, JoinOptions{})
	if err != nil {
		b.Fatal(err)
	}
	m := &member{p: p, c: c}
	m.drive(b)
	select {
	case <-connected:
	case <-time.After(20 * time.Second):
		b.Fatalf("%s: not connected after 20 s", id)
	}
	took := time.Since(start)
	m.leave()
	return took
}

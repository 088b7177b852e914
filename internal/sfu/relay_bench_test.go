package sfu

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
)

// BenchmarkRelayHop measures the CPU the relay hop adds per packet: one
// publisher sends b.N audio packets (160-byte payload) to one subscriber,
// on the same SFU (direct) or on another SFU joined by a relay (relayed:
// A's relay participant encrypts, B decrypts and forwards anew). The
// process's CPU (both SFUs and both Pion clients, user and system) per
// packet the subscriber received is reported as cpu-ns/pkt; the relay
// hop's cost is the difference between the two.
//
//	go test -run '^$' -bench RelayHop -benchtime 20000x -count 3 ./internal/sfu/
func BenchmarkRelayHop(b *testing.B) {
	for _, relayed := range []bool{false, true} {
		name := map[bool]string{false: "direct", true: "relayed"}[relayed]
		b.Run(name, func(b *testing.B) {
			home := newTestSFU(b, nil).Conference("room")
			away := home
			if relayed {
				away = newTestSFU(b, nil).Conference("room")
				relayPair(b, home, away)
			}
			pub, rx := join(b, home, "pub"), join(b, away, "rx")
			pub.c.quiet.Store(true)
			rx.c.quiet.Store(true)
			payload := make([]byte, 160)
			seq, ts := uint16(1000), uint32(0)
			waitFor(b, "the subscriber to get the publisher's audio", func() error {
				if _, ok := rx.c.snapshot("audio-pub"); !ok {
					// The publisher's first packets make the track appear.
					_ = pub.c.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
					seq++
					ts += 960
					return fmt.Errorf("not yet")
				}
				return nil
			})
			time.Sleep(200 * time.Millisecond) // let the first packets arrive
			before, _ := rx.c.snapshot("audio-pub")
			cpu0 := processCPU()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_ = pub.c.audio.WriteRTP(&rtp.Packet{Header: rtp.Header{Version: 2, SequenceNumber: seq, Timestamp: ts}, Payload: payload})
				seq++
				ts += 960
				if i%20 == 19 {
					time.Sleep(time.Millisecond) // at most 20,000 packets/s: no loss on loopback
				}
			}
			deadline := time.Now().Add(10 * time.Second)
			var got int
			for time.Now().Before(deadline) {
				r, _ := rx.c.snapshot("audio-pub")
				if got = r.packets - before.packets; got >= b.N {
					break
				}
				time.Sleep(10 * time.Millisecond)
			}
			b.StopTimer()
			if got < b.N*9/10 {
				b.Fatalf("the subscriber received %d of %d packets", got, b.N)
			}
			b.ReportMetric(float64((processCPU()-cpu0).Nanoseconds())/float64(got), "cpu-ns/pkt")
			b.ReportMetric(float64(got)/float64(b.N), "delivered")
		})
	}
}

// processCPU is the CPU time the process used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

package record

import (
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/rtp/codecs"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/mediapeer"
)

// BenchmarkTracksRealtime records PARLEY_BENCH_TRACKS tracks (default
// 200: half Opus at 50 packets/s, half VP8 at 30 frames/s and ~1 Mbit/s,
// the SDK's synthetic media) at the pace of a call for
// PARLEY_BENCH_SECONDS (default 20), through the recorder's writers to
// disk, and reports the CPU and memory per track, how late the busiest
// moment was, and checks that every frame sent is in the files. It leaves
// out the network (SRTP, pion's receive path): see docs/BENCHMARKS.md.
//
//	go test -run '^$' -bench TracksRealtime -benchtime 1x ./internal/record/
func BenchmarkTracksRealtime(b *testing.B) {
	tracks := envInt("PARLEY_BENCH_TRACKS", 200)
	seconds := envInt("PARLEY_BENCH_SECONDS", 20)
	audio := packetize(b, mediapeer.SyntheticAudio(), 50*2, &codecs.OpusPayloader{}, opusRate) // 2 s, looped
	video := packetize(b, mediapeer.SyntheticVideo(), 30*2, &codecs.VP8Payloader{}, videoRate) // 2 s, looped
	for range b.N {
		dir := b.TempDir()
		runtime.GC()
		var before syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &before)
		start := time.Now().Add(100 * time.Millisecond)
		end := start.Add(time.Duration(seconds) * time.Second)
		var wg sync.WaitGroup
		lates := make([]time.Duration, tracks)
		recs := make([]*trackRec, tracks)
		sent := make([]int64, tracks)
		for i := range tracks {
			base := filepath.Join(dir, fmt.Sprintf("t%03d", i))
			tr := &trackRec{path: base + ".ogg", rate: opusRate}
			var err error
			stream, period, rate := audio, 20*time.Millisecond, uint32(opusRate)
			if i%2 == 1 {
				stream, period, rate = video, time.Second/30, videoRate
				tr.path, tr.rate = base+".webm", videoRate
				tr.video, err = newVideoTrack(tr.path, webrtc.MimeTypeVP8, func() {})
			} else {
				tr.audio, err = newOpusTrack(tr.path)
			}
			if err != nil {
				b.Fatal(err)
			}
			recs[i] = tr
			wg.Add(1)
			go func() {
				defer wg.Done()
				var seq uint16
				var ts uint32
				for k := 0; ; k++ {
					due := start.Add(time.Duration(k) * period)
					if due.After(end) {
						return
					}
					time.Sleep(time.Until(due))
					lates[i] = max(lates[i], time.Since(due))
					frame := stream[k%len(stream)]
					for _, p := range frame {
						q := *p
						q.SequenceNumber, q.Timestamp = seq, ts
						seq++
						tr.mu.Lock()
						err := tr.write(&q, time.Since(start))
						tr.mu.Unlock()
						if err != nil {
							b.Error(err)
							return
						}
					}
					ts += uint32(int64(rate) * int64(period) / int64(time.Second))
					sent[i]++
				}
			}()
		}
		wg.Wait()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		rss := vmRSS()
		var after syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &after)
		var bytes, written, dropped, silence int64
		var late time.Duration
		for i, tr := range recs {
			tr.close("")
			in := tr.snapshot()
			bytes += in.Bytes
			written += in.Frames
			dropped += in.Dropped
			silence += in.Silence
			late = max(late, lates[i])
			if in.Frames < sent[i]-1 || in.Dropped > 0 || in.Silence > 0 { // a video frame may be the samplebuilder's last
				b.Errorf("track %d: %d frames sent, %d written, %d dropped, %d silent", i, sent[i], in.Frames, in.Dropped, in.Silence)
			}
		}
		cpu := time.Duration(after.Utime.Nano()+after.Stime.Nano()-before.Utime.Nano()-before.Stime.Nano()) * time.Nanosecond
		wall := time.Duration(seconds) * time.Second
		b.ReportMetric(float64(tracks), "tracks")
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds(), "cpu%")
		b.ReportMetric(100*cpu.Seconds()/wall.Seconds()/float64(tracks), "cpu%/track")
		b.ReportMetric(float64(rss)/float64(tracks)/1024, "KiB-RSS/track")
		b.ReportMetric(float64(ms.HeapInuse)/float64(tracks)/1024, "KiB-heap/track")
		b.ReportMetric(float64(late.Milliseconds()), "ms-late-max")
		b.ReportMetric(float64(bytes)/float64(tracks)/wall.Seconds()*8/1000, "kbit/s/track")
		b.Logf("%d tracks for %v: CPU %v (%.1f%% of one core), RSS %d MiB, heap %d MiB, latest push %v, %d frames written, %d dropped, %d silent",
			tracks, wall, cpu.Round(time.Millisecond), 100*cpu.Seconds()/wall.Seconds(), rss>>20, ms.HeapInuse>>20, late, written, dropped, silence)
	}
}

func packetize(b *testing.B, src mediapeer.Source, n int, pay rtp.Payloader, rate uint32) [][]*rtp.Packet {
	pk := rtp.NewPacketizer(1200, 96, 1, pay, rtp.NewFixedSequencer(0), rate)
	var out [][]*rtp.Packet
	for range n {
		f, err := src.Next()
		if err != nil {
			b.Fatal(err)
		}
		out = append(out, pk.Packetize(f.Data, uint32(f.Duration*time.Duration(rate)/time.Second)))
	}
	return out
}

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// vmRSS returns the process's resident memory, from /proc.
func vmRSS() int64 {
	data, _ := os.ReadFile("/proc/self/status")
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}

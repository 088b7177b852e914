package loadgen

import (
	"context"
	"os"
	"sync"
	"time"
)

// sampleEvery is how often memory is sampled for the peaks.
const sampleEvery = 200 * time.Millisecond

// sampler follows the peak RSS of the server and of this process.
type sampler struct {
	pid  int            // the server's; 0 for none; read-only
	done chan struct{}  // closed by stop
	wg   sync.WaitGroup // the sampling goroutine

	mu         sync.Mutex
	serverPeak int64     // guarded by mu
	selfPeak   int64     // guarded by mu
	last       procUsage // the server's latest reading; guarded by mu
}

func newSampler(pid int) *sampler {
	s := &sampler{pid: pid, done: make(chan struct{})}
	s.sample()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		t := time.NewTicker(sampleEvery)
		defer t.Stop()
		for {
			select {
			case <-s.done:
				return
			case <-t.C:
				s.sample()
			}
		}
	}()
	return s
}

func (s *sampler) sample() {
	self, _ := readProc(os.Getpid())
	var srv procUsage
	if s.pid != 0 {
		srv, _ = readProc(s.pid)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.selfPeak = max(s.selfPeak, self.RSS)
	if s.pid != 0 && srv.RSS > 0 {
		s.serverPeak = max(s.serverPeak, srv.RSS)
		s.last = srv
	}
}

// server reads the server now (zero without a pid).
func (s *sampler) server() procUsage {
	s.sample()
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.last
}

func (s *sampler) peakServer() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.serverPeak
}

func (s *sampler) peakSelf() int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.selfPeak
}

func (s *sampler) stop() {
	select {
	case <-s.done:
	default:
		close(s.done)
	}
	s.wg.Wait()
}

// measure holds the load for the window and computes the summary.
func (r *run) measure(ctx context.Context, smp *sampler) *Summary {
	start := time.Now()
	for _, p := range r.parts {
		p.before = p.snapshot()
		if p.video != nil {
			p.frames = p.video.read()
		}
	}
	cpuStart := smp.server().CPU
	select {
	case <-time.After(r.cfg.Duration):
	case <-ctx.Done():
	}
	window := time.Since(start)
	srvEnd := smp.server()
	sum := &Summary{Rooms: r.cfg.Rooms, Participants: len(r.parts), Media: !r.cfg.SignallingOnly,
		DurationS: round3(window.Seconds()), Simulcast: r.cfg.Simulcast, LastN: r.cfg.LastN, Speakers: r.cfg.Speakers}
	r.lostConnections()
	r.summarizeJoins(sum)
	r.summarizeResends(sum)
	if !r.cfg.SignallingOnly {
		r.summarizeMedia(sum, window)
		r.summarizeFreezes(sum, start, start.Add(window))
	}
	if r.cfg.ServerPID != 0 {
		cpu := (srvEnd.CPU - cpuStart).Seconds()
		sum.Server = &ServerUsage{PID: r.cfg.ServerPID, CPUSeconds: round3(cpu),
			PeakRSSMB: round3(mb(smp.peakServer())), StartRSSMB: round3(mb(r.serverStart.RSS))}
		if sum.RecvPackets > 0 {
			sum.Server.CPUMicrosPerPkt = round3(cpu * 1e6 / float64(sum.RecvPackets))
		}
	}
	r.mu.Lock()
	sum.Errors = len(r.errors)
	sum.ErrorSamples = r.errors[:min(len(r.errors), 10)]
	r.mu.Unlock()
	return sum
}

// lostConnections reports participants that dropped out during the run.
func (r *run) lostConnections() {
	for _, p := range r.parts {
		if p.seat == nil {
			continue
		}
		select {
		case <-p.seat.Done():
			r.fail("%s left %s during the run: %s", p.nick, p.room, p.seat.Reason())
		default:
		}
	}
}

func (r *run) summarizeJoins(sum *Summary) {
	var connect, join, media []float64
	for _, p := range r.parts {
		if p.connectMS >= 0 && p.client != nil {
			connect = append(connect, p.connectMS)
		}
		if p.seat != nil {
			join = append(join, p.joinMS)
		}
		if p.mediaMS >= 0 {
			media = append(media, p.mediaMS)
		}
	}
	if r.cfg.ShareConnections {
		connect = nil // the shared connections were made before the clock started
	}
	sum.ConnectMS, sum.JoinMS = distOf(connect).rounded(), distOf(join).rounded()
	if !r.cfg.SignallingOnly {
		d := distOf(media).rounded()
		sum.MediaMS = &d
	}
}

// summarizeResends adds up what the SFU asked our publishers to resend.
func (r *run) summarizeResends(sum *Summary) {
	for _, p := range r.parts {
		if p.seat == nil {
			continue
		}
		st := p.seat.ResendStats()
		sum.Resends.Resent += st.Resent
		sum.Resends.RefusedUnknown += st.RefusedUnknown
		sum.Resends.RefusedOld += st.RefusedOld
		sum.Resends.RefusedSpacing += st.RefusedSpacing
		sum.Resends.RefusedCredit += st.RefusedCredit
	}
}

// summarizeMedia computes loss, bitrate and jitter over the window.
func (r *run) summarizeMedia(sum *Summary, window time.Duration) {
	var expected, lost, allBytes int64
	var kbps, jitter []float64
	for _, p := range r.parts {
		if p.seat == nil {
			continue
		}
		var bytes int64
		for _, t := range p.seat.Tracks() {
			before, existed := p.before[t]
			st := t.Stats()
			if t.Ended() {
				if existed && !before.ended {
					r.fail("%s's %s ended for %s during the window", t.Owner(), t.Kind(), p.nick)
				}
				continue
			}
			exp, got := st.Expected-before.expected, st.Packets-before.packets
			expected += exp
			lost += max(exp-got, 0)
			sum.RecvPackets += got
			bytes += st.Bytes - before.bytes
			jitter = append(jitter, ms(st.Jitter))
		}
		kbps = append(kbps, float64(bytes)*8/window.Seconds()/1000)
		allBytes += bytes
	}
	sum.EgressKbps = round3(float64(allBytes) * 8 / window.Seconds() / 1000)
	if expected > 0 {
		sum.LossPct = round3(float64(lost) * 100 / float64(expected))
	}
	sum.RecvKbps, sum.JitterMS = spreadOf(kbps).rounded(), spreadOf(jitter).rounded()
}

// summarizeFreezes counts the freezes, over the window from start to end,
// of the videos each subscriber was receiving at its start.
func (r *run) summarizeFreezes(sum *Summary, start, end time.Time) {
	var videos []float64
	var frozen time.Duration
	watched := 0
	for _, p := range r.parts {
		if p.seat == nil || p.video == nil {
			continue
		}
		now := p.video.read()
		n := 0
		for t, before := range p.frames {
			if !before.watched(start) {
				continue
			}
			n++
			freezes, d := freezesSince(before, now[t], end)
			sum.Freezes += freezes
			frozen += d
		}
		videos = append(videos, float64(n))
		watched += n
	}
	sum.Videos = spreadOf(videos).rounded()
	sum.FrozenS = round3(frozen.Seconds())
	if watched > 0 {
		sum.FrozenPct = round3(frozen.Seconds() * 100 / (float64(watched) * end.Sub(start).Seconds()))
	}
}

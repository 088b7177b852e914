package admission

import (
	"net/netip"
	"sync"
	"time"
)

// LogLimiter allows one log line per source per interval, so that a flood
// cannot flood the logs too. It is safe for concurrent use; it remembers
// at most maxLogSources sources, forgetting the stale ones first.
type LogLimiter struct {
	interval time.Duration
	clock    func() time.Time

	mu   sync.Mutex
	last map[Source]time.Time // guarded by mu
}

// maxLogSources bounds a LogLimiter's memory: past it the sources not
// logged within the interval are forgotten, or all of them.
const maxLogSources = 4096

// NewLogLimiter returns a limiter; clock nil means time.Now.
func NewLogLimiter(interval time.Duration, clock func() time.Time) *LogLimiter {
	if clock == nil {
		clock = time.Now
	}
	return &LogLimiter{interval: interval, clock: clock, last: make(map[Source]time.Time)}
}

// Allow reports whether src may be logged about now, and if so counts it.
func (l *LogLimiter) Allow(src Source) bool {
	now := l.clock()
	l.mu.Lock()
	defer l.mu.Unlock()
	if t, ok := l.last[src]; ok && now.Sub(t) < l.interval {
		return false
	}
	if len(l.last) >= maxLogSources {
		for s, t := range l.last {
			if now.Sub(t) >= l.interval {
				delete(l.last, s)
			}
		}
		if len(l.last) >= maxLogSources {
			clear(l.last)
		}
	}
	l.last[src] = now
	return true
}

// RateConfig configures a RateLimiter.
type RateConfig struct {
	// PerSecond and Burst are each source's token bucket: Burst at once,
	// then PerSecond. PerSecond <= 0 disables the limiter (Allow is always
	// true).
	PerSecond float64
	Burst     int
	// GlobalPerSecond and GlobalBurst bound every source together, against
	// a flood from spoofed addresses. Zero GlobalPerSecond: no global bound.
	GlobalPerSecond float64
	GlobalBurst     int
	// MaxSources bounds the sources remembered; past it, full (idle)
	// buckets are forgotten first. Default 16384.
	MaxSources int
	// Clock returns the time. Default time.Now.
	Clock func() time.Time
}

// RateLimiter is a token bucket per source, and one for all. It is NOT
// safe for concurrent use: the UDP mux's read loop, its only user, owns it.
type RateLimiter struct {
	cfg     RateConfig         // read-only
	buckets map[Source]*bucket // owned by the caller's goroutine
	global  bucket
}

type bucket struct {
	tokens float64
	at     time.Time // when tokens was last brought up to date
}

// NewRateLimiter returns a limiter.
func NewRateLimiter(cfg RateConfig) *RateLimiter {
	if cfg.Burst <= 0 {
		cfg.Burst = max(int(cfg.PerSecond), 1)
	}
	if cfg.GlobalBurst <= 0 {
		cfg.GlobalBurst = max(int(cfg.GlobalPerSecond), 1)
	}
	if cfg.MaxSources <= 0 {
		cfg.MaxSources = 16384
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	return &RateLimiter{cfg: cfg, buckets: make(map[Source]*bucket),
		global: bucket{tokens: float64(cfg.GlobalBurst)}}
}

// take refills b to now and takes a token if there is one.
func (b *bucket) take(now time.Time, rate float64, burst int) bool {
	if !b.at.IsZero() {
		b.tokens = min(b.tokens+now.Sub(b.at).Seconds()*rate, float64(burst))
	}
	b.at = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// Allow reports whether one more event from ip fits its source's bucket
// and the global one, and takes a token from each if so. ok false says
// which bound refused: global true for the global one.
func (l *RateLimiter) Allow(ip netip.Addr) (ok, global bool) {
	if l.cfg.PerSecond <= 0 {
		return true, false
	}
	now := l.cfg.Clock()
	src := SourceOfAddr(ip)
	b := l.buckets[src]
	if b == nil {
		l.makeRoom(now)
		b = &bucket{tokens: float64(l.cfg.Burst), at: now}
		l.buckets[src] = b
	}
	if !b.take(now, l.cfg.PerSecond, l.cfg.Burst) {
		return false, false
	}
	if l.cfg.GlobalPerSecond > 0 && !l.global.take(now, l.cfg.GlobalPerSecond, l.cfg.GlobalBurst) {
		b.tokens++ // not this source's fault
		return false, true
	}
	return true, false
}

// makeRoom forgets buckets that are full again (their source has been
// quiet for Burst/PerSecond), or all of them, when MaxSources are held.
// A spoofing flood thus costs bounded memory; its sources start afresh.
func (l *RateLimiter) makeRoom(now time.Time) {
	if len(l.buckets) < l.cfg.MaxSources {
		return
	}
	refill := time.Duration(float64(l.cfg.Burst) / l.cfg.PerSecond * float64(time.Second))
	for s, b := range l.buckets {
		if now.Sub(b.at) >= refill {
			delete(l.buckets, s)
		}
	}
	if len(l.buckets) >= l.cfg.MaxSources {
		clear(l.buckets)
	}
}

// Sources is how many sources the limiter remembers now.
func (l *RateLimiter) Sources() int { return len(l.buckets) }

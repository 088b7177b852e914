package app

import (
	"context"
	"log/slog"
	"runtime/debug"
	"runtime/metrics"
	"time"
)

// MemoryConfig is how parley gives memory back to the system
// (docs/BENCHMARKS.md, "Memory after a load", has the measurements).
type MemoryConfig struct {
	// Limit is a soft limit on the Go runtime's memory, in bytes, as
	// GOMEMLIMIT sets it (debug.SetMemoryLimit): near it the collector runs
	// more often and returns freed memory at once. 0 leaves the runtime's
	// setting (GOMEMLIMIT, else none). Default 0.
	Limit int64
	// ReturnInterval is how often parley checks whether it holds memory it
	// no longer needs while the collector is idle (no cycle since the last
	// check: the load has ended) and, if more than ReturnMin, collects and
	// returns it to the system at once (debug.FreeOSMemory) instead of
	// leaving it to the runtime's background scavenger, which takes
	// minutes. Negative: never. Default 30 s.
	ReturnInterval time.Duration
	// ReturnMin is the least memory worth returning that way. Default 16 MiB.
	ReturnMin int64
}

func (c *MemoryConfig) setDefaults() {
	if c.ReturnInterval == 0 {
		c.ReturnInterval = 30 * time.Second
	}
	if c.ReturnMin <= 0 {
		c.ReturnMin = 16 << 20
	}
}

// memoryReturner is the ReturnInterval loop's state, owned by its goroutine.
type memoryReturner struct {
	cfg     MemoryConfig
	log     *slog.Logger
	samples []metrics.Sample
	cycles  uint64 // GC cycles at the last check
}

// Metrics read: the collector's cycles, the live heap as of the last
// cycle, and what the heap holds (objects, live or not yet swept, and
// free or unused spans not yet returned).
var memoryMetrics = []string{
	"/gc/cycles/total:gc-cycles",
	"/gc/heap/live:bytes",
	"/memory/classes/heap/objects:bytes",
	"/memory/classes/heap/free:bytes",
	"/memory/classes/heap/unused:bytes",
}

// startMemory applies the soft limit and starts the return loop until ctx
// ends.
func startMemory(ctx context.Context, cfg MemoryConfig, log *slog.Logger) {
	cfg.setDefaults()
	if cfg.Limit > 0 {
		debug.SetMemoryLimit(cfg.Limit)
		log.Info("soft memory limit set", "bytes", cfg.Limit)
	}
	if cfg.ReturnInterval < 0 {
		return
	}
	r := &memoryReturner{cfg: cfg, log: log, samples: make([]metrics.Sample, len(memoryMetrics))}
	for i, name := range memoryMetrics {
		r.samples[i].Name = name
	}
	r.cycles = r.read()[0]
	go func() {
		t := time.NewTicker(cfg.ReturnInterval)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				r.check()
			}
		}
	}()
}

// read returns the metrics, in memoryMetrics' order.
func (r *memoryReturner) read() []uint64 {
	metrics.Read(r.samples)
	out := make([]uint64, len(r.samples))
	for i, s := range r.samples {
		if s.Value.Kind() == metrics.KindUint64 {
			out[i] = s.Value.Uint64()
		}
	}
	return out
}

// check returns memory when the collector has been idle since the last
// check and the heap holds much more than its live data.
func (r *memoryReturner) check() {
	v := r.read()
	cycles, live, held := v[0], v[1], v[2]+v[3]+v[4]
	idle := cycles == r.cycles
	r.cycles = cycles
	if !idle || held < live || int64(held-live) < r.cfg.ReturnMin {
		return
	}
	start := time.Now()
	debug.FreeOSMemory()
	r.cycles = r.read()[0]
	r.log.Debug("returned memory to the system", "held", held, "live", live, "took", time.Since(start))
}

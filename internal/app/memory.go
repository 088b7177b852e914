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
	// ReturnInterval is how often parley checks whether the collector has
	// been idle (no cycle since the last check: a load has ended, nothing
	// allocates) while the heap holds more than ReturnMin; then it collects
	// and returns the free memory to the system at once
	// (debug.FreeOSMemory), instead of leaving it to the runtime, which
	// keeps it for minutes. When that frees less than ReturnMin, the next
	// checks are skipped, up to 16 intervals, until the collector runs by
	// itself again: an idle server is not collected over and over.
	// Negative: never. Default 30 s.
	ReturnInterval time.Duration
	// ReturnMin is the least heap worth collecting that way, and the least
	// freed that keeps the checks coming. Default 16 MiB.
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
	backoff int    // intervals between checks now: 1, doubling while returns free little
	skip    int    // checks still to skip
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
	r := &memoryReturner{cfg: cfg, log: log, samples: make([]metrics.Sample, len(memoryMetrics)), backoff: 1}
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
// check and the heap holds at least ReturnMin. The live heap as of the
// last cycle says nothing of what became garbage since (a load that ended
// leaves its sessions unreferenced, and nothing collects them), so the
// only way to know is to collect.
//
// It reports whether it collected, and how much of the heap that freed.
func (r *memoryReturner) check() (collected bool, freed int64) {
	v := r.read()
	if v[0] != r.cycles { // the collector ran by itself: busy
		r.cycles, r.backoff, r.skip = v[0], 1, 0
		return false, 0
	}
	if r.skip > 0 {
		r.skip--
		return false, 0
	}
	held := int64(v[2] + v[3] + v[4])
	if held < r.cfg.ReturnMin {
		return false, 0
	}
	start := time.Now()
	debug.FreeOSMemory()
	after := r.read()
	r.cycles = after[0]
	freed = held - int64(after[2]+after[3]+after[4])
	if freed < r.cfg.ReturnMin {
		r.backoff = min(2*r.backoff, 16)
		r.skip = r.backoff - 1
	} else {
		r.backoff = 1
	}
	r.log.Debug("returned memory to the system", "heldMB", held>>20, "freedMB", freed>>20,
		"liveMB", after[1]>>20, "took", time.Since(start), "nextCheckIn", time.Duration(r.skip+1)*r.cfg.ReturnInterval)
	return true, freed
}

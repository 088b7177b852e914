package app

import (
	"io"
	"log/slog"
	"runtime"
	"runtime/debug"
	"runtime/metrics"
	"testing"
	"time"
)

var sink [][]byte // keeps the test's allocations reachable until dropped

// A load that ended leaves garbage nobody collects while nothing
// allocates; an idle check collects it and returns it, and checks that
// free little back off.
func TestMemoryReturnedWhenIdle(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(-1)) // no collection but ours
	cfg := MemoryConfig{ReturnInterval: time.Hour}
	cfg.setDefaults()
	r := &memoryReturner{cfg: cfg, log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		samples: make([]metrics.Sample, len(memoryMetrics)), backoff: 1}
	for i, name := range memoryMetrics {
		r.samples[i].Name = name
	}
	live := make([]byte, 24<<20) // what stays: more than ReturnMin
	debug.FreeOSMemory()
	r.cycles = r.read()[0]
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil // the load ended
	if collected, freed := r.check(); !collected || freed < 48<<20 || r.backoff != 1 {
		t.Fatalf("64 MiB of garbage: collected %v, freed %d MiB, backoff %d; want it collected and returned", collected, freed>>20, r.backoff)
	}
	// Idle, nothing new: it collects, frees little, and backs off.
	if collected, freed := r.check(); !collected || freed >= cfg.ReturnMin || r.backoff != 2 || r.skip != 1 {
		t.Fatalf("second check: collected %v freed %d MiB backoff %d skip %d; want a collection, backoff 2, skip 1", collected, freed>>20, r.backoff, r.skip)
	}
	if collected, _ := r.check(); collected || r.skip != 0 {
		t.Fatalf("third check collected (%v) or did not count its skip (%d)", collected, r.skip)
	}
	if collected, _ := r.check(); !collected || r.backoff != 4 || r.skip != 3 {
		t.Fatalf("fourth check: collected %v backoff %d skip %d; want a collection, backoff 4", collected, r.backoff, r.skip)
	}
	// The collector running by itself means work: back to every interval.
	debug.SetGCPercent(100)
	for range 64 {
		sink = append(sink, make([]byte, 1<<20))
	}
	sink = nil
	runtime.GC()
	debug.SetGCPercent(-1)
	if collected, _ := r.check(); collected || r.backoff != 1 || r.skip != 0 {
		t.Errorf("after the collector ran: collected %v backoff %d skip %d, want no collection, 1, 0", collected, r.backoff, r.skip)
	}
	runtime.KeepAlive(live)
}

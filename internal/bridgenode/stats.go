package bridgenode

import (
	"context"
	"runtime"
	"syscall"
	"time"
)

// Load is the media's counters: running totals that only grow.
type Load struct {
	Packets uint64 // RTP packets forwarded
	Bytes   uint64 // their payload bytes
	// Relays are the counters of the relays to and from other bridges
	// (cascaded conferences), per stream, of the live conferences.
	Relays []RelayStream
}

// RelayStream counts one stream crossing one relay (internal/sfu's
// RelayStreamStats), for GET /health.
type RelayStream struct {
	Conference string `json:"conference"`
	Relay      string `json:"relay"`     // the relay endpoint's id here
	Direction  string `json:"direction"` // "out": to the other bridge; "in": from it
	Track      string `json:"track"`     // "video-p1"
	Packets    uint64 `json:"packets"`
	Bytes      uint64 `json:"bytes"`
}

// Capacity is what the bridge counts as full: the stress is the highest
// of its CPU use and its packet rate and bitrate against these.
type Capacity struct {
	// PacketRate is the forwarded packets per second at stress 1.
	// Default 50000.
	PacketRate float64
	// Bitrate is the forwarded bits per second at stress 1. Default
	// 500 Mbit/s.
	Bitrate float64
	// NoCPU leaves the process's CPU share out of the stress. Default
	// false. For bridges sharing one process (tests), whose CPU cannot be
	// told apart.
	NoCPU bool
}

func (c *Capacity) setDefaults() {
	if c.PacketRate <= 0 {
		c.PacketRate = 50000
	}
	if c.Bitrate <= 0 {
		c.Bitrate = 500e6
	}
}

// meter turns counters into rates between two measures.
type meter struct {
	at      time.Time
	cpu     time.Duration
	packets uint64
	bytes   uint64
}

// processCPU is the CPU time the process used, user and system.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// measure updates the stats every StatsInterval until ctx ends.
func (n *Node) measure(ctx context.Context) {
	t := time.NewTicker(n.cfg.StatsInterval)
	defer t.Stop()
	n.sample()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n.sample()
		}
	}
}

// sample measures the rates since the last sample and the stress.
func (n *Node) sample() {
	now, cpu, load := time.Now(), processCPU(), n.cfg.Load()
	m := &n.meter
	if !m.at.IsZero() {
		secs := now.Sub(m.at).Seconds()
		pps := float64(load.Packets-m.packets) / secs
		bps := 8 * float64(load.Bytes-m.bytes) / secs
		cpuShare := (cpu - m.cpu).Seconds() / secs / float64(runtime.GOMAXPROCS(0))
		if n.cfg.Capacity.NoCPU {
			cpuShare = 0
		}
		stress := max(cpuShare, pps/n.cfg.Capacity.PacketRate, bps/n.cfg.Capacity.Bitrate)
		n.mu.Lock()
		n.stats.Stress = min(max(stress, 0), 1)
		n.stats.PacketRate, n.stats.Bitrate = uint64(pps), uint64(bps)
		n.mu.Unlock()
	}
	*m = meter{at: now, cpu: cpu, packets: load.Packets, bytes: load.Bytes}
}

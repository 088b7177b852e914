// Command sfu-compare runs parley, Galène and LiveKit in turn under the same
// load and prints, per server and size, the server's CPU per forwarded
// packet, its RSS per participant, the loss, the join-to-media time and the
// bytes each subscriber receives. See docs/BENCHMARKS.md ("Side by side").
//
// The load: rooms of five, every participant publishing parley's synthetic
// VP8 (about 1 Mbit/s, 30 frames/s, a keyframe a second) and Opus (50
// packets/s), and receiving the other four. For Galène and LiveKit the load
// runs in this process (galene.go, livekit.go: only the signalling
// differs; media.go is the one source and the one receive-and-count path).
// For parley it is `parley load`, whose SDK publishes the same synthetic
// media and counts by sequence number the same way.
//
// The server runs pinned to one core (-server-cpu) and this program, the
// load, to the other (-load-cpu), with taskset.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"os/exec"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type options struct {
	servers   []string
	sizes     []int
	rounds    int
	window    time.Duration
	settle    time.Duration
	serverCPU string
	loadCPU   string
	maxFrom   int
	maxStep   int
	maxLimit  int
	joins     int

	parley        string
	galene        string
	galeneStatic  string
	livekit       string
	work          string
	jsonOut       string
	participantsP int
}

// result is one run of one server at one size.
type result struct {
	Server       string  `json:"server"`
	Participants int     `json:"participants"`
	Round        int     `json:"round"`
	LossPct      float64 `json:"loss_pct"`
	RecvPackets  uint64  `json:"recv_packets"`
	CPUSeconds   float64 `json:"cpu_seconds"`
	USPerPacket  float64 `json:"us_per_packet"`
	StartRSSMB   float64 `json:"start_rss_mb"`
	PeakRSSMB    float64 `json:"peak_rss_mb"`
	RSSPerPartMB float64 `json:"rss_per_participant_mb"`
	MediaP50MS   float64 `json:"media_p50_ms"`
	MediaP95MS   float64 `json:"media_p95_ms"`
	KbpsPerSub   float64 `json:"kbps_per_subscriber"`
	Errors       int     `json:"errors"`
	Note         string  `json:"note,omitempty"`
}

func main() {
	var o options
	var servers, sizes string
	flag.StringVar(&servers, "servers", "parley,galene,livekit", "servers to run, in this order")
	flag.StringVar(&sizes, "sizes", "10,50,100", "participants (multiples of 5)")
	flag.IntVar(&o.rounds, "rounds", 3, "rounds; each runs every server at every size, servers alternating")
	flag.DurationVar(&o.window, "window", 20*time.Second, "measurement window, once media flows")
	flag.DurationVar(&o.settle, "settle", 30*time.Second, "how long media may take to flow between everyone")
	flag.StringVar(&o.serverCPU, "server-cpu", "0", "taskset CPU list for the server (empty: no pinning)")
	flag.StringVar(&o.loadCPU, "load-cpu", "1", "taskset CPU list for the load, this program (empty: no pinning)")
	flag.IntVar(&o.maxFrom, "max-from", 0, "after the sizes, search the most participants under 1% loss from this size up (0: no search)")
	flag.IntVar(&o.maxStep, "max-step", 25, "step of that search")
	flag.IntVar(&o.maxLimit, "max-limit", 400, "largest size tried")
	flag.IntVar(&o.joins, "join-concurrency", 8, "joins in progress at once (parley: each until its media connects; the peers: each until its join call returns); 0: all at once")
	flag.StringVar(&o.parley, "parley", "parley", "parley binary")
	flag.StringVar(&o.galene, "galene", "galene", "galene binary")
	flag.StringVar(&o.galeneStatic, "galene-static", "", "galene's static/ folder (the web client; any folder will do)")
	flag.StringVar(&o.livekit, "livekit", "livekit-server", "livekit-server binary")
	flag.StringVar(&o.work, "work", os.TempDir(), "scratch folder for the servers' data")
	flag.StringVar(&o.jsonOut, "json", "", "also write every run's result to this file")
	flag.Parse()
	o.servers = strings.Split(servers, ",")
	for _, s := range strings.Split(sizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n <= 0 || n%5 != 0 {
			log.Fatalf("-sizes: %q is not a positive multiple of 5", s)
		}
		o.sizes = append(o.sizes, n)
	}
	pinSelf(o.loadCPU)

	var all []result
	record := func(r result) {
		all = append(all, r)
		log.Printf("%-8s n=%-4d round %d: loss %.3f%%, %.2f µs/packet, %.2f MB RSS/participant, media p50 %.0f ms p95 %.0f ms, %.0f kbit/s per subscriber, %d errors %s",
			r.Server, r.Participants, r.Round, r.LossPct, r.USPerPacket, r.RSSPerPartMB, r.MediaP50MS, r.MediaP95MS, r.KbpsPerSub, r.Errors, r.Note)
	}
	for round := 1; round <= o.rounds; round++ {
		for _, n := range o.sizes {
			for _, s := range rotate(o.servers, round-1) {
				record(runOne(&o, s, n, round))
			}
		}
	}
	maxes := map[string]int{}
	if o.maxFrom > 0 {
		for _, s := range o.servers {
			for n := o.maxFrom; n <= o.maxLimit; n += o.maxStep {
				r := runOne(&o, s, n, 0)
				record(r)
				if r.LossPct >= 1 || r.Errors > 0 {
					break
				}
				maxes[s] = n
			}
		}
	}
	printTable(os.Stdout, &o, all, maxes)
	if o.jsonOut != "" {
		b, _ := json.MarshalIndent(all, "", "  ")
		if err := os.WriteFile(o.jsonOut, b, 0o644); err != nil {
			log.Print(err)
		}
	}
}

// rotate starts the list at i, so that no server always runs first.
func rotate(s []string, i int) []string {
	i %= len(s)
	return append(append([]string(nil), s[i:]...), s[:i]...)
}

// pinSelf re-runs this program under taskset, once.
func pinSelf(cpus string) {
	if cpus == "" || os.Getenv("SFU_COMPARE_PINNED") != "" {
		return
	}
	self, err := os.Executable()
	if err != nil {
		log.Fatal(err)
	}
	cmd := exec.Command("taskset", append([]string{"-c", cpus, self}, os.Args[1:]...)...)
	cmd.Env = append(os.Environ(), "SFU_COMPARE_PINNED=1")
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		log.Fatal(err)
	}
	os.Exit(0)
}

// runOne runs server s with n participants.
func runOne(o *options, s string, n, round int) result {
	r := result{Server: s, Participants: n, Round: round}
	var err error
	switch s {
	case "parley":
		err = runParley(o, n, &r)
	case "galene":
		err = runInProcess(o, n, &r, startGalene)
	case "livekit":
		err = runInProcess(o, n, &r, startLiveKit)
	default:
		err = fmt.Errorf("unknown server %q", s)
	}
	if err != nil {
		r.Note = err.Error()
		r.Errors++
		r.LossPct = 100
	}
	return r
}

// runInProcess runs the load in this process against a server that start
// launches; join joins one participant.
func runInProcess(o *options, n int, r *result, start func(o *options) (*server, joinFunc, error)) error {
	srv, join, err := start(o)
	if err != nil {
		return err
	}
	defer srv.stop()
	r.StartRSSMB = srv.rssMB()
	peak := srv.watchPeak()
	defer peak.stop()

	stop := make(chan struct{})
	subs := make([]*subscriber, n)
	closers := make([]func(), n)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	runID := strconv.FormatInt(time.Now().UnixNano()%1e9, 36)
	var slots chan struct{} // o.joins tokens; nil for no bound
	if o.joins > 0 {
		slots = make(chan struct{}, o.joins)
	}
	for i := range n {
		room := fmt.Sprintf("r%s-%d", runID, i/5+1)
		id := fmt.Sprintf("p%d", i+1)
		subs[i] = newSubscriber(id, 8)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if slots != nil {
				slots <- struct{}{}
				defer func() { <-slots }()
			}
			// Each join has the settle time, from its start.
			ctx, cancel := context.WithTimeout(context.Background(), o.settle)
			defer cancel()
			c, err := join(ctx, room, id, subs[i], stop)
			subs[i].mu.Lock()
			subs[i].joinedAt = time.Now()
			subs[i].mu.Unlock()
			if err != nil {
				errMu.Lock()
				r.Errors++
				if r.Note == "" {
					r.Note = "join: " + err.Error()
				}
				errMu.Unlock()
				return
			}
			closers[i] = c
		}()
	}
	wg.Wait()
	deadline := time.Now().Add(o.settle)
	for time.Now().Before(deadline) && !allComplete(subs) {
		time.Sleep(100 * time.Millisecond)
	}
	// As parley load times it: from the room's last join to receiving
	// every other participant of the room.
	lastJoin := map[int]time.Time{}
	for i, s := range subs {
		s.mu.Lock()
		if s.joinedAt.After(lastJoin[i/5]) {
			lastJoin[i/5] = s.joinedAt
		}
		s.mu.Unlock()
	}
	var media []float64
	for i, s := range subs {
		s.mu.Lock()
		if s.allAt.IsZero() {
			r.Errors++
		} else {
			media = append(media, float64(max(s.allAt.Sub(lastJoin[i/5]), 0).Milliseconds()))
		}
		s.mu.Unlock()
	}
	r.MediaP50MS, r.MediaP95MS = percentile(media, 50), percentile(media, 95)

	for _, s := range subs {
		s.mark()
	}
	cpu0 := srv.cpuSeconds()
	time.Sleep(o.window)
	cpu1 := srv.cpuSeconds()
	var recv, expected, bytes uint64
	for _, s := range subs {
		rc, e, b := s.windowTotals()
		recv, expected, bytes = recv+rc, expected+e, bytes+b
	}
	close(stop)
	r.PeakRSSMB = peak.stop()
	r.CPUSeconds = cpu1 - cpu0
	r.RecvPackets = recv
	if expected > 0 && expected >= recv {
		r.LossPct = 100 * float64(expected-recv) / float64(expected)
	}
	if recv > 0 {
		r.USPerPacket = r.CPUSeconds * 1e6 / float64(recv)
	}
	r.RSSPerPartMB = (r.PeakRSSMB - r.StartRSSMB) / float64(n)
	r.KbpsPerSub = float64(bytes) * 8 / 1000 / o.window.Seconds() / float64(n)
	for _, c := range closers {
		if c != nil {
			c()
		}
	}
	return nil
}

func allComplete(subs []*subscriber) bool {
	for _, s := range subs {
		if !s.complete() {
			return false
		}
	}
	return true
}

func percentile(v []float64, p float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	i := int(float64(len(s)-1) * p / 100)
	return s[i]
}

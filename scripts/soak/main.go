// Command soak runs parley for a long time under join/leave churn with
// media and samples, every minute, the server's goroutines, RSS and live
// heap: what must not grow.
//
// The server runs in this process (so its goroutines can be counted); the
// churn is `parley load` run again and again in a child process: each run
// joins ROOMS rooms of PARTICIPANTS media participants, lets media flow
// for the settle time and the window, and leaves. Usage:
//
//	go build -o /tmp/parley ./cmd/parley
//	go run ./scripts/soak --parley /tmp/parley --duration 1h
//
// It prints one line per sample and, at the end, a Markdown table.
package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"runtime/metrics"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"parley.dev/parley/internal/app"
)

type options struct {
	parley       string
	duration     time.Duration
	sample       time.Duration
	rooms        int
	participants int
	settle       time.Duration
	window       time.Duration
	returnEvery  time.Duration
	idle         time.Duration
}

// sample is one minute's figures.
type sample struct {
	at         time.Duration
	cycles     int     // load runs completed
	goroutines int     // the server's
	rssMB      float64 // the process's VmRSS
	liveMB     float64 // live heap after the last GC
	lossPct    float64 // the last completed run's loss
	errors     int     // errors in all runs so far
}

func main() {
	var o options
	flag.StringVar(&o.parley, "parley", "/tmp/parley", "the parley binary that runs `parley load`")
	flag.DurationVar(&o.duration, "duration", time.Hour, "how long to churn")
	flag.DurationVar(&o.sample, "sample", time.Minute, "how often to sample")
	flag.IntVar(&o.rooms, "rooms", 2, "rooms per load run")
	flag.IntVar(&o.participants, "participants", 5, "media participants per room")
	flag.DurationVar(&o.settle, "settle", 10*time.Second, "each run's wait for media to flow")
	flag.DurationVar(&o.window, "window", 20*time.Second, "each run's measured window")
	flag.DurationVar(&o.returnEvery, "memory-return-interval", 30*time.Second, "the server's --memory-return-interval")
	flag.DurationVar(&o.idle, "idle", 3*time.Minute, "how long to keep sampling, idle, after the churn")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o); err != nil {
		fmt.Fprintln(os.Stderr, "soak:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, o options) error {
	dir, err := os.MkdirTemp("", "parley-soak-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	ready := make(chan struct{})
	srvCtx, stopServer := context.WithCancel(context.Background())
	defer stopServer()
	srvDone := make(chan error, 1)
	go func() {
		srvDone <- app.Run(srvCtx, app.Config{
			Domain: "localhost", DataDir: dir, PublicIP: "127.0.0.1", AllowAnonymous: true,
			HTTPListener: ln, Ready: ready, Memory: app.MemoryConfig{ReturnInterval: o.returnEvery},
			Logger: slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError})),
		})
	}()
	select {
	case <-ready:
	case err := <-srvDone:
		return err
	}
	ws := "ws://" + ln.Addr().String() + "/xmpp-websocket"
	fmt.Printf("soak: server at %s, %d rooms x %d participants per run, %v\n", ws, o.rooms, o.participants, o.duration)

	var mu sync.Mutex
	var cycles, errors int
	var lastLoss float64
	churnCtx, stopChurn := context.WithTimeout(ctx, o.duration)
	defer stopChurn()
	churnDone := make(chan struct{})
	go func() {
		defer close(churnDone)
		for i := 1; churnCtx.Err() == nil; i++ {
			loss, errs, err := loadRun(churnCtx, o, ws, i)
			if churnCtx.Err() != nil {
				return
			}
			mu.Lock()
			cycles++
			errors += errs
			lastLoss = loss
			if err != nil {
				errors++
				fmt.Fprintf(os.Stderr, "soak: run %d: %v\n", i, err)
			}
			mu.Unlock()
		}
	}()

	start := time.Now()
	var samples []sample
	take := func() {
		mu.Lock()
		s := sample{at: time.Since(start).Round(time.Second), cycles: cycles, errors: errors, lossPct: lastLoss}
		mu.Unlock()
		s.goroutines = runtime.NumGoroutine()
		s.rssMB = rssMB()
		s.liveMB = liveHeapMB()
		samples = append(samples, s)
		fmt.Printf("%8v runs %4d goroutines %5d rss %6.1f MB live heap %6.1f MB last loss %.3f %% errors %d\n",
			s.at, s.cycles, s.goroutines, s.rssMB, s.liveMB, s.lossPct, s.errors)
	}
	take()
	tick := time.NewTicker(o.sample)
	defer tick.Stop()
loop:
	for {
		select {
		case <-tick.C:
			take()
		case <-churnDone:
			break loop
		}
	}
	// After the churn: idle, to see what stays.
	idleEnd := time.After(o.idle)
idle:
	for {
		select {
		case <-tick.C:
			take()
		case <-idleEnd:
			break idle
		case <-ctx.Done():
			break idle
		}
	}
	stopServer()
	<-srvDone
	printTable(samples)
	return nil
}

// loadRun runs one `parley load` and returns its loss and error count.
func loadRun(ctx context.Context, o options, ws string, i int) (float64, int, error) {
	cmd := exec.CommandContext(ctx, o.parley, "load", "--server", ws, "--domain", "localhost",
		"--rooms", strconv.Itoa(o.rooms), "--participants", strconv.Itoa(o.participants),
		"--settle", o.settle.String(), "--duration", o.window.String(),
		"--room-prefix", fmt.Sprintf("soak%d-", i), "--json")
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil && out.Len() == 0 {
		return 0, 0, fmt.Errorf("%v: %s", err, lastLine(stderr.String()))
	}
	var sum struct {
		LossPct float64 `json:"loss_pct"`
		Errors  int     `json:"errors"`
	}
	if err := json.Unmarshal(out.Bytes(), &sum); err != nil {
		return 0, 0, fmt.Errorf("summary: %v", err)
	}
	return sum.LossPct, sum.Errors, nil
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

// rssMB is this process's resident set, from /proc/self/status.
func rssMB() float64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmRSS:"); ok {
			kb, _ := strconv.ParseFloat(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 64)
			return kb / 1024
		}
	}
	return 0
}

func liveHeapMB() float64 {
	s := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	metrics.Read(s)
	return float64(s[0].Value.Uint64()) / (1 << 20)
}

func printTable(samples []sample) {
	w := io.Writer(os.Stdout)
	fmt.Fprintln(w, "\n| time | load runs | goroutines | RSS (MB) | live heap (MB) | last run's loss | errors |")
	fmt.Fprintln(w, "| ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, s := range samples {
		fmt.Fprintf(w, "| %v | %d | %d | %.1f | %.1f | %.3f %% | %d |\n",
			s.at, s.cycles, s.goroutines, s.rssMB, s.liveMB, s.lossPct, s.errors)
	}
}

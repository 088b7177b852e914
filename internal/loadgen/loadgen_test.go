package loadgen

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"

	"parley.dev/parley/internal/testserver"
)

func TestDistAndSpread(t *testing.T) {
	if d := distOf(nil); d != (Dist{}) {
		t.Errorf("empty: %+v", d)
	}
	var v []float64
	for i := 100; i >= 1; i-- {
		v = append(v, float64(i))
	}
	if d := distOf(v); d != (Dist{P50: 50, P95: 95, Max: 100}) {
		t.Errorf("1..100: %+v", d)
	}
	if v[0] != 100 {
		t.Error("distOf sorted its input in place")
	}
	if d := distOf([]float64{7}); d != (Dist{7, 7, 7}) {
		t.Errorf("one value: %+v", d)
	}
	if s := spreadOf([]float64{2, 4, 9}); s != (Spread{Mean: 5, Min: 2, Max: 9}) {
		t.Errorf("spread: %+v", s)
	}
	if s := spreadOf(nil); s != (Spread{}) {
		t.Errorf("empty spread: %+v", s)
	}
}

func TestParseProc(t *testing.T) {
	// A command name with a space and a parenthesis, as the kernel writes it.
	stat := []byte("4242 (my (odd) cmd) S 1 4242 4242 0 -1 4194560 1000 0 0 0 250 75 0 0 20 0 12 0 100 1000000 500 18446744073709551615\n")
	cpu, err := parseStatCPU(stat)
	if err != nil || cpu != 3250*time.Millisecond {
		t.Errorf("cpu %v, %v; want 3.25 s (325 ticks)", cpu, err)
	}
	for _, bad := range []string{"", "1 (x) S 1 2", "1 (x) S 1 2 3 4 5 6 7 8 9 a b c d e"} {
		if _, err := parseStatCPU([]byte(bad)); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
	status := []byte("Name:\tparley\nVmPeak:\t  900000 kB\nVmRSS:\t   51200 kB\nThreads:\t12\n")
	if rss, err := parseStatusRSS(status); err != nil || rss != 50<<20 {
		t.Errorf("rss %d, %v; want 50 MiB", rss, err)
	}
	if _, err := parseStatusRSS([]byte("Name:\tx\n")); err == nil {
		t.Error("no VmRSS: no error")
	}
	if _, err := parseStatusRSS([]byte("VmRSS:\t12 MB\n")); err == nil {
		t.Error("VmRSS in MB: no error")
	}
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{{}, {Server: "ws://127.0.0.1:1/x", Rooms: -1}, {Server: "ws://127.0.0.1:1/x", Duration: -time.Second}, {Server: "ws://127.0.0.1:1/x", JoinConcurrency: -1}} {
		if _, err := Run(context.Background(), cfg); !errors.Is(err, ErrConfig) {
			t.Errorf("%+v: %v, want ErrConfig", cfg, err)
		}
	}
}

// Signalling only, participant i of every room on one shared connection:
// 2 connections sit in 15 rooms each.
func TestSignallingOnlyWithSharedConnections(t *testing.T) {
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	sum, err := Run(context.Background(), Config{Server: srv.WebSocket, Domain: srv.Domain, Rooms: 15, Participants: 2,
		Duration: 300 * time.Millisecond, SignallingOnly: true, ShareConnections: true, Ramp: 100 * time.Millisecond,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		t.Fatal(err)
	}
	if sum.Errors != 0 || sum.Participants != 30 || sum.Media {
		t.Fatalf("%+v", sum)
	}
	if sum.JoinMS.Max <= 0 || sum.JoinMS.P50 > sum.JoinMS.P95 || sum.JoinMS.P95 > sum.JoinMS.Max {
		t.Errorf("join times %+v", sum.JoinMS)
	}
	if sum.MediaMS != nil || sum.RecvPackets != 0 || sum.Server != nil {
		t.Errorf("media or server figures in a signalling-only run without a pid: %+v", sum)
	}
	if sum.ConnectMS != (Dist{}) {
		t.Errorf("shared connections are not timed per join: %+v", sum.ConnectMS)
	}
	if sum.Loadgen.PeakRSSMB <= 0 {
		t.Errorf("own RSS missing: %+v", sum.Loadgen)
	}
}

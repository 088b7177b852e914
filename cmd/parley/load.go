package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"parley.dev/parley/internal/loadgen"
)

// runLoad is "parley load": R rooms of P headless participants against a
// running parley, then a summary. The exit status is 1 when anything
// failed (Summary.Errors), 2 for bad flags.
func runLoad(args []string, stdout, stderr io.Writer) int {
	cfg := loadgen.Config{}
	fs := flag.NewFlagSet("load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&cfg.Server, "server", "ws://localhost:8080/xmpp-websocket", "parley's XMPP WebSocket URL (or HOST:PORT for TCP)")
	fs.StringVar(&cfg.Domain, "domain", "", "the XMPP domain (default: the server's host name)")
	fs.IntVar(&cfg.Rooms, "rooms", 1, "how many rooms")
	fs.IntVar(&cfg.Participants, "participants", 2, "participants in each room")
	fs.DurationVar(&cfg.Duration, "duration", 30*time.Second, "the measurement window, once everyone is in and media flows")
	media := fs.Bool("media", true, "publish synthetic video (~1 Mbit/s, 30 fps) and audio (Opus, 50 packets/s) and receive everyone; false: signalling only")
	fs.BoolVar(&cfg.ShareConnections, "share-connections", false, "participant i of every room uses one shared connection")
	fs.DurationVar(&cfg.Ramp, "ramp", 0, "spread the joins over this time (default: all at once)")
	fs.IntVar(&cfg.JoinConcurrency, "join-concurrency", 0, "at most N joins in progress at once, each until its media connects (0: no bound)")
	fs.DurationVar(&cfg.Settle, "settle", 0, "how long to wait for media to flow before measuring (default 30s)")
	fs.BoolVar(&cfg.Simulcast, "simulcast", false, "publish the video as three simulcast layers (180, 360 and 720 lines; ~150 kbit/s, 1 and 1.5 Mbit/s), as a browser does")
	fs.IntVar(&cfg.LastN, "last-n", 0, "each subscriber asks for the camera of only the N most recent speakers (0: all)")
	fs.IntVar(&cfg.Speakers, "speakers", 0, "only the first N participants of each room speak, the others send silence (0: everyone speaks)")
	fs.IntVar(&cfg.ServerPID, "server-pid", 0, "the parley process to measure: CPU seconds and peak RSS")
	fs.StringVar(&cfg.RoomPrefix, "room-prefix", "", "room names are PREFIX1…PREFIXn (default: load-TIME-)")
	asJSON := fs.Bool("json", false, "print the summary as JSON")
	logLevel := fs.String("log-level", "warn", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 {
		fmt.Fprintf(stderr, "parley load: unexpected argument %q\n", fs.Arg(0))
		return 2
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		fmt.Fprintf(stderr, "parley load: bad --log-level: %v\n", err)
		return 2
	}
	cfg.SignallingOnly = !*media
	cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	sum, err := loadgen.Run(ctx, cfg)
	if sum == nil {
		fmt.Fprintf(stderr, "parley load: %v\n", err)
		return 2
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		enc.Encode(sum)
	} else {
		printSummary(stdout, sum)
	}
	if sum.Errors > 0 || err != nil {
		return 1
	}
	return 0
}

func printSummary(w io.Writer, s *loadgen.Summary) {
	fmt.Fprintf(w, "%d participants in %d rooms, media %v, measured over %.1f s\n", s.Participants, s.Rooms, s.Media, s.DurationS)
	fmt.Fprintf(w, "connect ms  p50 %.1f  p95 %.1f  max %.1f\n", s.ConnectMS.P50, s.ConnectMS.P95, s.ConnectMS.Max)
	fmt.Fprintf(w, "join ms     p50 %.1f  p95 %.1f  max %.1f\n", s.JoinMS.P50, s.JoinMS.P95, s.JoinMS.Max)
	if s.MediaMS != nil {
		fmt.Fprintf(w, "media ms    p50 %.1f  p95 %.1f  max %.1f\n", s.MediaMS.P50, s.MediaMS.P95, s.MediaMS.Max)
		fmt.Fprintf(w, "simulcast %v  last-n %d  speakers %d\n", s.Simulcast, s.LastN, s.Speakers)
		fmt.Fprintf(w, "loss %.3f%%  jitter ms mean %.2f max %.2f  recv kbit/s per subscriber mean %.0f min %.0f  packets %d\n",
			s.LossPct, s.JitterMS.Mean, s.JitterMS.Max, s.RecvKbps.Mean, s.RecvKbps.Min, s.RecvPackets)
		fmt.Fprintf(w, "server egress %.2f Mbit/s to our subscribers  videos per subscriber mean %.1f min %.0f max %.0f\n",
			s.EgressKbps/1000, s.Videos.Mean, s.Videos.Min, s.Videos.Max)
		r := s.Resends
		fmt.Fprintf(w, "resent on the SFU's NACKs %d packets; not resent: %d unknown, %d over 1 s old, %d within 100 ms, %d over budget\n",
			r.Resent, r.RefusedUnknown, r.RefusedOld, r.RefusedSpacing, r.RefusedCredit)
		fmt.Fprintf(w, "freezes (no frame for over %v) %d, %.2f s in all, %.3f%% of the time watched\n",
			loadgen.FreezeGap, s.Freezes, s.FrozenS, s.FrozenPct)
	}
	if s.Server != nil {
		fmt.Fprintf(w, "server pid %d: %.2f CPU s (%.2f µs per forwarded packet), RSS %.1f MB at start, %.1f MB peak\n",
			s.Server.PID, s.Server.CPUSeconds, s.Server.CPUMicrosPerPkt, s.Server.StartRSSMB, s.Server.PeakRSSMB)
	}
	fmt.Fprintf(w, "load generator: %.2f CPU s, %.1f MB peak RSS\n", s.Loadgen.CPUSeconds, s.Loadgen.PeakRSSMB)
	fmt.Fprintf(w, "errors: %d\n", s.Errors)
	for _, e := range s.ErrorSamples {
		fmt.Fprintf(w, "  %s\n", e)
	}
}

//go:build sip

// Command sipbench measures the SIP gateway: N phones (sipp, playing G.711
// audio) call one room of an in-process parley where one participant sends
// a tone, so that every call mixes and transcodes both ways; it reports the
// process's CPU per call and the share of late RTP packets, as JSON.
//
//	go run -tags sip,nolibopusfile ./internal/sip/sipbench -calls 10 -seconds 30
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"parley.dev/parley/internal/sip"
	"parley.dev/parley/internal/sip/opus"
	"parley.dev/parley/internal/testserver"
	"parley.dev/parley/sdk"
)

func main() {
	calls := flag.Int("calls", 10, "simultaneous phone calls")
	seconds := flag.Int("seconds", 30, "how long each call lasts; CPU is measured over its middle half")
	scenario := flag.String("scenario", "internal/sip/testdata/call.xml", "the sipp scenario of a call")
	flag.Parse()
	if err := run(*calls, *seconds, *scenario); err != nil {
		fmt.Fprintln(os.Stderr, "sipbench:", err)
		os.Exit(1)
	}
}

func run(calls, seconds int, scenario string) error {
	quiet := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		return err
	}
	defer srv.Close()
	gw, err := sip.New(sip.Config{Listen: "127.0.0.1:0", Server: srv.WebSocket, Domain: srv.Domain,
		Codec: opus.Codec{}, Logger: quiet, InvitesPerSecond: 1000, InviteBurst: 1000, PacketsPerSecond: 10000})
	if err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go gw.Serve(ctx)
	c, err := sdk.Connect(ctx, sdk.Config{Server: srv.WebSocket, Domain: srv.Domain, Logger: quiet})
	if err != nil {
		return err
	}
	defer c.Close()
	if _, err := c.Join(ctx, sdk.RoomConfig{Room: "bench", Nick: "tone", Media: &sdk.Media{Audio: sdk.SyntheticAudio()}}); err != nil {
		return err
	}
	if scenario, err = filepath.Abs(scenario); err != nil {
		return err
	}
	idleCPU := cpuOver(2 * time.Second)
	sipp := exec.Command("sipp", gw.Addr(), "-sf", scenario, "-s", "bench", "-i", "127.0.0.1", "-mi", "127.0.0.1",
		"-p", strconv.Itoa(freePort()), "-mp", strconv.Itoa(freePort()), "-m", strconv.Itoa(calls), "-l", strconv.Itoa(calls),
		"-r", "20", "-d", strconv.Itoa(seconds*1000), "-nostdin", "-timeout", strconv.Itoa(seconds+60)+"s", "-timeout_error")
	sipp.Dir = os.TempDir()
	sipp.Stderr = os.Stderr
	if err := sipp.Start(); err != nil {
		return err
	}
	deadline := time.Now().Add(30 * time.Second)
	for gw.Stats().LiveCalls < int64(calls) && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	live := gw.Stats().LiveCalls
	time.Sleep(time.Duration(seconds) * time.Second / 4)
	before := gw.Stats()
	busy := cpuOver(time.Duration(seconds) * time.Second / 2)
	after := gw.Stats()
	sippErr := sipp.Wait()
	sent, received := after.RTPSent-before.RTPSent, after.RTPReceived-before.RTPReceived
	out := map[string]any{
		"calls": calls, "live_calls_reached": live, "seconds": seconds,
		"cpu_idle_percent": round(idleCPU), "cpu_percent": round(busy),
		"cpu_percent_per_call": round((busy - idleCPU) / float64(max(live, 1))),
		"rtp_sent":             sent, "rtp_late_out_percent": round(pct(after.RTPLateOut-before.RTPLateOut, sent)),
		"rtp_received": received, "rtp_late_in_percent": round(pct(after.RTPLateIn-before.RTPLateIn, received)),
		"sipp_ok": sippErr == nil, "cores": numCPU(), "refused": after.Refused,
	}
	return json.NewEncoder(os.Stdout).Encode(out)
}

func pct(part, whole int64) float64 {
	if whole == 0 {
		return 0
	}
	return 100 * float64(part) / float64(whole)
}

func round(f float64) float64 { return float64(int64(f*100+0.5)) / 100 }

// cpuOver is this process's CPU use over d, in percent of one core.
func cpuOver(d time.Duration) float64 {
	t0, c0 := time.Now(), cpuTicks()
	time.Sleep(d)
	return 100 * float64(cpuTicks()-c0) / 100 / time.Since(t0).Seconds() // USER_HZ is 100 on Linux
}

// cpuTicks is utime+stime of /proc/self/stat.
func cpuTicks() int64 {
	b, err := os.ReadFile("/proc/self/stat")
	if err != nil {
		return 0
	}
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	u, _ := strconv.ParseInt(f[11], 10, 64)
	s, _ := strconv.ParseInt(f[12], 10, 64)
	return u + s
}

func numCPU() int {
	b, _ := os.ReadFile("/proc/cpuinfo")
	return strings.Count(string(b), "processor\t:")
}

func freePort() int {
	u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0
	}
	defer u.Close()
	return u.LocalAddr().(*net.UDPAddr).Port
}

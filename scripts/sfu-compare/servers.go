package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/mediapeer"
)

// joinFunc joins participant id to room, publishing, its subscriber
// counting; it returns how to leave.
type joinFunc func(ctx context.Context, room, id string, sub *subscriber, stop chan struct{}) (func(), error)

// server is a server process under measurement.
type server struct {
	cmd *exec.Cmd
	dir string
}

// startServer runs argv pinned to cpus and waits until addr accepts TCP.
func startServer(o *options, name, addr string, dir string, argv ...string) (*server, error) {
	if o.serverCPU != "" {
		argv = append([]string{"taskset", "-c", o.serverCPU}, argv...)
	}
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = dir
	logf, err := os.Create(filepath.Join(dir, name+".log"))
	if err != nil {
		return nil, err
	}
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	s := &server{cmd: cmd, dir: dir}
	for deadline := time.Now().Add(20 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			s.stop()
			return nil, fmt.Errorf("%s did not listen on %s (see %s)", name, addr, logf.Name())
		}
		time.Sleep(100 * time.Millisecond)
	}
	time.Sleep(time.Second) // let it settle before measuring its idle RSS
	return s, nil
}

func (s *server) stop() {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { _ = s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		_ = s.cmd.Process.Kill()
		<-done
	}
}

// The server's own process: taskset execs it in place, so the pid is it.
func (s *server) pid() int { return s.cmd.Process.Pid }

// cpuSeconds is the process's user and system time (/proc/PID/stat).
func (s *server) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.pid()))
	if err != nil {
		return 0
	}
	// Fields after the command name's closing parenthesis; utime and
	// stime are fields 14 and 15 of the whole line.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+2:]))
	ut, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (ut + st) / 100 // USER_HZ
}

func (s *server) rssMB() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", s.pid()))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "VmRSS:") {
			kb, _ := strconv.ParseFloat(strings.Fields(line)[1], 64)
			return kb / 1000
		}
	}
	return 0
}

// peakWatch samples the RSS every 250 ms.
type peakWatch struct {
	done chan struct{}
	wg   sync.WaitGroup
	mu   sync.Mutex
	peak float64
}

func (s *server) watchPeak() *peakWatch {
	w := &peakWatch{done: make(chan struct{})}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		t := time.NewTicker(250 * time.Millisecond)
		defer t.Stop()
		for {
			if r := s.rssMB(); r > 0 {
				w.mu.Lock()
				w.peak = max(w.peak, r)
				w.mu.Unlock()
			}
			select {
			case <-w.done:
				return
			case <-t.C:
			}
		}
	}()
	return w
}

func (w *peakWatch) stop() float64 {
	select {
	case <-w.done:
	default:
		close(w.done)
	}
	w.wg.Wait()
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.peak
}

// loadAPI is the pion API of the in-process load's own peer connections
// (Galène's): loopback only, receiver reports, NACKs and TWCC feedback
// like a browser's, and parley load's NACK responder.
func loadAPI() (*webrtc.API, error) {
	me := &webrtc.MediaEngine{}
	if err := me.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.ConfigureRTCPReports(reg); err != nil {
		return nil, err
	}
	if err := webrtc.ConfigureTWCCSender(me, reg); err != nil {
		return nil, err
	}
	// NACKs both ways, answered as parley load answers them (a browser's
	// rules: within 1 s, once per 100 ms, no more bytes than the media),
	// not by Pion's responder, which resends every packet each time asked.
	generator, err := nack.NewGeneratorInterceptor()
	if err != nil {
		return nil, err
	}
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack"}, webrtc.RTPCodecTypeVideo)
	me.RegisterFeedback(webrtc.RTCPFeedback{Type: "nack", Parameter: "pli"}, webrtc.RTPCodecTypeVideo)
	resender, _ := mediapeer.NewResender()
	reg.Add(resender)
	reg.Add(generator)
	se := webrtc.SettingEngine{}
	se.SetIncludeLoopbackCandidate(true)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	return webrtc.NewAPI(webrtc.WithMediaEngine(me), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se)), nil
}

const (
	galeneHTTP = "127.0.0.1:38443"
	galeneUDP  = "38444"
)

func startGalene(o *options) (*server, joinFunc, error) {
	dir, err := os.MkdirTemp(o.work, "galene-")
	if err != nil {
		return nil, nil, err
	}
	groups, data := filepath.Join(dir, "groups"), filepath.Join(dir, "data")
	static := o.galeneStatic
	if static == "" {
		static = filepath.Join(dir, "static")
	}
	for _, d := range []string{groups, data, static} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, nil, err
		}
	}
	group := `{"auto-subgroups": true, "max-clients": 1000,
  "wildcard-user": {"password": {"type": "wildcard"}, "permissions": "present"}}`
	if err := os.WriteFile(filepath.Join(groups, "bench.json"), []byte(group), 0o644); err != nil {
		return nil, nil, err
	}
	srv, err := startServer(o, "galene", galeneHTTP, dir, o.galene, "-insecure", "-http", galeneHTTP,
		"-udp-range", galeneUDP, "-turn", "", "-groups", groups, "-data", data, "-static", static)
	if err != nil {
		return nil, nil, err
	}
	api, err := loadAPI()
	if err != nil {
		srv.stop()
		return nil, nil, err
	}
	join := func(ctx context.Context, room, id string, sub *subscriber, stop chan struct{}) (func(), error) {
		c, err := joinGalene(ctx, api, "ws://"+galeneHTTP+"/ws", "bench/"+room, id, sub, stop)
		if err != nil {
			if c != nil {
				c.close()
			}
			return nil, err
		}
		return c.close, nil
	}
	return srv, join, nil
}

const (
	livekitPort = 38880
	livekitUDP  = 38882
	livekitTCP  = 38881
)

func startLiveKit(o *options) (*server, joinFunc, error) {
	dir, err := os.MkdirTemp(o.work, "livekit-")
	if err != nil {
		return nil, nil, err
	}
	conf := fmt.Sprintf(`port: %d
bind_addresses: ["127.0.0.1"]
rtc:
  udp_port: %d
  tcp_port: %d
  use_external_ip: false
  node_ip: 127.0.0.1
keys:
  devkey: secret
logging:
  level: warn
`, livekitPort, livekitUDP, livekitTCP)
	srv, err := startServer(o, "livekit", fmt.Sprintf("127.0.0.1:%d", livekitPort), dir, o.livekit, "--dev", "--config-body", conf)
	if err != nil {
		return nil, nil, err
	}
	quietLiveKit()
	url := fmt.Sprintf("ws://127.0.0.1:%d", livekitPort)
	join := func(ctx context.Context, room, id string, sub *subscriber, stop chan struct{}) (func(), error) {
		c, err := joinLiveKit(url, room, id, sub, stop)
		if err != nil {
			return nil, err
		}
		return c.close, nil
	}
	return srv, join, nil
}

// parleyLoad is the part of `parley load --json` read here.
type parleyLoad struct {
	LossPct     float64 `json:"loss_pct"`
	RecvPackets uint64  `json:"recv_packets"`
	MediaMS     *struct {
		P50 float64 `json:"p50"`
		P95 float64 `json:"p95"`
	} `json:"media_ms"`
	RecvKbps struct {
		Mean float64 `json:"mean"`
	} `json:"recv_kbps"`
	Errors       int      `json:"errors"`
	ErrorSamples []string `json:"error_samples"`
	Server       *struct {
		CPUSeconds     float64 `json:"cpu_seconds"`
		CPUUSPerPacket float64 `json:"cpu_us_per_packet"`
		PeakRSSMB      float64 `json:"peak_rss_mb"`
		StartRSSMB     float64 `json:"start_rss_mb"`
	} `json:"server"`
}

// runParley runs parley and `parley load` (the SDK's synthetic media, the
// same counting by sequence number) beside it.
func runParley(o *options, n int, r *result) error {
	dir, err := os.MkdirTemp(o.work, "parley-")
	if err != nil {
		return err
	}
	srv, err := startServer(o, "parley", "127.0.0.1:38080", dir, o.parley, "serve", "--listen", "127.0.0.1:38080",
		"--c2s", "", "--admin", "", "--domain", "localhost", "--data", filepath.Join(dir, "data"),
		"--public-ip", "127.0.0.1", "--log-level", "error",
		// The whole load comes from 127.0.0.1: lift the front door's
		// per-source limits, which the peers do not have (64 logins in
		// progress and 50 DTLS handshakes a second per address).
		"--admission-unauth-per-source", "100000", "--admission-guest-per-source", "100000",
		"--admission-pending-per-source", "100000", "--admission-stun-rate", "-1",
		"--admission-dtls-rate", "-1", "--admission-allocate-rate", "-1")
	if err != nil {
		return err
	}
	defer srv.stop()
	cmd := exec.Command(o.parley, "load", "--server", "ws://127.0.0.1:38080/xmpp-websocket", "--domain", "localhost",
		"--rooms", strconv.Itoa(n/5), "--participants", "5", "--duration", o.window.String(),
		"--settle", o.settle.String(), "--join-concurrency", strconv.Itoa(o.joins), "--json", "--server-pid", strconv.Itoa(srv.pid()))
	cmd.Stderr = io.Discard
	out, err := cmd.Output()
	if err != nil && len(out) == 0 {
		return fmt.Errorf("parley load: %w", err)
	}
	var pl parleyLoad
	if err := json.Unmarshal(out, &pl); err != nil {
		return fmt.Errorf("parley load output: %w", err)
	}
	r.LossPct, r.RecvPackets, r.Errors = pl.LossPct, pl.RecvPackets, pl.Errors
	if len(pl.ErrorSamples) > 0 {
		r.Note = pl.ErrorSamples[0]
	}
	if pl.MediaMS != nil {
		r.MediaP50MS, r.MediaP95MS = pl.MediaMS.P50, pl.MediaMS.P95
	}
	r.KbpsPerSub = pl.RecvKbps.Mean
	if pl.Server != nil {
		r.CPUSeconds, r.USPerPacket = pl.Server.CPUSeconds, pl.Server.CPUUSPerPacket
		r.StartRSSMB, r.PeakRSSMB = pl.Server.StartRSSMB, pl.Server.PeakRSSMB
		r.RSSPerPartMB = (r.PeakRSSMB - r.StartRSSMB) / float64(n)
	}
	return nil
}

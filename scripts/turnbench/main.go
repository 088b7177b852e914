// Command turnbench measures TURN relay throughput of parley's TURN server
// (internal/turn) and of Debian's coturn, side by side on loopback, in
// packets per second per core of the server process.
//
// Each server runs in its own process; turnbench opens FLOWS allocations
// with a channel binding each (a minimal TURN client of its own, so that
// the load generator stays cheap), sends ChannelData at a fixed total rate
// from clients to peers and then from peers to clients, counts what
// arrives, and reads the server's CPU time from /proc. The figure per core
// is packets delivered divided by the server's CPU seconds.
//
//	go run ./scripts/turnbench -rate 20000 -duration 5s
package main

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime/pprof"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/portmux"
	"parley.dev/parley/internal/turn"
)

const secret = "turnbench secret"

type options struct {
	rate     int           // packets per second, all flows together
	flows    int           // allocations
	size     int           // payload bytes
	duration time.Duration // per run
	coturn   string        // turnserver binary
	profile  string        // CPU profile of parley's server
	rounds   int           // runs per server, alternating
	only     string        // "", "to-peer" or "to-client": one direction
	servers  string        // comma-separated subset of the server names
}

func main() {
	var o options
	serve := flag.String("serve-parley", "", "internal: run parley's TURN server on this UDP address")
	direct := flag.Bool("direct", false, "internal: with -serve-parley, TURN alone on the socket (no one-port mux)")
	flag.IntVar(&o.rate, "rate", 20000, "packets per second offered, all flows together")
	flag.IntVar(&o.flows, "flows", 4, "allocations (each with one channel and one peer)")
	flag.IntVar(&o.size, "size", 200, "payload bytes per packet")
	flag.DurationVar(&o.duration, "duration", 5*time.Second, "length of each run")
	flag.StringVar(&o.coturn, "coturn", "turnserver", "coturn's turnserver binary")
	flag.StringVar(&o.profile, "cpuprofile", "", "write parley's CPU profile here")
	flag.IntVar(&o.rounds, "rounds", 3, "runs per server, alternating; the median is shown")
	flag.StringVar(&o.only, "only", "", "measure one direction: to-peer or to-client (default both)")
	flag.StringVar(&o.servers, "servers", "parley,nomux,coturn", "servers to measure: parley, nomux, coturn")
	flag.Parse()
	if *serve != "" {
		if err := serveParley(*serve, o.profile, *direct); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "turnbench:", err)
		os.Exit(1)
	}
}

// serveParley is the child process running parley's TURN server until
// stdin closes: behind the one-port UDP mux as parley runs it, or alone on
// the socket (direct).
func serveParley(addr, profile string, direct bool) error {
	conn, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.MustParseAddrPort(addr)))
	if err != nil {
		return err
	}
	conn.SetReadBuffer(4 << 20) // as parley does on its media port
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return err
		}
		defer f.Close()
		pprof.StartCPUProfile(f)
		defer pprof.StopCPUProfile()
	}
	var turnConn net.PacketConn = conn
	var mux *portmux.UDPMux
	if !direct {
		if mux, err = portmux.NewUDP(portmux.UDPConfig{Conn: conn}); err != nil {
			return err
		}
		defer mux.Close()
		turnConn = mux.TURN()
	}
	srv, err := turn.New(turn.Config{
		PacketConns:         []net.PacketConn{turnConn},
		Secret:              secret,
		RelayIP:             netip.MustParseAddr("127.0.0.1"),
		AllowedPeerPrefixes: []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")},
		Logger:              slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelWarn})),
	})
	if err != nil {
		return err
	}
	defer srv.Close()
	if mux != nil { // as internal/app wires them
		mux.SetChannelDataHandler(srv.ChannelDataRelay(turnConn))
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
	return nil
}

// result is one run's figures.
type result struct {
	server, direction string
	offered, received uint64
	wall              time.Duration
	serverCPU, ownCPU time.Duration
}

func run(o options) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	self, err := os.Executable()
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "turnbench")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	all := []struct {
		flag, name string
		start      func(addr string) (*proc, error)
	}{
		{"parley", "parley", func(addr string) (*proc, error) {
			return startParley(ctx, self, addr, o.profile, false)
		}},
		{"nomux", "parley, no mux", func(addr string) (*proc, error) {
			return startParley(ctx, self, addr, "", true)
		}},
		{"coturn", "coturn", func(addr string) (*proc, error) { return startCoturn(ctx, o.coturn, addr, tmp) }},
	}
	servers := all[:0]
	for _, s := range all {
		if slices.Contains(strings.Split(o.servers, ","), s.flag) {
			servers = append(servers, s)
		}
	}
	if len(servers) == 0 || (o.only != "" && o.only != "to-peer" && o.only != "to-client") {
		return errors.New("no server selected, or -only is neither to-peer nor to-client")
	}
	// Rounds alternate the servers, so that what else runs on the machine
	// weighs on each alike; the table shows each figure's median.
	results := map[string][]result{}
	var order []string
	for round := range o.rounds {
		for _, s := range servers {
			rs, err := measureServer(ctx, o, s.name, s.start)
			if err != nil {
				return err
			}
			for _, r := range rs {
				key := r.server + "|" + r.direction
				if round == 0 {
					order = append(order, key)
				}
				results[key] = append(results[key], r)
			}
		}
	}
	fmt.Printf("| server | direction | offered pps | delivered pps | loss | server CPU (cores) | pps per core | range of rounds |\n")
	fmt.Printf("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |\n")
	for _, key := range order {
		rs := results[key]
		printResult(median(rs), rs[0].perCore(), rs[len(rs)-1].perCore())
	}
	return nil
}

// measureServer starts one server and runs both directions through it.
func measureServer(ctx context.Context, o options, name string, start func(string) (*proc, error)) ([]result, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	p, err := start(addr)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	defer p.stop()
	var out []result
	for _, toPeer := range []bool{true, false} {
		if (o.only == "to-peer" && !toPeer) || (o.only == "to-client" && toPeer) {
			continue
		}
		r, err := measure(ctx, o, name, addr, p.cmd.Process.Pid, toPeer)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", name, err)
		}
		out = append(out, r)
	}
	return out, nil
}

// median picks the run with the median packets per core; rs is left
// sorted by it.
func median(rs []result) result {
	sort.Slice(rs, func(i, j int) bool { return rs[i].perCore() < rs[j].perCore() })
	return rs[len(rs)/2]
}

func (r result) perCore() float64 { return float64(r.received) / r.serverCPU.Seconds() }

// proc is a server process.
type proc struct {
	cmd  *exec.Cmd
	stop func() // ends it and waits
}

func printResult(r result, low, high float64) {
	secs := r.wall.Seconds()
	loss := 0.0
	if r.offered > 0 {
		loss = 100 * (1 - float64(r.received)/float64(r.offered))
	}
	perCore := r.perCore()
	fmt.Printf("| %s | %s | %.0f | %.0f | %.1f%% | %.2f | %.0f | %.0f-%.0f |\n",
		r.server, r.direction, float64(r.offered)/secs, float64(r.received)/secs, loss,
		r.serverCPU.Seconds()/secs, perCore, low, high)
}

// startParley runs this program as parley's TURN server; it stops when its
// stdin closes.
func startParley(ctx context.Context, self, addr, profile string, direct bool) (*proc, error) {
	cmd := exec.CommandContext(ctx, self, "-serve-parley", addr, "-cpuprofile", profile, "-direct="+strconv.FormatBool(direct))
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	line, err := bufio.NewReader(out).ReadString('\n')
	if err != nil || strings.TrimSpace(line) != "ready" {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, fmt.Errorf("child did not start: %q %v", line, err)
	}
	return &proc{cmd: cmd, stop: func() { in.Close(); cmd.Wait() }}, nil
}

func startCoturn(ctx context.Context, bin, addr, tmp string) (*proc, error) {
	host, port, _ := net.SplitHostPort(addr)
	cmd := exec.CommandContext(ctx, bin, "-n",
		"--listening-ip="+host, "--listening-port="+port,
		"--relay-ip=127.0.0.1", "--allow-loopback-peers", "--allowed-peer-ip=127.0.0.1",
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm=parley",
		"--no-tls", "--no-dtls", "--no-cli", "--no-stdout-log", "--simple-log",
		"--log-file="+filepath.Join(tmp, "coturn.log"), "--db="+filepath.Join(tmp, "turndb"),
		"--pidfile="+filepath.Join(tmp, "coturn.pid"))
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	// Ready once it answers a STUN binding request.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if stunPing(addr) == nil {
			return &proc{cmd: cmd, stop: func() { cmd.Process.Kill(); cmd.Wait() }}, nil
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	return nil, errors.New("coturn did not answer")
}

// freeAddr returns a free UDP address on 127.0.0.1 (also free in TCP,
// since coturn opens both).
func freeAddr() (string, error) {
	for range 20 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			return "", err
		}
		addr := u.LocalAddr().String()
		l, err := net.Listen("tcp4", addr)
		u.Close()
		if err == nil {
			l.Close()
			return addr, nil
		}
	}
	return "", errors.New("no free port")
}

// cpuTime is a process's user+system CPU time, from /proc (clock ticks of
// 10 ms, the Linux USER_HZ).
func cpuTime(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// Fields after the command name, which is in parentheses.
	s := string(b)
	fields := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(fields) < 13 {
		return 0, errors.New("short /proc stat")
	}
	utime, err1 := strconv.ParseInt(fields[11], 10, 64)
	stime, err2 := strconv.ParseInt(fields[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, err
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, nil
}

// counter counts datagrams arriving on conns until they are closed.
func counter(conns []*net.UDPConn) *atomic.Uint64 {
	var n atomic.Uint64
	for _, c := range conns {
		c.SetReadBuffer(4 << 20)
		go func() {
			buf := make([]byte, 2048)
			for {
				if _, _, err := c.ReadFrom(buf); err != nil {
					return
				}
				n.Add(1)
			}
		}()
	}
	return &n
}

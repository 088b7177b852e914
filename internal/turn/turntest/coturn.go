// Package turntest runs Debian's coturn for tests that check parley's TURN
// credentials against the reference implementation.
package turntest

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// StartCoturn runs turnserver in the foreground on 127.0.0.1 with the TURN
// REST secret, relaying on 127.0.0.1 and allowed to reach loopback peers,
// until the test ends, and returns its address (UDP and TCP). The test
// fails if coturn is not installed (apt-get install coturn).
func StartCoturn(t testing.TB, secret, realm string) string {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		t.Fatalf("coturn's turnserver is needed for this test (apt-get install coturn): %v", err)
	}
	port := FreePort(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-n",
		"--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
		"--relay-ip=127.0.0.1", "--allow-loopback-peers", "--allowed-peer-ip=127.0.0.1",
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm="+realm,
		"--no-tls", "--no-dtls", "--no-cli", "--no-stdout-log", "--simple-log",
		"--log-file="+filepath.Join(dir, "turn.log"), "--db="+filepath.Join(dir, "turndb"),
		"--pidfile="+filepath.Join(dir, "turn.pid"))
	out, err := os.Create(filepath.Join(dir, "turn.out"))
	if err != nil {
		cancel()
		t.Fatal(err)
	}
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatalf("start coturn: %v", err)
	}
	t.Cleanup(func() {
		cancel()
		cmd.Wait()
	})
	addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.DialTimeout("tcp4", addr, time.Second)
		if err == nil {
			c.Close()
			return addr
		}
		if time.Now().After(deadline) {
			t.Fatalf("coturn did not start listening on %s: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// FreePort returns a port number free on 127.0.0.1 in both UDP and TCP.
func FreePort(t testing.TB) int {
	t.Helper()
	for range 20 {
		u, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		port := u.LocalAddr().(*net.UDPAddr).Port
		l, err := net.Listen("tcp4", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)))
		u.Close()
		if err == nil {
			l.Close()
			return port
		}
	}
	t.Fatal("no free port")
	return 0
}

package turn

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

// coturn runs Debian's turnserver in the foreground on 127.0.0.1 with
// parley's secret, for as long as the test runs, and returns its address.
// Install it with apt-get install coturn.
func startCoturn(t testing.TB, secret string) string {
	t.Helper()
	bin, err := exec.LookPath("turnserver")
	if err != nil {
		t.Fatalf("coturn's turnserver is needed for this test (apt-get install coturn): %v", err)
	}
	port := freePort(t)
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "-n",
		"--listening-ip=127.0.0.1", "--listening-port="+strconv.Itoa(port),
		"--relay-ip=127.0.0.1", "--allow-loopback-peers", "--allowed-peer-ip=127.0.0.1",
		"--use-auth-secret", "--static-auth-secret="+secret, "--realm=parley",
		"--no-tls", "--no-dtls", "--no-cli", "--no-stdout-log", "--simple-log",
		"--log-file="+filepath.Join(dir, "turn.log"), "--db="+filepath.Join(dir, "turndb"),
		"--pidfile="+filepath.Join(dir, "turn.pid"))
	out, err := os.Create(filepath.Join(dir, "turn.out"))
	if err != nil {
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

// freePort returns a port number free on 127.0.0.1 in both UDP and TCP.
func freePort(t testing.TB) int {
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

// TestCredentialsWorkOnCoturn: what parley hands out allocates on coturn
// sharing the secret, and what coturn refuses parley refuses too.
func TestCredentialsWorkOnCoturn(t *testing.T) {
	f := newFixture(t, nil)
	coturn := startCoturn(t, testSecret)
	good := f.credential(t, "alice@example.test", time.Hour)
	for _, overTCP := range []bool{false, true} {
		cl := dialTURN(t, overTCP, coturn, coturn, good)
		relay, err := cl.Allocate()
		if err != nil {
			t.Fatalf("coturn refused parley's credential (tcp=%v): %v", overTCP, err)
		}
		exchange(t, relay, f.media)
		relay.Close()
	}
	expired, err := NewCredential(testSecret, "alice", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	forged := good
	forged.Password = restPassword("another secret", good.Username)
	for name, cred := range map[string]Credential{"expired": expired, "forged": forged} {
		for server, addr := range map[string]string{"coturn": coturn, "parley": f.udpAddr.String()} {
			if relay, err := dialTURN(t, false, addr, addr, cred).Allocate(); err == nil {
				relay.Close()
				t.Errorf("%s accepted the %s credential", server, name)
			}
		}
	}
}

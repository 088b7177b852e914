package doctor

import (
	"context"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"parley.dev/parley/internal/testserver"
)

func loopbackResolver(context.Context, string) ([]string, error) { return []string{"127.0.0.1"}, nil }

// startParley runs the whole parley in-process on loopback.
func startParley(t *testing.T) (port int, dataDir string) {
	t.Helper()
	dataDir = t.TempDir()
	os.Chmod(dataDir, 0o700) // as parley makes it
	srv, err := testserver.Start(testserver.Config{DataDir: dataDir, Domain: "localhost"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	_, p, _ := net.SplitHostPort(strings.TrimPrefix(srv.HTTP, "http://"))
	port, _ = strconv.Atoi(p)
	return port, dataDir
}

func byCheck(results []Result) map[string]Result {
	m := map[string]Result{}
	for _, r := range results {
		m[r.Check] = r
	}
	return m
}

func TestDoctorPassesAgainstALocalInstance(t *testing.T) {
	port, data := startParley(t)
	res := byCheck(Run(t.Context(), Config{Domain: "localhost", PublicIP: "127.0.0.1", Port: port, DataDir: data, SelfSigned: true, Resolver: loopbackResolver, MinFree: 1}))
	for _, c := range []string{"dns", "tcp", "udp", "data", "disk"} {
		if r, ok := res[c]; !ok || !r.OK {
			t.Errorf("%s: %+v", c, r)
		}
	}
	if !strings.Contains(res["udp"].Info, "seen as 127.0.0.1") {
		t.Errorf("udp: %q", res["udp"].Info)
	}
	t.Logf("clock: %+v", res["clock"]) // the machine's own state: not asserted
}

func TestDoctorNamesEachProblem(t *testing.T) {
	port, data := startParley(t)
	base := Config{Domain: "localhost", PublicIP: "127.0.0.1", Port: port, DataDir: data, SelfSigned: true, Resolver: loopbackResolver, MinFree: 1}

	t.Run("certificate not from a CA", func(t *testing.T) {
		c := base
		c.SelfSigned = false
		r := byCheck(Run(t.Context(), c))["certificate"]
		if r.OK || !strings.Contains(r.Info, "browsers will refuse") || r.Fix == "" {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("certificate for another name", func(t *testing.T) {
		c := base
		c.Domain = "meet.example.org"
		r := byCheck(Run(t.Context(), c))["certificate"]
		if r.OK || !strings.Contains(r.Info, "not for meet.example.org") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("DNS points elsewhere", func(t *testing.T) {
		c := base
		c.Domain = "meet.example.org"
		c.Resolver = func(context.Context, string) ([]string, error) { return []string{"192.0.2.1"}, nil }
		r := byCheck(Run(t.Context(), c))["dns"]
		if r.OK || !strings.Contains(r.Fix, "point meet.example.org at 127.0.0.1") {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("UDP closed", func(t *testing.T) {
		u, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		closed := u.LocalAddr().(*net.UDPAddr).Port
		u.Close()
		c := base
		c.Port = closed
		r := checkUDP(c, "127.0.0.1")
		if r.OK || !strings.Contains(r.Fix, "let UDP port "+strconv.Itoa(closed)+" in") {
			t.Fatalf("%+v", r)
		}
		tcp := byCheck(Run(t.Context(), c))["tcp"]
		if tcp.OK || !strings.Contains(tcp.Fix, "let TCP port") {
			t.Fatalf("tcp on a closed port: %+v", tcp)
		}
	})
	t.Run("data folder readable by others", func(t *testing.T) {
		dir := t.TempDir()
		os.Chmod(dir, 0o700)
		secret := filepath.Join(dir, "turn-secret")
		os.WriteFile(secret, []byte("x"), 0o600)
		os.Chmod(secret, 0o666)
		c := base
		c.DataDir = dir
		r := checkData(c)
		if r.OK || !strings.Contains(r.Info, "turn-secret") {
			t.Fatalf("%+v", r)
		}
		os.Chmod(dir, 0o755)
		if r := checkData(c); r.OK || r.Fix != "chmod 700 "+dir {
			t.Fatalf("%+v", r)
		}
	})
	t.Run("disk nearly full", func(t *testing.T) {
		c := base
		c.MinFree = 1 << 62
		if r := checkDisk(c); r.OK || r.Fix == "" {
			t.Fatalf("%+v", r)
		}
	})
}

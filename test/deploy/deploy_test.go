package deploy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// buildParley builds cmd/parley with ldflags into a temporary folder.
func buildParley(t *testing.T, ldflags string) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "parley")
	cmd := exec.Command("go", "build", "-ldflags", ldflags, "-o", bin, "../../cmd/parley")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func TestSystemdUnitVerifies(t *testing.T) {
	bin := buildParley(t, "")
	unit, err := os.ReadFile("../../deploy/parley.service")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(unit), "ExecStart=/usr/local/bin/parley ") {
		t.Fatal("the unit's ExecStart no longer runs /usr/local/bin/parley; update this test")
	}
	for _, want := range []string{"DynamicUser=yes", "AmbientCapabilities=CAP_NET_BIND_SERVICE", "StateDirectory=parley", "ProtectSystem=strict", "NoNewPrivileges=yes"} {
		if !strings.Contains(string(unit), "\n"+want+"\n") {
			t.Errorf("the unit lacks %s", want)
		}
	}
	// systemd-analyze checks that ExecStart is executable: point it at the build.
	local := strings.ReplaceAll(string(unit), "/usr/local/bin/parley", bin)
	path := filepath.Join(t.TempDir(), "parley.service")
	if err := os.WriteFile(path, []byte(local), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("systemd-analyze", "verify", path).CombinedOutput()
	if err != nil || len(strings.TrimSpace(string(out))) > 0 {
		t.Fatalf("systemd-analyze verify: %v\n%s", err, out)
	}
}

func TestReleaseStampsVersionAndCommit(t *testing.T) {
	bin := buildParley(t, "-X main.version=v9.8.7 -X main.commit=0123456789abcdef")
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(out), "parley v9.8.7\n") || !strings.Contains(string(out), "commit 0123456789abcdef") {
		t.Fatalf("parley version printed %q", out)
	}
	script, err := os.ReadFile("../../scripts/release.sh")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"-X main.version=$version -X main.commit=$commit", "for arch in amd64 arm64", "CGO_ENABLED=0"} {
		if !strings.Contains(string(script), want) {
			t.Errorf("scripts/release.sh no longer has %q", want)
		}
	}
}

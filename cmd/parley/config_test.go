package main

import (
	"bytes"
	"context"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/logging"
)

// writeFile writes a config file in a temporary folder and returns its path.
func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

func noEnv(string) (string, bool) { return "", false }

func envOf(m map[string]string) func(string) (string, bool) {
	return func(k string) (string, bool) { v, ok := m[k]; return v, ok }
}

func TestConfigCheckNamesFileLineAndKey(t *testing.T) {
	cases := []struct {
		name, content, want string
	}{
		{"unknown key", "listen = \"127.0.0.1:9000\"\n\n# a typo\ndomian = \"x.test\"\n", `:4: domian: unknown key; did you mean "domain"?`},
		{"bad value", "domain = \"x.test\"\nstanza-rate = \"fast\"\n", `:2: stanza-rate: bad value "fast": want a whole number`},
		{"bad boolean", "acme = \"yes please\"\n", `:1: acme: bad value "yes please": want true or false`},
		{"acme with a certificate", "tls-cert = \"/c.pem\"\ntls-key = \"/k.pem\"\nacme = true\n", `:3: acme: --acme: not with --tls-cert`},
		{"acme with an IP domain", "acme = true\n\ndomain = \"192.0.2.7\"\n", `:3: domain: --acme: --domain "192.0.2.7"`},
		{"certificate without key", "\ntls-cert = \"/c.pem\"\n", `:2: tls-cert: --tls-cert and --tls-key go together`},
		{"public ip", "public-ip = \"my.host\"\n", `:1: public-ip: --public-ip "my.host": not an IP address`},
		{"duplicate", "domain = \"a.test\"\ndomain = \"b.test\"\n", `:2: domain: set twice (first at line 1)`},
		{"table", "domain = \"a.test\"\n[turn]\nhost = \"t\"\n", `:2: tables are not used`},
		{"syntax", "domain = \"a.test\n", `:1: toml:`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := writeFile(t, "parley.toml", c.content)
			var out, errOut bytes.Buffer
			if code := runConfig([]string{"check", path}, &out, &errOut); code != 1 {
				t.Fatalf("exit %d, want 1; stderr %q", code, errOut.String())
			}
			if !strings.Contains(errOut.String(), path+c.want) {
				t.Fatalf("stderr %q does not contain %q", errOut.String(), path+c.want)
			}
		})
	}
}

func TestConfigExampleIsAcceptedAndComplete(t *testing.T) {
	var example, errOut bytes.Buffer
	if code := runConfig([]string{"example"}, &example, &errOut); code != 0 {
		t.Fatalf("example: exit %d: %s", code, errOut.String())
	}
	fs, _ := serveFlags(&errOut)
	n := 0
	for _, line := range strings.Split(example.String(), "\n") {
		if line != "" && !strings.HasPrefix(line, "#") {
			n++
			if name, _, _ := strings.Cut(line, " = "); fs.Lookup(name) == nil {
				t.Errorf("example sets %q, which is no setting", name)
			}
		}
	}
	if want := fsCount(t) - 1; n != want { // all but --config
		t.Errorf("example has %d settings, want %d", n, want)
	}
	path := writeFile(t, "parley.toml", example.String())
	var out bytes.Buffer
	if code := runConfig([]string{"check", path}, &out, &errOut); code != 0 {
		t.Fatalf("check of the example: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(out.String(), `listen = ":8080"  # `+path+":") {
		t.Errorf("effective config does not say where listen came from:\n%s", out.String())
	}
}

func fsCount(t *testing.T) int {
	fs, _ := serveFlags(&bytes.Buffer{})
	n := 0
	fs.VisitAll(func(*flag.Flag) { n++ })
	return n
}

func TestPrecedenceFlagThenEnvironmentThenFile(t *testing.T) {
	secret := writeFile(t, "turn-secret", "s3cret-from-file\n")
	path := writeFile(t, "parley.toml", "domain = \"file.test\"\nlisten = \"127.0.0.1:1001\"\nc2s = \"127.0.0.1:1002\"\nturn-secret-file = \""+secret+"\"\nstanza-rate = 7\n")
	env := envOf(map[string]string{"PARLEY_LISTEN": "127.0.0.1:2001", "PARLEY_C2S": "127.0.0.1:2002", "PARLEY_NO_ANONYMOUS": "true"})
	l, err := loadServeConfig([]string{"--config", path, "--c2s", "127.0.0.1:3002"}, &bytes.Buffer{}, env)
	cfg := l.cfg
	if err != nil {
		t.Fatal(err)
	}
	got := []string{cfg.Domain, cfg.Listen, cfg.C2S, cfg.TURNSecret}
	want := []string{"file.test", "127.0.0.1:2001", "127.0.0.1:3002", "s3cret-from-file"}
	for i := range got {
		if got[i] != want[i] {
			t.Errorf("setting %d = %q, want %q", i, got[i], want[i])
		}
	}
	if cfg.StanzaRate != 7 || cfg.AllowAnonymous || cfg.SCRAMIterations != 4096 {
		t.Errorf("stanza-rate %d (want 7 from the file), anonymous %v (want false from the environment), scram-iterations %d (want the default)", cfg.StanzaRate, cfg.AllowAnonymous, cfg.SCRAMIterations)
	}
}

func TestEnvironmentErrorsNameTheVariable(t *testing.T) {
	_, err := loadServeConfig(nil, &bytes.Buffer{}, envOf(map[string]string{"PARLEY_PUBLIC_IP": "not-an-ip"}))
	if err == nil || !strings.Contains(err.Error(), "PARLEY_PUBLIC_IP: --public-ip") {
		t.Fatalf("err = %v, want one naming PARLEY_PUBLIC_IP", err)
	}
	_, err = loadServeConfig(nil, &bytes.Buffer{}, envOf(map[string]string{"PARLEY_STANZA_RATE": "lots"}))
	if err == nil || !strings.Contains(err.Error(), "PARLEY_STANZA_RATE") {
		t.Fatalf("err = %v, want one naming PARLEY_STANZA_RATE", err)
	}
}

func TestEffectiveConfigMasksSecrets(t *testing.T) {
	path := writeFile(t, "parley.toml", "turn-secret = \"hunter2hunter2\"\n")
	var out, errOut bytes.Buffer
	if code := runConfig([]string{"check", path}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if strings.Contains(out.String(), "hunter2") || !strings.Contains(out.String(), `turn-secret = "********"`) {
		t.Fatalf("secret not masked:\n%s", out.String())
	}
}

func TestServeRefusesABadConfigFile(t *testing.T) {
	path := writeFile(t, "parley.toml", "listen = \"127.0.0.1:0\"\nlisen = \"x\"\n")
	var errOut bytes.Buffer
	if code := runServe(t.Context(), []string{"--config", path}, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), path+":2: lisen: unknown key") {
		t.Fatalf("stderr %q", errOut.String())
	}
}

func TestSIGHUPReadsTheConfigAgain(t *testing.T) {
	path := writeFile(t, "parley.toml", "turn-secret = \"one\"\nlog-level = \"info\"\n")
	args := []string{"--config", path}
	l, err := loadServeConfig(args, &bytes.Buffer{}, noEnv)
	if err != nil {
		t.Fatal(err)
	}
	var logBuf bytes.Buffer
	log, logs, _ := logging.New(&logBuf, "text", l.levels)
	hup := make(chan os.Signal, 1)
	reloads := make(chan app.Config, 1)
	go reloadOnHUP(t.Context(), hup, args, log, logs, reloads)

	os.WriteFile(path, []byte("turn-secret = \"two\"\nlog-level = \"warn,sfu=debug\"\n"), 0o600)
	hup <- syscall.SIGHUP
	select {
	case next := <-reloads:
		if next.TURNSecret != "two" || next.Logger != log {
			t.Fatalf("reloaded config: secret %q, same logger %v", next.TURNSecret, next.Logger == log)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no reload after SIGHUP")
	}
	log.Info("info after reload: dropped")
	log.With("part", "sfu").Debug("sfu debug after reload: kept")
	if out := logBuf.String(); strings.Contains(out, "dropped") || !strings.Contains(out, "kept") {
		t.Fatalf("log levels not reloaded:\n%s", out)
	}

	// A broken file is refused whole; nothing is sent.
	os.WriteFile(path, []byte("turn-secret = \"three\"\nbogus = 1\n"), 0o600)
	hup <- syscall.SIGHUP
	select {
	case next := <-reloads:
		t.Fatalf("a broken config was reloaded: %+v", next.TURNSecret)
	case <-time.After(500 * time.Millisecond):
	}
	if !strings.Contains(logBuf.String(), "reload refused") {
		t.Fatalf("no error logged for a broken config:\n%s", logBuf.String())
	}
}

func TestFirstSIGTERMDrainsSecondStops(t *testing.T) {
	term := make(chan os.Signal, 2)
	drain := make(chan struct{})
	ctx, stop := context.WithCancel(t.Context())
	defer stop()
	log, _, _ := logging.New(io.Discard, "text", logging.Levels{})
	go drainOnTERM(ctx, term, drain, stop, log)
	term <- syscall.SIGTERM
	select {
	case <-drain:
	case <-time.After(5 * time.Second):
		t.Fatal("the first SIGTERM did not start a drain")
	}
	if ctx.Err() != nil {
		t.Fatal("the first SIGTERM stopped at once")
	}
	term <- syscall.SIGTERM
	select {
	case <-ctx.Done():
	case <-time.After(5 * time.Second):
		t.Fatal("the second SIGTERM did not stop")
	}
}

package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestFocusOptions(t *testing.T) {
	secret := filepath.Join(t.TempDir(), "secret")
	os.WriteFile(secret, []byte("component-secret\n"), 0o600)
	parse := func(args ...string) (*focusOptions, error) {
		fs, o := focusFlags(io.Discard)
		if err := fs.Parse(args); err != nil {
			t.Fatal(err)
		}
		_, err := o.serviceConfig()
		return o, err
	}
	fs, o := focusFlags(io.Discard)
	fs.Parse([]string{"--server", "127.0.0.1:5347", "--domain", "example.org", "--secret-file", secret,
		"--bridge-users", "jvb, jvb2@other.org"})
	cfg, err := o.serviceConfig()
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Domain != "focus.example.org" || cfg.MUC != "conference.example.org" || cfg.Secret != "component-secret" ||
		cfg.Brewery.String() != "jvbbrewery@internal.example.org" || cfg.UserDomain != "example.org" {
		t.Fatalf("defaults: %+v", cfg)
	}
	if len(cfg.BridgeUsers) != 2 || cfg.BridgeUsers[0].String() != "jvb@example.org" || cfg.BridgeUsers[1].String() != "jvb2@other.org" {
		t.Fatalf("bridge users: %v", cfg.BridgeUsers)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--secret-file", secret}, "--server and --secret-file are required"},
		{[]string{"--server", "h:1"}, "--server and --secret-file are required"},
		{[]string{"--server", "h:1", "--secret-file", secret + "-missing"}, "--secret-file"},
		{[]string{"--server", "h:1", "--secret-file", secret, "--brewery", "internal.example.org"}, "not a room's bare JID"},
		{[]string{"--server", "h:1", "--secret-file", secret, "--bridge-users", "@x"}, "is not an account"},
	} {
		if _, err := parse(c.args...); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v, want %q", c.args, err, c.want)
		}
	}
}

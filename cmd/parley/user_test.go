package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/app"
	"parley.dev/parley/internal/sasl"
)

// userCmd runs "parley user args..." with stdin and returns the exit code,
// stdout and stderr.
func userCmd(stdin string, args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := runUser(args, strings.NewReader(stdin), &out, &errOut)
	return code, out.String(), errOut.String()
}

func TestUserCommandLifecycle(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	steps := []struct {
		stdin   string
		args    []string
		code    int
		stdout  string // expected substring
		stderr  string // expected substring
		created bool   // whether dir exists afterwards
	}{
		{"", []string{"list", "--data", dir}, 0, "", "no accounts", false},
		{"", []string{"delete", "alice", "--data", dir}, 1, "", "no accounts in", false},
		{"pw1\n", []string{"add", "Alice", "--data", dir, "--domain", "example.test"}, 0, "added: alice@example.test", "", true},
		{"pw2\n", []string{"add", "--domain", "example.test", "alice", "--data", dir}, 1, "", "user alice@example.test already exists", true},
		{"pw2\r\nignored\n", []string{"passwd", "alice", "--data", dir, "--domain", "example.test"}, 0, "password changed: alice@example.test", "", true},
		{"pw\n", []string{"passwd", "bob", "--data", dir, "--domain", "example.test"}, 1, "", "no user bob@example.test", true},
		{"pw3", []string{"add", "bob", "--data", dir, "--domain", "example.test"}, 0, "added: bob@example.test", "", true},
		{"", []string{"list", "--data", dir, "--domain", "example.test"}, 0, "alice@example.test\tcreated ", "", true},
		{"", []string{"list", "--data", dir}, 1, "", "pass the server's --domain", true},
		{"", []string{"delete", "ALICE", "--data", dir, "--domain", "example.test"}, 0, "deleted: alice@example.test", "", true},
		{"", []string{"delete", "alice", "--data", dir, "--domain", "example.test"}, 1, "", "no user alice@example.test", true},
	}
	for i, s := range steps {
		code, out, errOut := userCmd(s.stdin, s.args...)
		if code != s.code || !strings.Contains(out, s.stdout) || !strings.Contains(errOut, s.stderr) {
			t.Fatalf("step %d %v: code %d stdout %q stderr %q; want %d, %q, %q",
				i, s.args, code, out, errOut, s.code, s.stdout, s.stderr)
		}
		if _, err := os.Stat(dir); (err == nil) != s.created {
			t.Fatalf("step %d: data folder exists=%v", i, err == nil)
		}
	}
	// The passwords set above are the ones stored.
	store, err := accounts.Open(accounts.Config{Dir: dir, Domain: "example.test"})
	if err != nil {
		t.Fatal(err)
	}
	c, err := store.SCRAM("bob", sasl.SHA256)
	if err != nil || !sasl.VerifyPlain(c, sasl.SHA256, "pw3") {
		t.Fatalf("bob's password: %v", err)
	}
	if code, out, _ := userCmd("", "list", "--data", dir, "--domain", "example.test"); code != 0 ||
		out != "bob@example.test\tcreated "+store.List()[0].Created.Format("2006-01-02T15:04:05Z")+"\n" {
		t.Fatalf("final list: %d %q", code, out)
	}
}

func TestUserCommandPasswordFromFirstLine(t *testing.T) {
	dir := t.TempDir()
	if code, _, errOut := userCmd("first line\nsecond line\n", "add", "carol", "--data", dir); code != 0 {
		t.Fatalf("add: %d %s", code, errOut)
	}
	store, err := accounts.Open(accounts.Config{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := store.SCRAM("carol", sasl.SHA1)
	if !sasl.VerifyPlain(c, sasl.SHA1, "first line") {
		t.Fatal("password is not the first line of stdin")
	}
}

func TestUserCommandErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		stdin  string
		args   []string
		code   int
		stderr string
	}{
		{"", nil, 2, "usage:"},
		{"", []string{"rename", "a"}, 2, "unknown subcommand"},
		{"", []string{"add", "--data", dir}, 2, "expected 1 name(s), got 0"},
		{"", []string{"add", "a", "b", "--data", dir}, 2, "expected 1 name(s), got 2"},
		{"", []string{"list", "extra", "--data", dir}, 2, "expected 0 name(s)"},
		{"", []string{"add", "a", "--bogus"}, 2, "flag provided but not defined"},
		{"", []string{"add", "alice", "--data", dir}, 1, "no password"},
		{"\n", []string{"add", "alice", "--data", dir}, 1, "no password"},
		{"a\x01b\n", []string{"add", "alice", "--data", dir}, 1, "password not allowed"},
		{"pw\n", []string{"add", "a@b", "--data", dir}, 1, "not a valid username"},
		{"pw\n", []string{"add", "alice", "--data", dir, "--scram-iterations", "10"}, 1, "iterations"},
		{"pw\n", []string{"add", "alice", "--data", dir, "--domain", "bad domain"}, 1, "domain"},
	}
	for _, tc := range cases {
		code, out, errOut := userCmd(tc.stdin, tc.args...)
		if code != tc.code || !strings.Contains(errOut, tc.stderr) || out != "" {
			t.Errorf("%v: code %d stdout %q stderr %q; want %d and %q", tc.args, code, out, errOut, tc.code, tc.stderr)
		}
	}
	if code, out, _ := userCmd("", "help"); code != 0 || !strings.Contains(out, "parley user add") {
		t.Fatalf("help: %d %q", code, out)
	}
}

func TestInvitePrintsAVerifiableToken(t *testing.T) {
	dir := t.TempDir()
	var out, errb bytes.Buffer
	if code := runInvite([]string{"--data", dir, "--domain", "example.test", "--ttl", "1h"}, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	if len(lines) != 2 || !strings.HasPrefix(lines[0], "xmpp:example.test?register;preauth=") {
		t.Fatalf("output: %q", out.String())
	}
	secret, err := app.InviteSecret(dir)
	if err != nil || len(secret) != 32 {
		t.Fatalf("secret: %v", err)
	}
	if code := runInvite([]string{"--ttl", "-1h", "--data", dir}, &out, &errb); code != 2 {
		t.Fatalf("negative ttl: exit %d", code)
	}
}

package accounts

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/sasl"
)

// fakeClock is a settable clock for tests.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func open(t *testing.T, dir string, clock *fakeClock) *Store {
	t.Helper()
	s, err := Open(Config{Dir: dir, Domain: "example.test", Clock: clock.Now,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// login runs a full SCRAM exchange against s.
func login(t *testing.T, s *Store, mech, user, password string) error {
	t.Helper()
	c, err := sasl.NewClient(mech, sasl.ClientConfig{Username: user, Password: password})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := sasl.NewServer(mech, sasl.ServerConfig{Lookup: s})
	if err != nil {
		t.Fatal(err)
	}
	msg, _, _ := c.Step(nil)
	for {
		chal, done, err := srv.Step(msg)
		if err != nil {
			return err
		}
		if done {
			_, _, err := c.Step(chal)
			return err
		}
		if msg, _, err = c.Step(chal); err != nil {
			return err
		}
	}
}

func TestAddAndLogin(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	clock := newFakeClock()
	s := open(t, dir, clock)
	if err := s.Add("Alice", "correct horse"); err != nil {
		t.Fatal(err)
	}
	for _, mech := range []string{sasl.MechSCRAMSHA1, sasl.MechSCRAMSHA256} {
		if err := login(t, s, mech, "alice", "correct horse"); err != nil {
			t.Fatalf("%s login: %v", mech, err)
		}
		if err := login(t, s, mech, "alice", "wrong"); err == nil {
			t.Fatalf("%s login with wrong password succeeded", mech)
		}
		if err := login(t, s, mech, "bob", "correct horse"); err == nil {
			t.Fatalf("%s login for unknown user succeeded", mech)
		}
	}
	plain, _ := sasl.NewServer(sasl.MechPlain, sasl.ServerConfig{Lookup: s})
	if _, done, err := plain.Step([]byte("\x00ALICE\x00correct horse")); err != nil || !done || plain.Username() != "alice" {
		t.Fatalf("PLAIN with a differently-cased name: %v, username %q", err, plain.Username())
	}
	if !s.Exists("alice") || !s.Exists("ALICE") || s.Exists("bob") || s.Exists("") {
		t.Fatal("Exists is wrong")
	}
	got := s.List()
	if len(got) != 1 || got[0].Name != "alice" || !got[0].Created.Equal(clock.Now()) {
		t.Fatalf("List = %+v", got)
	}
}

func TestFileModeAndNoPassword(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "data")
	s := open(t, dir, newFakeClock())
	if err := s.Add("alice", "hunter2-secret"); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(s.Path())
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Fatalf("file mode %v, want 0600", fi.Mode().Perm())
	}
	if di, _ := os.Stat(dir); di.Mode().Perm() != 0o700 {
		t.Fatalf("dir mode %v, want 0700", di.Mode().Perm())
	}
	raw, _ := os.ReadFile(s.Path())
	if bytes.Contains(raw, []byte("hunter2")) {
		t.Fatal("password stored in the file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Fatalf("stray files in the data folder: %v", entries)
	}
}

func TestErrors(t *testing.T) {
	s := open(t, t.TempDir(), newFakeClock())
	if err := s.Add("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want error
	}{
		{"add existing", s.Add("alice", "pw2"), ErrExists},
		{"add existing, other case", s.Add("ALICE", "pw2"), ErrExists},
		{"add with @", s.Add("a@b", "pw"), ErrInvalidUsername},
		{"add with /", s.Add("a/b", "pw"), ErrInvalidUsername},
		{"add empty name", s.Add("", "pw"), ErrInvalidUsername},
		{"add empty password", s.Add("bob", ""), ErrInvalidPassword},
		{"add control char password", s.Add("bob", "a\x01b"), ErrInvalidPassword},
		{"passwd unknown", s.SetPassword("bob", "pw"), ErrNotFound},
		{"delete unknown", s.Delete("bob"), ErrNotFound},
		{"delete invalid", s.Delete("a@b"), ErrInvalidUsername},
	}
	for _, tc := range cases {
		if !errors.Is(tc.err, tc.want) {
			t.Errorf("%s: got %v, want %v", tc.name, tc.err, tc.want)
		}
	}
	if s.Exists("bob") || len(s.List()) != 1 {
		t.Fatal("failed operations changed the store")
	}
}

func TestSetPasswordAndDelete(t *testing.T) {
	clock := newFakeClock()
	s := open(t, t.TempDir(), clock)
	if err := s.Add("alice", "old password"); err != nil {
		t.Fatal(err)
	}
	created := s.List()[0].Created
	clock.Advance(time.Hour)
	if err := s.SetPassword("Alice", "new password"); err != nil {
		t.Fatal(err)
	}
	if login(t, s, sasl.MechSCRAMSHA256, "alice", "old password") == nil {
		t.Fatal("old password still works")
	}
	if err := login(t, s, sasl.MechSCRAMSHA256, "alice", "new password"); err != nil {
		t.Fatalf("new password: %v", err)
	}
	if got := s.List()[0].Created; !got.Equal(created) {
		t.Fatalf("SetPassword changed the creation time: %v -> %v", created, got)
	}
	if err := s.Delete("alice"); err != nil {
		t.Fatal(err)
	}
	if s.Exists("alice") || login(t, s, sasl.MechSCRAMSHA256, "alice", "new password") == nil {
		t.Fatal("deleted user still there")
	}
}

func TestPersistenceAndDomain(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, newFakeClock())
	if err := s.Add("alice", "pw"); err != nil {
		t.Fatal(err)
	}
	again := open(t, dir, newFakeClock())
	if !again.Exists("alice") {
		t.Fatal("account lost on reopen")
	}
	if _, err := Open(Config{Dir: dir, Domain: "other.test"}); !errors.Is(err, ErrDomainMismatch) {
		t.Fatalf("other domain: %v", err)
	}
	if _, err := Open(Config{Dir: dir, Domain: "EXAMPLE.test."}); err != nil {
		t.Fatalf("same domain spelled differently: %v", err)
	}
}

func TestConfigValidation(t *testing.T) {
	bad := []Config{
		{},
		{Dir: t.TempDir(), Iterations: 1000},
		{Dir: t.TempDir(), Iterations: sasl.MaxIterations + 1},
		{Dir: t.TempDir(), Domain: "a b"},
	}
	for _, cfg := range bad {
		if _, err := Open(cfg); !errors.Is(err, ErrConfig) {
			t.Fatalf("Open(%+v) = %v, want ErrConfig", cfg, err)
		}
	}
	s, err := Open(Config{Dir: t.TempDir(), Iterations: 5000})
	if err != nil {
		t.Fatal(err)
	}
	if s.Domain() != "localhost" {
		t.Fatalf("default domain %q", s.Domain())
	}
	s.Add("alice", "pw")
	c, err := s.SCRAM("alice", sasl.SHA256)
	if err != nil || c.Iterations != 5000 || !sasl.VerifyPlain(c, sasl.SHA256, "pw") {
		t.Fatalf("SCRAM = %+v, %v", c, err)
	}
}

func TestDecoyCredentials(t *testing.T) {
	dir := t.TempDir()
	s := open(t, dir, newFakeClock())
	s.Add("alice", "pw")
	real, _ := s.SCRAM("alice", sasl.SHA256)
	d1, err := s.SCRAM("mallory", sasl.SHA256)
	if !errors.Is(err, sasl.ErrUnknownUser) {
		t.Fatalf("unknown user: %v", err)
	}
	if len(d1.Salt) != len(real.Salt) || d1.Iterations != real.Iterations {
		t.Fatalf("decoy %+v does not look like %+v", d1, real)
	}
	d2, _ := open(t, dir, newFakeClock()).SCRAM("Mallory", sasl.SHA256)
	if !bytes.Equal(d1.Salt, d2.Salt) {
		t.Fatal("decoy salt not stable across reopen and case")
	}
	if d3, _ := s.SCRAM("eve", sasl.SHA256); bytes.Equal(d1.Salt, d3.Salt) {
		t.Fatal("two unknown users share a decoy salt")
	}
	if d4, _ := s.SCRAM("mallory", sasl.SHA1); bytes.Equal(d1.Salt, d4.Salt) {
		t.Fatal("decoy salts shared between hashes")
	}
	other, _ := open(t, t.TempDir(), newFakeClock()).SCRAM("mallory", sasl.SHA256)
	if bytes.Equal(d1.Salt, other.Salt) {
		t.Fatal("decoy salt does not depend on the store's secret")
	}
	if _, err := s.SCRAM("a@b", sasl.SHA256); !errors.Is(err, sasl.ErrUnknownUser) {
		t.Fatalf("invalid name: %v", err)
	}
}

func TestReloadsChangesFromAnotherProcess(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	server := open(t, dir, clock)
	if err := server.Add("alice", "first"); err != nil {
		t.Fatal(err)
	}
	cli := open(t, dir, newFakeClock())
	if err := cli.Add("bob", "pw"); err != nil {
		t.Fatal(err)
	}
	if err := cli.SetPassword("alice", "second"); err != nil { // same file size
		t.Fatal(err)
	}
	// Lookups stat the file at most once a second.
	if server.Exists("bob") {
		t.Fatal("reloaded before the interval passed")
	}
	clock.Advance(reloadInterval)
	if !server.Exists("bob") {
		t.Fatal("added user not seen after reload")
	}
	if err := login(t, server, sasl.MechSCRAMSHA1, "alice", "second"); err != nil {
		t.Fatalf("changed password not seen: %v", err)
	}
	// A change made by this process starts from the other's content.
	if err := server.Add("carol", "pw"); err != nil {
		t.Fatal(err)
	}
	if names := fmt.Sprint(open(t, dir, newFakeClock()).List()); !bytes.Contains([]byte(names), []byte("bob")) {
		t.Fatalf("bob lost by a later write: %s", names)
	}
}

func TestCorruptOrDeletedFile(t *testing.T) {
	dir := t.TempDir()
	clock := newFakeClock()
	s := open(t, dir, clock)
	s.Add("alice", "pw")
	path := filepath.Join(dir, FileName)
	good, _ := os.ReadFile(path)
	if err := os.WriteFile(path, good[:len(good)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	clock.Advance(reloadInterval)
	if !s.Exists("alice") {
		t.Fatal("a torn file made accounts vanish")
	}
	if err := s.Add("bob", "pw"); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("write over a corrupt file: %v", err)
	}
	if _, err := Open(Config{Dir: dir, Domain: "example.test"}); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("open corrupt file: %v", err)
	}
	decoy, _ := s.SCRAM("mallory", sasl.SHA256)
	os.Remove(path)
	clock.Advance(reloadInterval)
	if s.Exists("alice") {
		t.Fatal("accounts survive the file's deletion")
	}
	if again, _ := s.SCRAM("mallory", sasl.SHA256); !bytes.Equal(again.Salt, decoy.Salt) {
		t.Fatal("decoy salt changed when the file was deleted")
	}
	if err := s.Add("bob", "pw"); err != nil {
		t.Fatalf("add after deletion: %v", err)
	}
}

func TestConcurrentUse(t *testing.T) {
	s := open(t, t.TempDir(), newFakeClock())
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			name := fmt.Sprintf("user%d", i)
			if err := s.Add(name, "pw"); err != nil {
				t.Error(err)
			}
			if _, err := s.SCRAM(name, sasl.SHA256); err != nil {
				t.Error(err)
			}
			s.List()
		})
	}
	wg.Wait()
	if n := len(open(t, s.cfg.Dir, newFakeClock()).List()); n != 8 {
		t.Fatalf("%d accounts on disk, want 8", n)
	}
}

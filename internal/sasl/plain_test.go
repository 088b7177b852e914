package sasl

import (
	"errors"
	"strings"
	"testing"
)

func TestPlain(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	authz := func(u, a string) bool { return a == u+"@example.test" }
	cases := []struct {
		msg  string
		want Condition // "" for success
	}{
		{"\x00alice\x00s3cret", ""},
		{"alice@example.test\x00alice\x00s3cret", ""},
		{"bob@example.test\x00alice\x00s3cret", InvalidAuthzid},
		{"\x00alice\x00wrong", NotAuthorized},
		{"\x00mallory\x00s3cret", NotAuthorized},
		{"\x00alice\x00s3cret\x00", MalformedRequest},
		{"alice\x00s3cret", MalformedRequest},
		{"\x00\x00s3cret", MalformedRequest},
		{"\x00alice\x00", MalformedRequest},
		{"\x00alice\x00s3\xffcret", MalformedRequest},
		{"\x00alice\x00" + strings.Repeat("x", maxNameSize+1), MalformedRequest},
		{"", MalformedRequest},
	}
	for _, tc := range cases {
		s, err := NewServer(MechPlain, ServerConfig{Lookup: look, Authorize: authz})
		if err != nil {
			t.Fatal(err)
		}
		out, done, err := s.Step([]byte(tc.msg))
		if tc.want == "" {
			if err != nil || !done || out != nil || s.Username() != "alice" {
				t.Fatalf("%q: got %q %v %v user %q", tc.msg, out, done, err, s.Username())
			}
			continue
		}
		if done || failureCondition(t, err) != tc.want {
			t.Fatalf("%q: got done=%v err=%v, want %s", tc.msg, done, err, tc.want)
		}
	}
}

func TestPlainWithoutInitialResponse(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	s, _ := NewServer(MechPlain, ServerConfig{Lookup: look})
	out, done, err := s.Step(nil)
	if err != nil || done || out == nil || len(out) != 0 {
		t.Fatalf("no initial response: got %q %v %v, want an empty challenge", out, done, err)
	}
	if _, done, err := s.Step([]byte("\x00alice\x00s3cret")); err != nil || !done {
		t.Fatalf("after prompt: %v %v", done, err)
	}
	// A second empty message is not another prompt.
	s, _ = NewServer(MechPlain, ServerConfig{Lookup: look})
	s.Step(nil)
	if _, _, err := s.Step(nil); failureCondition(t, err) != MalformedRequest {
		t.Fatalf("empty response after prompt: %v", err)
	}
}

func TestPlainRoundTripAndLookupError(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	c, _ := NewClient(MechPlain, ClientConfig{Username: "alice", Password: "s3cret"})
	s, _ := NewServer(MechPlain, ServerConfig{Lookup: look})
	if serr, cerr := exchange(t, c, s); serr != nil || cerr != nil {
		t.Fatalf("server %v client %v", serr, cerr)
	}
	look.err = errors.New("store unreadable")
	s, _ = NewServer(MechPlain, ServerConfig{Lookup: look})
	_, _, err := s.Step([]byte("\x00alice\x00s3cret"))
	if failureCondition(t, err) != TemporaryAuthFailure || !errors.Is(err, look.err) {
		t.Fatalf("lookup error: %v", err)
	}
}

func TestAnonymous(t *testing.T) {
	cases := []struct {
		msg   []byte
		trace string
		ok    bool
	}{
		{[]byte("guest@example.test"), "guest@example.test", true},
		{[]byte{}, "", true},
		{[]byte("a\x00b"), "", false},
		{[]byte("\xff"), "", false},
		{[]byte(strings.Repeat("x", maxNameSize+1)), "", false},
	}
	for _, tc := range cases {
		s, err := NewServer(MechAnonymous, ServerConfig{})
		if err != nil {
			t.Fatal(err)
		}
		_, done, err := s.Step(tc.msg)
		if tc.ok != (err == nil && done) || tc.ok != s.Anonymous() || s.Trace() != tc.trace {
			t.Fatalf("%q: done=%v err=%v anonymous=%v trace=%q", tc.msg, done, err, s.Anonymous(), s.Trace())
		}
	}
	// No initial response is an empty trace: done at once, no challenge.
	s, _ := NewServer(MechAnonymous, ServerConfig{})
	if out, done, err := s.Step(nil); err != nil || !done || out != nil || !s.Anonymous() || s.Trace() != "" {
		t.Fatalf("no initial response: %q %v %v anonymous=%v", out, done, err, s.Anonymous())
	}
	if _, _, err := s.Step(nil); err == nil {
		t.Fatal("a second step after success was accepted")
	}
	c, _ := NewClient(MechAnonymous, ClientConfig{Username: "visitor"})
	s, _ = NewServer(MechAnonymous, ServerConfig{})
	if serr, cerr := exchange(t, c, s); serr != nil || cerr != nil || s.Trace() != "visitor" {
		t.Fatalf("round trip: %v %v %q", serr, cerr, s.Trace())
	}
}

func TestConstructors(t *testing.T) {
	look := newLookup(t, 4096)
	for _, m := range []string{"", "DIGEST-MD5", "SCRAM-SHA-256-PLUS", "scram-sha-1", "EXTERNAL"} {
		if _, err := NewServer(m, ServerConfig{Lookup: look}); !errors.Is(err, ErrInvalidMechanism) {
			t.Fatalf("NewServer(%q): %v", m, err)
		}
		if _, err := NewClient(m, ClientConfig{Username: "u", Password: "p"}); !errors.Is(err, ErrInvalidMechanism) {
			t.Fatalf("NewClient(%q): %v", m, err)
		}
	}
	if _, err := NewServer(MechSCRAMSHA1, ServerConfig{}); err == nil {
		t.Fatal("SCRAM server without a lookup accepted")
	}
	bad := []ClientConfig{
		{Password: "p"},
		{Username: "u"},
		{Username: "u\x00", Password: "p"},
		{Username: "\xff", Password: "p"},
		{Username: "u", Password: "p", Authzid: "a\x00"},
	}
	for _, cfg := range bad {
		if _, err := NewClient(MechPlain, cfg); err == nil {
			t.Fatalf("NewClient(%+v) accepted", cfg)
		}
	}
	if _, err := NewClient(MechAnonymous, ClientConfig{}); err != nil {
		t.Fatalf("anonymous client: %v", err)
	}
}

func TestMessageSizeLimit(t *testing.T) {
	s, _ := NewServer(MechAnonymous, ServerConfig{})
	if _, _, err := s.Step(make([]byte, MaxMessageSize+1)); failureCondition(t, err) != MalformedRequest {
		t.Fatalf("oversized message: %v", err)
	}
}

func TestFailureError(t *testing.T) {
	cause := errors.New("cause")
	f := &Failure{Condition: TemporaryAuthFailure, Text: "busy", Err: cause}
	if f.Error() != "sasl: temporary-auth-failure: busy: cause" || !errors.Is(f, cause) {
		t.Fatalf("Error() = %q", f.Error())
	}
	if SHA1.Name() != "SCRAM-SHA-1" || SHA256.String() != "SCRAM-SHA-256" || Hash(7).Name() != "" || Hash(7).Size() != 0 {
		t.Fatal("hash names")
	}
}

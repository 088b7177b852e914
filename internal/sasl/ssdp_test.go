package sasl

import (
	"errors"
	"strings"
	"testing"
)

// The example of XEP-0474 §5.3: SHA-1 of
// "SCRAM-SHA-1\x1eSCRAM-SHA-1-PLUS\x1ftls-exporter\x1etls-server-end-point".
func TestDowngradeHashSpecExample(t *testing.T) {
	a := Advertised{
		Mechanisms:      []string{"SCRAM-SHA-1-PLUS", "SCRAM-SHA-1"},
		ChannelBindings: []string{CBTLSServerEndPoint, CBTLSExporter},
	}
	if got := DowngradeHash(SHA1, a); got != "G6k/rBLDqgOhRRaCuuatSDFkJ08=" {
		t.Fatalf("hash %s", got)
	}
	// Without XEP-0440 there is no separator; an empty XEP-0440 list has one.
	if DowngradeHash(SHA1, Advertised{Mechanisms: a.Mechanisms}) == DowngradeHash(SHA1, Advertised{Mechanisms: a.Mechanisms, ChannelBindings: []string{}}) {
		t.Fatal("no XEP-0440 and an empty XEP-0440 list hash the same")
	}
}

// A client that saw what the server advertised completes the exchange; one
// shown a list a man in the middle shortened stops at the server-first
// message; a server without XEP-0474 is still accepted.
func TestDowngradeProtection(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	real := Advertised{Mechanisms: []string{MechSCRAMSHA256, MechSCRAMSHA1, MechPlain}}
	shown := Advertised{Mechanisms: []string{MechSCRAMSHA1, MechPlain}} // SCRAM-SHA-256 removed in transit
	for _, h := range []Hash{SHA1, SHA256} {
		run := func(server, client *Advertised) (error, error) {
			c, _ := NewClient(h.Name(), ClientConfig{Username: "alice", Password: "s3cret", Advertised: client})
			s, _ := NewServer(h.Name(), ServerConfig{Lookup: look, Advertised: server})
			return exchange(t, c, s)
		}
		if serr, cerr := run(&real, &real); serr != nil || cerr != nil {
			t.Fatalf("%s matching lists: %v %v", h, serr, cerr)
		}
		if _, cerr := run(&real, &shown); !errors.Is(cerr, ErrDowngrade) {
			t.Fatalf("%s tampered list: client error %v, want ErrDowngrade", h, cerr)
		}
		if serr, cerr := run(nil, &shown); serr != nil || cerr != nil {
			t.Fatalf("%s server without XEP-0474: %v %v", h, serr, cerr)
		}
	}
}

// The hash is signed: a man in the middle who strips it from the
// server-first-message (so that a checking client sees none) makes the
// client's proof fail at the server.
func TestDowngradeHashIsSigned(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	a := Advertised{Mechanisms: []string{MechSCRAMSHA256}}
	c, _ := NewClient(MechSCRAMSHA256, ClientConfig{Username: "alice", Password: "s3cret", Advertised: &a})
	s, _ := NewServer(MechSCRAMSHA256, ServerConfig{Lookup: look, Advertised: &a})
	first, _, _ := c.Step(nil)
	sf, _, err := s.Step(first)
	if err != nil || !strings.Contains(string(sf), ",h=") {
		t.Fatalf("server-first %q: %v", sf, err)
	}
	stripped := string(sf[:strings.Index(string(sf), ",h=")])
	final, _, err := c.Step([]byte(stripped))
	if err != nil {
		t.Fatalf("client: %v", err)
	}
	if _, _, err := s.Step(final); failureCondition(t, err) != NotAuthorized {
		t.Fatalf("server accepted a proof over a stripped hash: %v", err)
	}
}

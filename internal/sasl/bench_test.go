package sasl

import "testing"

// BenchmarkSCRAMSHA256Login runs one complete SCRAM-SHA-256 login, client
// and server, at DefaultIterations: the cost of a login for both ends.
func BenchmarkSCRAMSHA256Login(b *testing.B) {
	look := newLookup(b, DefaultIterations, "user", "pencil")
	for b.Loop() {
		c, _ := NewClient(MechSCRAMSHA256, ClientConfig{Username: "user", Password: "pencil"})
		s, _ := NewServer(MechSCRAMSHA256, ServerConfig{Lookup: look})
		if serr, cerr := exchange(b, c, s); serr != nil || cerr != nil {
			b.Fatal(serr, cerr)
		}
	}
}

// BenchmarkPlainLogin is one PLAIN login checked against stored SCRAM keys.
func BenchmarkPlainLogin(b *testing.B) {
	look := newLookup(b, DefaultIterations, "user", "pencil")
	for b.Loop() {
		s, _ := NewServer(MechPlain, ServerConfig{Lookup: look})
		if _, done, err := s.Step([]byte("\x00user\x00pencil")); err != nil || !done {
			b.Fatal(err)
		}
	}
}

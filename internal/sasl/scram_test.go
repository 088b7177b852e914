package sasl

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"strings"
	"testing"
)

// rfcVector is a complete SCRAM exchange from an RFC.
type rfcVector struct {
	hash                           Hash
	clientNonce, serverNonce, salt string
	clientFirst, serverFirst       string
	clientFinal, serverFinal       string
}

var rfcVectors = []rfcVector{
	{ // RFC 5802 §5
		hash:        SHA1,
		clientNonce: "fyko+d2lbbFgONRv9qkxdawL",
		serverNonce: "3rfcNHYJY1ZVvWVs7j",
		salt:        "QSXCR+Q6sek8bf92",
		clientFirst: "n,,n=user,r=fyko+d2lbbFgONRv9qkxdawL",
		serverFirst: "r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,s=QSXCR+Q6sek8bf92,i=4096",
		clientFinal: "c=biws,r=fyko+d2lbbFgONRv9qkxdawL3rfcNHYJY1ZVvWVs7j,p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts=",
		serverFinal: "v=rmF9pqV8S7suAoZWja4dJRkFsKQ=",
	},
	{ // RFC 7677 §3
		hash:        SHA256,
		clientNonce: "rOprNGfwEbeRWgbNEkqO",
		serverNonce: "%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0",
		salt:        "W22ZaJ0SNY7soEsUEjb6gQ==",
		clientFirst: "n,,n=user,r=rOprNGfwEbeRWgbNEkqO",
		serverFirst: "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
		clientFinal: "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=",
		serverFinal: "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=",
	},
}

func TestRFCVectorsClient(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.hash.Name(), func(t *testing.T) {
			c, err := NewClient(v.hash.Name(), ClientConfig{Username: "user", Password: "pencil"})
			if err != nil {
				t.Fatal(err)
			}
			c.nonce = v.clientNonce
			steps := []struct{ in, want string }{{"", v.clientFirst}, {v.serverFirst, v.clientFinal}}
			for i, s := range steps {
				out, done, err := c.Step([]byte(s.in))
				if err != nil || done || string(out) != s.want {
					t.Fatalf("step %d: got %q done=%v err=%v, want %q", i, out, done, err, s.want)
				}
			}
			out, done, err := c.Step([]byte(v.serverFinal))
			if err != nil || !done || out != nil {
				t.Fatalf("final: got %q done=%v err=%v", out, done, err)
			}
		})
	}
}

func TestRFCVectorsServer(t *testing.T) {
	for _, v := range rfcVectors {
		t.Run(v.hash.Name(), func(t *testing.T) {
			creds, err := DeriveSCRAM(v.hash, "pencil", mustB64(t, v.salt), 4096)
			if err != nil {
				t.Fatal(err)
			}
			look := &memLookup{creds: map[string]map[Hash]SCRAMCredentials{"user": {v.hash: creds}}}
			s, err := NewServer(v.hash.Name(), ServerConfig{Lookup: look})
			if err != nil {
				t.Fatal(err)
			}
			s.snonce = v.serverNonce
			out, done, err := s.Step([]byte(v.clientFirst))
			if err != nil || done || string(out) != v.serverFirst {
				t.Fatalf("server-first: got %q done=%v err=%v", out, done, err)
			}
			out, done, err = s.Step([]byte(v.clientFinal))
			if err != nil || !done || string(out) != v.serverFinal {
				t.Fatalf("server-final: got %q done=%v err=%v", out, done, err)
			}
			if s.Username() != "user" || s.Authzid() != "" || s.Anonymous() {
				t.Fatalf("identity: %q %q %v", s.Username(), s.Authzid(), s.Anonymous())
			}
		})
	}
}

func TestSCRAMRoundTrip(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret", "a,b=c", "pw",
		"nfc", "\u00e9t\u00e9") // stored composed; the client below sends it decomposed
	cases := []struct{ user, pass, authzid string }{
		{"alice", "s3cret", ""},
		{"alice", "s3cret", "alice@example.test"},
		{"a,b=c", "pw", ""},
		{"nfc", "e\u0301te\u0301", ""},
	}
	for _, h := range []Hash{SHA1, SHA256} {
		for _, tc := range cases {
			c, err := NewClient(h.Name(), ClientConfig{Username: tc.user, Password: tc.pass, Authzid: tc.authzid})
			if err != nil {
				t.Fatal(err)
			}
			s, _ := NewServer(h.Name(), ServerConfig{Lookup: look, Authorize: func(u, a string) bool {
				return a == u+"@example.test"
			}})
			if serr, cerr := exchange(t, c, s); serr != nil || cerr != nil {
				t.Fatalf("%s %+v: server %v, client %v", h, tc, serr, cerr)
			}
			if s.Username() != tc.user || s.Authzid() != tc.authzid {
				t.Fatalf("%s: identity %q/%q, want %q/%q", h, s.Username(), s.Authzid(), tc.user, tc.authzid)
			}
		}
	}
}

func TestSCRAMAuthzidRefusedByDefault(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	c, _ := NewClient(MechSCRAMSHA256, ClientConfig{Username: "alice", Password: "s3cret", Authzid: "bob@example.test"})
	s, _ := NewServer(MechSCRAMSHA256, ServerConfig{Lookup: look})
	serr, _ := exchange(t, c, s)
	if failureCondition(t, serr) != InvalidAuthzid {
		t.Fatalf("got %v, want invalid-authzid", serr)
	}
}

func TestSCRAMWrongPasswordAndUnknownUserLookAlike(t *testing.T) {
	for _, decoy := range []bool{false, true} {
		look := newLookup(t, 4096, "alice", "s3cret")
		look.decoy = decoy
		var failures []*Failure
		for _, user := range []string{"alice", "mallory"} {
			c, _ := NewClient(MechSCRAMSHA256, ClientConfig{Username: user, Password: "wrong"})
			s, _ := NewServer(MechSCRAMSHA256, ServerConfig{Lookup: look, DecoyKey: []byte("k")})
			serr, cerr := exchange(t, c, s)
			if cerr != nil {
				t.Fatalf("client: %v", cerr)
			}
			var f *Failure
			if !errors.As(serr, &f) || f.Condition != NotAuthorized {
				t.Fatalf("user %s: got %v, want not-authorized", user, serr)
			}
			failures = append(failures, f)
		}
		if *failures[0] != *failures[1] {
			t.Fatalf("failures differ: %+v vs %+v", failures[0], failures[1])
		}
	}
}

// serverFirstFor runs client-first for user and returns server-first.
func serverFirstFor(t *testing.T, cfg ServerConfig, user string) string {
	t.Helper()
	s, _ := NewServer(MechSCRAMSHA256, cfg)
	s.snonce = "S"
	out, _, err := s.Step([]byte("n,,n=" + user + ",r=C"))
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func TestUnknownUserDecoyIsStable(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	cfg := ServerConfig{Lookup: look, DecoyKey: []byte("secret")}
	a, b := serverFirstFor(t, cfg, "mallory"), serverFirstFor(t, cfg, "mallory")
	if a != b {
		t.Fatalf("decoy salt not stable: %q vs %q", a, b)
	}
	if other := serverFirstFor(t, cfg, "eve"); other == a {
		t.Fatal("two unknown users share a decoy salt")
	}
	// Same shape as a real account's: the same nonce and iteration count.
	if !strings.HasPrefix(a, "r=CS,s=") || !strings.HasSuffix(a, ",i=4096") {
		t.Fatalf("decoy server-first %q does not look like a real one", a)
	}
	cfg.DecoyKey = []byte("other")
	if serverFirstFor(t, cfg, "mallory") == a {
		t.Fatal("decoy salt ignores DecoyKey")
	}
	// A lookup-made decoy (a store's own salt and iteration count) is used as is.
	look.decoy = true
	if got := serverFirstFor(t, cfg, "mallory"); got != "r=CS,s=ZGVjb3ktbWFsbG9yeQ==,i=5000" {
		t.Fatalf("lookup decoy not used: %q", got)
	}
}

func TestSCRAMServerMalformedClientFirst(t *testing.T) {
	look := newLookup(t, 4096, "user", "pencil")
	cases := []struct {
		msg  string
		want Condition
	}{
		{"", MalformedRequest},
		{"n", MalformedRequest},
		{"n,", MalformedRequest},
		{"x,,n=user,r=abc", MalformedRequest},
		{"p=tls-unique,,n=user,r=abc", NotAuthorized},
		{"n,,m=ext,n=user,r=abc", NotAuthorized},
		{"n,,r=abc,n=user", MalformedRequest},
		{"n,,n=user", MalformedRequest},
		{"n,,n=,r=abc", MalformedRequest},
		{"n,,n=us=er,r=abc", MalformedRequest},
		{"n,,n=us=2,r=abc", MalformedRequest},
		{"n,,n=us\x00er,r=abc", MalformedRequest},
		{"n,,n=user,r=", MalformedRequest},
		{"n,,n=user,r=ab\x01c", MalformedRequest},
		{"n,,n=user,r=abc,b", MalformedRequest},
		{"n,,n=user,r=abc,p=x", MalformedRequest},
		{"n,a,n=user,r=abc", MalformedRequest},
		{"n,a=,n=user,r=abc", MalformedRequest},
		{"n,a=x=y,n=user,r=abc", MalformedRequest},
		{"n,,n=u\xffser,r=abc", MalformedRequest},
		{"n,,n=user,r=" + strings.Repeat("a", MaxMessageSize), MalformedRequest},
	}
	for _, tc := range cases {
		s, _ := NewServer(MechSCRAMSHA1, ServerConfig{Lookup: look})
		out, done, err := s.Step([]byte(tc.msg))
		if err == nil || done || out != nil {
			t.Fatalf("%q: accepted (%q, %v)", tc.msg, out, done)
		}
		if c := failureCondition(t, err); c != tc.want {
			t.Fatalf("%q: condition %s, want %s", tc.msg, c, tc.want)
		}
		if _, _, err := s.Step([]byte("n,,n=user,r=abc")); err == nil {
			t.Fatalf("%q: session usable after failure", tc.msg)
		}
	}
}

func TestSCRAMServerMalformedClientFinal(t *testing.T) {
	v := rfcVectors[0]
	creds, _ := DeriveSCRAM(SHA1, "pencil", mustB64(t, v.salt), 4096)
	look := &memLookup{creds: map[string]map[Hash]SCRAMCredentials{"user": {SHA1: creds}}}
	nonce := "r=" + v.clientNonce + v.serverNonce
	proof := "p=v0X8v3Bz2T0CJGbJQyF0X+HI4Ts="
	cases := []struct {
		msg  string
		want Condition
	}{
		{"", MalformedRequest},
		{"c=biws," + nonce, MalformedRequest},
		{"c=biws," + nonce + ",p=!!!", MalformedRequest},
		{"c=biws," + nonce + ",p=", MalformedRequest},
		{"c=biws," + nonce + ",p=AAAA", MalformedRequest},            // wrong proof length
		{"c=biws," + nonce + "," + proof + ",x=y", MalformedRequest}, // proof not last
		{nonce + "," + proof, MalformedRequest},
		{"c=biws," + proof, MalformedRequest},
		{"c=b!ws," + nonce + "," + proof, MalformedRequest},
		{"c=biws," + nonce + ",1=x," + proof, MalformedRequest},
		{"c=eSws," + nonce + "," + proof, NotAuthorized},                       // "y,," but client-first said "n,,"
		{"c=biws,r=" + v.clientNonce + "X," + proof, NotAuthorized},            // nonce mismatch
		{"c=biws,r=" + v.clientNonce + "," + proof, NotAuthorized},             // server nonce dropped
		{"c=biws," + nonce + ",p=AAAAAAAAAAAAAAAAAAAAAAAAAAA=", NotAuthorized}, // wrong proof
	}
	for _, tc := range cases {
		s, _ := NewServer(MechSCRAMSHA1, ServerConfig{Lookup: look})
		s.snonce = v.serverNonce
		if _, _, err := s.Step([]byte(v.clientFirst)); err != nil {
			t.Fatal(err)
		}
		out, done, err := s.Step([]byte(tc.msg))
		if err == nil || done || out != nil {
			t.Fatalf("%q: accepted (%q, %v)", tc.msg, out, done)
		}
		if c := failureCondition(t, err); c != tc.want {
			t.Fatalf("%q: condition %s, want %s", tc.msg, c, tc.want)
		}
	}
	// The same session with the right message succeeds, so the cases above
	// failed for their own reason.
	s, _ := NewServer(MechSCRAMSHA1, ServerConfig{Lookup: look})
	s.snonce = v.serverNonce
	s.Step([]byte(v.clientFirst))
	if _, done, err := s.Step([]byte(v.clientFinal)); err != nil || !done {
		t.Fatalf("valid final refused: %v", err)
	}
	if _, _, err := s.Step([]byte(v.clientFinal)); failureCondition(t, err) != MalformedRequest {
		t.Fatalf("step after success: %v", err)
	}
}

func TestSCRAMServerGS2Variants(t *testing.T) {
	look := newLookup(t, 4096, "user", "pencil")
	cases := []struct {
		gs2, binding string
		want         Condition // "" for success
	}{
		{"y,,", "y,,", ""},
		{"n,a=user,", "n,a=user,", ""},
		{"n,a=us=3Der,", "n,a=us=3Der,", ""},
		{"y,,", "n,,", NotAuthorized},       // binding data differs from the header
		{"n,a=user,", "n,,", NotAuthorized}, // authzid dropped from the binding data
		{"n,,", "n,,\x00", NotAuthorized},   // trailing garbage in the binding data
	}
	for _, tc := range cases {
		s, _ := NewServer(MechSCRAMSHA256, ServerConfig{Lookup: look, Authorize: func(u, a string) bool {
			return a == u || a == "us=er"
		}})
		s.snonce = "S"
		sf, _, err := s.Step([]byte(tc.gs2 + "n=user,r=C"))
		if err != nil {
			t.Fatalf("%+v: %v", tc, err)
		}
		final, serverSig := clientFinalFor(t, SHA256, "pencil", "n=user,r=C", string(sf), tc.binding)
		out, done, err := s.Step([]byte(final))
		if tc.want != "" {
			if failureCondition(t, err) != tc.want {
				t.Fatalf("%+v: got %v", tc, err)
			}
			continue
		}
		if err != nil || !done || string(out) != "v="+serverSig {
			t.Fatalf("%+v: got %q %v %v", tc, out, done, err)
		}
	}
}

func TestSCRAMLookupErrors(t *testing.T) {
	cases := []struct {
		look *memLookup
		want Condition
	}{
		{&memLookup{err: errors.New("disk on fire")}, TemporaryAuthFailure},
		{&memLookup{creds: map[string]map[Hash]SCRAMCredentials{"user": {SHA256: {Salt: []byte("s"), Iterations: 4096}}}}, TemporaryAuthFailure},
	}
	for _, tc := range cases {
		s, _ := NewServer(MechSCRAMSHA256, ServerConfig{Lookup: tc.look})
		if _, _, err := s.Step([]byte("n,,n=user,r=abc")); failureCondition(t, err) != tc.want {
			t.Fatalf("got %v, want %s", err, tc.want)
		}
	}
}

func TestClientRefusesBadServerFirst(t *testing.T) {
	cases := []struct {
		serverFirst string
		want        error
	}{
		{"r=CNONCEs,s=c2FsdA==,i=4095", ErrTooFewIterations},
		{"r=CNONCEs,s=c2FsdA==,i=1", ErrTooFewIterations},
		{"r=CNONCEs,s=c2FsdA==,i=1000001", ErrTooManyIterations},
		{"r=OTHERs,s=c2FsdA==,i=4096", ErrNonceMismatch},
		{"r=CNONCE,s=c2FsdA==,i=4096", ErrNonceMismatch},
		{"m=x,r=CNONCEs,s=c2FsdA==,i=4096", ErrMalformedChallenge},
		{"r=CNONCEs,s=,i=4096", ErrMalformedChallenge},
		{"r=CNONCEs,s=!!,i=4096", ErrMalformedChallenge},
		{"r=CNONCEs,s=c2FsdA==,i=04096", ErrMalformedChallenge},
		{"r=CNONCEs,s=c2FsdA==,i=-4096", ErrMalformedChallenge},
		{"r=CNONCEs,s=c2FsdA==,i=99999999999", ErrMalformedChallenge},
		{"r=CNONCEs,s=c2FsdA==", ErrMalformedChallenge},
		{"s=c2FsdA==,r=CNONCEs,i=4096", ErrMalformedChallenge},
		{"", ErrMalformedChallenge},
	}
	for _, tc := range cases {
		c, _ := NewClient(MechSCRAMSHA1, ClientConfig{Username: "user", Password: "pencil"})
		c.nonce = "CNONCE"
		c.Step(nil)
		out, done, err := c.Step([]byte(tc.serverFirst))
		if !errors.Is(err, tc.want) || out != nil || done {
			t.Fatalf("%q: got %q %v %v, want %v", tc.serverFirst, out, done, err, tc.want)
		}
	}
	// MinIterations raises the bar further.
	c, _ := NewClient(MechSCRAMSHA1, ClientConfig{Username: "user", Password: "pencil", MinIterations: 10000})
	c.nonce = "CNONCE"
	c.Step(nil)
	if _, _, err := c.Step([]byte("r=CNONCEs,s=c2FsdA==,i=4096")); !errors.Is(err, ErrTooFewIterations) {
		t.Fatalf("MinIterations ignored: %v", err)
	}
}

func TestClientChecksServerFinal(t *testing.T) {
	v := rfcVectors[0]
	cases := []struct {
		final string
		want  error
	}{
		{v.serverFinal, nil},
		{v.serverFinal + ",x=ext", nil},
		{"v=rmF9pqV8S7suAoZWja4dJRkFsKQ", ErrServerSignature},
		{"v=AmF9pqV8S7suAoZWja4dJRkFsKQ=", ErrServerSignature},
		{"v=", ErrServerSignature},
		{"e=invalid-proof", ErrServerRefused},
		{"", ErrMalformedChallenge},
		{"x=1", ErrMalformedChallenge},
	}
	for _, tc := range cases {
		c, _ := NewClient(MechSCRAMSHA1, ClientConfig{Username: "user", Password: "pencil"})
		c.nonce = v.clientNonce
		c.Step(nil)
		c.Step([]byte(v.serverFirst))
		_, done, err := c.Step([]byte(tc.final))
		if !errors.Is(err, tc.want) || done != (tc.want == nil) {
			t.Fatalf("%q: done=%v err=%v, want %v", tc.final, done, err, tc.want)
		}
		if _, _, err := c.Step(nil); err == nil {
			t.Fatalf("%q: client usable after the end", tc.final)
		}
	}
}

func TestDeriveAndVerifyPlain(t *testing.T) {
	salt := []byte("0123456789abcdef")
	c, err := DeriveSCRAM(SHA256, "correct horse", salt, 4096)
	if err != nil {
		t.Fatal(err)
	}
	if !VerifyPlain(c, SHA256, "correct horse") {
		t.Fatal("right password refused")
	}
	for _, pw := range []string{"correct horsE", "", "correct horse "} {
		if VerifyPlain(c, SHA256, pw) {
			t.Fatalf("wrong password %q accepted", pw)
		}
	}
	if VerifyPlain(c, SHA1, "correct horse") {
		t.Fatal("credentials accepted under the wrong hash")
	}
	// OpaqueString maps non-ASCII spaces to ASCII space.
	if !VerifyPlain(c, SHA256, "correct\u00a0horse") {
		t.Fatal("password not prepared with OpaqueString")
	}
	bad := []struct {
		h    Hash
		pw   string
		salt []byte
		it   int
		want error
	}{
		{0, "pw", salt, 4096, ErrInvalidHash},
		{SHA1, "", salt, 4096, ErrInvalidPassword},
		{SHA1, "a\x07b", salt, 4096, ErrInvalidPassword},
		{SHA1, "pw", nil, 4096, ErrInvalidParameters},
		{SHA1, "pw", salt, 0, ErrInvalidParameters},
		{SHA1, "pw", salt, MaxIterations + 1, ErrInvalidParameters},
	}
	for _, b := range bad {
		if _, err := DeriveSCRAM(b.h, b.pw, b.salt, b.it); !errors.Is(err, b.want) {
			t.Fatalf("DeriveSCRAM(%v, %q, %q, %d) = %v, want %v", b.h, b.pw, b.salt, b.it, err, b.want)
		}
	}
}

func TestSASLNameCoding(t *testing.T) {
	for _, s := range []string{"plain", "a,b", "a=b", "=2C,=3D", "ünï"} {
		got, ok := decodeSASLName(encodeSASLName(s))
		if !ok || got != s {
			t.Fatalf("round trip %q: %q %v", s, got, ok)
		}
	}
	for _, s := range []string{"", "a,b", "a=", "a=2", "a=2D", "a\x00", "\xff", strings.Repeat("x", maxNameSize+1)} {
		if _, ok := decodeSASLName(s); ok {
			t.Fatalf("decodeSASLName(%q) accepted", s)
		}
	}
}

// lowerLookup is a memLookup whose names are case-insensitive.
type lowerLookup struct{ *memLookup }

func (l lowerLookup) NormalizeUsername(name string) (string, error) {
	if strings.Contains(name, "!") {
		return "", errors.New("bad name")
	}
	return strings.ToLower(name), nil
}

func TestUsernameNormalizer(t *testing.T) {
	look := lowerLookup{newLookup(t, 4096, "alice", "pw")}
	for _, mech := range []string{MechSCRAMSHA1, MechSCRAMSHA256, MechPlain} {
		c, _ := NewClient(mech, ClientConfig{Username: "ALICE", Password: "pw"})
		s, _ := NewServer(mech, ServerConfig{Lookup: look})
		if serr, cerr := exchange(t, c, s); serr != nil || cerr != nil || s.Username() != "alice" {
			t.Fatalf("%s: %v %v username %q", mech, serr, cerr, s.Username())
		}
		// A name the normalizer refuses is an unknown user, not an error.
		c, _ = NewClient(mech, ClientConfig{Username: "alice!", Password: "pw"})
		s, _ = NewServer(mech, ServerConfig{Lookup: look})
		if serr, _ := exchange(t, c, s); failureCondition(t, serr) != NotAuthorized {
			t.Fatalf("%s: refused name: %v", mech, serr)
		}
	}
}

// TestDecoyNeverAuthenticates forges a proof from the decoy's own keys
// (computable when DecoyKey is left empty): the server must still refuse,
// because the user does not exist.
func TestDecoyNeverAuthenticates(t *testing.T) {
	look := newLookup(t, 4096)
	for _, h := range []Hash{SHA1, SHA256} {
		s, _ := NewServer(h.Name(), ServerConfig{Lookup: look})
		s.snonce = "S"
		sf, _, err := s.Step([]byte("n,,n=ghost,r=C"))
		if err != nil {
			t.Fatal(err)
		}
		mac := hmac.New(sha256.New, nil)
		mac.Write([]byte(h.Name() + "\x00ghost"))
		clientKey := mac.Sum(nil)
		withoutProof := "c=biws,r=CS"
		auth := "n=ghost,r=C," + string(sf) + "," + withoutProof
		proof := xorBytes(clientKey, hmacSum(h, hashSum(h, clientKey), auth))
		if len(proof) != h.Size() { // SHA-1: the forged key is longer than the proof
			proof = proof[:h.Size()]
		}
		_, done, err := s.Step([]byte(withoutProof + ",p=" + base64.StdEncoding.EncodeToString(proof)))
		if done || failureCondition(t, err) != NotAuthorized {
			t.Fatalf("%s: forged decoy proof: done=%v err=%v", h, done, err)
		}
	}
}

// SCRAM-*-PLUS (RFC 5802 §6): the exchange binds to the channel's data;
// other data, no binding, "p=" with a plain mechanism, or "y" while -PLUS
// was offered all fail.
func TestSCRAMPlus(t *testing.T) {
	look := newLookup(t, 4096, "alice", "s3cret")
	channel := []byte("thirty-two bytes of exporter....")
	server := func(mech string, offered bool) *ServerSession {
		s, _ := NewServer(mech, ServerConfig{Lookup: look, PlusOffered: offered, ChannelBinding: func(typ string) []byte {
			if typ == CBTLSExporter {
				return channel
			}
			return nil
		}})
		return s
	}
	for _, mech := range []string{MechSCRAMSHA1Plus, MechSCRAMSHA256Plus} {
		c, err := NewClient(mech, ClientConfig{Username: "alice", Password: "s3cret", ChannelBindingType: CBTLSExporter, ChannelBindingData: channel})
		if err != nil {
			t.Fatal(err)
		}
		if serr, cerr := exchange(t, c, server(mech, true)); serr != nil || cerr != nil {
			t.Fatalf("%s: server %v, client %v", mech, serr, cerr)
		}
		// A man in the middle has another channel.
		c, _ = NewClient(mech, ClientConfig{Username: "alice", Password: "s3cret", ChannelBindingType: CBTLSExporter, ChannelBindingData: []byte("another channel")})
		if serr, _ := exchange(t, c, server(mech, true)); failureCondition(t, serr) != NotAuthorized {
			t.Fatalf("%s with other channel data: %v", mech, serr)
		}
		// A type the server has no data for.
		c, _ = NewClient(mech, ClientConfig{Username: "alice", Password: "s3cret", ChannelBindingType: "tls-unique", ChannelBindingData: channel})
		if serr, _ := exchange(t, c, server(mech, true)); failureCondition(t, serr) != NotAuthorized {
			t.Fatalf("%s with tls-unique: %v", mech, serr)
		}
	}
	if _, err := NewClient(MechSCRAMSHA256Plus, ClientConfig{Username: "alice", Password: "s3cret"}); err == nil {
		t.Fatal("a -PLUS client without binding data")
	}
	// "y,," to a server that offered -PLUS: a downgrade.
	s := server(MechSCRAMSHA256, true)
	if _, _, err := s.Step([]byte("y,,n=alice,r=C")); failureCondition(t, err) != NotAuthorized {
		t.Fatalf("y with PLUS offered: %v", err)
	}
	// "p=" with a plain mechanism.
	s = server(MechSCRAMSHA256, true)
	if _, _, err := s.Step([]byte("p=tls-exporter,,n=alice,r=C")); failureCondition(t, err) != NotAuthorized {
		t.Fatalf("p= with SCRAM-SHA-256: %v", err)
	}
	// A -PLUS mechanism without "p=".
	s = server(MechSCRAMSHA256Plus, true)
	if _, _, err := s.Step([]byte("n,,n=alice,r=C")); failureCondition(t, err) != NotAuthorized {
		t.Fatalf("PLUS without binding: %v", err)
	}
}

package sasl

import (
	"bytes"
	"crypto/subtle"
	"encoding/base64"
	"strings"
	"testing"
)

// FuzzSCRAMServer feeds arbitrary client-first and client-final messages to
// a server that knows "user"/"pencil". The server must never panic, and may
// only succeed for "user" with the proof that the password gives for the
// exchange's AuthMessage.
func FuzzSCRAMServer(f *testing.F) {
	look := newLookup(f, 4096, "user", "pencil")
	salted := map[Hash][]byte{}
	for _, h := range []Hash{SHA1, SHA256} {
		c := look.creds["user"][h]
		s, err := saltedPassword(h, "pencil", c.Salt, c.Iterations)
		if err != nil {
			f.Fatal(err)
		}
		salted[h] = s
	}
	for _, h := range []Hash{SHA1, SHA256} {
		// Valid exchanges with the fixed nonces the harness uses.
		for _, gs2 := range []string{"n,,", "y,,", "n,a=user,"} {
			first := gs2 + "n=user,r=C"
			sf := serverFirstFixed(look, h, "user")
			final, _ := clientFinalFor(f, h, "pencil", "n=user,r=C", sf, gs2)
			f.Add(h == SHA1, []byte(first), []byte(final))
			f.Add(h == SHA1, []byte(first), []byte(strings.Replace(final, "p=", "x=1,p=", 1)))
		}
		f.Add(h == SHA1, []byte("n,,n=mallory,r=C"), []byte("c=biws,r=CS,p=AAAA"))
		f.Add(h == SHA1, []byte("p=tls-unique,,n=user,r=C"), []byte(""))
		f.Add(h == SHA1, []byte("n,,n=us=2Cer,r=C,e=x"), []byte("c=biws,r=CS,p="))
	}
	f.Fuzz(func(t *testing.T, sha1 bool, first, final []byte) {
		h := SHA256
		if sha1 {
			h = SHA1
		}
		s, err := NewServer(h.Name(), ServerConfig{Lookup: look, Authorize: func(u, a string) bool { return a == u }})
		if err != nil {
			t.Fatal(err)
		}
		s.snonce = "S"
		sf, done, err := s.Step(first)
		if err != nil || done {
			if done {
				t.Fatal("server done after client-first")
			}
			return
		}
		out, done, err := s.Step(final)
		if err != nil {
			if out != nil || done {
				t.Fatalf("failure with output %q done=%v", out, done)
			}
			return
		}
		if !done {
			t.Fatal("SCRAM server wants a third message")
		}
		checkEarnedSuccess(t, h, salted[h], first, sf, final, s.Username())
	})
}

// serverFirstFixed is the server-first the fuzz harness's server sends for
// client-first "...n=user,r=C" (server nonce "S").
func serverFirstFixed(look *memLookup, h Hash, user string) string {
	c := look.creds[user][h]
	return "r=CS,s=" + base64.StdEncoding.EncodeToString(c.Salt) + ",i=4096"
}

// checkEarnedSuccess fails unless the client proved the password of "user":
// it recomputes the proof from the messages themselves.
func checkEarnedSuccess(t *testing.T, h Hash, salted, first, sf, final []byte, user string) {
	t.Helper()
	if user != "user" {
		t.Fatalf("success for %q, who has no account", user)
	}
	// client-first-message-bare starts after the gs2 header's second comma.
	i := bytes.IndexByte(first, ',')
	j := bytes.IndexByte(first[i+1:], ',')
	bare := first[i+1+j+1:]
	k := bytes.LastIndex(final, []byte(",p="))
	if k < 0 {
		t.Fatalf("success without a proof: %q", final)
	}
	auth := string(bare) + "," + string(sf) + "," + string(final[:k])
	clientKey := hmacSum(h, salted, "Client Key")
	want := xorBytes(clientKey, hmacSum(h, hashSum(h, clientKey), auth))
	got, err := base64.StdEncoding.DecodeString(string(final[k+3:]))
	if err != nil || subtle.ConstantTimeCompare(got, want) != 1 {
		t.Fatalf("success without the right proof: first %q final %q", first, final)
	}
}

package turn

import (
	"strconv"
	"strings"
	"testing"
	"time"
)

// FuzzParseRESTUsername: any USERNAME a client sends is parsed without
// panicking, and what parses is exactly "DIGITS:USER", as NewCredential
// writes it.
func FuzzParseRESTUsername(f *testing.F) {
	for _, s := range []string{"1700000000:alice@example.test", "alice", ":", "1:", ":x", "+1:x", "99999999999999999999:x", "1:a:b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, username string) {
		expires, user, ok := parseRESTUsername(username)
		if !ok {
			return
		}
		stamp, rest, _ := strings.Cut(username, ":")
		if rest != user || user == "" || strconv.FormatInt(expires.Unix(), 10) != strings.TrimLeft(stamp, "0") && expires.Unix() != 0 {
			t.Fatalf("%q parsed as %v, %q", username, expires, user)
		}
		if strings.ContainsRune(user, ':') {
			return // a valid username NewCredential would not make
		}
		c, err := NewCredential("s", user, expires)
		if err != nil {
			t.Fatal(err)
		}
		if e, u, ok := parseRESTUsername(c.Username); !ok || u != user || !e.Equal(expires) {
			t.Fatalf("round trip of %q: %v %q %v", c.Username, e, u, ok)
		}
	})
}

func TestNewCredentialRefusesBadUsers(t *testing.T) {
	for _, u := range []string{"", "a:b"} {
		if _, err := NewCredential("s", u, time.Now()); err == nil {
			t.Errorf("user %q accepted", u)
		}
	}
}

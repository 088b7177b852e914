package turn

import (
	"testing"
	"time"

	"parley.dev/parley/internal/turn/turntest"
)

// TestCredentialsWorkOnCoturn: what parley hands out allocates on coturn
// sharing the secret, and what coturn refuses parley refuses too.
func TestCredentialsWorkOnCoturn(t *testing.T) {
	f := newFixture(t, nil)
	coturn := turntest.StartCoturn(t, testSecret, "parley")
	good := f.credential(t, "alice@example.test", time.Hour)
	for _, overTCP := range []bool{false, true} {
		cl := dialTURN(t, overTCP, coturn, coturn, good)
		relay, err := cl.Allocate()
		if err != nil {
			t.Fatalf("coturn refused parley's credential (tcp=%v): %v", overTCP, err)
		}
		exchange(t, relay, f.media)
		relay.Close()
	}
	expired, err := NewCredential(testSecret, "alice", time.Now().Add(-time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	forged := good
	forged.Password = restPassword("another secret", good.Username)
	for name, cred := range map[string]Credential{"expired": expired, "forged": forged} {
		for server, addr := range map[string]string{"coturn": coturn, "parley": f.udpAddr.String()} {
			if relay, err := dialTURN(t, false, addr, addr, cred).Allocate(); err == nil {
				relay.Close()
				t.Errorf("%s accepted the %s credential", server, name)
			}
		}
	}
}

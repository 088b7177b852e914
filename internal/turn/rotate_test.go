package turn

import (
	"testing"
	"time"
)

// allocates says whether a credential gets an allocation over UDP.
func (f *fixture) allocates(t *testing.T, cred Credential) bool {
	t.Helper()
	relay, err := f.client(t, false, cred).Allocate()
	if err != nil {
		return false
	}
	relay.Close()
	return true
}

func TestRotateSecretKeepsOldCredentialsForTheOverlap(t *testing.T) {
	f := newFixture(t, nil)
	const life = time.Hour
	before := f.credential(t, "alice", life) // signed with testSecret
	if err := f.srv.RotateSecret("the new secret", life); err != nil {
		t.Fatal(err)
	}
	f.clock.unix.Add(1)
	after, err := f.srv.Credentials("bob", life)
	if err != nil {
		t.Fatal(err)
	}
	if after.Password != restPassword("the new secret", after.Username) {
		t.Fatal("credentials issued after the rotation are not signed with the new secret")
	}
	if !f.allocates(t, before) {
		t.Fatal("a credential issued before the rotation was refused during the overlap")
	}
	if !f.allocates(t, after) {
		t.Fatal("a credential issued after the rotation was refused")
	}
	forgedOld := after
	forgedOld.Password = restPassword(testSecret, after.Username)
	if f.allocates(t, forgedOld) {
		t.Fatal("the old secret signed a credential that expires after the overlap")
	}
	// Past the overlap the old credential has expired anyway; the new one
	// still works.
	f.clock.unix.Add(int64(life/time.Second) - 10)
	if !f.allocates(t, after) {
		t.Fatal("the new credential was refused later on")
	}
	if err := f.srv.RotateSecret("", life); err == nil {
		t.Fatal("an empty secret was accepted")
	}
}

package muc

import (
	"os"
	"path/filepath"
	"testing"
)

func TestPersistentRoomSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	withDir := func(c *Config) { c.DataDir = dir }
	h := newHarness(t, withDir)
	room := h.room("keep")
	h.configure("owner@example.test/o", room, map[string]string{fieldPersistent: "1", fieldName: "Kept", fieldMembersOnly: "1"})
	h.admin("owner@example.test/o", room, "<item affiliation='member' jid='mem@example.test'/>")
	h.admin("owner@example.test/o", room, "<item affiliation='outcast' jid='bad@example.test'/>")
	h.send("<message type='groupchat' from='owner@example.test/o' to='%s'><subject>kept topic</subject></message>", room)
	h.room("temp")
	h.send("<presence type='unavailable' from='owner@example.test/o' to='%s/owner'/>", room)
	if _, ok := h.svc.Room("keep"); !ok {
		t.Fatal("persistent room vanished when emptied")
	}
	if err := h.svc.Close(); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.json"))
	if len(files) != 1 {
		t.Fatalf("want one room file, got %v", files)
	}

	h2 := newHarness(t, withDir)
	ri, ok := h2.svc.Room("keep")
	if !ok {
		t.Fatal("room not restored")
	}
	if ri.Config.Name != "Kept" || !ri.Config.MembersOnly || !ri.Config.Persistent || ri.Subject != "kept topic" || ri.Locked {
		t.Errorf("restored room = %+v", ri)
	}
	if ri.Affiliations[mustJID("owner@example.test")] != AffOwner || ri.Affiliations[mustJID("mem@example.test")] != AffMember {
		t.Errorf("affiliations = %v", ri.Affiliations)
	}
	if _, ok := h2.svc.Room("temp"); ok {
		t.Error("temporary room was restored")
	}
	// Its rules hold after the restart.
	expectError(t, h2.join("bad@example.test/x", room+"/bad", true), "bad@example.test/x", "forbidden")
	out := h2.join("mem@example.test/m", room+"/Mem", true)
	self := findSelfPresence(out, "mem@example.test/m")
	if self == nil || hasStatus(self, 201) {
		t.Fatalf("member join to restored room:\n%s", dump(out))
	}
	last := out[len(out)-1]
	if last.ChildText("", "subject") != "kept topic" {
		t.Errorf("subject = %s", last)
	}

	// Making it temporary removes the file; it then dies with its last occupant.
	h2.mustJoin("owner@example.test/o", room+"/owner")
	h2.configure("owner@example.test/o", room, map[string]string{fieldPersistent: "0"})
	h2.send("<presence type='unavailable' from='owner@example.test/o' to='%s/owner'/>", room)
	h2.send("<presence type='unavailable' from='mem@example.test/m' to='%s/Mem'/>", room)
	if _, ok := h2.svc.Room("keep"); ok {
		t.Error("room outlived its persistence")
	}
	h2.svc.Close()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 0 {
		t.Errorf("files left: %v", files)
	}
}

func TestDestroyRemovesRoomFile(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t, func(c *Config) {
		c.DataDir = dir
		c.DefaultRoomConfig = &RoomConfig{Persistent: true, Public: true}
	})
	room := h.room("perm")
	h.svc.Close() // flushes the pending write
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 1 {
		t.Fatalf("default-persistent room not saved: %v", files)
	}
	h = newHarness(t, func(c *Config) { c.DataDir = dir })
	h.send("<iq type='set' id='d' from='owner@example.test/o' to='%s'><query xmlns='%s'><destroy/></query></iq>", room, NSMUCOwner)
	if _, ok := h.svc.Room("perm"); ok {
		t.Fatal("destroyed room still there")
	}
	h.svc.Close()
	if files, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(files) != 0 {
		t.Errorf("destroyed room's file left: %v", files)
	}
}

func TestBadRoomFilesAreSkipped(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{
		"corrupt.json":   "{not json",
		"badname.json":   `{"name":"Not/Valid","config":{"persistent":true}}`,
		"temporary.json": `{"name":"temp","config":{"persistent":false}}`,
		"good.json":      `{"name":"good","config":{"persistent":true,"max_users":-5,"whois":"bogus"},"affiliations":{"a@example.test":"owner","@@":"member","b@example.test":"king"}}`,
		".tmp-123":       "leftover",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	h := newHarness(t, func(c *Config) { c.DataDir = dir })
	rooms := h.svc.Rooms()
	if len(rooms) != 1 || rooms[0].JID.Local != "good" {
		t.Fatalf("rooms = %+v", rooms)
	}
	if c := rooms[0].Config; c.MaxUsers != 0 || c.WhoIs != WhoIsModerators {
		t.Errorf("invalid values not sanitized: %+v", c)
	}
	if len(rooms[0].Affiliations) != 1 {
		t.Errorf("affiliations = %v", rooms[0].Affiliations)
	}
	if _, err := os.Stat(filepath.Join(dir, ".tmp-123")); !os.IsNotExist(err) {
		t.Error("leftover temporary file not cleaned")
	}
}

func TestUnusableDataDir(t *testing.T) {
	file := filepath.Join(t.TempDir(), "file")
	os.WriteFile(file, nil, 0o600)
	_, err := New(Config{Domain: testDomain, Router: &fakeRouter{}, DataDir: filepath.Join(file, "sub")})
	if _, ok := err.(*PersistError); !ok {
		t.Fatalf("err = %v, want *PersistError", err)
	}
}

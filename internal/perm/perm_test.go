package perm

import (
	"encoding/json"
	"errors"
	"testing"
)

func TestNamesRoundTrip(t *testing.T) {
	if len(All()) != 16 {
		t.Fatalf("%d permissions, want 16", len(All()))
	}
	for _, p := range All() {
		q, err := ParsePermission(p.String())
		if err != nil || q != p {
			t.Errorf("%v: parsed %v, %v", p, q, err)
		}
		if p.Description() == "" {
			t.Errorf("%v has no description", p)
		}
	}
	var ue *UnknownError
	if _, err := ParsePermission("fly"); !errors.As(err, &ue) || ue.Name != "fly" {
		t.Errorf("unknown permission: %v", err)
	}
}

func TestParseSet(t *testing.T) {
	s, err := Parse("join, chat publish_audio")
	if err != nil {
		t.Fatal(err)
	}
	if s != Of(Join, Chat, PublishAudio) || s.String() != "join publish_audio chat" {
		t.Errorf("got %v (%b)", s, s)
	}
	if _, err := Parse("join flying"); err == nil {
		t.Error("unknown name accepted")
	}
	b, _ := json.Marshal(s)
	if string(b) != `["join","publish_audio","chat"]` {
		t.Errorf("json %s", b)
	}
	var back Set
	if err := json.Unmarshal(b, &back); err != nil || back != s {
		t.Errorf("unmarshal %v %v", back, err)
	}
	if err := json.Unmarshal([]byte(`["nope"]`), &back); err == nil {
		t.Error("unknown name in JSON accepted")
	}
	if Full.Len() != 16 || Set(0).String() != "" {
		t.Errorf("Full %v", Full)
	}
}

func TestRolesDefaults(t *testing.T) {
	for _, r := range []Role{Owner, Moderator} {
		if ForRole(r) != Full {
			t.Errorf("%s: %v", r, ForRole(r))
		}
	}
	want := Of(Join, PublishAudio, PublishVideo, PublishScreen, Chat, PrivateChat)
	for _, r := range []Role{Participant, Guest} {
		if ForRole(r) != want {
			t.Errorf("%s: %v", r, ForRole(r))
		}
	}
	if ForRole(Viewer) != Of(Join, Chat) {
		t.Errorf("viewer: %v", ForRole(Viewer))
	}
	if ForRole("king") != 0 {
		t.Error("unknown role has permissions")
	}
	for _, r := range Roles() {
		if got, err := ParseRole(string(r)); err != nil || got != r {
			t.Errorf("ParseRole(%s) = %v %v", r, got, err)
		}
	}
	if _, err := ParseRole("king"); err == nil {
		t.Error("unknown role parsed")
	}
}

func TestOverrides(t *testing.T) {
	var o Overrides
	if err := json.Unmarshal([]byte(`{"publish_video": false, "record": true}`), &o); err != nil {
		t.Fatal(err)
	}
	got := o.Apply(ForRole(Participant))
	if got.Has(PublishVideo) || !got.Has(Record) || !got.Has(PublishAudio) {
		t.Errorf("applied: %v", got)
	}
	if o.String() != "+record -publish_video" {
		t.Errorf("String %q", o.String())
	}
	b, _ := json.Marshal(o)
	if string(b) != `{"publish_video":false,"record":true}` {
		t.Errorf("json %s", b)
	}
	later := Overrides{}
	later.Set(PublishVideo, true)
	both := o.Then(later)
	if s := both.Apply(0); !s.Has(PublishVideo) || !s.Has(Record) {
		t.Errorf("Then: %v", both)
	}
	if err := json.Unmarshal([]byte(`{"fly": true}`), &o); err == nil {
		t.Error("unknown permission in overrides accepted")
	}
	if !(Overrides{}).IsZero() {
		t.Error("zero overrides not zero")
	}
}

func TestDefaultsAndEffective(t *testing.T) {
	var d Defaults
	if err := json.Unmarshal([]byte(`{"guest": {"publish_video": false}, "viewer": {"private_chat": true}}`), &d); err != nil {
		t.Fatal(err)
	}
	if d.For(Guest).Has(PublishVideo) || !d.For(Participant).Has(PublishVideo) || !d.For(Viewer).Has(PrivateChat) {
		t.Errorf("defaults: %v", d)
	}
	token := Overrides{Grant: Of(PublishVideo)}
	mod := Overrides{Revoke: Of(PublishAudio)}
	s := Effective(Guest, d, token, mod)
	if !s.Has(PublishVideo) || s.Has(PublishAudio) {
		t.Errorf("effective %v", s)
	}
	if err := json.Unmarshal([]byte(`{"king": {}}`), &d); err == nil {
		t.Error("unknown role accepted")
	}
}

func TestMUCMapping(t *testing.T) {
	cases := []struct {
		aff, role string
		anon      bool
		want      Role
		ok        bool
	}{
		{"owner", "moderator", false, Owner, true},
		{"admin", "moderator", false, Moderator, true},
		{"none", "moderator", true, Moderator, true},
		{"member", "participant", false, Participant, true},
		{"none", "participant", false, Participant, true},
		{"none", "participant", true, Guest, true},
		{"member", "visitor", false, Viewer, true},
		{"none", "visitor", true, Viewer, true},
		{"outcast", "participant", false, "", false},
		{"member", "none", false, "", false},
	}
	for _, c := range cases {
		got, ok := FromMUC(c.aff, c.role, c.anon)
		if got != c.want || ok != c.ok {
			t.Errorf("FromMUC(%s,%s,%v) = %v %v, want %v", c.aff, c.role, c.anon, got, ok, c.want)
		}
	}
	// ToMUC then FromMUC gives the role back.
	for _, r := range Roles() {
		for _, lasting := range []bool{true, false} {
			aff, role := ToMUC(r, lasting)
			if aff == "" {
				aff = AffNone
			}
			got, ok := FromMUC(aff, role, r == Guest)
			if !ok || got != r {
				t.Errorf("%s lasting=%v → %s/%s → %v", r, lasting, aff, role, got)
			}
		}
	}
}

func TestRefusals(t *testing.T) {
	var r Refusals
	r.Add(Kick)
	r.Add(Kick)
	r.Add(PublishAudio)
	r.Add(Permission(99)) // ignored
	if r.Get(Kick) != 2 || r.Get(Chat) != 0 {
		t.Errorf("kick %d chat %d", r.Get(Kick), r.Get(Chat))
	}
	snap := r.Snapshot()
	if len(snap) != 2 || snap["kick"] != 2 || snap["publish_audio"] != 1 {
		t.Errorf("snapshot %v", snap)
	}
}

func TestDefaultsJSONRoundTrip(t *testing.T) {
	d := Defaults{Guest: {Revoke: Of(Join)}, Viewer: {Grant: Of(PrivateChat)}}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	if string(b) != `{"guest":{"join":false},"viewer":{"private_chat":true}}` {
		t.Errorf("json %s", b)
	}
	var back Defaults
	if err := json.Unmarshal(b, &back); err != nil || len(back) != 2 || back[Guest] != d[Guest] || back[Viewer] != d[Viewer] {
		t.Errorf("back %v %v", back, err)
	}
}

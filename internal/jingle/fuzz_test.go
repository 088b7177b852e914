package jingle

import (
	"reflect"
	"strings"
	"testing"
)

// FuzzParse feeds arbitrary XML to Parse. Whatever Parse accepts must
// survive Element → Parse unchanged, and whatever ToSDP then accepts must
// convert back with FromSDP and be stable from there on.
func FuzzParse(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Jingle)
	}
	for _, in := range loadInvalid(f) {
		if in.Kind == "jingle" || in.Kind == "tosdp" {
			f.Add(in.Input)
		}
	}
	f.Fuzz(func(t *testing.T, s string) {
		if len(s) > 64<<10 {
			return
		}
		el, err := decodeXML(s)
		if err != nil {
			return
		}
		j, err := Parse(el)
		if err != nil {
			return
		}
		el2, err := decodeXML(j.Element().String())
		if err != nil {
			t.Fatalf("Element output is not XML: %v", err)
		}
		back, err := Parse(el2)
		if err != nil {
			t.Fatalf("Parse refuses Element output: %v\n%s", err, j.Element())
		}
		if j.Reason != nil { // the serializer does not escape CR in text
			j.Reason.Text = strings.ReplaceAll(strings.ReplaceAll(j.Reason.Text, "\r\n", "\n"), "\r", "\n")
		}
		if !reflect.DeepEqual(back, j) {
			t.Fatalf("Element round trip:\n got %s\nwant %s", dump(back), dump(j))
		}
		for _, role := range []Role{RoleInitiator, RoleResponder} {
			checkSDPStable(t, j, role)
		}
	})
}

// checkSDPStable: if ToSDP accepts j, FromSDP accepts the result, and one
// more round changes nothing.
func checkSDPStable(t *testing.T, j *Jingle, role Role) {
	s1, err := ToSDP(j, role)
	if err != nil {
		return
	}
	j2, err := FromSDP(s1, role)
	if err != nil {
		t.Fatalf("FromSDP refuses ToSDP output: %v\n%s", err, s1)
	}
	s2, err := ToSDP(j2, role)
	if err != nil {
		t.Fatalf("ToSDP refuses FromSDP output: %v\n%s", err, s1)
	}
	n1, err1 := normalizeSDP(s1)
	n2, err2 := normalizeSDP(s2)
	if err1 != nil || err2 != nil || !reflect.DeepEqual(n1, n2) {
		t.Fatalf("SDP changed through Jingle:\n%s\n---\n%s", s1, s2)
	}
	j3, err := FromSDP(s2, role)
	if err != nil || !reflect.DeepEqual(j3, j2) {
		t.Fatalf("second round differs: %v\n%s\n%s", err, dump(j3), dump(j2))
	}
}

// FuzzFromSDP feeds arbitrary text to FromSDP. Whatever it accepts must be a
// valid Jingle element that Parse reads back unchanged, and must convert to
// SDP and back to the same Jingle.
func FuzzFromSDP(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.SDP, v.Role == "responder")
	}
	for _, in := range loadInvalid(f) {
		if in.Kind == "sdp" || in.Kind == "candidate" {
			f.Add(in.Input, false)
		}
	}
	f.Fuzz(func(t *testing.T, s string, responder bool) {
		role := RoleInitiator
		if responder {
			role = RoleResponder
		}
		j, err := FromSDP(s, role)
		if err != nil {
			return
		}
		j.Action, j.SID = ActionSessionInitiate, "fuzz"
		el, err := decodeXML(j.Element().String())
		if err != nil {
			t.Fatalf("Element output is not XML: %v", err)
		}
		back, err := Parse(el)
		if err != nil {
			t.Fatalf("Parse refuses Element output: %v\n%s", err, j.Element())
		}
		if !reflect.DeepEqual(back, j) {
			t.Fatalf("Element round trip:\n got %s\nwant %s", dump(back), dump(j))
		}
		s2, err := ToSDP(j, role)
		if err != nil {
			t.Fatalf("ToSDP refuses FromSDP output: %v", err)
		}
		j2, err := FromSDP(s2, role)
		if err != nil {
			t.Fatalf("FromSDP refuses ToSDP output: %v\n%s", err, s2)
		}
		j2.Action, j2.SID = j.Action, j.SID
		if !reflect.DeepEqual(j2, j) {
			t.Fatalf("SDP round trip:\n got %s\nwant %s\n%s", dump(j2), dump(j), s2)
		}
	})
}

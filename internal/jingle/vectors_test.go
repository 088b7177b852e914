package jingle

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pion/sdp/v3"
)

func parseVector(t *testing.T, v vector) *Jingle {
	t.Helper()
	el, err := decodeXML(v.Jingle)
	if err != nil {
		t.Fatalf("vector XML: %v", err)
	}
	j, err := Parse(el)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return j
}

func mustNormalize(t *testing.T, what, s string) normSDP {
	t.Helper()
	n, err := normalizeSDP(s)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return n
}

// diffNorm reports the first difference between two normalized SDPs.
func diffNorm(t *testing.T, got, want normSDP) {
	t.Helper()
	if !reflect.DeepEqual(got.Bundle, want.Bundle) {
		t.Errorf("BUNDLE %v, want %v", got.Bundle, want.Bundle)
	}
	if len(got.Media) != len(want.Media) {
		t.Fatalf("%d m-lines, want %d", len(got.Media), len(want.Media))
	}
	for i := range want.Media {
		g, w := got.Media[i], want.Media[i]
		if g.Mid != w.Mid {
			t.Errorf("m-line %d: mid %q, want %q", i, g.Mid, w.Mid)
			continue
		}
		gs, ws := setOf(g.Items), setOf(w.Items)
		for _, it := range w.Items {
			if !gs[it] {
				t.Errorf("mid %s: missing %q", w.Mid, it)
			}
		}
		for _, it := range g.Items {
			if !ws[it] {
				t.Errorf("mid %s: unexpected %q", w.Mid, it)
			}
		}
		if len(g.Items) != len(w.Items) && !t.Failed() {
			t.Errorf("mid %s: duplicated items: %q vs %q", w.Mid, g.Items, w.Items)
		}
	}
}

func setOf(items []string) map[string]bool {
	m := make(map[string]bool, len(items))
	for _, it := range items {
		m[it] = true
	}
	return m
}

// TestVectorsJingleToSDP: each vector's Jingle translates to its SDP, and
// pion, which the SFU runs, accepts the result.
func TestVectorsJingleToSDP(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			got, err := ToSDP(parseVector(t, v), v.role(t))
			if err != nil {
				t.Fatalf("ToSDP: %v", err)
			}
			diffNorm(t, mustNormalize(t, "ToSDP output", got), mustNormalize(t, "vector SDP", v.SDP))
			var sd sdp.SessionDescription
			if err := sd.UnmarshalString(got); err != nil {
				t.Fatalf("pion cannot parse the output: %v\n%s", err, got)
			}
			if len(sd.MediaDescriptions) != len(parseVector(t, v).Contents) {
				t.Errorf("pion sees %d m-lines", len(sd.MediaDescriptions))
			}
		})
	}
}

// TestVectorsSDPToJingle: each vector's SDP translates to its Jingle, less
// what SDP cannot say (see canonical).
func TestVectorsSDPToJingle(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			got, err := FromSDP(v.SDP, v.role(t))
			if err != nil {
				t.Fatalf("FromSDP: %v", err)
			}
			compareJingle(t, got, canonical(parseVector(t, v)))
		})
	}
}

// TestVectorsSDPRoundTrip: SDP → Jingle → SDP keeps every media field.
func TestVectorsSDPRoundTrip(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			j, err := FromSDP(v.SDP, v.role(t))
			if err != nil {
				t.Fatalf("FromSDP: %v", err)
			}
			back, err := ToSDP(j, v.role(t))
			if err != nil {
				t.Fatalf("ToSDP: %v", err)
			}
			diffNorm(t, mustNormalize(t, "round trip", back), mustNormalize(t, "vector SDP", v.SDP))
		})
	}
}

// TestVectorsJingleRoundTrip: Jingle → SDP → Jingle keeps all SDP can carry.
func TestVectorsJingleRoundTrip(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			j := parseVector(t, v)
			s, err := ToSDP(j, v.role(t))
			if err != nil {
				t.Fatalf("ToSDP: %v", err)
			}
			back, err := FromSDP(s, v.role(t))
			if err != nil {
				t.Fatalf("FromSDP of ToSDP output: %v\n%s", err, s)
			}
			compareJingle(t, back, canonical(j))
		})
	}
}

// TestVectorsElementRoundTrip: Parse → Element → Parse is the identity.
func TestVectorsElementRoundTrip(t *testing.T) {
	for _, v := range loadVectors(t) {
		t.Run(v.Name, func(t *testing.T) {
			j := parseVector(t, v)
			el, err := decodeXML(j.Element().String())
			if err != nil {
				t.Fatalf("Element output: %v", err)
			}
			back, err := Parse(el)
			if err != nil {
				t.Fatalf("Parse of Element output: %v", err)
			}
			if !reflect.DeepEqual(back, j) {
				t.Fatalf("round trip differs:\n got %+v\nwant %+v", back, j)
			}
		})
	}
}

// compareJingle compares the group and contents, ignoring candidate ids,
// which SDP does not carry.
func compareJingle(t *testing.T, got, want *Jingle) {
	t.Helper()
	clearIDs(got)
	clearIDs(want)
	if !reflect.DeepEqual(got.Group, want.Group) {
		t.Errorf("group %+v, want %+v", got.Group, want.Group)
	}
	if len(got.Contents) != len(want.Contents) {
		t.Fatalf("%d contents, want %d", len(got.Contents), len(want.Contents))
	}
	for i := range want.Contents {
		g, w := got.Contents[i], want.Contents[i]
		if !reflect.DeepEqual(g, w) {
			t.Errorf("content %q differs:\n got %s\nwant %s", w.Name, g.describe(), w.describe())
		}
	}
}

func (c Content) describe() string {
	var b strings.Builder
	b.WriteString(c.Element().String())
	return b.String()
}

func clearIDs(j *Jingle) {
	for i := range j.Contents {
		if t := j.Contents[i].Transport; t != nil {
			for k := range t.Candidates {
				t.Candidates[k].ID = ""
			}
		}
	}
}

// canonical is the Jingle that j becomes through SDP, by the losses the
// package documents. It is written apart from the package's code on purpose.
func canonical(in *Jingle) *Jingle {
	j := &Jingle{}
	names := map[string]bool{}
	for _, c := range in.Contents {
		names[c.Name] = true
	}
	if in.Group != nil && in.Group.Semantics == "BUNDLE" {
		g := &Group{Semantics: in.Group.Semantics, Contents: []string{}}
		for _, n := range in.Group.Contents {
			if names[n] {
				g.Contents = append(g.Contents, n)
			}
		}
		if len(g.Contents) > 0 {
			j.Group = g
		}
	}
	for _, c := range in.Contents {
		out := Content{Creator: SendersInitiator, Name: c.Name, Senders: c.Senders}
		if out.Senders == "" {
			out.Senders = SendersBoth
		}
		out.Transport = canonicalTransport(in, c)
		if out.Transport.SCTP != nil {
			out.Senders = SendersBoth
			out.Description = &RTPDescription{Media: "application"}
		} else {
			out.Description = canonicalDescription(c.Description)
		}
		j.Contents = append(j.Contents, out)
	}
	return j
}

func canonicalTransport(j *Jingle, c Content) *ICETransport {
	t := &ICETransport{}
	if c.Transport != nil {
		t.Ufrag, t.Pwd, t.SCTP = c.Transport.Ufrag, c.Transport.Pwd, c.Transport.SCTP
		t.Fingerprints = append([]Fingerprint(nil), c.Transport.Fingerprints...)
		t.Candidates = append([]Candidate(nil), c.Transport.Candidates...)
	}
	if j.Group != nil && j.Group.Semantics == "BUNDLE" && contains(j.Group.Contents, c.Name) {
		for _, n := range j.Group.Contents {
			for _, o := range j.Contents {
				if o.Name != n || o.Transport == nil {
					continue
				}
				if t.Ufrag == "" && o.Transport.Ufrag != "" {
					t.Ufrag, t.Pwd = o.Transport.Ufrag, o.Transport.Pwd
				}
				if len(t.Fingerprints) == 0 {
					t.Fingerprints = append(t.Fingerprints, o.Transport.Fingerprints...)
				}
			}
		}
	}
	setup := ""
	for _, fp := range t.Fingerprints {
		if setup == "" {
			setup = fp.Setup
		}
	}
	for i := range t.Fingerprints {
		t.Fingerprints[i].Setup = setup
		t.Fingerprints[i].Hash = strings.ToLower(t.Fingerprints[i].Hash)
	}
	if t.SCTP != nil {
		m := *t.SCTP
		m.Streams = 0
		if m.Protocol == "" {
			m.Protocol = "webrtc-datachannel"
		}
		t.SCTP = &m
	}
	return t
}

func canonicalDescription(in *RTPDescription) *RTPDescription {
	d := *in
	d.SSRC = ""
	d.PayloadTypes = nil
	var ptime, maxptime uint32
	for _, pt := range in.PayloadTypes {
		if ptime == 0 {
			ptime = pt.PTime
		}
		if maxptime == 0 {
			maxptime = pt.MaxPTime
		}
	}
	for _, pt := range in.PayloadTypes {
		pt.PTime, pt.MaxPTime = ptime, maxptime
		if pt.ClockRate == 0 {
			pt.Name = "" // a static payload type without a=rtpmap
		}
		d.PayloadTypes = append(d.PayloadTypes, pt)
	}
	d.HeaderExtensions = nil
	for _, ext := range in.HeaderExtensions {
		if ext.Senders == SendersBoth {
			ext.Senders = ""
		}
		d.HeaderExtensions = append(d.HeaderExtensions, ext)
	}
	msid := ""
	for _, s := range in.Sources {
		for _, p := range s.Parameters {
			if p.Name == "msid" && msid == "" {
				msid = p.Value
			}
		}
	}
	d.Sources = nil
	for _, s := range in.Sources {
		if len(s.Parameters) == 0 {
			continue
		}
		s.Parameters = append([]Parameter(nil), s.Parameters...)
		if msid != "" && !hasParam(s.Parameters, "msid") {
			s.Parameters = append(s.Parameters, Parameter{"msid", msid})
		}
		d.Sources = append(d.Sources, s)
	}
	return &d
}

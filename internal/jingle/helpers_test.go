package jingle

import (
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"parley.dev/parley/internal/xmlstream"
)

// decodeXML parses one element with encoding/xml. The tests use it rather
// than the stream decoder so that they depend only on xmlstream.Element.
func decodeXML(s string) (*xmlstream.Element, error) {
	d := xml.NewDecoder(strings.NewReader(s))
	var stack []*xmlstream.Element
	var root *xmlstream.Element
	for {
		tok, err := d.Token()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if root != nil && len(stack) == 0 {
				return nil, errors.New("more than one root element")
			}
			el := &xmlstream.Element{Space: t.Name.Space, Name: t.Name.Local}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "xmlns" || (a.Name.Space == "" && a.Name.Local == "xmlns"):
				case a.Name.Space == xmlstream.NSXML:
					el.Attrs = append(el.Attrs, xmlstream.Attr{Name: "xml:" + a.Name.Local, Value: a.Value})
				default:
					el.Attrs = append(el.Attrs, xmlstream.Attr{Name: a.Name.Local, Value: a.Value})
				}
			}
			if len(stack) > 0 {
				stack[len(stack)-1].Add(el)
			} else {
				root = el
			}
			stack = append(stack, el)
		case xml.EndElement:
			stack = stack[:len(stack)-1]
		case xml.CharData:
			if len(stack) > 0 {
				stack[len(stack)-1].Text += string(t)
			}
		}
	}
	if root == nil {
		return nil, errors.New("no element")
	}
	return root, nil
}

// vector is one file of testdata/vectors: a Jingle element and the SDP it
// stands for, as seen from Role's side. jingle.js reads the same files.
type vector struct {
	Name   string `json:"name"`
	Source string `json:"source"`
	Role   string `json:"role"`
	Jingle string `json:"jingle"`
	SDP    string `json:"sdp"`
}

func (v vector) role(t *testing.T) Role {
	switch v.Role {
	case "initiator":
		return RoleInitiator
	case "responder":
		return RoleResponder
	}
	t.Fatalf("%s: bad role %q", v.Name, v.Role)
	return 0
}

func loadVectors(t testing.TB) []vector {
	t.Helper()
	files, err := filepath.Glob("testdata/vectors/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no vectors: %v", err)
	}
	var out []vector
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var v vector
		if err := json.Unmarshal(b, &v); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if v.Name == "" || v.Source == "" || v.Jingle == "" || v.SDP == "" {
			t.Fatalf("%s: incomplete vector", f)
		}
		out = append(out, v)
	}
	return out
}

// invalidInput is one entry of testdata/invalid.json: input both Go and
// jingle.js must refuse with the given condition.
type invalidInput struct {
	Name      string `json:"name"`
	Kind      string `json:"kind"` // "jingle", "sdp" or "candidate"
	Input     string `json:"input"`
	Condition string `json:"condition"`
}

func loadInvalid(t testing.TB) []invalidInput {
	t.Helper()
	b, err := os.ReadFile("testdata/invalid.json")
	if err != nil {
		t.Fatal(err)
	}
	var out []invalidInput
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return out
}

// normSDP is an SDP reduced to what matters for media, in a canonical form,
// so that two SDPs that mean the same compare equal. It is written apart
// from FromSDP on purpose, and web/test/jingle.test.mjs has the same rules:
//   - the BUNDLE group's mids; per m-line, its mid and a sorted list of items
//     (a=rid and a=simulcast among them, as written);
//   - session-level ICE credentials, fingerprints, setup and
//     extmap-allow-mixed count for every m-line that lacks its own;
//   - m-lines with port 0 that are not bundle-only are left out;
//   - ports, proto, o=, c=, a=rtcp, a=rtcp-rsize, a=ice-options, a=msid-semantic,
//     candidate ufrag and network-cost, extmap extension attributes are ignored;
//   - a=msid (else the first a=ssrc msid) is given to the SSRCs that lack one;
//   - fmtp parameters are sorted; "/1" channels and "generation 0" are implied.
type normSDP struct {
	Bundle []string
	Media  []normMedia
}

type normMedia struct {
	Mid   string
	Items []string
}

func normalizeSDP(sdp string) (normSDP, error) {
	var out normSDP
	var session []string
	var raw [][]string
	for _, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(strings.TrimSuffix(line, "\r"), " ")
		switch {
		case line == "":
		case strings.HasPrefix(line, "m="):
			raw = append(raw, []string{line})
		case len(raw) == 0:
			session = append(session, line)
		default:
			raw[len(raw)-1] = append(raw[len(raw)-1], line)
		}
	}
	sessionAttrs, _ := attrMap(session)
	var bundle []string
	for _, v := range sessionAttrs["group"] {
		if f := strings.Fields(v); len(f) > 0 && f[0] == "BUNDLE" && bundle == nil {
			bundle = f[1:]
		}
	}
	var secs []*normSection
	byMid := map[string]*normSection{}
	for _, r := range raw {
		sec, err := newNormSection(r, sessionAttrs)
		if err != nil {
			return out, err
		}
		if sec != nil {
			secs = append(secs, sec)
			byMid[sec.mid] = sec
		}
	}
	for _, mid := range bundle {
		if byMid[mid] != nil {
			out.Bundle = append(out.Bundle, mid)
		}
	}
	lendBundleTransport(secs, byMid, out.Bundle)
	for _, sec := range secs {
		out.Media = append(out.Media, normMedia{Mid: sec.mid, Items: sec.items()})
	}
	return out, nil
}

// normSection is one m-line being normalized.
type normSection struct {
	mline     []string
	mid       string
	attrs     map[string][]string
	order     []string            // attribute names in order
	transport map[string][]string // ice-ufrag, ice-pwd, fingerprint, setup, after session fallback
	mixed     bool                // extmap-allow-mixed at media or session level
}

func attrMap(lines []string) (map[string][]string, []string) {
	attrs := map[string][]string{}
	var order []string
	for _, l := range lines {
		if v, ok := strings.CutPrefix(l, "b="); ok {
			attrs["b"] = append(attrs["b"], v)
			continue
		}
		if a, ok := strings.CutPrefix(l, "a="); ok {
			name, value, _ := strings.Cut(a, ":")
			attrs[name] = append(attrs[name], value)
			order = append(order, name)
		}
	}
	return attrs, order
}

// newNormSection returns nil for a rejected m-line (port 0, not bundle-only).
func newNormSection(lines []string, session map[string][]string) (*normSection, error) {
	sec := &normSection{mline: strings.Fields(strings.TrimPrefix(lines[0], "m=")), transport: map[string][]string{}}
	if len(sec.mline) < 3 {
		return nil, errors.New("bad m-line " + lines[0])
	}
	sec.attrs, sec.order = attrMap(lines[1:])
	if sec.mline[1] == "0" && sec.attrs["bundle-only"] == nil {
		return nil, nil
	}
	if len(sec.attrs["mid"]) != 1 {
		return nil, errors.New("m-line without one a=mid")
	}
	sec.mid = sec.attrs["mid"][0]
	for _, name := range []string{"ice-ufrag", "ice-pwd", "fingerprint", "setup"} {
		if v := sec.attrs[name]; v != nil {
			sec.transport[name] = v
		} else if v := session[name]; v != nil {
			sec.transport[name] = v
		}
	}
	sec.mixed = sec.attrs["extmap-allow-mixed"] != nil || session["extmap-allow-mixed"] != nil
	return sec, nil
}

// lendBundleTransport gives bundled m-lines without ICE credentials the
// first bundled m-line's that has them, and likewise fingerprints (RFC 8843).
func lendBundleTransport(secs []*normSection, byMid map[string]*normSection, bundle []string) {
	for _, sec := range secs {
		if !contains(bundle, sec.mid) {
			continue
		}
		t := sec.transport
		for _, mid := range bundle {
			lender := byMid[mid].transport
			if t["ice-ufrag"] == nil && lender["ice-ufrag"] != nil {
				t["ice-ufrag"], t["ice-pwd"] = lender["ice-ufrag"], lender["ice-pwd"]
			}
			if t["fingerprint"] == nil && lender["fingerprint"] != nil {
				t["fingerprint"], t["setup"] = lender["fingerprint"], lender["setup"]
			}
		}
	}
}

func (sec *normSection) items() []string {
	var items []string
	add := func(s ...string) { items = append(items, strings.Join(s, " ")) }
	for _, name := range []string{"ice-ufrag", "ice-pwd"} {
		for _, v := range sec.transport[name] {
			add(name, v)
		}
	}
	fps := sec.transport["fingerprint"]
	for _, v := range fps {
		f := strings.Fields(v)
		add("fingerprint", strings.ToLower(f[0]), f[1])
	}
	if len(fps) > 0 {
		for _, v := range sec.transport["setup"] {
			add("setup", v)
		}
	}
	for _, v := range sec.attrs["candidate"] {
		add("candidate", normalizeCandidate(v))
	}
	if sec.attrs["rtcp-mux"] != nil {
		add("rtcp-mux")
	}
	if sec.mline[0] == "application" {
		add("m application")
		for _, v := range sec.attrs["sctp-port"] {
			add("sctp-port", v)
		}
		for _, v := range sec.attrs["sctpmap"] {
			add("sctp-port", strings.Fields(v)[0])
		}
	} else {
		add("m", sec.mline[0], strings.Join(sec.mline[3:], " "))
		items = append(items, normalizeRTP(sec.attrs, sec.order, sec.mixed)...)
	}
	sort.Strings(items)
	return items
}

func normalizeRTP(attrs map[string][]string, order []string, allowMixed bool) []string {
	var items []string
	dir := "sendrecv"
	for _, name := range order {
		switch name {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			dir = name
		}
	}
	items = append(items, "dir "+dir)
	if allowMixed {
		items = append(items, "extmap-allow-mixed")
	}
	for _, v := range attrs["rtpmap"] {
		items = append(items, "rtpmap "+strings.TrimSuffix(v, "/1"))
	}
	for _, v := range attrs["fmtp"] {
		pt, params, _ := strings.Cut(v, " ")
		var ps []string
		for _, p := range strings.Split(params, ";") {
			if p = strings.TrimSpace(p); p != "" {
				ps = append(ps, p)
			}
		}
		sort.Strings(ps)
		items = append(items, "fmtp "+pt+" "+strings.Join(ps, ";"))
	}
	for _, v := range attrs["rtcp-fb"] {
		items = append(items, "rtcp-fb "+strings.Join(strings.Fields(v), " "))
	}
	for _, v := range attrs["extmap"] {
		f := strings.Fields(v)
		id := strings.TrimSuffix(f[0], "/sendrecv")
		items = append(items, "extmap "+id+" "+f[1])
	}
	for _, name := range []string{"ptime", "maxptime", "b"} {
		for _, v := range attrs[name] {
			items = append(items, name+" "+v)
		}
	}
	for _, v := range attrs["ssrc-group"] {
		items = append(items, "ssrc-group "+strings.Join(strings.Fields(v), " "))
	}
	for _, name := range []string{"rid", "simulcast"} {
		for _, v := range attrs[name] {
			items = append(items, name+" "+strings.Join(strings.Fields(v), " "))
		}
	}
	var msid string
	if v := attrs["msid"]; v != nil {
		msid = strings.Join(strings.Fields(v[0]), " ")
	}
	hasMsid := map[string]bool{}
	var ssrcs []string
	for _, v := range attrs["ssrc"] {
		id, attr, _ := strings.Cut(v, " ")
		if !contains(ssrcs, id) {
			ssrcs = append(ssrcs, id)
		}
		name, value, hasValue := strings.Cut(attr, ":")
		if name == "msid" {
			hasMsid[id] = true
		}
		if hasValue {
			items = append(items, "ssrc "+id+" "+name+":"+strings.Join(strings.Fields(value), " "))
		} else {
			items = append(items, "ssrc "+id+" "+name)
		}
	}
	if msid == "" {
		for _, v := range attrs["ssrc"] {
			if _, value, ok := strings.Cut(v, " msid:"); ok {
				msid = strings.Join(strings.Fields(value), " ")
				break
			}
		}
	}
	for _, id := range ssrcs {
		if msid != "" && !hasMsid[id] {
			items = append(items, "ssrc "+id+" msid:"+msid)
		}
	}
	return items
}

// normalizeCandidate keeps what ICE uses, with "generation 0" implied.
func normalizeCandidate(v string) string {
	f := strings.Fields(v)
	if len(f) < 8 {
		return v
	}
	f[2] = strings.ToLower(f[2])
	out := f[:8]
	ext := map[string]string{"generation": "0"}
	for i := 8; i+1 < len(f); i += 2 {
		ext[f[i]] = f[i+1]
	}
	for _, k := range []string{"raddr", "rport", "tcptype", "generation", "network-id"} {
		if v, ok := ext[k]; ok && !(k == "network-id" && v == "0") {
			out = append(out, k, v)
		}
	}
	return strings.Join(out, " ")
}

// dump renders a value as JSON for failure messages.
func dump(v any) string {
	b, _ := json.MarshalIndent(v, "", " ")
	return string(b)
}

package jingle

import (
	"strconv"
	"strings"
)

// mediaReader fills an RTPDescription from one m-line's attributes.
type mediaReader struct {
	d        *RTPDescription // the description being filled; owned by the FromSDP call
	role     Role            // whose SDP this is, for extmap directions
	msid     string          // the m-line's a=msid, given to sources that lack one
	ptime    uint32
	maxptime uint32
}

func (r *mediaReader) payloadType(s string) (*PayloadType, string, error) {
	id, rest, _ := strings.Cut(s, " ")
	n, err := parseUint(id, 7, "payload type")
	if err != nil {
		return nil, "", err
	}
	for i := range r.d.PayloadTypes {
		if r.d.PayloadTypes[i].ID == uint8(n) {
			return &r.d.PayloadTypes[i], rest, nil
		}
	}
	return nil, rest, nil // a line for a format the m-line does not list: ignored
}

func (r *mediaReader) attr(a sdpAttr) error {
	switch a.name {
	case "rtpmap":
		return r.rtpmap(a.value)
	case "fmtp":
		return r.fmtp(a.value)
	case "rtcp-fb":
		return r.rtcpFB(a.value)
	case "extmap":
		return r.extmap(a.value)
	case "rtcp-mux":
		r.d.RTCPMux = true
	case "ssrc":
		return r.ssrc(a.value)
	case "ssrc-group":
		return r.ssrcGroup(a.value)
	case "rid":
		return r.rid(a.value)
	case "simulcast":
		return r.simulcast(a.value)
	case "msid":
		if r.msid == "" {
			r.msid = strings.Join(fields(a.value), " ")
		}
	case "ptime", "maxptime":
		v, err := parseUint(a.value, 32, a.name)
		if a.name == "ptime" {
			r.ptime = uint32(v)
		} else {
			r.maxptime = uint32(v)
		}
		return err
	}
	return nil
}

func (r *mediaReader) rtpmap(v string) error {
	pt, rest, err := r.payloadType(v)
	if err != nil || pt == nil {
		return err
	}
	parts := strings.Split(trimSpace(rest), "/")
	if len(parts) < 2 || len(parts) > 3 || parts[0] == "" {
		return badRequest("malformed rtpmap %q", v)
	}
	rate, err := parseUint(parts[1], 32, "clock rate")
	if err != nil {
		return err
	}
	if rate == 0 {
		return badRequest("rtpmap %q: clock rate 0", v)
	}
	pt.Name, pt.ClockRate, pt.Channels = parts[0], uint32(rate), 0
	if len(parts) == 3 {
		ch, err := parseUint(parts[2], 8, "channels")
		if err != nil {
			return err
		}
		pt.Channels = uint8(ch)
	}
	return nil
}

func (r *mediaReader) fmtp(v string) error {
	pt, rest, err := r.payloadType(v)
	if err != nil || pt == nil {
		return err
	}
	for _, p := range strings.Split(rest, ";") {
		p = trimSpace(p)
		if p == "" {
			continue
		}
		name, value, _ := strings.Cut(p, "=")
		pt.Parameters = append(pt.Parameters, Parameter{Name: trimSpace(name), Value: trimSpace(value)})
	}
	return nil
}

func (r *mediaReader) rtcpFB(v string) error {
	f := fields(v)
	if len(f) < 2 {
		return badRequest("malformed rtcp-fb %q", v)
	}
	fb := Feedback{Type: f[1], Subtype: strings.Join(f[2:], " ")}
	if fb.Type == FeedbackTRRInt {
		v, err := parseUint(fb.Subtype, 32, "trr-int")
		if err != nil {
			return err
		}
		fb.Subtype = strconv.FormatUint(v, 10) // as Parse reads the element
	}
	if f[0] == "*" {
		r.d.Feedback = append(r.d.Feedback, fb)
		return nil
	}
	pt, _, err := r.payloadType(f[0])
	if pt != nil {
		pt.Feedback = append(pt.Feedback, fb)
	}
	return err
}

// rid reads "a=rid:ID send|recv [params]" (RFC 8851).
func (r *mediaReader) rid(v string) error {
	f := fields(v)
	if len(f) < 2 || len(f) > 3 || !validRID(f[0]) || (f[1] != "send" && f[1] != "recv") {
		return badRequest("malformed rid %q", v)
	}
	rid := RID{ID: f[0], Senders: sendersOf(f[1]+"only", r.role)}
	if len(f) == 3 {
		rid.Params = f[2]
	}
	r.d.RIDs = append(r.d.RIDs, rid)
	return nil
}

// simulcast reads "a=simulcast:send LIST [recv LIST]" (RFC 8853).
func (r *mediaReader) simulcast(v string) error {
	f := fields(v)
	if len(f) != 2 && len(f) != 4 {
		return badRequest("malformed simulcast %q", v)
	}
	for i := 0; i < len(f); i += 2 {
		if (f[i] != "send" && f[i] != "recv") || !validLayers(f[i+1]) {
			return badRequest("malformed simulcast %q", v)
		}
		r.d.Simulcast = append(r.d.Simulcast, Simulcast{Senders: sendersOf(f[i]+"only", r.role), Layers: f[i+1]})
	}
	return nil
}

func (r *mediaReader) extmap(v string) error {
	f := fields(v)
	if len(f) < 2 {
		return badRequest("malformed extmap %q", v)
	}
	id, dir, hasDir := strings.Cut(f[0], "/")
	n, err := parseUint(id, 16, "extmap id")
	if err != nil {
		return err
	}
	ext := HeaderExtension{ID: uint16(n), URI: f[1]}
	if hasDir {
		switch dir {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			ext.Senders = sendersOf(dir, r.role)
		default:
			return badRequest("bad extmap direction %q", dir)
		}
	}
	if ext.Senders == SendersBoth {
		ext.Senders = ""
	}
	r.d.HeaderExtensions = append(r.d.HeaderExtensions, ext)
	return nil
}

func (r *mediaReader) ssrc(v string) error {
	id, attr, ok := strings.Cut(v, " ")
	n, err := parseUint(id, 32, "ssrc")
	if err != nil {
		return err
	}
	attr = trimSpace(attr)
	if !ok || attr == "" {
		return badRequest("a=ssrc:%s without attribute", id)
	}
	name, value, _ := strings.Cut(attr, ":")
	p := Parameter{Name: name, Value: strings.Join(fields(value), " ")}
	for i := range r.d.Sources {
		if r.d.Sources[i].SSRC == uint32(n) {
			r.d.Sources[i].Parameters = append(r.d.Sources[i].Parameters, p)
			return nil
		}
	}
	r.d.Sources = append(r.d.Sources, Source{SSRC: uint32(n), Parameters: []Parameter{p}})
	return nil
}

func (r *mediaReader) ssrcGroup(v string) error {
	f := fields(v)
	if len(f) < 2 {
		return badRequest("malformed ssrc-group %q", v)
	}
	g := SourceGroup{Semantics: f[0]}
	for _, s := range f[1:] {
		n, err := parseUint(s, 32, "ssrc-group ssrc")
		if err != nil {
			return err
		}
		g.SSRCs = append(g.SSRCs, uint32(n))
	}
	r.d.SourceGroups = append(r.d.SourceGroups, g)
	return nil
}

// finish applies the m-line-wide values: the msid to sources without their
// own (in Unified Plan every SSRC of an m-line, RTX and FEC included, belongs
// to its one track; the msid is a=msid, else the first a=ssrc msid), a=ptime
// and a=maxptime to every payload type.
func (r *mediaReader) finish() {
	for _, s := range r.d.Sources {
		for _, p := range s.Parameters {
			if r.msid == "" && p.Name == "msid" {
				r.msid = p.Value
			}
		}
	}
	for i := range r.d.Sources {
		s := &r.d.Sources[i]
		if r.msid != "" && !hasParam(s.Parameters, "msid") {
			s.Parameters = append(s.Parameters, Parameter{Name: "msid", Value: r.msid})
		}
	}
	for i := range r.d.PayloadTypes {
		r.d.PayloadTypes[i].PTime = r.ptime
		r.d.PayloadTypes[i].MaxPTime = r.maxptime
	}
}

func hasParam(ps []Parameter, name string) bool {
	for _, p := range ps {
		if p.Name == name {
			return true
		}
	}
	return false
}

// asciiLower lower-cases ASCII letters only, as jingle.js does.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if c >= 'A' && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// validRID checks a rid id: 1 to 16 letters, digits, '-' or '_'.
func validRID(id string) bool {
	if id == "" || len(id) > 16 {
		return false
	}
	for i := 0; i < len(id); i++ {
		b := id[i]
		if !(b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9' || b == '-' || b == '_') {
			return false
		}
	}
	return true
}

// validLayers checks an a=simulcast rid list: rids, each maybe paused
// ('~'), separated by ';' (layers) or ',' (alternatives).
func validLayers(s string) bool {
	for _, layer := range strings.Split(s, ";") {
		for _, alt := range strings.Split(layer, ",") {
			if !validRID(strings.TrimPrefix(alt, "~")) {
				return false
			}
		}
	}
	return true
}

// ridSenders checks the senders of a rid or simulcast direction.
func ridSenders(s string) bool { return s == SendersInitiator || s == SendersResponder }

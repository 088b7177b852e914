package jingle

import (
	"strings"
	"unicode/utf8"
)

// MaxSDPSize bounds the SDP FromSDP accepts. Browser offers are a few KiB;
// a conference SDP with hundreds of sources stays well below.
const MaxSDPSize = 512 << 10

// FromSDP reads a session description written by role's side and returns
// its Jingle form: Contents (creator "initiator") and the BUNDLE Group.
// Action, SID, Initiator and Responder are left for the caller.
//
// Session-level ICE credentials, fingerprint, setup and extmap-allow-mixed
// apply to every m-line that lacks its own; an m-line of the BUNDLE group
// that still lacks credentials or fingerprint has the group's (as ToSDP). An m-line with port 0 is a
// rejected or stopped one and is skipped, unless it is a=bundle-only.
// Attributes Jingle has no place for (a=rtcp-rsize, a=rid, candidate ufrag
// and network-cost, extmap extension attributes) are dropped.
func FromSDP(sdp string, role Role) (*Jingle, error) {
	if role != RoleInitiator && role != RoleResponder {
		return nil, badRequest("invalid role %d", int(role))
	}
	session, sections, err := splitSDP(sdp)
	if err != nil {
		return nil, err
	}
	j := &Jingle{}
	if v, ok := session.first("group"); ok {
		if f := fields(v); len(f) > 0 && f[0] == "BUNDLE" {
			j.Group = &Group{Semantics: f[0], Contents: f[1:]}
		}
	}
	for i := range sections {
		sec := &sections[i]
		if sec.port == 0 && !sec.has("bundle-only") {
			continue
		}
		c, err := sectionContent(sec, &session, role)
		if err != nil {
			return nil, prefixed(err, "m-line %d: ", i)
		}
		j.Contents = append(j.Contents, c)
	}
	if j.Group != nil {
		names := j.contentNames()
		kept := j.Group.Contents[:0]
		for _, name := range j.Group.Contents {
			if names[name] {
				kept = append(kept, name)
			}
		}
		j.Group.Contents = kept
		if len(kept) == 0 {
			j.Group = nil // a group of nothing says nothing
		}
	}
	// Bundled m-lines share the transport of the group (RFC 8843): those
	// without ICE credentials or fingerprint have the group's.
	b := j.bundle()
	for i := range j.Contents {
		j.Contents[i].Transport = b.transport(&j.Contents[i])
	}
	if err := checkSDP(j); err != nil {
		return nil, err
	}
	return j, nil
}

// sdpSection is the session part of an SDP or one media section.
type sdpSection struct {
	media      string // m-line media; "" for the session part
	port       int
	fmts       []string
	attrs      []sdpAttr
	bandwidths []string // b= values
}

type sdpAttr struct {
	name, value string // "a=name:value"; value is "" for a flag attribute
}

func (s *sdpSection) first(name string) (string, bool) {
	for _, a := range s.attrs {
		if a.name == name {
			return a.value, true
		}
	}
	return "", false
}

func (s *sdpSection) has(name string) bool {
	_, ok := s.first(name)
	return ok
}

// splitSDP cuts the text into lines, checks their syntax, and groups them
// into the session part and the media sections.
func splitSDP(sdp string) (sdpSection, []sdpSection, error) {
	var session sdpSection
	var sections []sdpSection
	if len(sdp) > MaxSDPSize {
		return session, nil, badRequest("SDP larger than %d bytes", MaxSDPSize)
	}
	if !utf8.ValidString(sdp) {
		return session, nil, badRequest("SDP is not UTF-8")
	}
	cur := &session
	started := false
	for n, line := range strings.Split(sdp, "\n") {
		line = strings.TrimRight(strings.TrimSuffix(line, "\r"), " ")
		if line == "" {
			continue
		}
		if len(line) < 2 || line[1] != '=' || line[0] < 'a' || line[0] > 'z' || !isText(line) {
			return session, nil, badRequest("malformed SDP line %d", n+1)
		}
		if !started && line != "v=0" {
			return session, nil, badRequest("SDP does not start with v=0")
		}
		started = true
		value := line[2:]
		switch line[0] {
		case 'm':
			f := fields(value)
			if len(f) < 3 {
				return session, nil, badRequest("malformed m-line %q", value)
			}
			port, err := parseUint(strings.SplitN(f[1], "/", 2)[0], 16, "m-line port")
			if err != nil {
				return session, nil, err
			}
			sections = append(sections, sdpSection{media: f[0], port: int(port), fmts: f[3:]})
			cur = &sections[len(sections)-1]
		case 'a':
			name, v, _ := strings.Cut(value, ":")
			cur.attrs = append(cur.attrs, sdpAttr{name, v})
		case 'b':
			cur.bandwidths = append(cur.bandwidths, value)
		}
	}
	if len(sections) == 0 {
		return session, nil, badRequest("SDP has no media sections")
	}
	return session, sections, nil
}

// fields splits on spaces only (SDP's separator), unlike strings.Fields,
// which also splits on Unicode spaces and would disagree with jingle.js.
func fields(s string) []string {
	var out []string
	for _, f := range strings.Split(s, " ") {
		if f != "" {
			out = append(out, f)
		}
	}
	return out
}

func sectionContent(sec, session *sdpSection, role Role) (Content, error) {
	mid, _ := sec.first("mid")
	c := Content{Creator: SendersInitiator, Name: mid, Senders: SendersBoth}
	if mid == "" {
		return c, badRequest("no a=mid")
	}
	dir := "sendrecv"
	for _, a := range sec.attrs {
		switch a.name {
		case "sendrecv", "sendonly", "recvonly", "inactive":
			dir = a.name
		}
	}
	c.Senders = sendersOf(dir, role)
	var err error
	if c.Transport, err = sectionTransport(sec, session); err != nil {
		return c, err
	}
	if sec.media == "application" {
		c.Senders = SendersBoth // SCTP has no direction (RFC 8841)
		c.Description = &RTPDescription{Media: "application"}
		c.Transport.SCTP, err = sectionSCTP(sec)
		return c, err
	}
	c.Description, err = sectionDescription(sec, session, role)
	return c, err
}

func sectionTransport(sec, session *sdpSection) (*ICETransport, error) {
	t := &ICETransport{}
	t.Ufrag, _ = sectionOr(sec, session, "ice-ufrag")
	t.Pwd, _ = sectionOr(sec, session, "ice-pwd")
	setup, _ := sectionOr(sec, session, "setup")
	fpSource := sec
	if !sec.has("fingerprint") {
		fpSource = session
	}
	for _, a := range fpSource.attrs {
		if a.name != "fingerprint" {
			continue
		}
		f := fields(a.value)
		if len(f) != 2 {
			return nil, badRequest("malformed fingerprint %q", a.value)
		}
		t.Fingerprints = append(t.Fingerprints, Fingerprint{Hash: asciiLower(f[0]), Setup: setup, Value: f[1]})
	}
	for _, a := range sec.attrs {
		if a.name != "candidate" {
			continue
		}
		cand, err := CandidateFromSDP("candidate:" + a.value)
		if err != nil {
			return nil, err
		}
		t.Candidates = append(t.Candidates, cand)
	}
	return t, nil
}

// sectionOr returns the media-level attribute, else the session-level one.
func sectionOr(sec, session *sdpSection, name string) (string, bool) {
	if v, ok := sec.first(name); ok {
		return v, true
	}
	return session.first(name)
}

// sectionSCTP reads a data channel m-line: a=sctp-port (RFC 8841) or the
// older "m=application 9 DTLS/SCTP 5000" with a=sctpmap.
func sectionSCTP(sec *sdpSection) (*SCTPMap, error) {
	if v, ok := sec.first("sctp-port"); ok {
		port, err := parseUint(v, 16, "sctp-port")
		proto := "webrtc-datachannel"
		if len(sec.fmts) > 0 {
			proto = sec.fmts[0]
		}
		return &SCTPMap{Port: uint16(port), Protocol: proto}, err
	}
	if v, ok := sec.first("sctpmap"); ok {
		f := fields(v)
		if len(f) < 2 {
			return nil, badRequest("malformed sctpmap %q", v)
		}
		port, err := parseUint(f[0], 16, "sctpmap port")
		m := &SCTPMap{Port: uint16(port), Protocol: f[1]}
		if err == nil && len(f) > 2 {
			var streams uint64
			streams, err = parseUint(f[2], 32, "sctpmap streams")
			m.Streams = uint32(streams)
		}
		return m, err
	}
	return nil, badRequest("application m-line without sctp-port")
}

func sectionDescription(sec, session *sdpSection, role Role) (*RTPDescription, error) {
	d := &RTPDescription{Media: sec.media}
	for _, f := range sec.fmts {
		id, err := parseUint(f, 7, "payload type")
		if err != nil {
			return nil, err
		}
		d.PayloadTypes = append(d.PayloadTypes, PayloadType{ID: uint8(id)})
	}
	for _, b := range sec.bandwidths {
		typ, v, _ := strings.Cut(b, ":")
		n, err := parseUint(v, 32, "bandwidth")
		if err != nil {
			return nil, err
		}
		d.Bandwidths = append(d.Bandwidths, Bandwidth{Type: typ, Value: uint32(n)})
	}
	d.ExtmapAllowMixed = sec.has("extmap-allow-mixed") || session.has("extmap-allow-mixed")
	r := mediaReader{d: d, role: role}
	for _, a := range sec.attrs {
		if err := r.attr(a); err != nil {
			return nil, err
		}
	}
	r.finish()
	return d, nil
}

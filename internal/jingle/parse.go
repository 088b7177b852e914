package jingle

import (
	"fmt"
	"strconv"

	"parley.dev/parley/internal/xmlstream"
)

// Parse reads a <jingle/> element. It fails with an *Error when something a
// media session depends on is missing or malformed, and skips elements and
// attributes it does not know.
func Parse(el *xmlstream.Element) (*Jingle, error) {
	if !el.Is(NS, "jingle") {
		return nil, badRequest("not a jingle element")
	}
	j := &Jingle{
		Action:    el.Attr("action"),
		SID:       el.Attr("sid"),
		Initiator: el.Attr("initiator"),
		Responder: el.Attr("responder"),
	}
	if j.Action == "" {
		return nil, badRequest("missing action")
	}
	if !knownAction(j.Action) {
		return nil, &Error{Condition: CondFeatureNotImplemented, Text: "unknown action " + strconv.Quote(j.Action)}
	}
	if j.SID == "" {
		return nil, badRequest("missing sid")
	}
	for _, c := range el.Children {
		var err error
		switch {
		case c.Is(NS, "content"):
			var content Content
			content, err = parseContent(c)
			j.Contents = append(j.Contents, content)
		case c.Is(NSGrouping, "group"):
			if j.Group != nil {
				continue // only one group (BUNDLE) is modelled; later ones are ignored
			}
			j.Group, err = parseGroup(c)
		case c.Is(NS, "reason"):
			j.Reason = parseReason(c)
		}
		if err != nil {
			return nil, err
		}
	}
	return j, nil
}

func knownAction(a string) bool {
	switch a {
	case ActionContentAccept, ActionContentAdd, ActionContentModify, ActionContentReject,
		ActionContentRemove, ActionDescriptionInfo, ActionSecurityInfo, ActionSessionAccept,
		ActionSessionInfo, ActionSessionInitiate, ActionSessionTerminate, ActionTransportAccept,
		ActionTransportInfo, ActionTransportReject, ActionTransportReplace,
		ActionSourceAdd, ActionSourceRemove:
		return true
	}
	return false
}

func parseGroup(el *xmlstream.Element) (*Group, error) {
	g := &Group{Semantics: el.Attr("semantics")}
	if g.Semantics == "" {
		return nil, badRequest("group without semantics")
	}
	for _, c := range el.ChildrenNamed(NSGrouping, "content") {
		name := c.Attr("name")
		if name == "" {
			return nil, badRequest("group content without name")
		}
		g.Contents = append(g.Contents, name)
	}
	return g, nil
}

func parseReason(el *xmlstream.Element) *Reason {
	r := &Reason{}
	for _, c := range el.Children {
		if c.Space != NS {
			continue
		}
		if c.Name == "text" {
			r.Text = c.Text
		} else if r.Condition == "" {
			r.Condition = c.Name
		}
	}
	return r
}

func parseContent(el *xmlstream.Element) (Content, error) {
	c := Content{Creator: el.Attr("creator"), Name: el.Attr("name"), Senders: el.Attr("senders")}
	if c.Name == "" {
		return c, badRequest("content without name")
	}
	switch c.Creator {
	case "":
		c.Creator = SendersInitiator
	case SendersInitiator, SendersResponder:
	default:
		return c, badRequest("content %q: bad creator %q", c.Name, c.Creator)
	}
	if !validSenders(c.Senders) {
		return c, badRequest("content %q: bad senders %q", c.Name, c.Senders)
	}
	var err error
	if d := el.Child(NSRTP, "description"); d != nil {
		if c.Description, err = parseDescription(d); err != nil {
			return c, prefixed(err, "content %q: ", c.Name)
		}
	}
	if t := el.Child(NSICE, "transport"); t != nil {
		if c.Transport, err = parseTransport(t); err != nil {
			return c, prefixed(err, "content %q: ", c.Name)
		}
		if c.Description != nil && t.Child(NSICE, "rtcp-mux") != nil {
			c.Description.RTCPMux = true // where Jitsi also puts it
		}
	}
	return c, nil
}

func validSenders(s string) bool {
	switch s {
	case "", SendersBoth, SendersInitiator, SendersResponder, SendersNone:
		return true
	}
	return false
}

// prefixed puts context before the text of an *Error, keeping its condition.
func prefixed(err error, format string, args ...any) error {
	if e, ok := err.(*Error); ok {
		return &Error{Condition: e.Condition, Text: fmt.Sprintf(format, args...) + e.Text}
	}
	return err
}

func parseDescription(el *xmlstream.Element) (*RTPDescription, error) {
	d := &RTPDescription{Media: el.Attr("media"), SSRC: el.Attr("ssrc")}
	if d.Media == "" {
		return nil, badRequest("description without media")
	}
	for _, c := range el.Children {
		if err := parseDescriptionChild(d, c); err != nil {
			return nil, err
		}
	}
	return d, nil
}

func parseDescriptionChild(d *RTPDescription, c *xmlstream.Element) error {
	switch {
	case c.Is(NSRTP, "payload-type"):
		pt, err := parsePayloadType(c)
		d.PayloadTypes = append(d.PayloadTypes, pt)
		return err
	case c.Is(NSRTCPFB, "rtcp-fb"), c.Is(NSRTCPFB, "rtcp-fb-trr-int"):
		fb, err := parseFeedback(c)
		d.Feedback = append(d.Feedback, fb)
		return err
	case c.Is(NSHdrExt, "rtp-hdrext"):
		ext, err := parseHeaderExtension(c)
		d.HeaderExtensions = append(d.HeaderExtensions, ext)
		return err
	case c.Is(NSHdrExt, "extmap-allow-mixed"):
		d.ExtmapAllowMixed = true
	case c.Is(NSRTP, "rtcp-mux"):
		d.RTCPMux = true
	case c.Is(NSRTP, "bandwidth"):
		v, err := parseUint(trimSpace(c.Text), 32, "bandwidth")
		d.Bandwidths = append(d.Bandwidths, Bandwidth{Type: c.Attr("type"), Value: uint32(v)})
		if err == nil && c.Attr("type") == "" {
			err = badRequest("bandwidth without type")
		}
		return err
	case c.Is(NSSSMA, "source"):
		src, err := parseSource(c)
		d.Sources = append(d.Sources, src)
		return err
	case c.Is(NSSSMA, "ssrc-group"):
		g, err := parseSourceGroup(c)
		d.SourceGroups = append(d.SourceGroups, g)
		return err
	case c.Is(NSRID, "rid"):
		r := RID{ID: c.Attr("id"), Senders: c.Attr("senders"), Params: c.Attr("params")}
		d.RIDs = append(d.RIDs, r)
		if !validRID(r.ID) || !ridSenders(r.Senders) {
			return badRequest("bad rid %q (senders %q)", r.ID, r.Senders)
		}
	case c.Is(NSRID, "simulcast"):
		sc := Simulcast{Senders: c.Attr("senders"), Layers: c.Attr("layers")}
		d.Simulcast = append(d.Simulcast, sc)
		if !validLayers(sc.Layers) || !ridSenders(sc.Senders) {
			return badRequest("bad simulcast %q (senders %q)", sc.Layers, sc.Senders)
		}
	}
	return nil
}

func parsePayloadType(el *xmlstream.Element) (PayloadType, error) {
	pt := PayloadType{Name: el.Attr("name")}
	id, err := parseUint(el.Attr("id"), 7, "payload-type id")
	if err != nil {
		return pt, err
	}
	pt.ID = uint8(id)
	if pt.ClockRate, err = optUint32(el, "clockrate"); err != nil {
		return pt, err
	}
	if pt.PTime, err = optUint32(el, "ptime"); err != nil {
		return pt, err
	}
	if pt.MaxPTime, err = optUint32(el, "maxptime"); err != nil {
		return pt, err
	}
	if s := el.Attr("channels"); s != "" {
		ch, err := parseUint(s, 8, "channels")
		if err != nil {
			return pt, err
		}
		pt.Channels = uint8(ch)
	}
	for _, c := range el.Children {
		switch {
		case c.Is(NSRTP, "parameter"):
			if p, ok := parseParameter(c); ok {
				pt.Parameters = append(pt.Parameters, p)
			}
		case c.Is(NSRTCPFB, "rtcp-fb"), c.Is(NSRTCPFB, "rtcp-fb-trr-int"):
			fb, err := parseFeedback(c)
			if err != nil {
				return pt, err
			}
			pt.Feedback = append(pt.Feedback, fb)
		}
	}
	return pt, nil
}

// parseParameter reads a <parameter/>; one with neither name nor value says
// nothing and is skipped.
func parseParameter(el *xmlstream.Element) (Parameter, bool) {
	p := Parameter{Name: el.Attr("name"), Value: el.Attr("value")}
	if p.Name == "" && p.Value != "" {
		// Some implementations put a name-less fmtp token ("0-15") in value.
		p.Name, p.Value = p.Value, ""
	}
	return p, p.Name != ""
}

func parseFeedback(el *xmlstream.Element) (Feedback, error) {
	if el.Name == "rtcp-fb-trr-int" {
		v, err := parseUint(el.Attr("value"), 32, "rtcp-fb-trr-int value")
		return Feedback{Type: FeedbackTRRInt, Subtype: strconv.FormatUint(v, 10)}, err
	}
	fb := Feedback{Type: el.Attr("type"), Subtype: el.Attr("subtype")}
	if fb.Type == "" {
		return fb, badRequest("rtcp-fb without type")
	}
	return fb, nil
}

func parseHeaderExtension(el *xmlstream.Element) (HeaderExtension, error) {
	ext := HeaderExtension{URI: el.Attr("uri"), Senders: el.Attr("senders")}
	id, err := parseUint(el.Attr("id"), 16, "rtp-hdrext id")
	if err != nil {
		return ext, err
	}
	if !validExtmapID(id) {
		return ext, badRequest("rtp-hdrext id %d out of range", id)
	}
	ext.ID = uint16(id)
	if ext.URI == "" {
		return ext, badRequest("rtp-hdrext without uri")
	}
	if !validSenders(ext.Senders) {
		return ext, badRequest("rtp-hdrext: bad senders %q", ext.Senders)
	}
	return ext, nil
}

// validExtmapID reports whether id is an extmap id XEP-0294 allows.
func validExtmapID(id uint64) bool {
	return (id >= 1 && id <= 256) || (id >= 4096 && id <= 4351)
}

func parseSource(el *xmlstream.Element) (Source, error) {
	ssrc, err := parseUint(el.Attr("ssrc"), 32, "source ssrc")
	src := Source{SSRC: uint32(ssrc)}
	if err != nil {
		return src, err
	}
	for _, c := range el.ChildrenNamed(NSSSMA, "parameter") {
		if p, ok := parseParameter(c); ok {
			src.Parameters = append(src.Parameters, p)
		}
	}
	return src, nil
}

func parseSourceGroup(el *xmlstream.Element) (SourceGroup, error) {
	g := SourceGroup{Semantics: el.Attr("semantics")}
	if g.Semantics == "" {
		return g, badRequest("ssrc-group without semantics")
	}
	for _, c := range el.ChildrenNamed(NSSSMA, "source") {
		ssrc, err := parseUint(c.Attr("ssrc"), 32, "ssrc-group source ssrc")
		if err != nil {
			return g, err
		}
		g.SSRCs = append(g.SSRCs, uint32(ssrc))
	}
	if len(g.SSRCs) == 0 {
		return g, badRequest("empty ssrc-group")
	}
	return g, nil
}

func parseTransport(el *xmlstream.Element) (*ICETransport, error) {
	t := &ICETransport{Ufrag: el.Attr("ufrag"), Pwd: el.Attr("pwd")}
	for _, c := range el.Children {
		switch {
		case c.Is(NSICE, "candidate"):
			cand, err := parseCandidateElement(c)
			if err != nil {
				return nil, err
			}
			t.Candidates = append(t.Candidates, cand)
		case c.Is(NSDTLS, "fingerprint"):
			fp := Fingerprint{Hash: c.Attr("hash"), Setup: c.Attr("setup"), Value: trimSpace(c.Text)}
			if fp.Hash == "" || !isToken(fp.Value) {
				return nil, badRequest("fingerprint without hash or with a bad value")
			}
			if !validSetup(fp.Setup) {
				return nil, badRequest("fingerprint: bad setup %q", fp.Setup)
			}
			t.Fingerprints = append(t.Fingerprints, fp)
		case c.Is(NSSCTP, "sctpmap"):
			m, err := parseSCTPMap(c)
			if err != nil {
				return nil, err
			}
			t.SCTP = m
		}
	}
	return t, nil
}

func validSetup(s string) bool {
	switch s {
	case "", "actpass", "active", "passive", "holdconn":
		return true
	}
	return false
}

func parseSCTPMap(el *xmlstream.Element) (*SCTPMap, error) {
	port, err := parseUint(el.Attr("number"), 16, "sctpmap number")
	if err != nil {
		return nil, err
	}
	m := &SCTPMap{Port: uint16(port), Protocol: el.Attr("protocol")}
	m.Streams, err = optUint32(el, "streams")
	return m, err
}

func parseCandidateElement(el *xmlstream.Element) (Candidate, error) {
	c := Candidate{
		Foundation: el.Attr("foundation"),
		Protocol:   asciiLower(el.Attr("protocol")),
		IP:         el.Attr("ip"),
		Type:       el.Attr("type"),
		ID:         el.Attr("id"),
		RelAddr:    el.Attr("rel-addr"),
		TCPType:    el.Attr("tcptype"),
	}
	nums := []struct {
		attr     string
		bits     int
		optional bool
		set      func(uint64)
	}{
		{"component", 8, false, func(v uint64) { c.Component = uint8(v) }},
		{"priority", 32, false, func(v uint64) { c.Priority = uint32(v) }},
		{"port", 16, false, func(v uint64) { c.Port = uint16(v) }},
		{"generation", 8, true, func(v uint64) { c.Generation = uint8(v) }},
		{"network", 16, true, func(v uint64) { c.Network = uint16(v) }},
		{"rel-port", 16, true, func(v uint64) { c.RelPort = uint16(v) }},
	}
	for _, n := range nums {
		s := el.Attr(n.attr)
		if s == "" && n.optional {
			continue
		}
		v, err := parseUint(s, n.bits, "candidate "+n.attr)
		if err != nil {
			return c, err
		}
		n.set(v)
	}
	if c.RelAddr == "" {
		c.RelPort = 0 // a related port means nothing without its address
	}
	return c, c.validate()
}

func optUint32(el *xmlstream.Element, attr string) (uint32, error) {
	s := el.Attr(attr)
	if s == "" {
		return 0, nil
	}
	v, err := parseUint(s, 32, attr)
	return uint32(v), err
}

// parseUint parses a decimal number of at most bits bits, naming what in its error.
func parseUint(s string, bits int, what string) (uint64, error) {
	if s == "" {
		return 0, badRequest("missing %s", what)
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, badRequest("bad %s %q", what, s)
		}
	}
	v, err := strconv.ParseUint(s, 10, bits)
	if err != nil {
		return 0, badRequest("bad %s %q", what, s)
	}
	return v, nil
}

package jingle

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// checkSDP reports the first thing in j that SDP cannot carry faithfully: a
// value that would end an SDP line, split a field, or be read back as
// something else. ToSDP refuses such input (it would otherwise let a peer
// inject SDP lines), and FromSDP refuses SDP that produces it, so that
// FromSDP's output always converts back.
func checkSDP(j *Jingle) error {
	if len(j.Contents) == 0 {
		return badRequest("no contents")
	}
	if g := j.Group; g != nil {
		if !isToken(g.Semantics) {
			return badRequest("group: bad semantics %q", g.Semantics)
		}
		for _, name := range g.Contents {
			if !isToken(name) {
				return badRequest("group: bad content name %q", name)
			}
		}
	}
	seen := make(map[string]bool, len(j.Contents))
	for i := range j.Contents {
		c := &j.Contents[i]
		if !isToken(c.Name) {
			return badRequest("content name %q is not a valid mid", c.Name)
		}
		if seen[c.Name] {
			return badRequest("duplicate content %q", c.Name)
		}
		seen[c.Name] = true
		if err := checkContent(c); err != nil {
			return prefixed(err, "content %q: ", c.Name)
		}
	}
	return nil
}

func checkContent(c *Content) error {
	d, t := c.Description, c.Transport
	if t != nil {
		if err := checkTransport(t); err != nil {
			return err
		}
	}
	if t != nil && t.SCTP != nil {
		return nil // a data channel: the description, if any, is not used
	}
	if d == nil {
		return badRequest("no RTP description")
	}
	return checkDescription(d)
}

func checkTransport(t *ICETransport) error {
	if (t.Ufrag != "" && !isToken(t.Ufrag)) || (t.Pwd != "" && !isToken(t.Pwd)) {
		return badRequest("bad ICE ufrag or pwd")
	}
	for _, fp := range t.Fingerprints {
		if !isToken(fp.Hash) || !isToken(fp.Value) || !validSetup(fp.Setup) {
			return badRequest("bad fingerprint")
		}
	}
	for _, cand := range t.Candidates {
		if err := cand.validate(); err != nil {
			return err
		}
	}
	if m := t.SCTP; m != nil && m.Protocol != "" && !isToken(m.Protocol) {
		return badRequest("bad sctpmap protocol %q", m.Protocol)
	}
	return nil
}

func checkDescription(d *RTPDescription) error {
	if !isToken(d.Media) {
		return badRequest("bad media %q", d.Media)
	}
	if len(d.PayloadTypes) == 0 {
		return badRequest("no payload types")
	}
	ids := make(map[uint8]bool, len(d.PayloadTypes))
	for i := range d.PayloadTypes {
		pt := &d.PayloadTypes[i]
		if ids[pt.ID] {
			return badRequest("duplicate payload type %d", pt.ID)
		}
		ids[pt.ID] = true
		if err := checkPayloadType(pt); err != nil {
			return err
		}
	}
	if err := checkFeedback(d.Feedback); err != nil {
		return err
	}
	for _, ext := range d.HeaderExtensions {
		if !validExtmapID(uint64(ext.ID)) || !isToken(ext.URI) || !validSenders(ext.Senders) {
			return badRequest("bad header extension %d %q", ext.ID, ext.URI)
		}
	}
	for _, b := range d.Bandwidths {
		if !isToken(b.Type) || strings.Contains(b.Type, ":") {
			return badRequest("bad bandwidth type %q", b.Type)
		}
	}
	for _, s := range d.Sources {
		for _, p := range s.Parameters {
			if !isToken(p.Name) || strings.Contains(p.Name, ":") || !isWords(p.Value) {
				return badRequest("source %d: bad parameter %q", s.SSRC, p.Name)
			}
		}
	}
	for _, g := range d.SourceGroups {
		if !isToken(g.Semantics) || len(g.SSRCs) == 0 {
			return badRequest("bad ssrc-group %q", g.Semantics)
		}
	}
	for _, r := range d.RIDs {
		if !validRID(r.ID) || !ridSenders(r.Senders) || (r.Params != "" && !isToken(r.Params)) {
			return badRequest("bad rid %q", r.ID)
		}
	}
	dirs := map[string]bool{}
	for _, sc := range d.Simulcast {
		if !validLayers(sc.Layers) || !ridSenders(sc.Senders) || dirs[sc.Senders] {
			return badRequest("bad simulcast %q", sc.Layers)
		}
		dirs[sc.Senders] = true
	}
	return nil
}

func checkPayloadType(pt *PayloadType) error {
	if pt.ID > 127 {
		return badRequest("payload type id %d out of range", pt.ID)
	}
	hasMap := pt.Name != "" && pt.ClockRate != 0
	switch {
	case pt.Name != "" && (!isToken(pt.Name) || strings.Contains(pt.Name, "/")):
		return badRequest("payload type %d: bad name %q", pt.ID, pt.Name)
	case !hasMap && pt.ID >= 96:
		return badRequest("dynamic payload type %d needs a name and a clock rate", pt.ID)
	}
	for _, p := range pt.Parameters {
		if !isToken(p.Name) || strings.ContainsAny(p.Name, "=;") ||
			strings.Contains(p.Value, ";") || !isText(p.Value) || trimSpace(p.Value) != p.Value {
			return badRequest("payload type %d: bad parameter %q", pt.ID, p.Name)
		}
	}
	return checkFeedback(pt.Feedback)
}

func checkFeedback(fbs []Feedback) error {
	for _, fb := range fbs {
		if !isToken(fb.Type) || !isWords(fb.Subtype) {
			return badRequest("bad rtcp-fb %q", fb.Type)
		}
		if fb.Type == FeedbackTRRInt {
			if _, err := strconv.ParseUint(fb.Subtype, 10, 32); err != nil || !isDigits(fb.Subtype) {
				return badRequest("bad trr-int %q", fb.Subtype)
			}
		}
	}
	return nil
}

// isWords reports whether s is empty or tokens separated by single spaces.
func isWords(s string) bool {
	if s == "" {
		return true
	}
	for _, w := range strings.Split(s, " ") {
		if !isToken(w) {
			return false
		}
	}
	return true
}

// isText reports whether s is valid UTF-8 without control characters or
// characters XML cannot carry.
func isText(s string) bool {
	for _, r := range s {
		if r < ' ' || r == 0x7f || r == utf8.RuneError || r == 0xfffe || r == 0xffff {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// trimSpace trims XML and SDP white space only (unlike strings.TrimSpace,
// which also trims Unicode spaces), the same set as jingle.js.
func trimSpace(s string) string { return strings.Trim(s, " \t\r\n") }

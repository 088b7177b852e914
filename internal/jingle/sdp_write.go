package jingle

import (
	"strconv"
	"strings"
)

// ToSDP writes the session description that j's contents describe, as seen
// from role's side (RoleInitiator when j comes from the initiator: a
// session-initiate; RoleResponder for a session-accept).
//
// Everything goes at media level. A content in the BUNDLE group whose
// transport lacks ICE credentials or fingerprints borrows them from the
// group's first content that has them. Contents without an RTP description
// or SCTP transport, and values SDP cannot carry, are errors.
func ToSDP(j *Jingle, role Role) (string, error) {
	if role != RoleInitiator && role != RoleResponder {
		return "", badRequest("invalid role %d", int(role))
	}
	if err := checkSDP(j); err != nil {
		return "", err
	}
	var w sdpWriter
	w.line("v=0")
	w.line("o=- " + strconv.FormatUint(uint64(hash32(j.SID)), 10) + " 2 IN IP4 0.0.0.0")
	w.line("s=-")
	w.line("t=0 0")
	names := j.contentNames()
	if g := j.Group; g != nil {
		line := []string{"a=group:" + g.Semantics}
		for _, name := range g.Contents {
			if names[name] { // browsers refuse groups naming absent mids
				line = append(line, name)
			}
		}
		if len(line) > 1 {
			w.line(line...)
		}
	}
	w.line("a=msid-semantic:WMS *")
	b := j.bundle()
	for i := range j.Contents {
		c := &j.Contents[i]
		t := b.transport(c)
		if t != nil && t.SCTP != nil {
			w.dataSection(c, t)
		} else {
			w.rtpSection(c, t, role)
		}
	}
	return w.b.String(), nil
}

func (j *Jingle) contentNames() map[string]bool {
	names := make(map[string]bool, len(j.Contents))
	for i := range j.Contents {
		names[j.Contents[i].Name] = true
	}
	return names
}

// bundleTransport is what the contents of a BUNDLE group share (RFC 8843:
// bundled m-lines have one transport): the group's first ICE credentials
// and first fingerprints, for the members that lack their own.
type bundleTransport struct {
	members      map[string]bool // content names in the group
	ufrag, pwd   string
	fingerprints []Fingerprint
}

// bundle returns j's BUNDLE group's shared transport, or nil without one.
func (j *Jingle) bundle() *bundleTransport {
	g := j.Group
	if g == nil || g.Semantics != "BUNDLE" {
		return nil
	}
	b := &bundleTransport{members: make(map[string]bool, len(g.Contents))}
	byName := make(map[string]*ICETransport, len(j.Contents))
	for i := range j.Contents {
		if _, dup := byName[j.Contents[i].Name]; !dup {
			byName[j.Contents[i].Name] = j.Contents[i].Transport
		}
	}
	for _, name := range g.Contents {
		b.members[name] = true
		t := byName[name]
		if t == nil {
			continue
		}
		if b.ufrag == "" && t.Ufrag != "" {
			b.ufrag, b.pwd = t.Ufrag, t.Pwd
		}
		if b.fingerprints == nil && len(t.Fingerprints) > 0 {
			b.fingerprints = t.Fingerprints
		}
	}
	return b
}

// transport returns c's transport, completed with what the group shares
// when c is a member that lacks credentials or fingerprints.
func (b *bundleTransport) transport(c *Content) *ICETransport {
	own := c.Transport
	if b == nil || !b.members[c.Name] || (own != nil && own.Ufrag != "" && len(own.Fingerprints) > 0) {
		return own
	}
	t := ICETransport{}
	if own != nil {
		t = *own
	}
	if t.Ufrag == "" {
		t.Ufrag, t.Pwd = b.ufrag, b.pwd
	}
	if len(t.Fingerprints) == 0 {
		t.Fingerprints = b.fingerprints
	}
	if own == nil && t.Ufrag == "" && len(t.Fingerprints) == 0 {
		return nil
	}
	return &t
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// sdpWriter accumulates SDP lines; its input has passed checkSDP.
type sdpWriter struct {
	b strings.Builder // owned by the ToSDP call
}

// line writes the parts separated by spaces, then CRLF.
func (w *sdpWriter) line(parts ...string) {
	for i, p := range parts {
		if i > 0 {
			w.b.WriteByte(' ')
		}
		w.b.WriteString(p)
	}
	w.b.WriteString("\r\n")
}

func (w *sdpWriter) dataSection(c *Content, t *ICETransport) {
	proto := t.SCTP.Protocol
	if proto == "" {
		proto = "webrtc-datachannel"
	}
	w.line("m=application 9 UDP/DTLS/SCTP " + proto)
	w.line("c=IN IP4 0.0.0.0")
	w.line("a=mid:" + c.Name)
	w.transport(t)
	w.line("a=sctp-port:" + strconv.Itoa(int(t.SCTP.Port)))
}

func (w *sdpWriter) rtpSection(c *Content, t *ICETransport, role Role) {
	d := c.Description
	proto := "RTP/AVPF"
	if t != nil && len(t.Fingerprints) > 0 {
		proto = "UDP/TLS/RTP/SAVPF"
	}
	m := []string{"m=" + d.Media, "9", proto}
	for _, pt := range d.PayloadTypes {
		m = append(m, strconv.Itoa(int(pt.ID)))
	}
	w.line(m...)
	w.line("c=IN IP4 0.0.0.0")
	for _, b := range d.Bandwidths {
		w.line("b=" + b.Type + ":" + strconv.FormatUint(uint64(b.Value), 10))
	}
	w.line("a=mid:" + c.Name)
	w.line("a=" + direction(c.Senders, role))
	w.transport(t)
	if d.RTCPMux {
		w.line("a=rtcp-mux")
	}
	for _, ext := range d.HeaderExtensions {
		id := strconv.Itoa(int(ext.ID))
		if ext.Senders != "" && ext.Senders != SendersBoth {
			id += "/" + direction(ext.Senders, role)
		}
		w.line("a=extmap:"+id, ext.URI)
	}
	if d.ExtmapAllowMixed {
		w.line("a=extmap-allow-mixed")
	}
	w.payloadTypes(d)
	w.sources(d)
	for _, rid := range d.RIDs {
		line := []string{"a=rid:" + rid.ID, ridDirection(rid.Senders, role)}
		if rid.Params != "" {
			line = append(line, rid.Params)
		}
		w.line(line...)
	}
	if len(d.Simulcast) > 0 {
		line := []string{"a=simulcast:"}
		for i, sc := range d.Simulcast {
			if i == 0 {
				line[0] += ridDirection(sc.Senders, role)
			} else {
				line = append(line, ridDirection(sc.Senders, role))
			}
			line = append(line, sc.Layers)
		}
		w.line(line...)
	}
}

// ridDirection is an a=rid or a=simulcast direction: "send" when role
// sends the stream, else "recv".
func ridDirection(senders string, role Role) string {
	if senders == role.String() {
		return "send"
	}
	return "recv"
}

func (w *sdpWriter) transport(t *ICETransport) {
	if t == nil {
		return
	}
	if t.Ufrag != "" {
		w.line("a=ice-ufrag:" + t.Ufrag)
		w.line("a=ice-options:trickle")
	}
	if t.Pwd != "" {
		w.line("a=ice-pwd:" + t.Pwd)
	}
	setup := ""
	for _, fp := range t.Fingerprints {
		w.line("a=fingerprint:"+fp.Hash, fp.Value)
		if setup == "" {
			setup = fp.Setup
		}
	}
	if setup != "" {
		w.line("a=setup:" + setup)
	}
	for _, c := range t.Candidates {
		w.line("a=" + c.SDP())
	}
}

func (w *sdpWriter) payloadTypes(d *RTPDescription) {
	var ptime, maxptime uint32
	for _, pt := range d.PayloadTypes {
		id := strconv.Itoa(int(pt.ID))
		if pt.Name != "" && pt.ClockRate != 0 {
			rtpmap := pt.Name + "/" + strconv.FormatUint(uint64(pt.ClockRate), 10)
			if pt.Channels != 0 {
				rtpmap += "/" + strconv.Itoa(int(pt.Channels))
			}
			w.line("a=rtpmap:"+id, rtpmap)
		}
		if len(pt.Parameters) > 0 {
			params := make([]string, len(pt.Parameters))
			for i, p := range pt.Parameters {
				params[i] = p.Name
				if p.Value != "" {
					params[i] += "=" + p.Value
				}
			}
			w.line("a=fmtp:"+id, strings.Join(params, ";"))
		}
		w.feedback(id, pt.Feedback)
		ptime, maxptime = cmpOr(ptime, pt.PTime), cmpOr(maxptime, pt.MaxPTime)
	}
	w.feedback("*", d.Feedback)
	if ptime != 0 {
		w.line("a=ptime:" + strconv.FormatUint(uint64(ptime), 10))
	}
	if maxptime != 0 {
		w.line("a=maxptime:" + strconv.FormatUint(uint64(maxptime), 10))
	}
}

func cmpOr(a, b uint32) uint32 {
	if a != 0 {
		return a
	}
	return b
}

func (w *sdpWriter) feedback(pt string, fbs []Feedback) {
	for _, fb := range fbs {
		if fb.Subtype != "" {
			w.line("a=rtcp-fb:"+pt, fb.Type, fb.Subtype)
		} else {
			w.line("a=rtcp-fb:"+pt, fb.Type)
		}
	}
}

// sources writes a=msid (Unified Plan's per-m-line stream and track ids,
// taken from the sources' msid parameters), the groups, then a=ssrc lines.
// A source without parameters has no a=ssrc form and is left out.
func (w *sdpWriter) sources(d *RTPDescription) {
	var msids []string
	for _, s := range d.Sources {
		for _, p := range s.Parameters {
			if p.Name == "msid" && p.Value != "" && !contains(msids, p.Value) {
				msids = append(msids, p.Value)
			}
		}
	}
	for _, m := range msids {
		w.line("a=msid:" + m)
	}
	for _, g := range d.SourceGroups {
		line := []string{"a=ssrc-group:" + g.Semantics}
		for _, ssrc := range g.SSRCs {
			line = append(line, strconv.FormatUint(uint64(ssrc), 10))
		}
		w.line(line...)
	}
	for _, s := range d.Sources {
		id := "a=ssrc:" + strconv.FormatUint(uint64(s.SSRC), 10)
		for _, p := range s.Parameters {
			if p.Value != "" {
				w.line(id, p.Name+":"+p.Value)
			} else {
				w.line(id, p.Name)
			}
		}
	}
}

// direction maps a senders value to the SDP direction of role's side.
func direction(senders string, role Role) string {
	switch senders {
	case "", SendersBoth:
		return "sendrecv"
	case SendersNone:
		return "inactive"
	case role.String():
		return "sendonly"
	}
	return "recvonly"
}

// sendersOf maps role's SDP direction attribute to a senders value.
func sendersOf(dir string, role Role) string {
	switch dir {
	case "sendonly":
		return role.String()
	case "recvonly":
		if role == RoleInitiator {
			return SendersResponder
		}
		return SendersInitiator
	case "inactive":
		return SendersNone
	}
	return SendersBoth
}

// hash32 is 32-bit FNV-1a; jingle.js has the same.
func hash32(s string) uint32 {
	h := uint32(2166136261)
	for i := 0; i < len(s); i++ {
		h ^= uint32(s[i])
		h *= 16777619
	}
	return h
}

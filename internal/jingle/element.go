package jingle

import (
	"strconv"

	"parley.dev/parley/internal/xmlstream"
)

// Element builds the <jingle/> element. Empty optional fields are left out.
func (j *Jingle) Element() *xmlstream.Element {
	el := xmlstream.New(NS, "jingle", "action", j.Action)
	el.SetAttr("initiator", j.Initiator)
	el.SetAttr("responder", j.Responder)
	el.SetAttr("sid", j.SID)
	if j.Group != nil {
		g := xmlstream.New(NSGrouping, "group", "semantics", j.Group.Semantics)
		for _, name := range j.Group.Contents {
			g.Add(xmlstream.New(NSGrouping, "content", "name", name))
		}
		el.Add(g)
	}
	for i := range j.Contents {
		el.Add(j.Contents[i].Element())
	}
	if j.Reason != nil {
		r := xmlstream.New(NS, "reason")
		if j.Reason.Condition != "" {
			r.Add(xmlstream.New(NS, j.Reason.Condition))
		}
		if j.Reason.Text != "" {
			r.Add(xmlstream.New(NS, "text").SetText(j.Reason.Text))
		}
		el.Add(r)
	}
	return el
}

// Element builds the <content/> element.
func (c *Content) Element() *xmlstream.Element {
	creator := c.Creator
	if creator == "" {
		creator = SendersInitiator
	}
	el := xmlstream.New(NS, "content", "creator", creator, "name", c.Name)
	el.SetAttr("senders", c.Senders)
	if c.Description != nil {
		el.Add(c.Description.Element())
	}
	if c.Transport != nil {
		el.Add(c.Transport.Element())
	}
	return el
}

// Element builds the XEP-0167 <description/> element.
func (d *RTPDescription) Element() *xmlstream.Element {
	el := xmlstream.New(NSRTP, "description", "media", d.Media)
	el.SetAttr("ssrc", d.SSRC)
	for i := range d.PayloadTypes {
		el.Add(d.PayloadTypes[i].Element())
	}
	for _, b := range d.Bandwidths {
		el.Add(xmlstream.New(NSRTP, "bandwidth", "type", b.Type).SetText(strconv.FormatUint(uint64(b.Value), 10)))
	}
	for _, fb := range d.Feedback {
		el.Add(fb.Element())
	}
	for _, ext := range d.HeaderExtensions {
		e := xmlstream.New(NSHdrExt, "rtp-hdrext", "id", strconv.Itoa(int(ext.ID)), "uri", ext.URI)
		el.Add(e.SetAttr("senders", ext.Senders))
	}
	if d.ExtmapAllowMixed {
		el.Add(xmlstream.New(NSHdrExt, "extmap-allow-mixed"))
	}
	for _, g := range d.SourceGroups {
		ge := xmlstream.New(NSSSMA, "ssrc-group", "semantics", g.Semantics)
		for _, ssrc := range g.SSRCs {
			ge.Add(xmlstream.New(NSSSMA, "source", "ssrc", strconv.FormatUint(uint64(ssrc), 10)))
		}
		el.Add(ge)
	}
	for _, s := range d.Sources {
		se := xmlstream.New(NSSSMA, "source", "ssrc", strconv.FormatUint(uint64(s.SSRC), 10))
		for _, p := range s.Parameters {
			se.Add(p.element(NSSSMA))
		}
		el.Add(se)
	}
	for _, r := range d.RIDs {
		re := xmlstream.New(NSRID, "rid", "id", r.ID, "senders", r.Senders)
		el.Add(re.SetAttr("params", r.Params))
	}
	for _, sc := range d.Simulcast {
		el.Add(xmlstream.New(NSRID, "simulcast", "senders", sc.Senders, "layers", sc.Layers))
	}
	if d.RTCPMux {
		el.Add(xmlstream.New(NSRTP, "rtcp-mux"))
	}
	return el
}

// Element builds the <payload-type/> element.
func (pt *PayloadType) Element() *xmlstream.Element {
	el := xmlstream.New(NSRTP, "payload-type", "id", strconv.Itoa(int(pt.ID)))
	el.SetAttr("name", pt.Name)
	for _, a := range []struct {
		name string
		v    uint32
	}{{"clockrate", pt.ClockRate}, {"channels", uint32(pt.Channels)}, {"ptime", pt.PTime}, {"maxptime", pt.MaxPTime}} {
		if a.v != 0 {
			el.SetAttr(a.name, strconv.FormatUint(uint64(a.v), 10))
		}
	}
	for _, p := range pt.Parameters {
		el.Add(p.element(NSRTP))
	}
	for _, fb := range pt.Feedback {
		el.Add(fb.Element())
	}
	return el
}

func (p Parameter) element(space string) *xmlstream.Element {
	return xmlstream.New(space, "parameter", "name", p.Name).SetAttr("value", p.Value)
}

// Element builds <rtcp-fb/>, or <rtcp-fb-trr-int/> for type trr-int.
func (fb Feedback) Element() *xmlstream.Element {
	if fb.Type == FeedbackTRRInt {
		return xmlstream.New(NSRTCPFB, "rtcp-fb-trr-int", "value", fb.Subtype)
	}
	return xmlstream.New(NSRTCPFB, "rtcp-fb", "type", fb.Type).SetAttr("subtype", fb.Subtype)
}

// Element builds the XEP-0176 <transport/> element.
func (t *ICETransport) Element() *xmlstream.Element {
	el := xmlstream.New(NSICE, "transport")
	el.SetAttr("pwd", t.Pwd)
	el.SetAttr("ufrag", t.Ufrag)
	for _, fp := range t.Fingerprints {
		f := xmlstream.New(NSDTLS, "fingerprint", "hash", fp.Hash)
		el.Add(f.SetAttr("setup", fp.Setup).SetText(fp.Value))
	}
	if m := t.SCTP; m != nil {
		s := xmlstream.New(NSSCTP, "sctpmap", "number", strconv.Itoa(int(m.Port)))
		s.SetAttr("protocol", m.Protocol)
		if m.Streams != 0 {
			s.SetAttr("streams", strconv.FormatUint(uint64(m.Streams), 10))
		}
		el.Add(s)
	}
	for _, c := range t.Candidates {
		el.Add(c.Element())
	}
	return el
}

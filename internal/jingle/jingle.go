// Package jingle models the Jingle payloads parley's focus exchanges with
// browsers and bots (XEP-0166 with RTP sessions, ICE-UDP and DTLS-SRTP) and
// translates them to and from SDP, which the SFU and the browsers speak.
//
// The mapping follows Unified Plan: one Jingle <content/> per SDP m-line, the
// content name being the m-line's a=mid. The extensions covered are XEP-0167
// (RTP description), XEP-0176 (ICE-UDP), XEP-0293 (rtcp-fb), XEP-0294 (header
// extensions), XEP-0320 (DTLS fingerprint), XEP-0338 (BUNDLE group), XEP-0339
// (sources and source groups) and XEP-0343 (SCTP data channel).
//
// The package is pure: no network, no state, no goroutines. Parse is strict
// about what a media session needs and ignores extensions it does not know.
// The same translation exists in JavaScript for the web client
// (web/static/lib/jingle.js); both are tested against testdata/vectors.
package jingle

import "fmt"

// XML namespaces.
const (
	NS       = "urn:xmpp:jingle:1"
	NSErrors = "urn:xmpp:jingle:errors:1"
	NSRTP    = "urn:xmpp:jingle:apps:rtp:1"
	NSRTCPFB = "urn:xmpp:jingle:apps:rtp:rtcp-fb:0"
	NSHdrExt = "urn:xmpp:jingle:apps:rtp:rtp-hdrext:0"
	NSSSMA   = "urn:xmpp:jingle:apps:rtp:ssma:0"
	// NSRID is parley's own namespace for RFC 8851 rids and RFC 8853
	// simulcast (no XEP carries them): <rid/> and <simulcast/> in a
	// <description/>.
	NSRID       = "urn:parley:jingle:rid:0"
	NSGrouping  = "urn:xmpp:jingle:apps:grouping:0"
	NSICE       = "urn:xmpp:jingle:transports:ice-udp:1"
	NSDTLS      = "urn:xmpp:jingle:apps:dtls:0"
	NSSCTP      = "urn:xmpp:jingle:transports:dtls-sctp:1"
	NSRTPInfo   = "urn:xmpp:jingle:apps:rtp:info:1"
	NSRTPErrors = "urn:xmpp:jingle:apps:rtp:errors:1"
)

// Actions of XEP-0166, plus source-add and source-remove, which conference
// focuses (Jitsi's, parley's) use to announce and retract remote sources.
const (
	ActionContentAccept    = "content-accept"
	ActionContentAdd       = "content-add"
	ActionContentModify    = "content-modify"
	ActionContentReject    = "content-reject"
	ActionContentRemove    = "content-remove"
	ActionDescriptionInfo  = "description-info"
	ActionSecurityInfo     = "security-info"
	ActionSessionAccept    = "session-accept"
	ActionSessionInfo      = "session-info"
	ActionSessionInitiate  = "session-initiate"
	ActionSessionTerminate = "session-terminate"
	ActionTransportAccept  = "transport-accept"
	ActionTransportInfo    = "transport-info"
	ActionTransportReject  = "transport-reject"
	ActionTransportReplace = "transport-replace"
	ActionSourceAdd        = "source-add"
	ActionSourceRemove     = "source-remove"
)

// Values of the content senders attribute and of the creator attribute.
const (
	SendersBoth      = "both"
	SendersInitiator = "initiator"
	SendersResponder = "responder"
	SendersNone      = "none"
)

// Role says which Jingle party an SDP describes. It decides how the content
// senders attribute maps to the SDP direction: for the initiator's SDP,
// senders="initiator" is a=sendonly; for the responder's, a=recvonly.
type Role int

// The two roles. The zero Role is invalid, so that forgetting it is an error.
const (
	RoleInitiator Role = iota + 1 // the SDP is the Jingle initiator's
	RoleResponder                 // the SDP is the Jingle responder's
)

func (r Role) String() string {
	switch r {
	case RoleInitiator:
		return SendersInitiator
	case RoleResponder:
		return SendersResponder
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// Jingle is one <jingle/> element: the payload of a Jingle IQ.
type Jingle struct {
	Action    string // one of the Action constants; required
	SID       string // session id; required
	Initiator string // full JID; "" when absent (it is optional after session-initiate)
	Responder string // full JID; "" when absent
	Group     *Group // the XEP-0338 BUNDLE group; nil when absent
	Contents  []Content
	Reason    *Reason // session-terminate and content-reject reasons; nil when absent
}

// Group is an XEP-0338 <group/>: a=group in SDP.
type Group struct {
	Semantics string   // "BUNDLE" in practice
	Contents  []string // content names (mids), in order
}

// Reason is the <reason/> of a session-terminate or content-reject.
type Reason struct {
	Condition string // the condition element's name: "success", "decline", "failed-transport", ...
	Text      string // optional human-readable text
}

// Content is one <content/>: one SDP m-line.
type Content struct {
	Creator     string          // "initiator" or "responder"; "" is read as "initiator"
	Name        string          // the m-line's mid
	Senders     string          // one of the Senders constants; "" means both
	Description *RTPDescription // nil when absent (transport-info) or in a namespace other than XEP-0167's
	Transport   *ICETransport   // nil when absent or not ICE-UDP
}

// RTPDescription is an XEP-0167 <description/> with the XEP-0293, 0294 and
// 0339 extensions. A data channel content has Media "application" and no
// payload types; its SCTP parameters are on the transport.
type RTPDescription struct {
	Media            string // "audio", "video" or "application"; required
	SSRC             string // legacy description ssrc attribute (Dino); kept in Jingle, not mapped to SDP
	PayloadTypes     []PayloadType
	Feedback         []Feedback // rtcp-fb for every payload type: a=rtcp-fb:*
	HeaderExtensions []HeaderExtension
	ExtmapAllowMixed bool // XEP-0294 <extmap-allow-mixed/>
	RTCPMux          bool // <rtcp-mux/>
	Bandwidths       []Bandwidth
	Sources          []Source
	SourceGroups     []SourceGroup
	RIDs             []RID       // a=rid lines
	Simulcast        []Simulcast // a=simulcast, one per direction
}

// RID is an RFC 8851 a=rid: one RTP stream of a simulcast, as
// <rid xmlns='urn:parley:jingle:rid:0' id='h' senders='responder' params='max-width=1280'/>.
// Senders is who sends the stream, as for contents: an offer's
// "a=rid:h recv" is senders='responder', and so is the answer's "send".
type RID struct {
	ID      string // 1 to 16 letters, digits, '-' or '_' (RFC 8851 rid-syntax, shortened)
	Senders string // SendersInitiator or SendersResponder
	Params  string // the restrictions after the direction, e.g. "pt=96;max-width=1280"; "" when none
}

// Simulcast is one direction of an RFC 8853 a=simulcast line, as
// <simulcast xmlns='urn:parley:jingle:rid:0' senders='responder' layers='q;h;~f'/>.
type Simulcast struct {
	Senders string // SendersInitiator or SendersResponder
	Layers  string // the rid list as in SDP: ';' between layers, ',' between alternatives, '~' paused
}

// PayloadType is one codec: a=rtpmap plus its a=fmtp and a=rtcp-fb lines.
type PayloadType struct {
	ID         uint8  // 0-127
	Name       string // "" for a static payload type without a=rtpmap
	ClockRate  uint32 // 0 when absent
	Channels   uint8  // 0 when absent, which means 1
	PTime      uint32 // a=ptime in ms; 0 when absent
	MaxPTime   uint32 // a=maxptime in ms; 0 when absent
	Parameters []Parameter
	Feedback   []Feedback
}

// Parameter is a name/value pair: an fmtp parameter, or a source attribute.
// A parameter without a value (fmtp "0-15", ssrc "label") has Value "".
type Parameter struct {
	Name  string
	Value string
}

// Feedback is an XEP-0293 rtcp-fb. Type "trr-int" stands for the
// <rtcp-fb-trr-int/> element, with the interval in ms as Subtype. Any
// further SDP tokens stay in Subtype, space-separated.
type Feedback struct {
	Type    string // "nack", "ccm", "goog-remb", "transport-cc", "trr-int", ...
	Subtype string // "pli", "fir", ...; "" when absent
}

// FeedbackTRRInt is the Feedback type of <rtcp-fb-trr-int/>.
const FeedbackTRRInt = "trr-int"

// HeaderExtension is an XEP-0294 <rtp-hdrext/>: an a=extmap line.
type HeaderExtension struct {
	ID      uint16 // 1-256 or 4096-4351
	URI     string
	Senders string // one of the Senders constants ("none" is a=extmap:N/inactive); "" means both
}

// Bandwidth is an XEP-0167 <bandwidth/>: a b= line.
type Bandwidth struct {
	Type  string // "AS", "TIAS", ...
	Value uint32
}

// Source is an XEP-0339 <source/>: the a=ssrc lines of one SSRC.
type Source struct {
	SSRC       uint32
	Parameters []Parameter // "cname", "msid", ...
}

// SourceGroup is an XEP-0339 <ssrc-group/>: a=ssrc-group.
type SourceGroup struct {
	Semantics string // "FID", "SIM", "FEC-FR", ...
	SSRCs     []uint32
}

// ICETransport is an XEP-0176 <transport/> with its XEP-0320 fingerprints and
// an optional XEP-0343 sctpmap.
type ICETransport struct {
	Ufrag        string // "" when absent (a transport-info may carry only candidates)
	Pwd          string
	Fingerprints []Fingerprint
	Candidates   []Candidate
	SCTP         *SCTPMap // set for a data channel content
}

// Fingerprint is an XEP-0320 <fingerprint/>: a=fingerprint plus a=setup.
type Fingerprint struct {
	Hash  string // "sha-256", ...
	Setup string // "actpass", "active" or "passive"; "" when absent
	Value string // colon-separated hex
}

// SCTPMap is an XEP-0343 <sctpmap/>: the m=application section's a=sctp-port.
type SCTPMap struct {
	Port     uint16 // SCTP port, 5000 by convention
	Protocol string // "webrtc-datachannel"
	Streams  uint32 // 0 when absent
}

// Error is what Parse, ToSDP and FromSDP fail with. Condition is the stanza
// error condition the focus should answer with (RFC 6120 §8.3.3).
type Error struct {
	Condition string // "bad-request" or "feature-not-implemented"
	Text      string // what was wrong, for logs and the error's <text/>
}

// Stanza error conditions used by this package.
const (
	CondBadRequest            = "bad-request"
	CondFeatureNotImplemented = "feature-not-implemented"
)

func (e *Error) Error() string { return "jingle: " + e.Condition + ": " + e.Text }

func badRequest(format string, args ...any) *Error {
	return &Error{Condition: CondBadRequest, Text: fmt.Sprintf(format, args...)}
}

// TransportsOnly returns the contents with their transports and no
// descriptions: what transport-replace and transport-accept carry.
func TransportsOnly(contents []Content) []Content {
	out := make([]Content, len(contents))
	for i, ct := range contents {
		out[i] = Content{Creator: ct.Creator, Name: ct.Name, Senders: ct.Senders, Transport: ct.Transport}
	}
	return out
}

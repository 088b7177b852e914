package jingle

import (
	"errors"
	"fmt"
	"strconv"
	"strings"

	"parley.dev/parley/internal/xmlstream"
)

// Candidate is an XEP-0176 ICE candidate: an SDP a=candidate line.
type Candidate struct {
	Foundation string
	Component  uint8  // 1 = RTP; 2 = RTCP without rtcp-mux
	Protocol   string // "udp" or "tcp", lower case
	Priority   uint32
	IP         string // an address, or an mDNS ".local" name
	Port       uint16
	Type       string // "host", "srflx", "prflx" or "relay"
	Generation uint8
	Network    uint16 // SDP network-id; 0 when absent
	ID         string // XEP-0176 id; not carried in SDP, derived by CandidateFromSDP
	RelAddr    string // related address of srflx/relay candidates; "" when absent
	RelPort    uint16
	TCPType    string // ICE-TCP: "active", "passive" or "so"; "" for UDP
}

// ErrEndOfCandidates is what CandidateFromSDP returns for an
// a=end-of-candidates line: not a candidate, and nothing to send in Jingle.
var ErrEndOfCandidates = errors.New("jingle: end of candidates")

// CandidateFromSDP parses one candidate as a browser gives it in
// RTCIceCandidate.candidate ("candidate:..."), with or without the "a="
// prefix. Extension attributes other than generation, network-id and tcptype
// (ufrag, network-cost) are dropped; ID is derived from the candidate so that
// the same candidate always gets the same id.
func CandidateFromSDP(line string) (Candidate, error) {
	line = strings.TrimPrefix(trimSpace(line), "a=")
	if line == "end-of-candidates" {
		return Candidate{}, ErrEndOfCandidates
	}
	rest, ok := strings.CutPrefix(line, "candidate:")
	if !ok {
		return Candidate{}, badRequest("not a candidate line")
	}
	f := fields(rest)
	if len(f) < 8 || f[6] != "typ" || len(f)%2 != 0 {
		return Candidate{}, badRequest("malformed candidate %q", rest)
	}
	c := Candidate{Foundation: f[0], Protocol: asciiLower(f[2]), IP: f[4], Type: f[7]}
	var err error
	set := func(dst func(uint64), s string, bits int, what string) {
		if err == nil {
			var v uint64
			v, err = parseUint(s, bits, "candidate "+what)
			dst(v)
		}
	}
	set(func(v uint64) { c.Component = uint8(v) }, f[1], 8, "component")
	set(func(v uint64) { c.Priority = uint32(v) }, f[3], 32, "priority")
	set(func(v uint64) { c.Port = uint16(v) }, f[5], 16, "port")
	for i := 8; i+1 < len(f); i += 2 {
		switch v := f[i+1]; f[i] {
		case "raddr":
			c.RelAddr = v
		case "rport":
			set(func(n uint64) { c.RelPort = uint16(n) }, v, 16, "rport")
		case "tcptype":
			c.TCPType = v
		case "generation":
			set(func(n uint64) { c.Generation = uint8(n) }, v, 8, "generation")
		case "network-id":
			set(func(n uint64) { c.Network = uint16(n) }, v, 16, "network-id")
		}
	}
	if err != nil {
		return Candidate{}, err
	}
	if c.RelAddr == "" {
		c.RelPort = 0 // a related port means nothing without its address
	}
	if err := c.validate(); err != nil {
		return Candidate{}, err
	}
	c.ID = "c" + hash32Hex(c.SDP())
	return c, nil
}

// SDP formats the candidate as RTCIceCandidate.candidate wants it:
// "candidate:..." without the "a=" prefix.
func (c Candidate) SDP() string {
	var b strings.Builder
	b.WriteString("candidate:")
	b.WriteString(c.Foundation)
	for _, s := range []string{
		strconv.Itoa(int(c.Component)), c.Protocol, strconv.FormatUint(uint64(c.Priority), 10),
		c.IP, strconv.Itoa(int(c.Port)), "typ", c.Type,
	} {
		b.WriteByte(' ')
		b.WriteString(s)
	}
	if c.RelAddr != "" {
		b.WriteString(" raddr " + c.RelAddr + " rport " + strconv.Itoa(int(c.RelPort)))
	}
	if c.TCPType != "" {
		b.WriteString(" tcptype " + c.TCPType)
	}
	b.WriteString(" generation " + strconv.Itoa(int(c.Generation)))
	if c.Network != 0 {
		b.WriteString(" network-id " + strconv.Itoa(int(c.Network)))
	}
	return b.String()
}

// validate checks what ICE needs, and that every string is a single SDP
// token, so that a candidate from XML cannot smuggle text into an SDP line.
func (c Candidate) validate() error {
	switch {
	case !isToken(c.Foundation):
		return badRequest("candidate: bad foundation %q", c.Foundation)
	case c.Component == 0:
		return badRequest("candidate: component 0")
	case !isToken(c.Protocol):
		return badRequest("candidate: bad protocol %q", c.Protocol)
	case !isToken(c.IP):
		return badRequest("candidate: bad ip %q", c.IP)
	case c.RelAddr != "" && !isToken(c.RelAddr):
		return badRequest("candidate: bad rel-addr %q", c.RelAddr)
	case c.ID != "" && !isToken(c.ID):
		return badRequest("candidate: bad id %q", c.ID)
	}
	switch c.Type {
	case "host", "srflx", "prflx", "relay":
	default:
		return badRequest("candidate: bad type %q", c.Type)
	}
	switch c.TCPType {
	case "", "active", "passive", "so":
	default:
		return badRequest("candidate: bad tcptype %q", c.TCPType)
	}
	return nil
}

// Element returns the XEP-0176 <candidate/>.
func (c Candidate) Element() *xmlstream.Element {
	el := xmlstream.New(NSICE, "candidate",
		"component", strconv.Itoa(int(c.Component)),
		"foundation", c.Foundation,
		"generation", strconv.Itoa(int(c.Generation)))
	el.SetAttr("id", c.ID)
	el.SetAttr("ip", c.IP)
	if c.Network != 0 {
		el.SetAttr("network", strconv.Itoa(int(c.Network)))
	}
	el.SetAttr("port", strconv.Itoa(int(c.Port)))
	el.SetAttr("priority", strconv.FormatUint(uint64(c.Priority), 10))
	el.SetAttr("protocol", c.Protocol)
	if c.RelAddr != "" {
		el.SetAttr("rel-addr", c.RelAddr)
		el.SetAttr("rel-port", strconv.Itoa(int(c.RelPort)))
	}
	el.SetAttr("type", c.Type)
	el.SetAttr("tcptype", c.TCPType)
	return el
}

// isToken reports whether s is a non-empty run of visible ASCII characters:
// what an SDP token, address or identifier may contain.
func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] >= 0x7f {
			return false
		}
	}
	return true
}

// hash32Hex is hash32 as 8 hex digits.
func hash32Hex(s string) string { return fmt.Sprintf("%08x", hash32(s)) }

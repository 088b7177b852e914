package jingle

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

func mustParse(t *testing.T, s string) *Jingle {
	t.Helper()
	el, err := decodeXML(s)
	if err != nil {
		t.Fatal(err)
	}
	j, err := Parse(el)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	return j
}

// TestInvalidInputs: what testdata/invalid.json lists is refused with its
// condition, by the function its kind names; jingle.js runs the same list.
func TestInvalidInputs(t *testing.T) {
	for _, in := range loadInvalid(t) {
		t.Run(in.Kind+"/"+in.Name, func(t *testing.T) {
			var err error
			switch in.Kind {
			case "jingle":
				el, xerr := decodeXML(in.Input)
				if xerr != nil {
					t.Fatalf("the input is not XML: %v", xerr)
				}
				_, err = Parse(el)
			case "tosdp":
				_, err = ToSDP(mustParse(t, in.Input), RoleInitiator)
			case "sdp":
				_, err = FromSDP(in.Input, RoleInitiator)
			case "candidate":
				_, err = CandidateFromSDP(in.Input)
			default:
				t.Fatalf("unknown kind %q", in.Kind)
			}
			var je *Error
			if !errors.As(err, &je) {
				t.Fatalf("got %v, want a *jingle.Error", err)
			}
			if je.Condition != in.Condition {
				t.Fatalf("condition %q (%s), want %q", je.Condition, je.Text, in.Condition)
			}
		})
	}
}

func TestCandidateFromSDP(t *testing.T) {
	tests := []struct {
		line string
		want Candidate
	}{
		{
			"candidate:3288143418 1 udp 2122260223 7d2e4c1c.local 54321 typ host generation 0 ufrag Hk7q network-id 1 network-cost 10",
			Candidate{Foundation: "3288143418", Component: 1, Protocol: "udp", Priority: 2122260223,
				IP: "7d2e4c1c.local", Port: 54321, Type: "host", Network: 1},
		},
		{
			"a=candidate:842163049 1 UDP 1686052607 203.0.113.7 51842 typ srflx raddr 192.168.1.40 rport 51842 generation 2",
			Candidate{Foundation: "842163049", Component: 1, Protocol: "udp", Priority: 1686052607,
				IP: "203.0.113.7", Port: 51842, Type: "srflx", RelAddr: "192.168.1.40", RelPort: 51842, Generation: 2},
		},
		{
			"candidate:1470287416 1 tcp 1518280447 2001:db8::1 9 typ host tcptype active",
			Candidate{Foundation: "1470287416", Component: 1, Protocol: "tcp", Priority: 1518280447,
				IP: "2001:db8::1", Port: 9, Type: "host", TCPType: "active"},
		},
	}
	for _, tt := range tests {
		got, err := CandidateFromSDP(tt.line)
		if err != nil {
			t.Fatalf("%s: %v", tt.line, err)
		}
		if !strings.HasPrefix(got.ID, "c") || len(got.ID) != 9 {
			t.Errorf("%s: id %q", tt.line, got.ID)
		}
		got.ID = ""
		if !reflect.DeepEqual(got, tt.want) {
			t.Errorf("%s:\n got %+v\nwant %+v", tt.line, got, tt.want)
		}
		back, err := CandidateFromSDP(got.SDP())
		if err != nil {
			t.Fatalf("SDP() output %q: %v", got.SDP(), err)
		}
		back.ID = ""
		if !reflect.DeepEqual(back, got) {
			t.Errorf("SDP() round trip: %+v", back)
		}
	}
}

// TestCandidateID: the id is "c" and FNV-1a of the candidate's SDP form (the
// hash computed separately), so Go and jingle.js derive the same one.
func TestCandidateID(t *testing.T) {
	c, err := CandidateFromSDP("candidate:1 1 UDP 2130706431 10.0.1.1 8998 typ host")
	if err != nil {
		t.Fatal(err)
	}
	if want := "candidate:1 1 udp 2130706431 10.0.1.1 8998 typ host generation 0"; c.SDP() != want {
		t.Fatalf("SDP() = %q, want %q", c.SDP(), want)
	}
	if c.ID != "cd4e81c30" {
		t.Fatalf("id %q, want cd4e81c30", c.ID)
	}
}

func TestEndOfCandidates(t *testing.T) {
	for _, line := range []string{"a=end-of-candidates", "end-of-candidates\r\n"} {
		if _, err := CandidateFromSDP(line); !errors.Is(err, ErrEndOfCandidates) {
			t.Errorf("%q: %v", line, err)
		}
	}
	// In a full SDP it is not a candidate, and not an error.
	sdp := "v=0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=mid:0\r\na=end-of-candidates\r\n"
	j, err := FromSDP(sdp, RoleInitiator)
	if err != nil || len(j.Contents[0].Transport.Candidates) != 0 {
		t.Fatalf("FromSDP: %v %+v", err, j)
	}
}

// TestDirections: senders maps to the direction of the SDP's own side, and
// back.
func TestDirections(t *testing.T) {
	tests := []struct {
		senders string
		role    Role
		dir     string
	}{
		{"", RoleInitiator, "sendrecv"},
		{SendersBoth, RoleResponder, "sendrecv"},
		{SendersNone, RoleInitiator, "inactive"},
		{SendersInitiator, RoleInitiator, "sendonly"},
		{SendersInitiator, RoleResponder, "recvonly"},
		{SendersResponder, RoleInitiator, "recvonly"},
		{SendersResponder, RoleResponder, "sendonly"},
	}
	for _, tt := range tests {
		j := mustParse(t, `<jingle xmlns='urn:xmpp:jingle:1' action='content-modify' sid='s'>
			<content creator='initiator' name='0' senders='`+tt.senders+`'>
			<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0' name='PCMU' clockrate='8000'/>
			<rtp-hdrext xmlns='urn:xmpp:jingle:apps:rtp:rtp-hdrext:0' id='1' uri='urn:x' senders='`+tt.senders+`'/>
			</description></content></jingle>`)
		s, err := ToSDP(j, tt.role)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(s, "\r\na="+tt.dir+"\r\n") {
			t.Errorf("%q as %v: want a=%s in\n%s", tt.senders, tt.role, tt.dir, s)
		}
		extDir := "/" + tt.dir
		if tt.dir == "sendrecv" {
			extDir = ""
		}
		if !strings.Contains(s, "\r\na=extmap:1"+extDir+" urn:x\r\n") {
			t.Errorf("%q as %v: want extmap direction %q in\n%s", tt.senders, tt.role, extDir, s)
		}
		back, err := FromSDP(s, tt.role)
		if err != nil {
			t.Fatal(err)
		}
		want := tt.senders
		if want == "" {
			want = SendersBoth
		}
		if got := back.Contents[0].Senders; got != want {
			t.Errorf("%q as %v: back %q", tt.senders, tt.role, got)
		}
	}
}

// TestParseTolerates: unknown elements and attributes do not matter, and a
// few non-standard placements are understood.
func TestParseTolerates(t *testing.T) {
	j := mustParse(t, `<jingle xmlns='urn:xmpp:jingle:1' action='source-add' sid='s' foo='bar'>
		<unknown xmlns='urn:example:x'><content name='not-a-content'/></unknown>
		<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='BUNDLE'><content name='0'/></group>
		<group xmlns='urn:xmpp:jingle:apps:grouping:0' semantics='LS'><content name='0'/></group>
		<content name='0'>
			<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='video'>
				<payload-type id='96' name='VP8' clockrate='90000'><parameter value='x-only'/><parameter/></payload-type>
				<encryption required='1'><crypto tag='1'/></encryption>
				<rtcp-mux xmlns='urn:example:not-rtp'/>
			</description>
			<transport xmlns='urn:xmpp:jingle:transports:ice-udp:1'><rtcp-mux/><web-socket xmlns='urn:example:ws' url='wss://x'/></transport>
			<security xmlns='urn:example:sec'/>
		</content>
	</jingle>`)
	if j.Group == nil || j.Group.Semantics != "BUNDLE" {
		t.Errorf("group %+v", j.Group)
	}
	if len(j.Contents) != 1 || j.Contents[0].Creator != SendersInitiator {
		t.Fatalf("contents %+v", j.Contents)
	}
	d := j.Contents[0].Description
	if !d.RTCPMux {
		t.Error("rtcp-mux in the transport was not understood")
	}
	if want := []Parameter{{Name: "x-only"}}; !reflect.DeepEqual(d.PayloadTypes[0].Parameters, want) {
		t.Errorf("parameters %+v, want %+v", d.PayloadTypes[0].Parameters, want)
	}
}

// TestReasonRoundTrip covers session-terminate, whose reason is not SDP.
func TestReasonRoundTrip(t *testing.T) {
	in := `<jingle xmlns='urn:xmpp:jingle:1' action='session-terminate' sid='s'>
		<reason><failed-transport/><text>ICE failed</text></reason></jingle>`
	j := mustParse(t, in)
	if want := (&Reason{Condition: "failed-transport", Text: "ICE failed"}); !reflect.DeepEqual(j.Reason, want) {
		t.Fatalf("reason %+v", j.Reason)
	}
	back := mustParse(t, j.Element().String())
	if !reflect.DeepEqual(back, j) {
		t.Fatalf("round trip %+v", back)
	}
}

func TestBadRole(t *testing.T) {
	j := mustParse(t, `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='s'><content name='0'>
		<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/></description></content></jingle>`)
	if _, err := ToSDP(j, Role(0)); err == nil {
		t.Error("ToSDP accepted role 0")
	}
	if _, err := FromSDP("v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n", Role(3)); err == nil {
		t.Error("FromSDP accepted role 3")
	}
	if _, err := ToSDP(j, RoleResponder); err != nil {
		t.Errorf("a static payload type alone is valid: %v", err)
	}
}

func TestSDPSizeLimit(t *testing.T) {
	big := "v=0\r\nm=audio 9 RTP/AVP 0\r\na=mid:0\r\n" + strings.Repeat("a=x-filler\r\n", MaxSDPSize/12+1)
	if _, err := FromSDP(big, RoleInitiator); err == nil || !strings.Contains(err.Error(), "larger") {
		t.Fatalf("oversized SDP: %v", err)
	}
}

// TestPortZero: rejected m-lines are left out, bundle-only ones kept.
func TestPortZero(t *testing.T) {
	sdp := "v=0\r\na=group:BUNDLE 0 1 2\r\n" +
		"m=audio 9 RTP/AVP 0\r\na=mid:0\r\n" +
		"m=audio 0 RTP/AVP 0\r\na=mid:1\r\n" +
		"m=audio 0 RTP/AVP 0\r\na=mid:2\r\na=bundle-only\r\n"
	j, err := FromSDP(sdp, RoleInitiator)
	if err != nil {
		t.Fatal(err)
	}
	if len(j.Contents) != 2 || j.Contents[1].Name != "2" {
		t.Fatalf("contents %+v", j.Contents)
	}
	if want := []string{"0", "2"}; !reflect.DeepEqual(j.Group.Contents, want) {
		t.Fatalf("group %v, want %v", j.Group.Contents, want)
	}
}

// TestSessionID: o= is derived from the sid, so renegotiations of one session
// keep it.
func TestSessionID(t *testing.T) {
	j := mustParse(t, `<jingle xmlns='urn:xmpp:jingle:1' action='session-initiate' sid='a73sjjvkla37jfea'><content name='0'>
		<description xmlns='urn:xmpp:jingle:apps:rtp:1' media='audio'><payload-type id='0'/></description></content></jingle>`)
	s, err := ToSDP(j, RoleInitiator)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(s, "\r\no=- 984800379 2 IN IP4 0.0.0.0\r\n") {
		t.Fatalf("o= line not derived from the sid:\n%s", s)
	}
}

package sfu

import (
	"net"
	"strconv"

	"github.com/pion/webrtc/v4"
)

// Route describes the path a participant's media takes: the ICE candidate
// pair in use, by type and protocol ("host/udp", "relay/udp", "host/tcp"
// for ICE-TCP, "srflx/udp", "prflx/udp").
type Route struct {
	Local      string `json:"local"`       // candidate type/protocol; "" before a pair is chosen
	Remote     string `json:"remote"`      // the participant's candidate, likewise
	RemoteAddr string `json:"remote_addr"` // the participant's address as the SFU sees it
}

// Route returns the candidate pair the participant's connection uses now.
// With BUNDLE every m-line shares one transport: the first that has one.
func (p *Participant) Route() Route {
	for _, t := range p.pc.GetTransceivers() {
		var dt *webrtc.DTLSTransport
		if r := t.Receiver(); r != nil {
			dt = r.Transport()
		}
		if dt == nil && t.Sender() != nil {
			dt = t.Sender().Transport()
		}
		if dt == nil {
			continue
		}
		pair, err := dt.ICETransport().GetSelectedCandidatePair()
		if err != nil || pair == nil || pair.Local == nil || pair.Remote == nil {
			continue
		}
		return Route{
			Local:      pair.Local.Typ.String() + "/" + pair.Local.Protocol.String(),
			Remote:     pair.Remote.Typ.String() + "/" + pair.Remote.Protocol.String(),
			RemoteAddr: net.JoinHostPort(pair.Remote.Address, strconv.Itoa(int(pair.Remote.Port))),
		}
	}
	return Route{}
}

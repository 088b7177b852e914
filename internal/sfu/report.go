package sfu

import "github.com/pion/webrtc/v4"

// Report is what one participant's connection looks like now, for the
// operators' JSON statistics: the path, the round-trip time, and per
// published stream what arrives and what is lost.
type Report struct {
	ID         string           `json:"id"`
	Route      Route            `json:"route"`
	RTTSeconds float64          `json:"rtt_seconds"` // ICE round-trip time of the pair in use; 0 before a measure
	Published  []StreamReport   `json:"published"`
	Counters   ParticipantStats `json:"counters"` // PacketsSent, BytesSent: what it is sent
}

// StreamReport is one RTP stream a participant publishes (a simulcast
// layer is a stream), as the SFU counted it.
type StreamReport struct {
	Source  string `json:"source"` // audio, video (camera) or screen
	Layer   int    `json:"layer"`  // 0 without simulcast
	Codec   string `json:"codec"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"` // payload bytes
}

// Report describes the participant's connection: the SFU's own counters,
// and the round-trip time from Pion's getStats. It is for operators, not
// the forwarding path: it takes Pion's locks.
func (p *Participant) Report() Report {
	st := p.Stats()
	r := Report{ID: p.id, Route: p.Route(), Counters: st}
	for _, st := range p.pc.GetStats() {
		if v, ok := st.(webrtc.ICECandidatePairStats); ok && v.Nominated && v.CurrentRoundTripTime > 0 {
			r.RTTSeconds = v.CurrentRoundTripTime
		}
	}
	p.mu.Lock()
	own := p.published
	p.mu.Unlock()
	for _, pub := range own {
		if pub == nil {
			continue
		}
		for i, l := range pub.layers {
			if l == nil || l.packets.Load() == 0 {
				continue
			}
			r.Published = append(r.Published, StreamReport{Source: string(pub.info.Source), Layer: i, Codec: pub.info.Codec,
				Packets: l.packets.Load(), Bytes: l.bytes.Load()})
		}
	}
	return r
}

package app

import (
	"context"

	"parley.dev/parley/internal/admission"
	"parley.dev/parley/internal/metrics"
)

// mountMetrics serves /metrics on the admin listener, never on the public
// port. It needs no bearer token: it holds counts, not secrets, and the
// listener is on loopback unless the operator chose otherwise; the admin
// API's actions keep their token.
func (p *parley) mountMetrics() {
	if p.adminMux == nil {
		return
	}
	p.adminMux.Handle("GET /metrics", metrics.Handler(p.metricsSnapshot))
}

// metricsSnapshot reads every part's counters.
func (p *parley) metricsSnapshot() metrics.Snapshot {
	sfu := p.sfu.Stats()
	xs := p.xmpp.Stats()
	ts := p.port.turn.Stats()
	s := metrics.Snapshot{
		Conferences:         sfu.Conferences,
		Participants:        sfu.Participants,
		XMPPSessions:        int(xs.Sessions),
		XMPPConnections:     int(xs.Connections),
		SFUPacketsForwarded: sfu.PacketsForwarded,
		SFUBytesForwarded:   sfu.BytesForwarded,
		SFUNACKs:            sfu.NACKs,
		SFUKeyframeRequests: sfu.KeyframeRequests,
		SFULayerDecisions: map[string]uint64{"start": sfu.LayerStarts, "up": sfu.LayerSwitchesUp,
			"down": sfu.LayerSwitchesDown, "pause": sfu.LayerPauses,
			"temporal_up": sfu.TemporalSwitchesUp, "temporal_down": sfu.TemporalSwitchesDown},
		SFUProbes: map[string]uint64{"held": sfu.ProbesHeld, "failed": sfu.ProbesFailed},
		SFUDropped: map[string]uint64{"retransmit_budget": sfu.RetransmitsDropped, "keyframe_request_budget": sfu.KeyframeRequestsDropped,
			"pacer_full": sfu.PacerDropped, "red_malformed": sfu.BadREDDropped,
			"rtp_read_queue_full": sfu.ReadQueueDropsRTP, "rtcp_read_queue_full": sfu.ReadQueueDropsRTCP},
		TURNAllocations:  ts.Allocations,
		TURNRelayedBytes: ts.ChannelBytes,
		PortmuxDropped:   map[metrics.Label2]uint64{},
		AuthFailures:     xs.AuthFailuresByMech,
		Stanzas:          xs.ReceivedByKind,
		XMPPDropped:      xs.Drops,
	}
	for reason, n := range p.port.tcp.Stats().Refused {
		s.PortmuxDropped[metrics.Label2{A: "tcp", B: reason}] = n
	}
	for reason, n := range p.port.udp.Stats().Dropped {
		s.PortmuxDropped[metrics.Label2{A: "udp", B: reason}] = n
	}
	refusal := func(layer string, m map[string]uint64) {
		for perm, n := range m {
			s.Extra = append(s.Extra, metrics.Sample{Name: "parley_permission_refusals_total",
				Help: "Actions refused for lack of a permission, by layer (muc, focus) and permission.", Counter: true,
				Labels: map[string]string{"layer": layer, "permission": perm}, Value: float64(n)})
		}
	}
	refusal("muc", p.muc.Stats().Refused)
	refusal("focus", p.focus.Stats().Refused)
	for reason, n := range ts.Refused {
		s.Extra = append(s.Extra, metrics.Sample{Name: "parley_turn_refused_total", Help: "TURN requests refused, by reason.",
			Counter: true, Labels: map[string]string{"reason": reason}, Value: float64(n)})
	}
	s.Extra = append(s.Extra, metrics.Sample{Name: "parley_sfu_temporal_frames_dropped_total",
		Help: "VP8 frames not forwarded to a subscriber: above the temporal layer its bandwidth allows.", Counter: true,
		Value: float64(sfu.TemporalFramesDropped)})
	s.Extra = append(s.Extra, p.door.samples()...)
	if p.tokens != nil {
		for reason, n := range p.tokens.Refusals() {
			s.Extra = append(s.Extra, metrics.Sample{Name: "parley_tokens_total", Help: "Tokens checked, by outcome (accepted, or the refusal's reason).",
				Counter: true, Labels: map[string]string{"outcome": reason}, Value: float64(n)})
		}
	}
	return s
}

// conferenceStats serves GET /stats (room "") and GET
// /stats/conferences/{room} on the admin listener.
func (p *parley) conferenceStats(ctx context.Context, room string) (any, bool) {
	confs := p.focus.Conferences(ctx)
	if room == "" {
		return map[string]any{"server": p.sfu.Stats(), "xmpp_sessions": p.xmpp.Stats().Sessions, "conferences": confs}, true
	}
	want, err := p.roomJID(room)
	if err != nil {
		return nil, false
	}
	for _, c := range confs {
		if c.Room == want.String() {
			return c, true
		}
	}
	return nil, false
}

// samples are the front door's gates as metrics: members held, and
// refusals and sheds by reason (docs/ONEPORT.md, "Admission").
func (d *frontDoor) samples() []metrics.Sample {
	var out []metrics.Sample
	for name, g := range map[string]*admission.Gate{"pending": d.pending, "http": d.http, "turn": d.turn, "ice_tcp": d.iceTCP, "unauth": d.unauth, "guests": d.guests} {
		if g == nil {
			continue
		}
		st := g.Stats()
		out = append(out, metrics.Sample{Name: "parley_admission_held", Help: "Connections or sessions each admission gate holds now.",
			Labels: map[string]string{"gate": name}, Value: float64(st.Held)})
		for reason, n := range st.Refused {
			out = append(out, metrics.Sample{Name: "parley_admission_refused_total", Help: "Connections or logins an admission gate refused or shed, by reason.",
				Counter: true, Labels: map[string]string{"gate": name, "reason": reason}, Value: float64(n)})
		}
		for reason, n := range st.Shed {
			out = append(out, metrics.Sample{Name: "parley_admission_refused_total", Help: "Connections or logins an admission gate refused or shed, by reason.",
				Counter: true, Labels: map[string]string{"gate": name, "reason": "shed_" + reason}, Value: float64(n)})
		}
	}
	return out
}

// Package metrics exposes parley's counters to Prometheus. The counters
// live where they are counted (the SFU, TURN, the muxes, the XMPP
// server...), as plain atomics behind each package's Stats(); this package
// reads a Snapshot of them at each scrape and writes them in Prometheus'
// format with client_golang, beside the Go runtime's own metrics. It
// imports none of parley's packages: internal/app fills the Snapshot.
package metrics

import (
	"net/http"
	"sort"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Snapshot is the state of every counter at one moment. Maps are by label
// value; a nil map exports nothing.
type Snapshot struct {
	Conferences     int // conferences the focus runs
	Participants    int // participants with a media session
	XMPPSessions    int // bound XMPP sessions
	XMPPConnections int // open XMPP connections, negotiating or bound

	SFUPacketsForwarded uint64
	SFUBytesForwarded   uint64
	SFUNACKs            uint64            // NACKs received from subscribers
	SFUKeyframeRequests uint64            // PLIs and FIRs sent to publishers
	SFULayerDecisions   map[string]uint64 // by decision: start, up, down, pause, temporal_up, temporal_down
	SFUProbes           map[string]uint64 // bandwidth probes by result: held, failed
	SFUDropped          map[string]uint64 // by reason: retransmit_budget, keyframe_request_budget, pacer_full, red_malformed, rtp_read_queue_full, rtcp_read_queue_full

	TURNAllocations  int    // live allocations
	TURNRelayedBytes uint64 // both directions

	PortmuxDropped map[Label2]uint64 // by protocol (tcp, udp) and reason
	AuthFailures   map[string]uint64 // by SASL mechanism
	Stanzas        map[string]uint64 // received from clients, by kind (message, presence, iq)
	XMPPDropped    map[string]uint64 // stanzas dropped, by reason

	// Extra carries counters that parts add over time (refusals by
	// permission, admission sheds...), each with its own name.
	Extra []Sample
}

// Label2 is a pair of label values.
type Label2 struct{ A, B string }

// Sample is one extra metric value.
type Sample struct {
	Name    string // full name, parley_...
	Help    string
	Counter bool              // a counter, else a gauge
	Labels  map[string]string // may be nil
	Value   float64
}

// Handler returns the /metrics handler for a snapshot function, called once
// per scrape.
func Handler(snapshot func() Snapshot) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}), &collector{snapshot: snapshot})
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.ContinueOnError})
}

// collector is an unchecked collector: it describes nothing up front,
// because Extra's metrics are only known at scrape time.
type collector struct {
	snapshot func() Snapshot // set at construction
}

func (c *collector) Describe(chan<- *prometheus.Desc) {}

func (c *collector) Collect(ch chan<- prometheus.Metric) {
	s := c.snapshot()
	gauge := func(name, help string, v float64) {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.GaugeValue, v)
	}
	counter := func(name, help string, v uint64) {
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(name, help, nil, nil), prometheus.CounterValue, float64(v))
	}
	gauge("parley_conferences", "Conferences the focus runs.", float64(s.Conferences))
	gauge("parley_participants", "Participants with a media session.", float64(s.Participants))
	gauge("parley_xmpp_sessions", "Bound XMPP sessions.", float64(s.XMPPSessions))
	gauge("parley_xmpp_connections", "Open XMPP connections, negotiating or bound.", float64(s.XMPPConnections))
	counter("parley_sfu_packets_forwarded_total", "RTP packets the SFU forwarded to subscribers.", s.SFUPacketsForwarded)
	counter("parley_sfu_bytes_forwarded_total", "RTP bytes the SFU forwarded to subscribers.", s.SFUBytesForwarded)
	counter("parley_sfu_nacks_total", "NACKs received from subscribers.", s.SFUNACKs)
	counter("parley_sfu_keyframe_requests_total", "Keyframe requests (PLI, FIR) sent to publishers.", s.SFUKeyframeRequests)
	labelled(ch, "parley_sfu_layer_decisions_total", "Simulcast layer decisions for subscribers' videos.", "decision", s.SFULayerDecisions)
	labelled(ch, "parley_sfu_probes_total", "Bandwidth probes towards subscribers, by result.", "result", s.SFUProbes)
	labelled(ch, "parley_sfu_dropped_total", "Packets and requests the SFU dropped, by reason: over a subscriber's budgets, a full pacer, malformed RED, a full read queue.", "reason", s.SFUDropped)
	gauge("parley_turn_allocations", "Live TURN allocations.", float64(s.TURNAllocations))
	counter("parley_turn_relayed_bytes_total", "Bytes relayed by TURN, both directions.", s.TURNRelayedBytes)
	labelled2(ch, "parley_portmux_dropped_total", "Connections and datagrams the one port's muxes refused or dropped.", "proto", "reason", s.PortmuxDropped)
	labelled(ch, "parley_auth_failures_total", "Failed XMPP logins.", "mechanism", s.AuthFailures)
	labelled(ch, "parley_stanzas_total", "Stanzas received from XMPP clients.", "kind", s.Stanzas)
	labelled(ch, "parley_xmpp_dropped_total", "Stanzas dropped instead of delivered.", "reason", s.XMPPDropped)
	for _, e := range s.Extra {
		names, values := sortedLabels(e.Labels)
		kind := prometheus.GaugeValue
		if e.Counter {
			kind = prometheus.CounterValue
		}
		ch <- prometheus.MustNewConstMetric(prometheus.NewDesc(e.Name, e.Help, names, nil), kind, e.Value, values...)
	}
}

func labelled(ch chan<- prometheus.Metric, name, help, label string, m map[string]uint64) {
	desc := prometheus.NewDesc(name, help, []string{label}, nil)
	for k, v := range m {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), k)
	}
}

func labelled2(ch chan<- prometheus.Metric, name, help, a, b string, m map[Label2]uint64) {
	desc := prometheus.NewDesc(name, help, []string{a, b}, nil)
	for k, v := range m {
		ch <- prometheus.MustNewConstMetric(desc, prometheus.CounterValue, float64(v), k.A, k.B)
	}
}

func sortedLabels(m map[string]string) (names, values []string) {
	for k := range m {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		values = append(values, m[k])
	}
	return names, values
}

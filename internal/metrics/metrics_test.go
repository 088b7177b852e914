package metrics

import (
	"encoding/json"
	"io"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"
)

func TestHandlerWritesEverySnapshotField(t *testing.T) {
	n := uint64(0)
	h := Handler(func() Snapshot {
		n++
		return Snapshot{
			Conferences: 2, Participants: 5, XMPPSessions: 7, SFUPacketsForwarded: 1000 * n, SFUBytesForwarded: 5, SFUNACKs: 3,
			SFUKeyframeRequests: 4, TURNAllocations: 1, TURNRelayedBytes: 99,
			SFULayerDecisions: map[string]uint64{"up": 8}, SFUProbes: map[string]uint64{"failed": 2},
			SFUDropped:     map[string]uint64{"retransmit_budget": 9},
			PortmuxDropped: map[Label2]uint64{{"udp", "rate_stun"}: 12},
			AuthFailures:   map[string]uint64{"SCRAM-SHA-256": 2},
			Stanzas:        map[string]uint64{"message": 40, "iq": 3},
			Extra:          []Sample{{Name: "parley_refusals_total", Help: "h", Counter: true, Labels: map[string]string{"permission": "kick"}, Value: 6}},
		}
	})
	scrape := func() string {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
		b, _ := io.ReadAll(rec.Body)
		return string(b)
	}
	out := scrape()
	for _, want := range []string{
		"parley_conferences 2", "parley_participants 5", "parley_xmpp_sessions 7",
		"parley_sfu_packets_forwarded_total 1000", "parley_sfu_nacks_total 3", "parley_sfu_keyframe_requests_total 4",
		"parley_turn_allocations 1", "parley_turn_relayed_bytes_total 99",
		`parley_portmux_dropped_total{proto="udp",reason="rate_stun"} 12`,
		`parley_auth_failures_total{mechanism="SCRAM-SHA-256"} 2`,
		`parley_stanzas_total{kind="message"} 40`,
		`parley_sfu_layer_decisions_total{decision="up"} 8`, `parley_sfu_probes_total{result="failed"} 2`,
		`parley_sfu_dropped_total{reason="retransmit_budget"} 9`,
		`parley_refusals_total{permission="kick"} 6`,
		"go_goroutines ", "process_resident_memory_bytes ",
		"# TYPE parley_sfu_packets_forwarded_total counter",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("missing %q", want)
		}
	}
	if !strings.Contains(scrape(), "parley_sfu_packets_forwarded_total 2000") {
		t.Error("a second scrape did not read a new snapshot")
	}
}

// TestDashboardUsesOnlyExportedMetrics: every parley_, go_ and process_
// metric the Grafana dashboard in deploy/ queries is one this package writes.
func TestDashboardUsesOnlyExportedMetrics(t *testing.T) {
	raw, err := os.ReadFile("../../deploy/grafana-dashboard.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}
	rec := httptest.NewRecorder()
	Handler(func() Snapshot {
		return Snapshot{PortmuxDropped: map[Label2]uint64{{"tcp", "x"}: 1}, AuthFailures: map[string]uint64{"PLAIN": 1}, Stanzas: map[string]uint64{"iq": 1}}
	}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exported := rec.Body.String()
	name := regexp.MustCompile(`\b(?:parley|go|process)_[a-z_]+`)
	n := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			for _, m := range name.FindAllString(tg.Expr, -1) {
				n++
				if !strings.Contains(exported, "\n"+m+" ") && !strings.Contains(exported, "\n"+m+"{") {
					t.Errorf("panel %q queries %s, which /metrics does not export", p.Title, m)
				}
			}
		}
	}
	if n < 15 {
		t.Fatalf("only %d metric references found in the dashboard", n)
	}
}

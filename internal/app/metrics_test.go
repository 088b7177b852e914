package app

import (
	"context"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

// scrape reads /metrics and returns each unlabelled sample's value and the
// whole text.
func scrape(t *testing.T, url string) (map[string]float64, string) {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET /metrics: %s\n%s", resp.Status, body)
	}
	values := map[string]float64{}
	line := regexp.MustCompile(`(?m)^([a-z_]+) ([0-9.e+-]+)$`)
	for _, m := range line.FindAllStringSubmatch(string(body), -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		values[m[1]] = v
	}
	return values, string(body)
}

func TestMetricsDuringACall(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	room := jid.MustParse("metrics@conference." + testDomain)
	peers := map[string]*mediapeer.Peer{}
	for _, nick := range []string{"ann", "ben", "cat"} {
		peers[nick] = joinPeer(t, srv.ws, room, nick, true)
	}
	waitFlowing(t, peers)

	// One failed login, to see it counted by mechanism.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: srv.ws, Domain: testDomain, Username: "nobody", Password: "wrong"}); err == nil {
		c.Close()
		t.Fatal("a login with a wrong password succeeded")
	}

	first, text := scrape(t, srv.admin)
	want := map[string]float64{"parley_conferences": 1, "parley_participants": 3}
	for name, v := range want {
		if first[name] != v {
			t.Errorf("%s = %v, want %v", name, first[name], v)
		}
	}
	for _, name := range []string{"parley_xmpp_sessions", "parley_sfu_packets_forwarded_total", "parley_sfu_bytes_forwarded_total", "go_goroutines", "process_resident_memory_bytes"} {
		if first[name] <= 0 {
			t.Errorf("%s = %v, want more than 0", name, first[name])
		}
	}
	for _, name := range []string{"parley_sfu_nacks_total", "parley_sfu_keyframe_requests_total", "parley_turn_allocations", "parley_turn_relayed_bytes_total"} {
		if _, ok := first[name]; !ok {
			t.Errorf("%s is missing", name)
		}
	}
	for _, labelled := range []string{`parley_portmux_dropped_total{proto="udp",reason="malformed_rtp"}`, `parley_stanzas_total{kind="presence"}`, `parley_xmpp_dropped_total{reason="queue_full"}`, `parley_admission_refused_total{gate="pending",reason="per_source"}`, `parley_admission_held{gate="http"}`} {
		if !strings.Contains(text, labelled) {
			t.Errorf("missing %s", labelled)
		}
	}
	if !regexp.MustCompile(`parley_auth_failures_total\{mechanism="SCRAM-SHA-[0-9]+"\} 1\n`).MatchString(text) {
		t.Errorf("the failed SCRAM login is not counted:\n%s", grepLines(text, "auth_failures"))
	}
	time.Sleep(time.Second)
	second, _ := scrape(t, srv.admin)
	for _, name := range []string{"parley_sfu_packets_forwarded_total", "parley_sfu_bytes_forwarded_total"} {
		if second[name] <= first[name] {
			t.Errorf("%s did not grow during the call: %v then %v", name, first[name], second[name])
		}
	}
	// After one leaves: a participant fewer, and the counters kept.
	peers["cat"].Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		third, _ := scrape(t, srv.admin)
		if third["parley_participants"] == 2 {
			if third["parley_sfu_packets_forwarded_total"] < second["parley_sfu_packets_forwarded_total"] {
				t.Errorf("packets forwarded went down when cat left")
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("participants still %v after cat left", third["parley_participants"])
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func TestPublicPortServesNoMetricsNorAdmin(t *testing.T) {
	srv := startRoomsServer(t, t.TempDir(), nil)
	for _, path := range []string{"/metrics", "/api/rooms", "/api/stats", "/stats", "/stats/conferences/x", "/admin/drain"} {
		resp, err := http.Get(srv.http + path)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode == http.StatusOK || strings.Contains(string(body), "parley_") {
			t.Errorf("public port answered %s with %s: %.80q", path, resp.Status, body)
		}
	}
	// A room whose name only starts like one of those is still a room.
	if resp, err := http.Get(srv.http + "/metricsroom"); err != nil || resp.StatusCode != http.StatusOK {
		t.Errorf("GET /metricsroom: %v %v, want the room page", resp, err)
	} else {
		resp.Body.Close()
	}
	if _, text := scrape(t, srv.admin); !strings.Contains(text, "parley_conferences") {
		t.Error("the admin listener does not serve the metrics")
	}
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

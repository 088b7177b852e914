package bridges

import (
	"encoding/json"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"parley.dev/parley/internal/mediapeer"
)

// relayHealth is a bridge's GET /health with its relay counters.
type relayHealth struct {
	Conferences  int `json:"conferences"`
	Participants int `json:"participants"`
	Relays       []struct {
		Direction string `json:"direction"`
		Track     string `json:"track"`
		Packets   int64  `json:"packets"`
	} `json:"relays"`
}

func (d *deployment) relays(nick string) relayHealth {
	d.t.Helper()
	var h relayHealth
	resp, err := http.Get(d.health[nick])
	if err != nil {
		d.t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		d.t.Fatal(err)
	}
	return h
}

// relayed returns a bridge's relay packets by direction and track, and
// how many entries each has.
func (h relayHealth) relayed() (packets map[string]int64, entries map[string]int) {
	packets, entries = map[string]int64{}, map[string]int{}
	for _, r := range h.Relays {
		packets[r.Direction+" "+r.Track] += r.Packets
		entries[r.Direction+" "+r.Track]++
	}
	return packets, entries
}

// fromEach returns what peer received from each other nick, by "nick
// kind", from live tracks, and the SFU's stream id of each nick.
func fromEach(p *mediapeer.Peer) (got map[string]int64, streams map[string]string) {
	got, streams = map[string]int64{}, map[string]string{}
	for _, tr := range p.Tracks() {
		if tr.Ended.Load() || tr.Owner == "" {
			continue
		}
		nick := tr.Owner[strings.LastIndex(tr.Owner, "/")+1:]
		got[nick+" "+tr.Kind] += tr.Packets.Load()
		streams[nick] = tr.StreamID
	}
	return got, streams
}

// TestCascadedConference: with --bridge-spread 2, a conference of four
// spans both bridge processes, two participants on each; everyone sees
// and hears everyone (with the focus's sources naming the right
// publishers), and the relay carries each stream once: the bridges'
// counters show one entry per stream and direction, and a stream crosses
// the relay at the rate one subscriber receives it, while the two
// subscribers on the other side receive it twice over. Killing one bridge
// then moves the whole conference to the other.
func TestCascadedConference(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs three processes")
	}
	d := deploy(t, "--bridge-spread", "2")
	d.startBridge("b1")
	d.startBridge("b2")
	waitFor(t, "two bridges registered", 20*time.Second, func() bool { return len(d.registered()) == 2 })

	nicks := []string{"a", "b", "c", "d"}
	peers := d.join("big", nicks...)
	waitFor(t, "everyone to receive everyone's audio and video", 30*time.Second, func() bool {
		for i, p := range peers {
			got, _ := fromEach(p)
			for j, other := range nicks {
				if i != j && (got[other+" audio"] < 20 || got[other+" video"] < 10) {
					return false
				}
			}
		}
		return true
	})
	h1, h2 := d.relays("b1"), d.relays("b2")
	if h1.Conferences != 1 || h2.Conferences != 1 || h1.Participants != 2 || h2.Participants != 2 {
		t.Fatalf("placement: b1 %d conferences %d participants, b2 %d and %d; want one conference of two on each",
			h1.Conferences, h1.Participants, h2.Conferences, h2.Participants)
	}
	// Each participant's bridge is the one relaying its audio out.
	streams := map[string]string{}
	for _, p := range peers {
		_, st := fromEach(p)
		for nick, id := range st {
			streams[nick] = id
		}
	}
	out1, _ := d.relays("b1").relayed()
	out2, _ := d.relays("b2").relayed()
	home := map[string]string{}
	for _, nick := range nicks {
		_, on1 := out1["out audio-"+streams[nick]]
		_, on2 := out2["out audio-"+streams[nick]]
		switch {
		case on1 && !on2:
			home[nick] = "b1"
		case on2 && !on1:
			home[nick] = "b2"
		default:
			t.Fatalf("%s (%s) is relayed out by b1 %v, by b2 %v: want exactly one", nick, streams[nick], on1, on2)
		}
	}
	// (Who shares a bridge with whom depends on the order the focus
	// calls them in; two on each, checked above, is what matters.)

	type sample struct {
		relays map[string]map[string]int64 // bridge -> "direction track" -> packets
		recv   []map[string]int64          // peer -> "nick kind" -> packets
	}
	take := func() sample {
		s := sample{relays: map[string]map[string]int64{}}
		for _, b := range []string{"b1", "b2"} {
			packets, entries := d.relays(b).relayed()
			for k, n := range entries {
				if n != 1 {
					t.Errorf("%s has %d relay entries for %s, want one", b, n, k)
				}
			}
			s.relays[b] = packets
		}
		for _, p := range peers {
			got, _ := fromEach(p)
			s.recv = append(s.recv, got)
		}
		return s
	}
	before := take()
	time.Sleep(3 * time.Second)
	after := take()
	for i, nick := range nicks {
		for _, kind := range []string{"audio", "video"} {
			track := kind + "-" + streams[nick]
			out, in := home[nick], map[string]string{"b1": "b2", "b2": "b1"}[home[nick]]
			dOut := after.relays[out]["out "+track] - before.relays[out]["out "+track]
			dIn := after.relays[in]["in "+track] - before.relays[in]["in "+track]
			var dRecv []int64 // by the two subscribers on the other bridge
			for j, other := range nicks {
				if j != i && home[other] == in {
					dRecv = append(dRecv, after.recv[j][nick+" "+kind]-before.recv[j][nick+" "+kind])
				}
			}
			t.Logf("%s on %s: relayed out %d, in %d on %s; its subscribers there received %v", track, out, dOut, dIn, in, dRecv)
			if len(dRecv) != 2 || dOut <= 0 || dIn <= 0 {
				t.Errorf("%s (%s's): relayed out %d, in %d, subscribers across %v: want both flowing to two subscribers", track, nick, dOut, dIn, dRecv)
				continue
			}
			// Once per pair: the relay carries what one subscriber gets,
			// not one copy per subscriber.
			for _, r := range dRecv {
				if float64(dOut) > 1.5*float64(r) {
					t.Errorf("%s: the relay carried %d packets while a subscriber across received %d: more than one copy", track, dOut, r)
				}
			}
			if float64(dRecv[0]+dRecv[1]) < 1.5*float64(dIn) {
				t.Errorf("%s: %d packets came over the relay, the two subscribers across received %v: want each a full copy", track, dIn, dRecv)
			}
		}
	}

	// kill -9 of one bridge: the focus places the conference anew, all of
	// it on the bridge left, and everyone gets everyone again, on new
	// sessions (new tracks).
	old := map[*mediapeer.Track]bool{}
	for _, p := range peers {
		for _, tr := range p.Tracks() {
			old[tr] = true
		}
	}
	d.bridges["b2"].cmd.Process.Signal(syscall.SIGKILL)
	waitFor(t, "the focus notices b2 is gone", 5*time.Second, func() bool { _, ok := d.registered()["b2"]; return !ok })
	noticed := time.Now()
	waitFor(t, "everyone to get everyone again on b1", 10*time.Second, func() bool {
		for i, p := range peers {
			fresh := map[string]bool{}
			for _, tr := range p.Tracks() {
				if !old[tr] && tr.Packets.Load() > 0 && tr.Owner != "" {
					fresh[tr.Owner[strings.LastIndex(tr.Owner, "/")+1:]+" "+tr.Kind] = true
				}
			}
			for j, other := range nicks {
				if i != j && (!fresh[other+" audio"] || !fresh[other+" video"]) {
					return false
				}
			}
		}
		return true
	})
	t.Logf("b2 killed: media among all four back %.2f s after the focus noticed", time.Since(noticed).Seconds())
	if h := d.relays("b1"); h.Participants != 4 || len(h.Relays) != 0 {
		t.Errorf("after the failover b1 has %d participants and %d relay entries, want 4 and none", h.Participants, len(h.Relays))
	}
}

// TestCascadeWithTheLocalBridge: parley serve's own SFU is one leg, a
// parley bridge the other; the relay joins the two processes.
func TestCascadeWithTheLocalBridge(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs two processes")
	}
	d := deploy(t, "--local-bridge=true", "--bridge-spread", "2")
	d.startBridge("b1")
	waitFor(t, "the bridge registered", 20*time.Second, func() bool { return len(d.registered()) == 1 })
	nicks := []string{"a", "b", "c"}
	peers := d.join("mixed", nicks...)
	waitFor(t, "everyone to receive everyone's audio and video", 30*time.Second, func() bool {
		for i, p := range peers {
			got, _ := fromEach(p)
			for j, other := range nicks {
				if i != j && (got[other+" audio"] < 20 || got[other+" video"] < 10) {
					return false
				}
			}
		}
		return true
	})
	// One participant on b1, two on the local bridge (which one is on b1
	// depends on the order the focus calls them in): b1's relay sends
	// that one's two streams and receives the other two's four.
	h := d.relays("b1")
	packets, entries := h.relayed()
	streams := map[string]string{}
	for _, p := range peers {
		_, st := fromEach(p)
		for nick, id := range st {
			streams[nick] = id
		}
	}
	var onB1 []string
	for _, nick := range nicks {
		if entries["out audio-"+streams[nick]] == 1 && entries["out video-"+streams[nick]] == 1 {
			onB1 = append(onB1, nick)
		}
	}
	ok := h.Participants == 1 && len(onB1) == 1 && len(entries) == 6
	for _, nick := range nicks {
		if len(onB1) == 1 && nick != onB1[0] && (entries["in audio-"+streams[nick]] != 1 || entries["in video-"+streams[nick]] != 1) {
			ok = false
		}
	}
	if !ok {
		t.Fatalf("b1: %d participants, relay entries %v (streams %v); want one participant, its two streams out and the other two's four in", h.Participants, entries, streams)
	}
	t.Logf("on b1: %s", onB1[0])
	for k, n := range packets {
		if n == 0 {
			t.Errorf("b1's relay: nothing for %s", k)
		}
	}
}

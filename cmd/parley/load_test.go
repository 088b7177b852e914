package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strconv"
	"strings"
	"testing"

	"parley.dev/parley/internal/loadgen"
	"parley.dev/parley/internal/testserver"
)

// TestLoadSmallRunHasNoErrorsAndNoLoss is "parley load" at a small size
// against an in-process parley: every participant receives every other,
// with no loss on loopback. The server runs in this process, so
// --server-pid is our own. At most two joins are in progress at once
// (--join-concurrency), each until its media connects.
func TestLoadSmallRunHasNoErrorsAndNoLoss(t *testing.T) {
	srv, err := testserver.Start(testserver.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	var out, errOut bytes.Buffer
	code := run([]string{"load", "--server", srv.WebSocket, "--domain", srv.Domain, "--rooms", "2",
		"--participants", "3", "--duration", "2s", "--join-concurrency", "2", "--json", "--server-pid", strconv.Itoa(os.Getpid())},
		strings.NewReader(""), &out, &errOut)
	var s loadgen.Summary
	if err := json.Unmarshal(out.Bytes(), &s); err != nil {
		t.Fatalf("exit %d, output %q, stderr %q: %v", code, out.String(), errOut.String(), err)
	}
	if code != 0 || s.Errors != 0 {
		t.Fatalf("exit %d, errors %d: %v\n%s", code, s.Errors, s.ErrorSamples, errOut.String())
	}
	if s.Participants != 6 || s.Rooms != 2 || !s.Media {
		t.Errorf("summary of the wrong run: %+v", s)
	}
	if s.LossPct != 0 {
		t.Errorf("loss %.3f%% on loopback", s.LossPct)
	}
	// Everyone receives the two others' videos, and the egress is what the
	// subscribers received.
	if s.Videos != (loadgen.Spread{Mean: 2, Min: 2, Max: 2}) || s.EgressKbps < s.RecvKbps.Min*6 {
		t.Errorf("videos per subscriber %+v, egress %v kbit/s for %+v each", s.Videos, s.EgressKbps, s.RecvKbps)
	}
	// Each subscriber receives two publishers of about 1 Mbit/s video.
	if s.RecvPackets == 0 || s.RecvKbps.Min < 300 {
		t.Errorf("too little media: %d packets, %+v kbit/s", s.RecvPackets, s.RecvKbps)
	}
	if s.JoinMS.Max <= 0 || s.ConnectMS.Max <= 0 || s.MediaMS == nil || s.MediaMS.Max <= 0 {
		t.Errorf("join timings missing: %+v %+v %+v", s.ConnectMS, s.JoinMS, s.MediaMS)
	}
	if s.Server == nil || s.Server.CPUSeconds <= 0 || s.Server.PeakRSSMB <= 0 || s.Server.CPUMicrosPerPkt <= 0 {
		t.Errorf("server usage missing: %+v", s.Server)
	}
	for _, field := range []string{`"join_ms"`, `"p50"`, `"p95"`, `"max"`, `"loss_pct"`, `"jitter_ms"`, `"recv_kbps"`,
		`"participants"`, `"errors"`, `"cpu_seconds"`, `"peak_rss_mb"`, `"egress_kbps"`, `"freezes"`, `"frozen_pct"`,
		`"videos_per_subscriber"`, `"simulcast"`, `"last_n"`, `"resends"`} {
		if !strings.Contains(out.String(), field) {
			t.Errorf("the JSON summary lacks %s", field)
		}
	}
}

func TestLoadRefusesBadFlagsAndUnreachableServers(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := run([]string{"load", "--rooms", "x"}, strings.NewReader(""), &out, &errOut); code != 2 {
		t.Errorf("a bad flag: exit %d", code)
	}
	if code := run([]string{"load", "--server", "ws://127.0.0.1:1/xmpp-websocket", "--server-pid", "999999999"},
		strings.NewReader(""), &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "server process") {
		t.Errorf("a missing server process: exit %d, %q", code, errOut.String())
	}
	out.Reset()
	code := run([]string{"load", "--server", "ws://127.0.0.1:1/xmpp-websocket", "--domain", "example.test",
		"--duration", "10ms", "--media=false"}, strings.NewReader(""), &out, &errOut)
	if code != 1 || !strings.Contains(out.String(), "errors: 2") {
		t.Errorf("an unreachable server: exit %d, output %q", code, out.String())
	}
}

package bridgenode

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmppclient"
)

// TestOnePort: a bridge's --listen port carries ICE-TCP and answers GET
// /health with its conferences, over TCP, beside its UDP media.
func TestOnePort(t *testing.T) {
	quiet := slog.New(slog.NewTextHandler(io.Discard, nil))
	port, err := Listen(PortConfig{Listen: "127.0.0.1:0", PublicIP: "127.0.0.1", Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	defer port.Close()
	media, load := port.Media("t")
	n, err := New(Config{XMPP: xmppclient.Config{Address: "127.0.0.1:1", Domain: "example.test", Username: "jvb"},
		Brewery: jid.MustParse("jvbbrewery@internal.example.test"), Focus: []jid.JID{jid.MustParse("focus.example.test")},
		Media: media, Load: load, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	go port.Serve(n)

	// ICE-TCP only, from a Pion peer: the bridge's passive candidate on
	// the port is the one way.
	conf, err := media.Conference(context.Background(), "room")
	if err != nil {
		t.Fatal(err)
	}
	defer conf.Close()
	part, err := conf.Join(context.Background(), "p1", bridge.JoinOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer, err := part.Offer(ctx)
	if err != nil {
		t.Fatal(err)
	}
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	connected := make(chan struct{}, 1)
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			select {
			case connected <- struct{}{}:
			default:
			}
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		t.Fatal(err)
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := part.SetAnswer(ctx, pc.LocalDescription().SDP); err != nil {
		t.Fatal(err)
	}
	select {
	case <-connected:
	case <-ctx.Done():
		t.Fatal("no ICE-TCP connection to the bridge's port")
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil || pair.Remote.Protocol != webrtc.ICEProtocolTCP || int(pair.Remote.Port) != port.Addr.Port {
		t.Fatalf("selected pair %v, %v; want TCP to port %d", pair, err, port.Addr.Port)
	}

	// GET /health on the same port: 503 (no XMPP server here), with the
	// conferences the node runs (none: this one was made beside it).
	resp, err := http.Get("http://" + port.Addr.String() + "/health")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var h Health
	if err := json.NewDecoder(resp.Body).Decode(&h); err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusServiceUnavailable || h.Conferences != 0 || !strings.HasPrefix(h.XMPP, "connecting") {
		t.Fatalf("/health %d %+v", resp.StatusCode, h)
	}
}

package app

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/coder/websocket"
	"github.com/pion/ice/v4"
	pionturn "github.com/pion/turn/v5"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/sfu"
	"parley.dev/parley/internal/turn/turntest"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const nsExtDisco = "urn:xmpp:extdisco:2"

// turnService is one <service/> of a XEP-0215 answer.
type turnService struct{ typ, host, port, transport, username, password string }

// askServices logs in as a guest over WebSocket and asks XEP-0215.
func askServices(t *testing.T, ws string) []turnService {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := xmppclient.Dial(ctx, xmppclient.Config{Address: ws, Domain: testDomain})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	res, err := c.IQ(ctx, xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "to", testDomain).Add(
		xmlstream.New(nsExtDisco, "services")))
	if err != nil {
		t.Fatalf("XEP-0215 services: %v", err)
	}
	var out []turnService
	for _, s := range res.Child(nsExtDisco, "services").ChildrenNamed(nsExtDisco, "service") {
		out = append(out, turnService{s.Attr("type"), s.Attr("host"), s.Attr("port"), s.Attr("transport"), s.Attr("username"), s.Attr("password")})
	}
	return out
}

func findService(t *testing.T, services []turnService, typ, transport string) turnService {
	t.Helper()
	for _, s := range services {
		if s.typ == typ && s.transport == transport {
			return s
		}
	}
	t.Fatalf("no %s/%s service in %+v", typ, transport, services)
	return turnService{}
}

// turnClient dials TURN on addr over "udp", "tcp" or "tls".
func turnClient(t *testing.T, transport, addr string, svc turnService) *pionturn.Client {
	t.Helper()
	var conn net.PacketConn
	switch transport {
	case "udp":
		c, err := net.ListenPacket("udp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		conn = c
	case "tcp":
		c, err := net.Dial("tcp4", addr)
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	case "tls": // no ALPN, as browsers do: the mux reads the STUN inside
		c, err := tls.Dial("tcp4", addr, &tls.Config{InsecureSkipVerify: true})
		if err != nil {
			t.Fatal(err)
		}
		conn = pionturn.NewSTUNConn(c)
	}
	cl, err := pionturn.NewClient(&pionturn.ClientConfig{
		STUNServerAddr: addr, TURNServerAddr: addr, Conn: conn,
		Username: svc.username, Password: svc.password, RTO: 200 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := cl.Listen(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cl.Close(); conn.Close() })
	return cl
}

func TestXEP0215TURNOnTheOnePort(t *testing.T) {
	p, ws := startParley(t)
	addr := p.cfg.HTTPListener.Addr().String()
	services := askServices(t, ws)
	stun := findService(t, services, "stun", "udp")
	turnUDP := findService(t, services, "turn", "udp")
	findService(t, services, "turn", "tcp")
	for _, s := range services {
		if s.typ == "turns" {
			t.Errorf("turns offered with a self-signed certificate: %+v", s)
		}
		if s.host != "127.0.0.1" || s.port != strconv.Itoa(p.port.port) {
			t.Errorf("service %+v does not name the one port at the public IP", s)
		}
	}
	if stun.username != "" || turnUDP.username == "" || !strings.Contains(turnUDP.username, ":") {
		t.Fatalf("credentials: stun %+v, turn %+v", stun, turnUDP)
	}
	own := &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: p.port.port}
	for _, transport := range []string{"udp", "tcp", "tls"} {
		t.Run(transport, func(t *testing.T) {
			cl := turnClient(t, transport, addr, turnUDP)
			if transport == "udp" {
				mapped, err := cl.SendBindingRequest()
				if err != nil || !strings.HasPrefix(mapped.String(), "127.0.0.1:") {
					t.Fatalf("STUN binding on the one port: %v %v", mapped, err)
				}
			}
			relay, err := cl.Allocate()
			if err != nil {
				t.Fatalf("allocate: %v", err)
			}
			defer relay.Close()
			if err := cl.CreatePermission(own); err != nil {
				t.Errorf("permission to parley's own media port: %v", err)
			}
			if err := cl.CreatePermission(&net.UDPAddr{IP: net.IPv4(10, 0, 0, 1), Port: 9}); err == nil {
				t.Error("permission to 10.0.0.1 granted")
			}
		})
	}
}

// answerWith negotiates one SFU participant with a Pion peer built from
// se and cfg, waits for ICE and DTLS to connect, and returns the pair ICE
// chose.
func answerWith(t *testing.T, p *parley, id string, se webrtc.SettingEngine, cfg webrtc.Configuration) (*webrtc.ICECandidatePair, error) {
	part, err := p.sfu.Conference("oneport").Join(id, sfu.JoinOptions{})
	if err != nil {
		return nil, err
	}
	t.Cleanup(part.Close)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	offer, err := part.Offer(ctx)
	if err != nil {
		return nil, err
	}
	pc, err := webrtc.NewAPI(webrtc.WithSettingEngine(se)).NewPeerConnection(cfg)
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { pc.Close() })
	connected := make(chan struct{})
	var once sync.Once
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		if s == webrtc.PeerConnectionStateConnected {
			once.Do(func() { close(connected) })
		}
	})
	if err := pc.SetRemoteDescription(webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: offer}); err != nil {
		return nil, err
	}
	ans, err := pc.CreateAnswer(nil)
	if err != nil {
		return nil, err
	}
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(ans); err != nil {
		return nil, err
	}
	<-gathered
	if err := part.SetAnswer(pc.LocalDescription().SDP); err != nil {
		return nil, err
	}
	select {
	case <-connected:
	case <-ctx.Done():
		return nil, fmt.Errorf("%s: no connection (ICE %v)", id, pc.ICEConnectionState())
	}
	pair, err := pc.SCTP().Transport().ICETransport().GetSelectedCandidatePair()
	if err != nil || pair == nil {
		return nil, fmt.Errorf("%s: no selected pair: %v", id, err)
	}
	return pair, nil
}

// loopbackEngine gathers on loopback only: tests talk to nothing else.
func loopbackEngine(networks ...webrtc.NetworkType) webrtc.SettingEngine {
	se := webrtc.SettingEngine{}
	se.SetNetworkTypes(networks)
	se.SetIncludeLoopbackCandidate(true)
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return se
}

// TestOnePortAtOnce: HTTPS, WebSocket over TLS, XMPP direct TLS, ICE-TCP
// and relayed media (TURN over TCP) on the one port, all at the same time.
func TestOnePortAtOnce(t *testing.T) {
	p, ws := startParley(t)
	addr := p.cfg.HTTPListener.Addr().String()
	turnTCP := findService(t, askServices(t, ws), "turn", "tcp")
	var wg sync.WaitGroup
	run := func(name string, f func() error) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := f(); err != nil {
				t.Errorf("%s: %v", name, err)
			}
		}()
	}
	tlsClient := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"http/1.1"}}}}
	defer tlsClient.CloseIdleConnections()
	for i := range 20 {
		run(fmt.Sprintf("https %d", i), func() error {
			res, err := tlsClient.Get("https://" + addr + "/health")
			if err != nil {
				return err
			}
			defer res.Body.Close()
			body, _ := io.ReadAll(res.Body)
			if res.StatusCode != 200 || res.TLS == nil || !strings.Contains(string(body), `"ok"`) {
				return fmt.Errorf("status %d, body %q", res.StatusCode, body)
			}
			return nil
		})
	}
	run("wss", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		c, _, err := websocket.Dial(ctx, "wss://"+addr+"/xmpp-websocket", &websocket.DialOptions{
			Subprotocols: []string{"xmpp"}, HTTPClient: tlsClient,
		})
		if err != nil {
			return err
		}
		defer c.CloseNow()
		open := `<open xmlns="urn:ietf:params:xml:ns:xmpp-framing" to="` + testDomain + `" version="1.0"/>`
		if err := c.Write(ctx, websocket.MessageText, []byte(open)); err != nil {
			return err
		}
		_, msg, err := c.Read(ctx)
		if err != nil || !strings.HasPrefix(string(msg), "<open") {
			return fmt.Errorf("answer %q, %v", msg, err)
		}
		return nil
	})
	run("xmpp direct tls", func() error {
		c, err := tls.Dial("tcp4", addr, &tls.Config{InsecureSkipVerify: true, NextProtos: []string{"xmpp-client"}})
		if err != nil {
			return err
		}
		defer c.Close()
		fmt.Fprintf(c, `<?xml version='1.0'?><stream:stream xmlns='jabber:client' xmlns:stream='http://etherx.jabber.org/streams' to='%s' version='1.0'>`, testDomain)
		c.SetReadDeadline(time.Now().Add(10 * time.Second))
		buf := make([]byte, 4096)
		got := ""
		for !strings.Contains(got, "mechanisms") {
			n, err := c.Read(buf)
			if err != nil {
				return fmt.Errorf("after %q: %v", got, err)
			}
			got += string(buf[:n])
		}
		if strings.Contains(got, "starttls") {
			return fmt.Errorf("STARTTLS offered inside direct TLS: %q", got)
		}
		return nil
	})
	run("ice-tcp", func() error {
		pair, err := answerWith(t, p, "tcp-only", loopbackEngine(webrtc.NetworkTypeTCP4), webrtc.Configuration{})
		if err == nil && (pair.Remote.Protocol != webrtc.ICEProtocolTCP || pair.Remote.Port != uint16(p.port.port)) {
			err = fmt.Errorf("selected %s -> %s", pair.Local, pair.Remote)
		}
		return err
	})
	run("relay over turn/tcp", func() error {
		pair, err := answerWith(t, p, "relayed", loopbackEngine(webrtc.NetworkTypeUDP4), webrtc.Configuration{
			ICETransportPolicy: webrtc.ICETransportPolicyRelay,
			ICEServers: []webrtc.ICEServer{{
				URLs:     []string{fmt.Sprintf("turn:127.0.0.1:%d?transport=tcp", p.port.port)},
				Username: turnTCP.username, Credential: turnTCP.password,
			}},
		})
		if err == nil && pair.Local.Typ != webrtc.ICECandidateTypeRelay {
			err = fmt.Errorf("selected %s -> %s", pair.Local, pair.Remote)
		}
		return err
	})
	wg.Wait()
	if st := p.port.turn.Stats(); st.AllocationsCreated == 0 {
		t.Errorf("no TURN allocation was made: %+v", st)
	}
	if st := p.port.tcp.Stats(); st.Routed["ice-tcp"] == 0 || st.Routed["turn"] == 0 || st.Routed["https"] < 1 || st.Routed["xmpp-tls"] != 1 {
		t.Errorf("tcp mux: %+v", st)
	}
}

func TestRelayAddresses(t *testing.T) {
	a := netip.MustParseAddr
	for _, c := range []struct {
		listen, public netip.Addr
		bind, expose   netip.Addr
	}{
		{a("127.0.0.1"), netip.Addr{}, a("127.0.0.1"), a("127.0.0.1")},
		{a("192.168.1.5"), a("203.0.113.9"), a("192.168.1.5"), a("203.0.113.9")},
		{a("0.0.0.0"), a("203.0.113.9"), a("0.0.0.0"), a("203.0.113.9")},
		{a("::"), a("2001:db8::1"), a("::"), a("2001:db8::1")},
		{a("::1"), a("203.0.113.9"), a("0.0.0.0"), a("203.0.113.9")},
	} {
		bind, expose, err := relayAddresses(c.listen, c.public)
		if err != nil || bind != c.bind || expose != c.expose {
			t.Errorf("relayAddresses(%v, %v) = %v, %v, %v; want %v, %v", c.listen, c.public, bind, expose, err, c.bind, c.expose)
		}
	}
}

// TestPublicIPParsedOnce: --public-ip is read by one parser, which Check
// uses to refuse a bad one and which unmaps an IPv4-mapped address.
func TestPublicIPParsedOnce(t *testing.T) {
	c := Config{Listen: "127.0.0.1:0", PublicIP: "not-an-ip"}
	if err := c.Check(); err == nil || !strings.Contains(err.Error(), "--public-ip") {
		t.Errorf("Check accepted a bad --public-ip: %v", err)
	}
	c.PublicIP = "::ffff:203.0.113.9"
	if a, err := c.publicAddr(); err != nil || a != netip.MustParseAddr("203.0.113.9") {
		t.Errorf("publicAddr = %v, %v", a, err)
	}
	c.PublicIP = ""
	if a, err := c.publicAddr(); err != nil || a.IsValid() {
		t.Errorf("publicAddr of nothing = %v, %v", a, err)
	}
}

func TestTURNSecretPersists(t *testing.T) {
	dir := t.TempDir()
	path := dir + "/turn-secret"
	first, err := loadOrCreateSecret(path)
	if err != nil || len(first) < 40 {
		t.Fatalf("secret %q, %v", first, err)
	}
	again, err := loadOrCreateSecret(path)
	if err != nil || again != first {
		t.Fatalf("second load %q, %v; want %q", again, err, first)
	}
	other, err := loadOrCreateSecret(t.TempDir() + "/turn-secret")
	if err != nil || other == first {
		t.Fatalf("two data folders share a secret: %q", other)
	}
}

// TestXEP0215CredentialsAllocateOnCoturn: an operator may replace the
// built-in TURN with coturn sharing --turn-secret; what XEP-0215 hands out
// allocates on both.
func TestXEP0215CredentialsAllocateOnCoturn(t *testing.T) {
	const secret = "shared with coturn"
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p, err := start(Config{
		Domain: testDomain, DataDir: t.TempDir(), PublicIP: "127.0.0.1", AllowAnonymous: true,
		HTTPListener: httpLn, TURNSecret: secret, Logger: slog.New(slog.DiscardHandler),
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.shutdown() })
	coturn := turntest.StartCoturn(t, secret, testDomain)
	svc := findService(t, askServices(t, "ws://"+httpLn.Addr().String()+"/xmpp-websocket"), "turn", "udp")
	for server, addr := range map[string]string{"parley": httpLn.Addr().String(), "coturn": coturn} {
		for _, transport := range []string{"udp", "tcp"} {
			relay, err := turnClient(t, transport, addr, svc).Allocate()
			if err != nil {
				t.Errorf("%s over %s refused XEP-0215's credentials: %v", server, transport, err)
				continue
			}
			relay.Close()
		}
	}
}

package bridgenode

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/localbridge"
	"parley.dev/parley/internal/portmux"
	"parley.dev/parley/internal/sfu"
)

// Port is a bridge's one port: media over UDP, ICE-TCP and GET /health
// over TCP, told apart by their first bytes (internal/portmux).
type Port struct {
	tcp  *portmux.TCPMux      // read-only
	http *http.Server         // read-only; serves from Serve on
	sfu  *sfu.SFU             // read-only
	node atomic.Pointer[Node] // set by Serve
	Addr *net.TCPAddr         // the port's address (the TCP and UDP port are one number)
}

// PortConfig configures Listen.
type PortConfig struct {
	// Listen is the address of the port, TCP and UDP. Required.
	Listen string
	// PublicIP is the address written into ICE candidates. Default: the
	// socket's own addresses.
	PublicIP string
	// Dynacast tells publishers to stop sending simulcast layers nobody
	// receives. Default off.
	Dynacast bool
	// Logger receives the SFU's and the mux's logs. Default slog.Default().
	Logger *slog.Logger
}

// Listen opens the bridge's port and its SFU. node is served once
// Serve is called.
func Listen(cfg PortConfig) (*Port, error) {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var public []string
	if cfg.PublicIP != "" {
		a, err := netip.ParseAddr(cfg.PublicIP)
		if err != nil {
			return nil, &ConfigError{"public-ip", fmt.Sprintf("%q is not an IP address", cfg.PublicIP)}
		}
		public = []string{a.Unmap().String()}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("bridge: --listen: %w", err)
	}
	addr := ln.Addr().(*net.TCPAddr)
	udp, err := net.ListenUDP("udp", &net.UDPAddr{IP: addr.IP, Port: addr.Port})
	if err != nil {
		ln.Close()
		return nil, fmt.Errorf("bridge: --listen (UDP): %w", err)
	}
	udp.SetReadBuffer(4 << 20)
	udp.SetWriteBuffer(4 << 20)
	mux, err := portmux.NewTCP(portmux.TCPConfig{Listener: ln, Logger: cfg.Logger.With("part", "tcpmux")})
	if err != nil {
		ln.Close()
		udp.Close()
		return nil, err
	}
	s, err := sfu.New(sfu.Config{UDPConn: udp, TCPListener: mux.Listener(portmux.ICETCP), PublicIPs: public,
		Dynacast: cfg.Dynacast, Logger: cfg.Logger.With("part", "sfu")})
	if err != nil {
		mux.Close()
		udp.Close()
		return nil, fmt.Errorf("bridge: sfu: %w", err)
	}
	p := &Port{tcp: mux, sfu: s, Addr: addr}
	hm := http.NewServeMux()
	hm.HandleFunc("GET /health", p.health)
	p.http = &http.Server{Handler: hm, ReadHeaderTimeout: 10 * time.Second}
	return p, nil
}

// health answers GET /health with the node's Health: 200 when connected
// to the XMPP server, 503 otherwise.
func (p *Port) health(w http.ResponseWriter, _ *http.Request) {
	n := p.node.Load()
	if n == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	h := n.Health()
	w.Header().Set("Content-Type", "application/json")
	if h.XMPP != "connected" {
		w.WriteHeader(http.StatusServiceUnavailable)
	}
	json.NewEncoder(w).Encode(h)
}

// Media returns the port's SFU as a media server, and its counters.
func (p *Port) Media(name string) (*localbridge.Server, func() Load) {
	return localbridge.New(p.sfu, name), func() Load {
		st := p.sfu.Stats()
		load := Load{Packets: st.PacketsForwarded + st.RelayPacketsOut, Bytes: st.BytesForwarded}
		for conf, streams := range p.sfu.RelayStats() {
			for _, r := range streams {
				dir := "in"
				if r.Out {
					dir = "out"
				}
				load.Relays = append(load.Relays, RelayStream{Conference: conf, Relay: r.Relay, Direction: dir,
					Track: r.TrackID, Packets: r.Packets, Bytes: r.Bytes})
			}
		}
		return load
	}
}

// Serve answers GET /health with n's Health, and routes ICE-TCP to the
// SFU, until Close.
func (p *Port) Serve(n *Node) error {
	p.node.Store(n)
	go p.tcp.Serve()
	err := p.http.Serve(p.tcp.Listener(portmux.HTTP))
	if errors.Is(err, http.ErrServerClosed) || errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// Close stops the port: HTTP, the SFU and its sockets.
func (p *Port) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	p.http.Shutdown(ctx)
	cancel()
	p.tcp.Close()
	p.sfu.Close()
}

// Package app assembles parley from its parts: it opens the data folder and
// the listeners, builds the account store, the XMPP server, the MUC service
// and the HTTP front (health, WebSocket, web client), and runs them until
// the context ends. It is the only package that knows every other one.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/focus"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/portmux"
	"parley.dev/parley/internal/sfu"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/web"
)

// Config is everything parley serve takes.
type Config struct {
	Listen          string // HTTP and WebSocket TCP address; required
	C2S             string // XMPP TCP address; "" disables it
	Domain          string // XMPP domain; default "localhost"
	DataDir         string // state folder; default "./parley-data"
	PublicIP        string // address for ICE candidates; default: none yet
	TLSCert, TLSKey string // PEM files; default: self-signed in DataDir/tls
	// ACME gets certificates for Domain (and TURNHost if a name) from an
	// ACME CA over TLS-ALPN-01 on the Listen port, cached in DataDir/acme.
	// Domain must be a public DNS name; not with TLSCert. Default off.
	ACME            bool
	ACMEEmail       string       // contact given to the CA; default none
	ACMEDirectory   string       // the CA's directory URL; default Let's Encrypt production
	ACMEHTTPClient  *http.Client // talks to the CA; default http.DefaultClient (tests trust their CA here)
	TURNSecret      string       // TURN REST secret (coturn's static-auth-secret); default: random, kept in DataDir/turn-secret
	TURNHost        string       // host named in XEP-0215 STUN/TURN services; default PublicIP, else Domain
	AllowAnonymous  bool         // SASL ANONYMOUS for guests
	RequireTLS      bool         // STARTTLS mandatory for non-loopback TCP peers
	SCRAMIterations int          // default 4096
	MaxStanzaBytes  int          // default 256 KiB
	StanzaRate      int          // per connection, stanzas/s; default 200
	Version         string       // reported by disco and /health
	Logger          *slog.Logger
	// Admission caps what one source may make parley hold before it has
	// proved anything; see AdmissionConfig for each limit's default.
	Admission AdmissionConfig
	// Memory sets a soft memory limit and how memory goes back to the
	// system after a load; see MemoryConfig for the defaults.
	Memory MemoryConfig

	// Listeners, when set, are used instead of opening Listen and C2S:
	// tests pass loopback listeners on port 0.
	HTTPListener, C2SListener net.Listener
	// Ready, if set, is closed once every part is serving.
	Ready chan<- struct{}
}

// Run starts parley and blocks until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	p, err := start(cfg)
	if err != nil {
		return err
	}
	<-ctx.Done()
	return p.shutdown()
}

type parley struct {
	cfg   Config
	log   *slog.Logger
	xmpp  *xmpp.Server
	muc   *muc.Service
	sfu   *sfu.SFU
	focus *focus.Focus
	http  *http.Server
	c2s   net.Listener
	port  *onePort   // the muxes and TURN on --listen; set by openPort
	door  *frontDoor // the admission gates of every listener; read-only after start
	ready atomic.Bool
	wg    sync.WaitGroup
	stop  context.CancelFunc
}

func (c *Config) setDefaults() {
	if c.Domain == "" {
		c.Domain = "localhost"
	}
	if c.DataDir == "" {
		c.DataDir = "./parley-data"
	}
	if c.SCRAMIterations == 0 {
		c.SCRAMIterations = 4096
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func start(cfg Config) (*parley, error) {
	cfg.setDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data folder: %w", err)
	}
	acc, err := accounts.Open(accounts.Config{Dir: cfg.DataDir, Domain: cfg.Domain, Iterations: cfg.SCRAMIterations})
	if err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	portTLS, err := loadTLS(cfg)
	if err != nil {
		return nil, err
	}
	p := &parley{cfg: cfg, log: cfg.Logger, door: newFrontDoor(cfg)}
	p.xmpp, err = xmpp.New(xmpp.Config{
		Unauthenticated: p.door.unauth,
		Guests:          p.door.guests,
		Domain:          cfg.Domain,
		Accounts:        acc,
		Throttle:        accounts.NewThrottle(accounts.ThrottleConfig{}),
		TLS:             portTLS.config,
		AllowAnonymous:  cfg.AllowAnonymous,
		RequireTLS:      cfg.RequireTLS,
		Limits:          xmlstream.Limits{MaxElementBytes: cfg.MaxStanzaBytes},
		StanzaRate:      cfg.StanzaRate,
		StanzaBurst:     5 * max(cfg.StanzaRate, 200),
		Rosters:         xmpp.FileRosters{Dir: filepath.Join(cfg.DataDir, "rosters")},
		Logger:          cfg.Logger.With("part", "xmpp"),
		// STUN and TURN on the one port, for browsers and XMPP clients.
		ExternalServices: p.externalServices,
	})
	if err != nil {
		return nil, err
	}
	if err := p.listen(); err != nil {
		return nil, err
	}
	if err := p.openPort(portTLS); err != nil {
		p.closeListeners()
		return nil, err
	}
	if err := p.startConferences(); err != nil {
		p.closeListeners()
		return nil, err
	}
	p.serve()
	p.ready.Store(true)
	if cfg.Ready != nil {
		close(cfg.Ready)
	}
	p.log.Info("parley is ready", "http", p.cfg.HTTPListener.Addr().String(), "domain", cfg.Domain, "version", cfg.Version)
	return p, nil
}

// startConferences builds the SFU on the UDP port of --listen, the focus,
// and the MUC service whose occupants the focus calls.
func (p *parley) startConferences() error {
	cfg := p.cfg
	var public []string
	if cfg.PublicIP != "" {
		public = []string{cfg.PublicIP}
	}
	var err error
	p.sfu, err = sfu.New(sfu.Config{
		UDPConn:     p.port.udp.Media(),
		TCPListener: p.door.iceTCP.Listener(p.port.tcp.Listener(portmux.ICETCP)),
		PublicIPs:   public,
		Logger:      cfg.Logger.With("part", "sfu"),
	})
	if err != nil {
		return fmt.Errorf("sfu: %w", err)
	}
	focusDomain := "focus." + cfg.Domain
	p.focus, err = focus.New(focus.Config{Domain: focusDomain, Router: p.xmpp, SFU: p.sfu, Logger: cfg.Logger.With("part", "focus")})
	if err != nil {
		return err
	}
	mucDomain := "conference." + cfg.Domain
	p.muc, err = muc.New(muc.Config{
		Domain:  mucDomain,
		Router:  p.xmpp,
		DataDir: filepath.Join(cfg.DataDir, "rooms"),
		Logger:  cfg.Logger.With("part", "muc"),
		OnEvent: p.roomEvent,
	})
	if err != nil {
		return fmt.Errorf("muc: %w", err)
	}
	p.xmpp.AddService(mucDomain, p.muc, xmpp.DiscoIdentity{Name: "Rooms"})
	p.xmpp.AddService(focusDomain, p.focus, xmpp.DiscoIdentity{Name: "Conference focus"})
	return nil
}

// roomEvent tells the focus who comes and goes. MUC calls it under a room
// lock: the focus only queues the news.
func (p *parley) roomEvent(ev muc.Event) {
	switch ev.Kind {
	case muc.OccupantJoined:
		p.focus.Joined(ev.Room, ev.Nick, ev.RealJID)
	case muc.OccupantLeft:
		p.focus.Left(ev.Room, ev.Nick)
	case muc.OccupantChanged:
		if ev.PrevNick != "" && ev.PrevNick != ev.Nick {
			p.focus.Renamed(ev.Room, ev.PrevNick, ev.Nick)
		}
	case muc.NickConflict:
		// Often the joiner's own ghost: its old connection died unnoticed.
		p.xmpp.CheckAlive(ev.RealJID)
	}
}

func (p *parley) closeListeners() {
	p.cfg.HTTPListener.Close()
	if p.port != nil {
		p.port.close()
	}
	if p.c2s != nil {
		p.c2s.Close()
	}
}

func (p *parley) listen() error {
	var err error
	if p.cfg.HTTPListener == nil {
		if p.cfg.HTTPListener, err = net.Listen("tcp", p.cfg.Listen); err != nil {
			return fmt.Errorf("--listen: %w", err)
		}
	}
	p.c2s = p.cfg.C2SListener
	if p.c2s == nil && p.cfg.C2S != "" {
		if p.c2s, err = net.Listen("tcp", p.cfg.C2S); err != nil {
			p.cfg.HTTPListener.Close()
			return fmt.Errorf("--c2s: %w", err)
		}
	}
	return nil
}

func (p *parley) serve() {
	ctx, cancel := context.WithCancel(context.Background())
	p.stop = cancel
	startMemory(ctx, p.cfg.Memory, p.log.With("part", "memory"))
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", p.health)
	mux.Handle("/xmpp-websocket", p.xmpp.WebSocketHandler())
	mux.Handle("/", web.Handler())
	p.http = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute, ConnState: p.door.httpConnState, ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)}
	// HTTP and HTTPS both come through the one port's mux.
	for _, proto := range []portmux.Protocol{portmux.HTTP, portmux.HTTPS} {
		ln := p.port.tcp.Listener(proto)
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			if err := p.http.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
				p.log.Error("http server stopped", "err", err)
			}
		}()
	}
	p.servePort(ctx)
	if p.c2s != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.acceptC2S(ctx)
		}()
	}
}

func (p *parley) health(w http.ResponseWriter, r *http.Request) {
	if !p.ready.Load() {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, "{\"status\":\"ok\",\"version\":%q}\n", p.cfg.Version)
}

func (p *parley) shutdown() error {
	p.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.c2s != nil {
		p.c2s.Close()
	}
	p.http.Shutdown(ctx)
	p.focus.Close()
	p.xmpp.Shutdown(ctx)
	p.muc.Close()
	p.sfu.Close()
	p.port.close()
	p.stop()
	p.wg.Wait()
	return nil
}

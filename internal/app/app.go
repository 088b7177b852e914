// Package app assembles parley from its parts: it opens the data folder and
// the listeners, builds the account store, the XMPP server, the MUC service
// and the HTTP front (health, WebSocket, web client), and runs them until
// the context ends. It is the only package that knows every other one.
package app

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/accounts"
	"parley.dev/parley/internal/focus"
	"parley.dev/parley/internal/localbridge"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/portmux"
	"parley.dev/parley/internal/remotebridge"
	"parley.dev/parley/internal/sfu"
	"parley.dev/parley/internal/store"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/upload"
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
	// ArchiveRetention is how long the message archive (XEP-0313) keeps a
	// message. Default 0: forever.
	ArchiveRetention time.Duration
	// UploadURL is the public URL of HTTP File Upload's /upload/ path
	// (XEP-0363 at upload.<Domain>). Default https://<Domain>[:port]/upload/
	// with the port of Listen (none for 443).
	UploadURL string
	// Registration is in-band registration (XEP-0077): "" (off, the
	// default), "invite" (with a token from parley invite) or "open".
	Registration string
	// SCRAMPlus offers SCRAM-*-PLUS with tls-exporter on TLS 1.3 (see
	// xmpp.Config.ChannelBinding for why it is off by default).
	SCRAMPlus bool
	Version   string        // reported by disco and /health
	Bridges   BridgesConfig // where media goes; default: the in-process SFU, and bridges of the brewery
	Simulcast bool          // ask publishers for simulcast layers; default off (focus.Config.Simulcast), parley serve's --simulcast on
	Dynacast  bool          // tell publishers to stop sending simulcast layers nobody receives; default off (sfu.Config.Dynacast)
	LastN     int           // every room's participants get the camera of only the N most recent speakers; default 0: all
	Logger    *slog.Logger
	// Admission caps what one source may make parley hold before it has
	// proved anything; see AdmissionConfig for each limit's default.
	Admission AdmissionConfig
	// Memory sets a soft memory limit and how memory goes back to the
	// system after a load; see MemoryConfig for the defaults.
	Memory MemoryConfig

	// ComponentsFile lists external components (XEP-0114), such as push
	// services (XEP-0357): "domain secret" per line. Default "": none.
	ComponentsFile string
	// ComponentListen is where components connect; only with
	// ComponentsFile. Default 127.0.0.1:5347.
	ComponentListen string

	// Tokens configures JWT logins (identity.go). Default: off.
	Tokens TokenConfig
	// DeclaredOnly turns on-the-fly rooms off: only declared rooms exist.
	DeclaredOnly bool
	// Admin is the admin API's TCP address (docs/API.md); "" turns it off.
	// The parley command defaults it to 127.0.0.1:8081.
	Admin string
	// AdminOptional makes a failure to listen on Admin a warning rather
	// than an error: the parley command sets it when --admin was left at
	// its default, so that two servers on one host still start.
	AdminOptional bool
	// AdminTokenFile holds the admin API's bearer token. Default "": the
	// API refuses every request with 401 and says so in the log.
	AdminTokenFile string
	// AdminListener, when set, is used instead of opening Admin (tests).
	AdminListener net.Listener

	// Recordings, if set, makes the recordings (record.NewManager, from
	// cmd/parley; app/recording.go). Default nil: recording is off.
	Recordings func(RecordingsEnv) (Recordings, error)

	// Listeners, when set, are used instead of opening Listen and C2S:
	// tests pass loopback listeners on port 0.
	HTTPListener, C2SListener net.Listener
	// Ready, if set, is closed once every part is serving.
	Ready chan<- struct{}
	// Drain, if set, asks for a graceful stop (parley serve sends on it at
	// SIGTERM): no new meeting starts, everyone is told, and Run returns
	// once the calls have ended or DrainTimeout has passed (drain.go).
	// Cancelling Run's context still stops at once.
	Drain <-chan struct{}
	// Dial, if set, is the SIP gateway's dial-out, served as the admin
	// API's POST /api/rooms/{room}/dial. Default nil: that answers 501.
	Dial func(ctx context.Context, room, to string) (v any, status int)
	// DialIn, if set, is a room's PIN and dial-in number for phones, served
	// as GET /api/rooms/{room}/dial-in. Default nil: that answers 501.
	DialIn func(room string) (v any, status int)
	// Phones, if set, is the SIP gateway as rooms' occupants reach it:
	// the invite dialog's dial-in PIN, and dial-out from the web client
	// (muc.NSPhone). Default nil: those requests answer
	// feature-not-implemented.
	Phones muc.Phones
	// DrainTimeout bounds how long a drain waits for calls to end.
	// Default 5 minutes.
	DrainTimeout time.Duration
	// Reloads, if set, brings new settings (parley serve sends them on
	// SIGHUP): what can change safely is applied, the rest is logged as
	// needing a restart (reload.go).
	Reloads <-chan Config
}

// Run starts parley and blocks until ctx ends, then shuts down gracefully.
func Run(ctx context.Context, cfg Config) error {
	p, err := start(cfg)
	if err != nil {
		return err
	}
	for {
		select {
		case <-ctx.Done():
			return p.shutdown()
		case next := <-cfg.Reloads:
			p.reload(next)
		case <-cfg.Drain:
			p.startDrain()
		case <-p.drained:
			return p.shutdown()
		}
	}
}

type parley struct {
	cfg    Config
	log    *slog.Logger
	xmpp   *xmpp.Server
	upload *upload.Service // XEP-0363; its files in DataDir/uploads
	store  *store.Bolt     // the XMPP server's durable state; closed after it
	muc    *muc.Service
	sfu    *sfu.SFU
	focus  *focus.Focus
	// bridges places conferences on the in-process SFU and on the bridges
	// of the brewery; internalMUC is the brewery's service (nil when the
	// brewery is elsewhere).
	bridges     *remotebridge.Pool
	internalMUC *muc.Service
	http        *http.Server
	c2s         net.Listener
	// components is --component-listen; nil without --components-file.
	components net.Listener
	// admin is the admin listener's server and mux; nil without --admin.
	// Other parts mount their handlers on adminMux before serve.
	admin      *http.Server
	adminMux   *http.ServeMux
	adminLn    net.Listener
	tokens     *token.Verifier // nil when tokens are off
	recordings Recordings      // nil without Config.Recordings; set by startConferences
	recFiles   *recordingFiles // lists and serves them to occupants; nil without recordings; set by startConferences
	port       *onePort        // the muxes and TURN on --listen; set by openPort
	publicIP   netip.Addr      // --public-ip; invalid when not set; read-only
	door       *frontDoor      // the admission gates of every listener; read-only after start
	ready      atomic.Bool
	// drain is started once (startDrain); drained is closed when it is
	// over: Run then shuts down.
	drainOnce sync.Once
	draining  atomic.Bool
	drained   chan struct{}
	wg        sync.WaitGroup
	stop      context.CancelFunc
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
	if c.DrainTimeout == 0 {
		c.DrainTimeout = 5 * time.Minute
	}
}

func start(cfg Config) (*parley, error) {
	cfg.setDefaults()
	if err := cfg.Check(); err != nil {
		return nil, err
	}
	publicIP, _ := cfg.publicAddr() // Check refused a bad one
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
	p := &parley{cfg: cfg, log: cfg.Logger, drained: make(chan struct{}), door: newFrontDoor(cfg), publicIP: publicIP}
	started := false
	defer func() {
		if !started && p.store != nil {
			p.store.Close() // a failed start must not keep the file locked
		}
	}()
	if err := p.startXMPP(acc, portTLS); err != nil {
		return nil, err
	}
	if err := p.listen(); err != nil {
		return nil, err
	}
	if err := p.startUpload(acc); err != nil {
		p.closeListeners()
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
	if err := p.openAdmin(); err != nil {
		p.closeListeners()
		return nil, err
	}
	p.mountMetrics()
	p.serve()
	p.ready.Store(true)
	if cfg.Ready != nil {
		close(cfg.Ready)
	}
	started = true
	p.log.Info("parley is ready", "http", p.cfg.HTTPListener.Addr().String(), "domain", cfg.Domain, "version", cfg.Version)
	return p, nil
}

// startXMPP builds the XMPP server: tokens, guest resumption, the durable
// store (offline messages, archives, PEP, block lists, vCards) and
// registration invitations.
func (p *parley) startXMPP(acc *accounts.Store, portTLS portTLS) error {
	cfg := p.cfg
	var err error
	if p.tokens, err = loadTokens(cfg.Tokens); err != nil {
		return err
	}
	resume, err := loadResume(cfg.DataDir)
	if err != nil {
		return err
	}
	// Offline messages, archives, PEP, block lists and vCards.
	p.store, err = store.Open(filepath.Join(cfg.DataDir, "xmpp.db"))
	if err != nil {
		return err
	}
	var inviteSecret []byte
	if cfg.Registration == xmpp.RegistrationInvite {
		if inviteSecret, err = InviteSecret(cfg.DataDir); err != nil {
			return fmt.Errorf("invitations: %w", err)
		}
	}
	components, err := p.openComponents()
	if err != nil {
		return err
	}
	p.xmpp, err = xmpp.New(xmpp.Config{
		Components:       components,
		Unauthenticated:  p.door.unauth,
		Guests:           p.door.guests,
		Tokens:           p.tokens,
		Resume:           resume,
		Registration:     cfg.Registration,
		ChannelBinding:   cfg.SCRAMPlus,
		Register:         acc.Add,
		InviteSecret:     inviteSecret,
		Store:            p.store,
		ArchiveRetention: cfg.ArchiveRetention,
		Domain:           cfg.Domain,
		Accounts:         acc,
		Throttle:         accounts.NewThrottle(accounts.ThrottleConfig{}),
		TLS:              portTLS.config,
		AllowAnonymous:   cfg.AllowAnonymous,
		RequireTLS:       cfg.RequireTLS,
		Limits:           xmlstream.Limits{MaxElementBytes: cfg.MaxStanzaBytes},
		StanzaRate:       cfg.StanzaRate,
		StanzaBurst:      5 * max(cfg.StanzaRate, 200),
		Rosters:          xmpp.FileRosters{Dir: filepath.Join(cfg.DataDir, "rosters")},
		Logger:           cfg.Logger.With("part", "xmpp"),
		// STUN and TURN on the one port, for browsers and XMPP clients.
		ExternalServices: p.externalServices,
	})
	if err != nil {
		return err
	}
	return nil
}

// mucDomain is the rooms' service: conference.<domain>.
func (p *parley) mucDomain() string { return "conference." + p.cfg.Domain }

// startConferences builds the SFU on the UDP port of --listen, the focus,
// and the MUC service whose occupants the focus calls.
func (p *parley) startConferences() error {
	cfg := p.cfg
	var public []string
	if p.publicIP.IsValid() {
		public = []string{p.publicIP.String()}
	}
	var err error
	p.sfu, err = sfu.New(sfu.Config{
		UDPConn:     p.port.udp.Media(),
		TCPListener: p.door.iceTCP.Listener(p.port.tcp.Listener(portmux.ICETCP)),
		PublicIPs:   public,
		Dynacast:    cfg.Dynacast,
		Logger:      cfg.Logger.With("part", "sfu"),
	})
	if err != nil {
		return fmt.Errorf("sfu: %w", err)
	}
	focusDomain := "focus." + cfg.Domain
	if err := p.startBridges(focusDomain, localbridge.New(p.sfu, "")); err != nil {
		return err
	}
	p.focus, err = focus.New(focus.Config{Domain: focusDomain, Router: p.xmpp, Bridge: p.bridges, LastN: cfg.LastN, Simulcast: cfg.Simulcast, Logger: cfg.Logger.With("part", "focus")})
	if err != nil {
		return err
	}
	if err := p.startRecordings(); err != nil {
		return fmt.Errorf("recordings: %w", err)
	}
	mucDomain := p.mucDomain()
	p.muc, err = muc.New(muc.Config{
		Recordings:     p.muRecordings(),
		RecordingFiles: p.mucRecordingFiles(),
		Phones:         cfg.Phones,
		Domain:         mucDomain,
		Router:         p.xmpp,
		DataDir:        filepath.Join(cfg.DataDir, "rooms"),
		Logger:         cfg.Logger.With("part", "muc"),
		OnEvent:        p.roomEvent,
		Archive:        p.xmpp.RoomArchive(), // MAM for rooms (XEP-0313)

		Identify:       p.identify,
		OnTokenRefused: p.tokenRefused,
		DeclaredOnly:   cfg.DeclaredOnly,
		UserDomain:     cfg.Domain,
	})
	if err != nil {
		return fmt.Errorf("muc: %w", err)
	}
	p.xmpp.AddService(mucDomain, p.muc, xmpp.DiscoIdentity{Name: "Rooms"})
	p.xmpp.AddService(focusDomain, p.focusHandler(), xmpp.DiscoIdentity{Name: "Conference focus"})
	p.bridges.Start()
	return nil
}

// roomEvent tells the focus who comes and goes. MUC calls it under a room
// lock: the focus only queues the news.
func (p *parley) roomEvent(ev muc.Event) {
	switch ev.Kind {
	case muc.OccupantJoined:
		p.focus.Joined(ev.Room, ev.Nick, ev.RealJID, focus.Rights{Permissions: ev.Permissions, Muted: ev.Muted},
			focus.Caps{Hash: ev.Caps.Hash, Ver: ev.Caps.Ver})
		p.focus.SetRoomLastN(ev.Room, ev.LastN)
	case muc.RoomConfigured:
		p.focus.SetRoomLastN(ev.Room, ev.LastN)
	case muc.OccupantLeft:
		p.focus.Left(ev.Room, ev.Nick)
	case muc.OccupantChanged:
		if ev.PrevNick != "" && ev.PrevNick != ev.Nick {
			p.focus.Renamed(ev.Room, ev.PrevNick, ev.Nick)
		}
		p.focus.SetRights(ev.Room, ev.Nick, focus.Rights{Permissions: ev.Permissions, Muted: ev.Muted})
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
	if p.components != nil {
		p.components.Close()
	}
	if p.adminLn != nil {
		p.adminLn.Close()
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
	mux.HandleFunc("GET /health/live", p.live)
	mux.Handle("/xmpp-websocket", p.xmpp.WebSocketHandler())
	// What the admin listener serves is never served here, nor taken for a
	// room page: a scraper or script pointed at the public port must fail.
	for _, path := range []string{"/api/", "/admin/", "/metrics", "/stats", "/stats/"} {
		mux.Handle(path, http.NotFoundHandler())
	}
	mux.Handle("/upload/", p.upload)
	if p.recFiles != nil {
		mux.Handle("GET /recordings/{room}/{id}/{name}", p.recFiles)
	}
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
	p.serveAdmin()
	p.serveComponents(ctx)
	if p.c2s != nil {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			p.acceptC2S(ctx)
		}()
	}
}

func (p *parley) shutdown() error {
	p.ready.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if p.c2s != nil {
		p.c2s.Close()
	}
	p.http.Shutdown(ctx)
	if p.recordings != nil {
		p.recordings.Close() // the recorders leave while the server still runs
	}
	if p.admin != nil {
		p.admin.Shutdown(ctx)
	}
	p.bridges.Close()
	p.focus.Close()
	p.xmpp.Shutdown(ctx)
	p.store.Close()
	p.muc.Close()
	if p.internalMUC != nil {
		p.internalMUC.Close()
	}
	p.sfu.Close()
	p.port.close()
	p.stop()
	p.wg.Wait()
	return nil
}

// startUpload makes HTTP File Upload (XEP-0363) at upload.<domain>, its
// files served at /upload/ on the one port.
func (p *parley) startUpload(acc upload.Accounts) error {
	base := p.cfg.UploadURL
	if base == "" {
		_, port, _ := net.SplitHostPort(p.cfg.HTTPListener.Addr().String())
		host := p.cfg.Domain
		if port != "443" && port != "" {
			host = net.JoinHostPort(host, port)
		}
		base = "https://" + host + "/upload/"
	}
	if !strings.HasSuffix(base, "/") {
		base += "/"
	}
	svc, err := upload.New(upload.Config{
		Domain: "upload." + p.cfg.Domain, UserDomain: p.cfg.Domain, Accounts: acc,
		BaseURL: base, Dir: filepath.Join(p.cfg.DataDir, "uploads"), Router: p.xmpp,
		Logger: p.cfg.Logger.With("part", "upload"),
	})
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	p.upload = svc
	p.xmpp.AddService("upload."+p.cfg.Domain, svc, xmpp.DiscoIdentity{Name: "File upload"})
	return nil
}

// InviteSecret returns the key that signs invitations, DATA/invite-secret,
// making it on first use (parley invite and the server share it).
func InviteSecret(dataDir string) ([]byte, error) {
	path := filepath.Join(dataDir, "invite-secret")
	b, err := os.ReadFile(path)
	if err == nil && len(b) >= 32 {
		return b, nil
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	b = make([]byte, 32)
	rand.Read(b)
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if os.IsExist(err) { // made meanwhile by the other side
			return os.ReadFile(path)
		}
		return nil, err
	}
	defer f.Close()
	if _, err := f.Write(b); err != nil {
		return nil, err
	}
	return b, f.Sync()
}

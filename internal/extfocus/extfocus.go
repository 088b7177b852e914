// Package extfocus runs the conference focus against an XMPP server that
// is not parley's own (Debian's Prosody or ejabberd): the focus is an
// external component of that server (XEP-0114, as Jicofo is of Prosody),
// at focus.<domain>, the address parley's clients already call. It learns
// the rooms by watching the server's MUC service (rooms.go), follows their
// occupants from the presences it sees as an occupant itself, derives each
// one's rights from its affiliation and role, speaks Jingle to them through
// the server, and places their media on `parley bridge` processes found in
// the server's brewery room (internal/remotebridge). It reconnects with
// backoff, and Health names what is missing (docs/EXTERNAL-XMPP.md).
package extfocus

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"sync"
	"time"

	"parley.dev/parley/internal/focus"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/remotebridge"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// Config configures New.
type Config struct {
	// Server is the XMPP server's component port, "HOST:PORT". Required.
	Server string
	// Domain is the focus's component domain, e.g. focus.example.test; the
	// server must know it with Secret. Required.
	Domain string
	// Secret is the component's shared secret. Required.
	Secret string
	// UserDomain is the domain of the server's accounts: an occupant whose
	// real JID is elsewhere (an anonymous host) counts as a guest.
	// Required.
	UserDomain string
	// MUC is the MUC service whose rooms get calls, e.g.
	// conference.example.test. Required.
	MUC string
	// Brewery is the room the bridges join. Required.
	Brewery jid.JID
	// BridgeUsers are the bare JIDs allowed to be bridges. Required.
	BridgeUsers []jid.JID
	// Nick is the focus's nick in rooms and in the brewery. Default "focus".
	Nick string
	// Spread is how many bridges one conference may span, joined by
	// relays (remotebridge.Config.Spread). Default 1.
	Spread int
	// PollInterval is how often the MUC service's rooms are listed.
	// Default 1 s.
	PollInterval time.Duration
	// LastN and Simulcast are the focus's (focus.Config). Default 0 and off.
	LastN     int
	Simulcast bool
	// Logger receives the logs. Default slog.Default().
	Logger *slog.Logger
}

// Service is the focus as a component of another server. Its methods are
// safe for concurrent use.
type Service struct {
	cfg   Config
	log   *slog.Logger
	self  jid.JID
	muc   jid.JID
	focus *focus.Focus
	pool  *remotebridge.Pool
	rooms *rooms

	mu        sync.Mutex
	conn      *xmppclient.Client // the current connection; nil while disconnected; guarded by mu
	lastErr   error              // why the last connection attempt or connection failed; guarded by mu
	poolStart sync.Once          // the pool starts at the first connection, so that it joins the brewery at once
}

// New checks cfg and builds the focus and its pool of bridges; Run
// connects.
func New(cfg Config) (*Service, error) {
	if cfg.Server == "" || cfg.Secret == "" || cfg.UserDomain == "" {
		return nil, errors.New("extfocus: Server, Secret and UserDomain are required")
	}
	self, err := jid.Parse(cfg.Domain)
	if err != nil || self.Local != "" || !self.IsBare() {
		return nil, errors.New("extfocus: Domain must be a bare domain such as focus.example.test")
	}
	muc, err := jid.Parse(cfg.MUC)
	if err != nil || muc.Local != "" || !muc.IsBare() {
		return nil, errors.New("extfocus: MUC must be a bare domain such as conference.example.test")
	}
	if len(cfg.BridgeUsers) == 0 {
		return nil, errors.New("extfocus: at least one bridge account is required")
	}
	if cfg.Nick == "" {
		cfg.Nick = "focus"
	}
	if cfg.PollInterval <= 0 {
		cfg.PollInterval = time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	s := &Service{cfg: cfg, log: cfg.Logger, self: self, muc: muc}
	users := cfg.BridgeUsers
	s.pool, err = remotebridge.New(remotebridge.Config{JID: self, Router: s, Brewery: cfg.Brewery, Nick: cfg.Nick,
		Spread: cfg.Spread, Logger: cfg.Logger.With("sub", "bridges"),
		Trusted: func(real jid.JID) bool { return slices.Contains(users, real.Bare()) }})
	if err != nil {
		return nil, err
	}
	s.focus, err = focus.New(focus.Config{Domain: cfg.Domain, Router: s, Bridge: s.pool,
		LastN: cfg.LastN, Simulcast: cfg.Simulcast, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	s.rooms = newRooms(s)
	return s, nil
}

// Route sends a stanza of the focus or the pool on the current
// connection; without one it is dropped (the focus's requests time out,
// the pool's pings fail its bridges, as when the server is gone).
func (s *Service) Route(st *xmlstream.Element) {
	s.mu.Lock()
	c := s.conn
	s.mu.Unlock()
	if c == nil {
		s.log.Debug("not connected: a stanza dropped", "to", st.Attr("to"))
		return
	}
	if st.Attr("from") == "" {
		st = st.ShallowCopy().SetAttr("from", s.self.String())
	}
	if err := c.Send(st); err != nil {
		s.log.Debug("send failed", "err", err)
	}
}

// Run connects to the server and serves until ctx ends, reconnecting with
// backoff (0.5 s doubling to 15 s) whenever the connection fails.
func (s *Service) Run(ctx context.Context) error {
	defer s.focus.Close()
	defer s.pool.Close()
	wait := 500 * time.Millisecond
	for ctx.Err() == nil {
		c, err := xmppclient.DialComponent(ctx, xmppclient.ComponentConfig{Address: s.cfg.Server,
			Domain: s.cfg.Domain, Secret: s.cfg.Secret, Incoming: 1024, Logger: s.log})
		if err != nil {
			s.setConn(nil, err)
			s.log.Warn("cannot reach the XMPP server; retrying", "server", s.cfg.Server, "component", s.cfg.Domain, "err", err, "in", wait)
			select {
			case <-ctx.Done():
			case <-time.After(wait):
			}
			wait = min(2*wait, 15*time.Second)
			continue
		}
		wait = 500 * time.Millisecond
		s.log.Info("connected to the XMPP server", "server", s.cfg.Server, "component", s.cfg.Domain)
		s.setConn(c, nil)
		s.poolStart.Do(s.pool.Start)
		s.serve(ctx, c)
		err = c.Err()
		if err == nil {
			err = errors.New("connection closed")
		}
		s.setConn(nil, err)
		c.Close()
		s.lost()
		if ctx.Err() == nil {
			s.log.Warn("lost the XMPP server; reconnecting", "server", s.cfg.Server, "err", err)
		}
	}
	return nil
}

func (s *Service) setConn(c *xmppclient.Client, err error) {
	s.mu.Lock()
	s.conn, s.lastErr = c, err
	s.mu.Unlock()
}

// serve dispatches what the server sends until the connection ends.
func (s *Service) serve(ctx context.Context, c *xmppclient.Client) {
	pollCtx, stop := context.WithCancel(ctx)
	var polling sync.WaitGroup
	polling.Add(1)
	go func() { defer polling.Done(); s.rooms.poll(pollCtx, c) }()
	// The poller ends before lost() forgets the rooms, so that it cannot
	// add one after.
	defer polling.Wait()
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return
		case st, ok := <-c.Incoming():
			if !ok {
				return
			}
			s.dispatch(st)
		}
	}
}

// dispatch hands a stanza to the pool (the brewery and the bridges), the
// room watcher (rooms' presences, invitations) or the focus (Jingle, disco).
func (s *Service) dispatch(st *xmlstream.Element) {
	switch {
	case s.pool.Wants(st):
		s.pool.HandleStanza(st)
	case st.Name == "presence":
		s.rooms.presence(st)
	case st.Name == "message":
		s.rooms.message(st)
	default:
		s.focus.HandleStanza(st)
	}
}

// lost forgets what the connection knew: every room's occupants leave the
// focus's conferences (their sessions end), and the pool rejoins the
// brewery on the next connection.
func (s *Service) lost() {
	s.rooms.lost()
	s.pool.HandleStanza(xmlstream.New(xmlstream.NSClient, "presence", "type", "unavailable",
		"from", s.cfg.Brewery.WithResource(s.cfg.Nick).String(), "to", s.self.String()))
}

// Health says what the focus has and what it misses, by name.
type Health struct {
	OK          bool     `json:"ok"`
	XMPP        string   `json:"xmpp"` // "connected", or why not
	Bridges     int      `json:"bridges"`
	Rooms       int      `json:"rooms"`
	Conferences int      `json:"conferences"`
	Missing     []string `json:"missing,omitempty"`
}

// Health reports the connection, the bridges and the conferences.
func (s *Service) Health(ctx context.Context) Health {
	s.mu.Lock()
	connected, lastErr := s.conn != nil, s.lastErr
	s.mu.Unlock()
	h := Health{XMPP: "connected", Bridges: len(s.pool.Bridges()), Rooms: s.rooms.count(),
		Conferences: len(s.focus.Conferences(ctx))}
	if !connected {
		h.XMPP = "not connected"
		if lastErr != nil {
			h.XMPP += ": " + lastErr.Error()
		}
		h.Missing = append(h.Missing, "the XMPP server "+s.cfg.Server+" (component "+s.cfg.Domain+")")
	}
	if h.Bridges == 0 {
		h.Missing = append(h.Missing, "bridges: none in the brewery "+s.cfg.Brewery.String())
	}
	h.OK = len(h.Missing) == 0
	return h
}

// Focus returns the focus (for its statistics and traces).
func (s *Service) Focus() *focus.Focus { return s.focus }

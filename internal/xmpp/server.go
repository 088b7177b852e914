// Package xmpp is parley's embedded XMPP server: client sessions over TCP and
// WebSocket, stream negotiation (STARTTLS, SASL, bind), routing of messages,
// presences and IQs, rosters and subscriptions, disco and ping.
//
// Services such as MUC and the conference focus plug in as stanza.Handlers
// for their own domains; the server never imports them. Servers do not
// listen on their own: ServeTCP and ServeWebSocket take connections that the
// caller accepted.
package xmpp

import (
	"context"
	"crypto/tls"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/admission"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/store"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
)

// Authenticator is what the server needs from the account store.
type Authenticator interface {
	sasl.CredentialLookup
	// Exists reports whether a local account exists (for roster and
	// presence routing to bare JIDs).
	Exists(username string) bool
}

// Throttle limits failed logins per account and per address.
type Throttle interface {
	Allow(account, addr string) (ok bool, retryAfter time.Duration)
	Failed(account, addr string)
	Succeeded(account, addr string)
}

// Config configures a Server.
type Config struct {
	// Domain is the XMPP domain served. Required.
	Domain string
	// Accounts authenticates users. Required.
	Accounts Authenticator
	// Throttle limits failed logins. Default: no limit.
	Throttle Throttle
	// TLS is used for STARTTLS on TCP. Default nil: STARTTLS not offered.
	TLS *tls.Config
	// AllowAnonymous enables SASL ANONYMOUS for guests. Default false
	// (the parley command turns it on unless told otherwise).
	AllowAnonymous bool
	// RequireTLS makes STARTTLS mandatory on TCP connections from
	// non-loopback peers. Default false.
	RequireTLS bool
	// Limits bound each stanza's size and depth. Default xmlstream defaults.
	Limits xmlstream.Limits
	// StanzaRate and StanzaBurst bound how many stanzas per second one
	// connection may send; reading pauses beyond that. Default 200/s, burst 1000.
	StanzaRate, StanzaBurst int
	// SendQueue is the number of stanzas queued towards one session before
	// new ones are dropped. Default 1024.
	SendQueue int
	// AuthTimeout closes connections that have not authenticated and bound
	// a resource in time. Default 30 s.
	AuthTimeout time.Duration
	// PingInterval is how long a session may stay silent before the server
	// pings it; PingTimeout how long it then has to answer. Defaults 60 s, 30 s.
	PingInterval, PingTimeout time.Duration
	// ProbeTimeout is how long a session has to answer the ping of
	// CheckAlive before it is closed. Default 5 s.
	ProbeTimeout time.Duration
	// Tokens verifies JWT logins (tokenauth.go). Default nil: tokens are
	// refused, and a WebSocket URL carrying one fails SASL.
	Tokens *token.Verifier
	// Resume signs and checks guests' resumption tokens (resume.go); its
	// secret must be the server's own. Default nil: guests are not resumed.
	Resume *token.Verifier
	// Unauthenticated caps the sessions that have not logged in yet, per
	// source and in all (see package admission): beyond its per-source cap
	// a new connection is closed at once, and when its budget is full the
	// oldest unauthenticated session of the largest holder is closed.
	// Sessions leave it on SASL success. Default nil: no cap.
	Unauthenticated *admission.Gate
	// Guests caps the sessions logged in with SASL ANONYMOUS, for as long
	// as they last, in the same way: past the per-source cap a guest login
	// fails (temporary-auth-failure), and a full budget sheds the oldest
	// guest of the source holding the most. Default nil: no cap.
	Guests *admission.Gate
	// Rosters persists rosters. Default: in memory only.
	Rosters RosterStore
	// ExternalServices lists the STUN and TURN services offered to a
	// user (a bare JID of this domain, guests included), with credentials
	// made for them, for XEP-0215 (urn:xmpp:extdisco:2). It is called for
	// each request and must be safe for concurrent use. Default nil: the
	// feature is neither advertised nor answered.
	ExternalServices func(user jid.JID) []ExternalService
	// Store keeps offline messages, message archives and block lists.
	// Default: in memory (store.NewMemory), nothing survives a restart.
	Store store.KV
	// OfflineLimit is how many messages are kept for an account with no
	// available resource (XEP-0160); beyond, messages bounce. Default 1000.
	OfflineLimit int
	// ArchiveRetention is how long archived messages are kept (XEP-0313).
	// Default 0: forever.
	ArchiveRetention time.Duration
	// ResumeTimeout is how long a stream-management session whose
	// connection died waits for a resumption (XEP-0198). Default 5 min.
	ResumeTimeout time.Duration
	// ChannelBinding offers SCRAM-SHA-256-PLUS and SCRAM-SHA-1-PLUS with
	// tls-exporter (RFC 9266, advertised per XEP-0440) on TLS 1.3 streams.
	// Default false: clients such as slixmpp 1.8 pick a -PLUS mechanism
	// whenever it is offered and bind with tls-unique, which TLS 1.3 does
	// not have, so they would fail to log in.
	ChannelBinding bool
	// Registration is in-band registration (XEP-0077): RegistrationOff
	// (default), RegistrationInvite or RegistrationOpen. Offered only where
	// the password cannot be sniffed (TLS or loopback).
	Registration string
	// Register creates an account; required unless Registration is off.
	Register func(username, password string) error
	// InviteSecret signs invitations (NewInvite); required for
	// RegistrationInvite.
	InviteSecret []byte
	// Components are the external components (XEP-0114) that may connect
	// through ServeComponent: domain -> shared secret. A push service
	// (XEP-0357) joins this way. Default nil: none.
	Components map[string]string
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
	// Clock returns the time. Default time.Now.
	Clock func() time.Time
}

func (c *Config) setDefaults() {
	if c.StanzaRate == 0 {
		c.StanzaRate = 200
	}
	if c.StanzaBurst == 0 {
		c.StanzaBurst = 1000
	}
	if c.SendQueue == 0 {
		c.SendQueue = 1024
	}
	if c.AuthTimeout == 0 {
		c.AuthTimeout = 30 * time.Second
	}
	if c.PingInterval == 0 {
		c.PingInterval = 60 * time.Second
	}
	if c.ProbeTimeout == 0 {
		c.ProbeTimeout = 5 * time.Second
	}
	if c.PingTimeout == 0 {
		c.PingTimeout = 30 * time.Second
	}
	if c.Rosters == nil {
		c.Rosters = NewMemoryRosters()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Store == nil {
		c.Store = store.NewMemory()
	}
	if c.OfflineLimit == 0 {
		c.OfflineLimit = 1000
	}
	if c.ResumeTimeout == 0 {
		c.ResumeTimeout = 5 * time.Minute
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
}

// Server is the XMPP server. It is safe for concurrent use.
type Server struct {
	cfg    Config // read-only after New
	domain jid.JID

	mu       sync.RWMutex
	users    map[string]*userSessions // bare JID string -> sessions; guarded by mu
	services map[string]serviceEntry  // domain -> service; guarded by mu
	closed   bool                     // guarded by mu
	// smSessions are the resumable stream-management states by id; guarded by mu.
	smSessions map[string]*smState

	lastStamp atomic.Uint64 // last id nextStamp gave

	offlineMu sync.Mutex // serializes taking messages out of offline storage

	pruneMu   sync.Mutex
	lastPrune map[string]time.Time // account -> last archive pruning; guarded by pruneMu

	pushMu      sync.Mutex
	pushPending map[string]string    // notification id -> registration key; guarded by pushMu
	pushLast    map[string]time.Time // registration key -> last notification; guarded by pushMu

	pep *pepService // safe for concurrent use

	rosters *rosterCache // safe for concurrent use

	nextID atomic.Uint64 // for stream and stanza ids

	// Stats, read with Stats.
	stats counters

	wg sync.WaitGroup // live sessions
}

type serviceEntry struct {
	handler stanza.Handler
	info    DiscoIdentity
}

// DiscoIdentity describes a service in the server's disco#items.
type DiscoIdentity struct {
	Name string
}

// userSessions are the sessions of one bare JID. The slice is copy-on-write:
// replaced under Server.mu, read without a lock by whoever loaded it.
type userSessions struct {
	sessions []*session
}

// New returns a server.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	d, err := jid.Parse(cfg.Domain)
	if err != nil || !d.IsBare() || d.Local != "" {
		return nil, &ConfigError{Field: "Domain", Reason: "not a valid domain"}
	}
	if cfg.Accounts == nil {
		return nil, &ConfigError{Field: "Accounts", Reason: "required"}
	}
	switch cfg.Registration {
	case RegistrationOff:
	case RegistrationOpen, RegistrationInvite:
		if cfg.Register == nil {
			return nil, &ConfigError{Field: "Register", Reason: "required for in-band registration"}
		}
		if cfg.Registration == RegistrationInvite && len(cfg.InviteSecret) < 16 {
			return nil, &ConfigError{Field: "InviteSecret", Reason: "at least 16 bytes for invitations"}
		}
	default:
		return nil, &ConfigError{Field: "Registration", Reason: "off, invite or open"}
	}
	s := &Server{
		cfg:      cfg,
		domain:   d,
		users:    make(map[string]*userSessions),
		services: make(map[string]serviceEntry),

		smSessions: make(map[string]*smState),
		lastPrune:  make(map[string]time.Time),

		pushPending: make(map[string]string),
		pushLast:    make(map[string]time.Time),
	}
	s.pep = newPEP(s)
	s.rosters = newRosterCache(cfg.Rosters)
	return s, nil
}

// Domain returns the served domain.
func (s *Server) Domain() string { return s.domain.Domain }

// AddService routes every stanza addressed to domain (and to any JID at it)
// to h. Services answer through the Router the server gives them (the
// server itself).
func (s *Server) AddService(domain string, h stanza.Handler, id DiscoIdentity) {
	s.mu.Lock()
	s.services[domain] = serviceEntry{handler: h, info: id}
	s.mu.Unlock()
}

// Shutdown closes every session with a system-shutdown stream error and
// waits for them to end, or for ctx.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	var all []*session
	for _, us := range s.users {
		all = append(all, us.sessions...)
	}
	var components []*component
	for _, e := range s.services {
		if c, ok := e.handler.(*component); ok {
			components = append(components, c)
		}
	}
	s.mu.Unlock()
	for _, c := range components {
		c.closeErr.CompareAndSwap(nil, &stanza.StreamError{Condition: stanza.StreamSystemShutdown})
		c.close()
	}
	for _, ss := range all {
		ss.closeWithError(&stanza.StreamError{Condition: stanza.StreamSystemShutdown})
	}
	done := make(chan struct{})
	defer s.endHibernating()
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// newID returns a short unique id for streams and server-originated stanzas.
func (s *Server) newID(prefix string) string {
	return prefix + formatUint(s.nextID.Add(1))
}

func formatUint(n uint64) string {
	var b [20]byte
	i := len(b)
	for {
		i--
		b[i] = byte('0' + n%10)
		n /= 10
		if n == 0 {
			break
		}
	}
	return string(b[i:])
}

// ConfigError reports an invalid Config field.
type ConfigError struct {
	Field, Reason string
}

func (e *ConfigError) Error() string { return "xmpp: config " + e.Field + ": " + e.Reason }

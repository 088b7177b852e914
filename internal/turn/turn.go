// Package turn is parley's STUN/TURN server (RFC 8489, RFC 8656, TCP
// allocations per RFC 6062), built on pion/turn. It never listens on its
// own: the caller passes the packet conns and listeners it should serve
// (parley's one-port demultiplexer hands it TURN over UDP, TCP and TLS).
//
// Credentials are coturn-compatible TURN REST credentials (username
// "EXPIRY:USER", password base64(HMAC-SHA1(secret, username))), so that an
// operator may run coturn with the same secret instead. Relays refuse peers
// in loopback, private, link-local, multicast and unspecified ranges except
// parley's own media addresses, and allocations are limited per user.
package turn

import (
	"log/slog"
	"net"
	"net/netip"
	"sync/atomic"
	"time"

	pionturn "github.com/pion/turn/v5"

	"parley.dev/parley/internal/pionlog"
)

// Config configures New.
type Config struct {
	// PacketConns carry TURN over UDP. The server owns them from New on
	// and closes them in Close. PacketConns and Listeners together must
	// hold at least one.
	PacketConns []net.PacketConn
	// Listeners carry TURN over TCP (RFC 8656 framing) or over TLS: pass
	// a listener whose connections are already past their TLS handshake.
	// The server owns them from New on and closes them in Close.
	Listeners []net.Listener
	// Secret is the shared TURN REST secret (coturn's static-auth-secret).
	// Required.
	Secret string
	// Realm is the realm announced to clients. Default "parley".
	Realm string
	// RelayIP is the local address relay sockets are opened on: one
	// family, one address. Required.
	RelayIP netip.Addr
	// RelayPublicIP is the address told to clients as their relayed
	// address, for a server behind 1:1 NAT. Default RelayIP.
	RelayPublicIP netip.Addr
	// OwnMediaAddrs are parley's own media addresses (the SFU's UDP and
	// ICE-TCP ports, public and local): relays may reach them even in a
	// restricted range, on exactly that address and port. Default none.
	OwnMediaAddrs []netip.AddrPort
	// AllowedPeerPrefixes are ranges relays may reach although the default
	// policy refuses them (a LAN deployment). Default none.
	AllowedPeerPrefixes []netip.Prefix
	// MaxAllocationsPerUser bounds one user's live allocations (the USER of
	// "EXPIRY:USER"). Default 8; a browser uses one or two per call.
	MaxAllocationsPerUser int
	// MaxAllocations bounds all live allocations. Default 2000.
	MaxAllocations int
	// AllocationLifetime is the lifetime of an allocation that a client
	// does not ask otherwise. Default 10 minutes (RFC 8656).
	AllocationLifetime time.Duration
	// Clock returns the time, for credential expiry. Default time.Now.
	Clock func() time.Time
	// Logger receives the server's logs. Default slog.Default().
	Logger *slog.Logger
}

// Server is a running STUN/TURN server.
type Server struct {
	cfg    Config           // defaults applied; read-only after New
	pion   *pionturn.Server // owns the conns and listeners
	quota  *quota           // safe for concurrent use
	policy *peerPolicy      // read-only
	stats  *counters        // safe for concurrent use
	fast   *fastPath        // safe for concurrent use
	poller *relayPoller     // reads the UDP relay sockets; safe for concurrent use
	// secrets is swapped whole by RotateSecret; read on every credential.
	secrets atomic.Pointer[secrets]
	log     *slog.Logger // cfg.Logger
}

func (c *Config) setDefaults() {
	if c.Realm == "" {
		c.Realm = "parley"
	}
	if !c.RelayPublicIP.IsValid() {
		c.RelayPublicIP = c.RelayIP
	}
	if c.MaxAllocationsPerUser <= 0 {
		c.MaxAllocationsPerUser = 8
	}
	if c.MaxAllocations <= 0 {
		c.MaxAllocations = 2000
	}
	if c.Clock == nil {
		c.Clock = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

func (c *Config) validate() error {
	switch {
	case len(c.PacketConns) == 0 && len(c.Listeners) == 0:
		return wrapf(ErrConfig, "no PacketConns and no Listeners")
	case c.Secret == "":
		return wrapf(ErrConfig, "Secret is required")
	case !c.RelayIP.IsValid():
		return wrapf(ErrConfig, "RelayIP is required")
	case c.RelayIP.Unmap().Is4() != c.RelayPublicIP.Unmap().Is4():
		return wrapf(ErrConfig, "RelayIP %v and RelayPublicIP %v differ in family", c.RelayIP, c.RelayPublicIP)
	}
	return nil
}

// inboundMTU is the largest datagram the library reads from a client, and
// more than the ChannelData carrying relayMTU bytes (its default equals
// relayMTU, which would truncate that).
const inboundMTU = 2048

// New starts serving cfg's conns and listeners.
func New(cfg Config) (*Server, error) {
	cfg.setDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.RelayIP, cfg.RelayPublicIP = cfg.RelayIP.Unmap(), cfg.RelayPublicIP.Unmap()
	s := &Server{
		cfg:    cfg,
		quota:  newQuota(cfg.MaxAllocationsPerUser, cfg.MaxAllocations, cfg.Clock),
		policy: newPeerPolicy(cfg.OwnMediaAddrs, cfg.AllowedPeerPrefixes),
		stats:  &counters{},
		log:    cfg.Logger,
	}
	s.secrets.Store(&secrets{current: cfg.Secret})
	s.fast = newFastPath(s.stats)
	poller, err := newRelayPoller(s.stats)
	if err != nil {
		return nil, wrapf(ErrConfig, "relay poller: %v", err)
	}
	s.poller = poller
	gen := &relayGenerator{bindIP: cfg.RelayIP, publicIP: cfg.RelayPublicIP, policy: s.policy, stats: s.stats, fast: s.fast, poller: poller}
	pc := pionturn.ServerConfig{
		LoggerFactory:      pionlog.Factory{Log: cfg.Logger, Levels: pionlog.Untrusted()},
		Realm:              cfg.Realm,
		AuthHandler:        s.authenticate,
		QuotaHandler:       s.reserve,
		EventHandler:       s.events(),
		AllocationLifetime: cfg.AllocationLifetime,
		InboundMTU:         inboundMTU,
	}
	for _, conn := range cfg.PacketConns {
		pc.PacketConnConfigs = append(pc.PacketConnConfigs, pionturn.PacketConnConfig{
			PacketConn: s.fast.wrap(conn), RelayAddressGenerator: gen, PermissionHandler: s.permit,
		})
	}
	for _, ln := range cfg.Listeners {
		pc.ListenerConfigs = append(pc.ListenerConfigs, pionturn.ListenerConfig{
			Listener: ln, RelayAddressGenerator: gen, PermissionHandler: s.permit,
		})
	}
	p, err := pionturn.NewServer(pc)
	if err != nil {
		poller.close()
		return nil, wrapf(ErrConfig, "%v", err)
	}
	s.pion = p
	return s, nil
}

// Close stops the server, its allocations and its conns and listeners.
func (s *Server) Close() error {
	err := s.pion.Close()
	s.poller.close()
	return err
}

// Credentials returns a credential for user valid for ttl from now,
// signed with the server's secret.
func (s *Server) Credentials(user string, ttl time.Duration) (Credential, error) {
	return s.secrets.Load().sign(user, s.cfg.Clock().Add(ttl))
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	st := Stats{
		Allocations:        s.quota.allocations(),
		AllocationsCreated: s.stats.created.Load(),
		ChannelToPeer:      s.stats.toPeer.Load(),
		ChannelToClient:    s.stats.toClient.Load(),
		ChannelBytes:       s.stats.bytes.Load(),
		Refused:            make(map[string]uint64, numRefusedReasons),
		Dropped:            make(map[string]uint64, numDropReasons),
	}
	for i := range s.stats.refused {
		st.Refused[refusedReasonName(i)] = s.stats.refused[i].Load()
	}
	for i := range s.stats.dropped {
		st.Dropped[dropReasonName(i)] = s.stats.dropped[i].Load()
	}
	return st
}

// authenticate checks the username's form and expiry and returns the key
// its MESSAGE-INTEGRITY must match; the library checks the integrity.
func (s *Server) authenticate(ra *pionturn.RequestAttributes) (userID string, key []byte, ok bool) {
	expires, user, ok := parseRESTUsername(ra.Username)
	if !ok {
		s.stats.refuse(refusedAuthMalformed)
		return "", nil, false
	}
	if !s.cfg.Clock().Before(expires) {
		s.stats.refuse(refusedAuthExpired)
		return "", nil, false
	}
	password := restPassword(s.secrets.Load().forExpiry(expires), ra.Username)
	return user, pionturn.GenerateAuthKey(ra.Username, ra.Realm, password), true
}

// reserve is the library's quota check before an allocation.
func (s *Server) reserve(user, _ string, src net.Addr) bool {
	switch s.quota.reserve(user, src.String()) {
	case quotaUserFull:
		s.stats.refuse(refusedQuotaUser)
		return false
	case quotaTotalFull:
		s.stats.refuse(refusedQuotaTotal)
		return false
	}
	return true
}

// permit is the library's check of CreatePermission, ChannelBind and
// Connect; it sees the peer's address without its port.
func (s *Server) permit(_ net.Addr, peer net.IP) bool {
	if s.policy.allowedIP(ipFromNet(peer)) {
		return true
	}
	s.stats.refuse(refusedPeer)
	return false
}

func (s *Server) events() pionturn.EventHandler {
	return pionturn.EventHandler{
		OnAuth: func(_, _ net.Addr, _, _, _, _ string, verdict bool) {
			if !verdict {
				s.stats.refuse(refusedAuthBadPassword)
			}
		},
		OnAllocationCreated: func(src, _ net.Addr, _, user, _ string, _ net.Addr, _ int) {
			s.stats.created.Add(1)
			s.quota.confirm(user, src.String())
		},
		OnAllocationDeleted: func(_, _ net.Addr, _, user, _ string) {
			s.quota.release(user)
		},
		OnChannelCreated: func(src, dst net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
			s.fast.channelCreated(src, dst, relay, peer, number)
		},
		OnChannelDeleted: func(src, dst net.Addr, _, _, _ string, relay, peer net.Addr, number uint16) {
			s.fast.channelDeleted(src, dst, relay, peer, number)
		},
	}
}

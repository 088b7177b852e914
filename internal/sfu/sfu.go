// Package sfu is parley's selective forwarding unit: it receives each
// participant's audio and video over WebRTC and forwards them to every other
// participant of the same conference, without decoding.
//
// It speaks SDP only and knows nothing of XMPP or Jingle; the conference
// focus translates. The SFU is always the offerer: the focus calls
// (*Participant).Offer, carries the offer to the client, and hands the
// answer to (*Participant).SetAnswer. Offers are complete (all local ICE
// candidates gathered, there is no local trickle); remote candidates may
// trickle in through AddRemoteCandidate.
//
// All media of all participants uses one UDP socket (and optionally one
// ICE-TCP listener); ICE sessions are told apart by their username fragment.
package sfu

import (
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/cc"
	"github.com/pion/interceptor/pkg/gcc"
	"github.com/pion/interceptor/pkg/nack"
	"github.com/pion/webrtc/v4"

	"parley.dev/parley/internal/pionlog"
)

// Config configures New.
type Config struct {
	// UDPConn is the one UDP socket carrying all media (ICE, DTLS, SRTP) of
	// every participant. Required. The SFU owns it from New on and closes
	// it in Close.
	UDPConn net.PacketConn
	// TCPListener, if set, accepts passive ICE-TCP (RFC 6544, RFC 4571
	// framing) as a fallback for clients without UDP. Default nil: UDP
	// only. The SFU owns it from New on and closes it in Close.
	TCPListener net.Listener
	// PublicIPs are the addresses written into host candidates in place of
	// the local ones, for a server behind 1:1 NAT. Default: the socket's
	// own address (every interface address if it is bound to the
	// unspecified address).
	PublicIPs []string
	// Logger receives the SFU's logs and Pion's. Default slog.Default().
	Logger *slog.Logger
	// Clock is the time source. Default: the system clock.
	Clock Clock
	// KeyframeInterval is the least time between two keyframe requests
	// (PLI) sent to one publisher; requests inside it are merged into one
	// sent when it ends. Default 500ms.
	KeyframeInterval time.Duration
	// EventBuffer is the capacity of each participant's Events channel.
	// When it is full, events are dropped and counted (see
	// ParticipantStats); EventNeedsOffer is raised again at the next
	// change. Default 64.
	EventBuffer int
	// Dynacast tells publishers to stop sending the simulcast layers nobody
	// receives (EventSendLayers). Default false: seen in the browser tests,
	// Chromium did not resume a layer it had been told to pause, so it is
	// off until that is understood.
	Dynacast bool
	// CandidateBuffer bounds the remote ICE candidates kept per participant
	// while its first answer has not arrived; extra ones are dropped and
	// counted. Default 32.
	CandidateBuffer int
}

// SFU owns the WebRTC stack and the conferences.
type SFU struct {
	cfg    Config       // defaults applied; read-only after New
	log    *slog.Logger // never nil; read-only
	api    *webrtc.API  // shared by all peer connections; read-only
	udpMux ice.UDPMux   // closed in Close; read-only
	out    *batchConn   // cfg.UDPConn, batching the forwarding goroutines' writes; read-only
	tcpMux ice.TCPMux   // nil without TCPListener; read-only

	mu          sync.Mutex             // guards the fields below
	conferences map[string]*Conference // guarded by mu
	closed      bool                   // guarded by mu

	estMu      sync.Mutex                       // guards estimators
	estimators map[string]cc.BandwidthEstimator // by peer connection id, until its participant takes it

	totals totals         // safe for concurrent use (stats.go)
	queues readQueueDrops // packets dropped by Pion's full read queues (readqueue.go); safe for concurrent use
}

// New builds an SFU on cfg.UDPConn (and cfg.TCPListener).
func New(cfg Config) (*SFU, error) {
	if cfg.UDPConn == nil {
		return nil, wrapf(ErrConfig, "UDPConn is required")
	}
	udpAddr, ok := cfg.UDPConn.LocalAddr().(*net.UDPAddr)
	if !ok {
		return nil, wrapf(ErrConfig, "UDPConn is not a UDP socket (%T)", cfg.UDPConn.LocalAddr())
	}
	for _, ip := range cfg.PublicIPs {
		if net.ParseIP(ip) == nil {
			return nil, wrapf(ErrConfig, "PublicIPs: %q is not an IP address", ip)
		}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = systemClock{}
	}
	if cfg.KeyframeInterval <= 0 {
		cfg.KeyframeInterval = 500 * time.Millisecond
	}
	if cfg.EventBuffer <= 0 {
		cfg.EventBuffer = 64
	}
	if cfg.CandidateBuffer <= 0 {
		cfg.CandidateBuffer = 32
	}
	s := &SFU{cfg: cfg, log: cfg.Logger, conferences: make(map[string]*Conference),
		estimators: make(map[string]cc.BandwidthEstimator)}
	if err := s.buildAPI(udpAddr); err != nil {
		return nil, err
	}
	return s, nil
}

// buildAPI sets up codecs, interceptors and the ICE muxes.
func (s *SFU) buildAPI(udpAddr *net.UDPAddr) error {
	me, err := newMediaEngine()
	if err != nil {
		return fmt.Errorf("sfu: media engine: %w", err)
	}
	registry, err := s.newInterceptors(me)
	if err != nil {
		return err
	}

	// Pion warns of routine events that any peer provokes (a closed pipe
	// when someone leaves, a link-local address it cannot rewrite): 51 such
	// lines for twelve joins. The SFU logs what matters itself.
	loggers := pionlog.Factory{Log: s.log, Levels: pionlog.Untrusted()}
	se := webrtc.SettingEngine{LoggerFactory: loggers}
	// Bounded SRTP and SRTCP read queues, their drops counted (readqueue.go).
	// A BufferFactory also keeps Pion from reading RTX repair streams
	// before anyone asks; the SFU negotiates no RTX.
	se.BufferFactory = s.queues.newReadQueue
	s.out = newBatchConn(s.cfg.UDPConn)
	s.udpMux = ice.NewUDPMuxDefault(ice.UDPMuxParams{
		UDPConn: s.out,
		Logger:  loggers.NewLogger("udpmux"),
	})
	se.SetICEUDPMux(s.udpMux)
	networks := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.cfg.TCPListener != nil {
		s.tcpMux = ice.NewTCPMuxDefault(ice.TCPMuxParams{
			Listener:       s.cfg.TCPListener,
			Logger:         loggers.NewLogger("tcpmux"),
			ReadBufferSize: 64, // packets
			// Bounded and non-blocking: a stalled TCP client loses its own
			// packets instead of stalling the forwarding to everyone.
			WriteBufferSize: 1 << 20,
		})
		se.SetICETCPMux(s.tcpMux)
		networks = append(networks, webrtc.NetworkTypeTCP4, webrtc.NetworkTypeTCP6)
	}
	se.SetNetworkTypes(networks)
	// AES-128-GCM first: as DTLS server the SFU picks the first of its own
	// profiles that the client offers, and Pion's default puts AES-256-GCM
	// first, whose 14 rounds cost about 40 % more than AES-128's 10 on
	// every packet encrypted and decrypted. HMAC-SHA1 stays for old clients.
	se.SetSRTPProtectionProfiles(dtls.SRTP_AEAD_AES_128_GCM, dtls.SRTP_AEAD_AES_256_GCM, dtls.SRTP_AES128_CM_HMAC_SHA1_80)
	// No mDNS: the server has a real address and must not multicast.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// Nominate a client's first working pair at once when the SFU knows
	// its address only from its checks (peer-reflexive: behind a NAT, or
	// hidden behind an mDNS name) or from STUN: Pion waits 1 s and 0.5 s
	// by default, for a better pair that a server with one public address
	// never gets; it was a second of every such join
	// (BenchmarkConnect: 1019 ms before, under 10 ms after). Relays keep
	// Pion's wait, so that a direct pair found a little later wins.
	se.SetPrflxAcceptanceMinWait(0)
	se.SetSrflxAcceptanceMinWait(0)
	if udpAddr.IP.IsLoopback() {
		se.SetIncludeLoopbackCandidate(true)
	}
	if len(s.cfg.PublicIPs) > 0 {
		rule := webrtc.ICEAddressRewriteRule{
			External:        append([]string(nil), s.cfg.PublicIPs...),
			AsCandidateType: webrtc.ICECandidateTypeHost,
			Mode:            webrtc.ICEAddressRewriteReplace,
		}
		if err := se.SetICEAddressRewriteRules(rule); err != nil {
			s.closeMuxes()
			return wrapf(ErrConfig, "PublicIPs: %v", err)
		}
	}
	s.api = webrtc.NewAPI(
		webrtc.WithMediaEngine(me),
		webrtc.WithInterceptorRegistry(registry),
		webrtc.WithSettingEngine(se),
	)
	return nil
}

// newInterceptors builds the interceptors every peer connection runs, on
// every packet it sends or receives: NACKs and reports towards
// publishers, TWCC feedback on what they send, and the bandwidth estimate
// towards subscribers.
func (s *SFU) newInterceptors(me *webrtc.MediaEngine) (*interceptor.Registry, error) {
	registry := &interceptor.Registry{}
	// NACKs towards publishers only: the SFU answers its subscribers' NACKs
	// itself, from one cached copy of each packet (packetcache.go), where
	// Pion's responder would keep a copy per subscriber.
	// At most ten NACKs per missing packet, as libwebrtc's NackRequester
	// (kMaxNackRetries): Pion's default asks every 100 ms for as long as
	// the packet is among the last 512, and a packet the SFU decrypted but
	// could not queue (readqueue.go) never comes, SRTP refusing its
	// resending as a replay; under overload that was over twice the
	// publishers' packet rate in NACKed packets (docs/BENCHMARKS.md).
	generator, err := nack.NewGeneratorInterceptor(nack.GeneratorMaxNacksPerPacket(maxNacksPerPacket))
	if err != nil {
		return nil, fmt.Errorf("sfu: nack interceptor: %w", err)
	}
	registry.Add(generator)
	if err := webrtc.ConfigureRTCPReports(registry); err != nil {
		return nil, fmt.Errorf("sfu: report interceptors: %w", err)
	}
	// Transport-wide congestion control feedback on what publishers send:
	// without it a browser's send-side bandwidth estimate never ramps up.
	if err := webrtc.ConfigureTWCCSender(me, registry); err != nil {
		return nil, fmt.Errorf("sfu: twcc interceptor: %w", err)
	}
	if err := s.configureBWE(me, registry); err != nil {
		return nil, err
	}

	return registry, nil
}

// maxNacksPerPacket bounds the NACKs the SFU sends a publisher for one
// missing packet.
const maxNacksPerPacket = 10

// configureBWE sets up the send-side bandwidth estimate towards each
// participant: transport-wide sequence numbers on what the SFU sends, and
// Google Congestion Control on the participant's TWCC feedback. Pacing is
// left out (a no-op pacer): the estimate decides the layers, and a
// subscriber's stream never exceeds it for long.
func (s *SFU) configureBWE(me *webrtc.MediaEngine, registry *interceptor.Registry) error {
	bwe, err := cc.NewInterceptor(func() (cc.BandwidthEstimator, error) {
		return gcc.NewSendSideBWE(gcc.SendSideBWEInitialBitrate(initialEstimate),
			gcc.SendSideBWEMinBitrate(minEstimate), gcc.SendSideBWEMaxBitrate(maxEstimate),
			gcc.SendSideBWEPacer(gcc.NewNoOpPacer()))
	})
	if err != nil {
		return fmt.Errorf("sfu: congestion control: %w", err)
	}
	bwe.OnNewPeerConnection(func(id string, est cc.BandwidthEstimator) {
		s.estMu.Lock()
		s.estimators[id] = est
		s.estMu.Unlock()
	})
	registry.Add(bwe)
	// Added after the estimator, so that its writer runs first: the
	// estimator reads the sequence number it stamps (twccstamp.go: Pion's
	// stamper without its allocations).
	if err := configureTWCCStamper(me, registry); err != nil {
		return fmt.Errorf("sfu: twcc header extension: %w", err)
	}
	return nil
}

// The bounds of the bandwidth estimate towards a subscriber, bit/s. It
// starts where two 360p videos fit, and climbs as feedback comes.
const (
	initialEstimate = 2_000_000
	minEstimate     = 100_000
	maxEstimate     = 50_000_000
)

// takeEstimator hands the estimator made for a new peer connection to its
// participant.
func (s *SFU) takeEstimator(pcID string) cc.BandwidthEstimator {
	s.estMu.Lock()
	defer s.estMu.Unlock()
	est := s.estimators[pcID]
	delete(s.estimators, pcID)
	return est
}

// Conference returns the conference with this id, creating it if needed.
// A conference lives until its Close (or the SFU's); the focus owns that
// decision. After the SFU is closed it returns a closed conference, whose
// Join fails with ErrClosed.
func (s *SFU) Conference(id string) *Conference {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c, ok := s.conferences[id]; ok {
		return c
	}
	c := newConference(s, id)
	if s.closed {
		c.closed = true
		close(c.events)
		return c
	}
	s.conferences[id] = c
	c.startSpeakerWindows()
	return c
}

// forget drops a closed conference from the registry.
func (s *SFU) forget(c *Conference) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conferences[c.id] == c {
		delete(s.conferences, c.id)
	}
}

// Close closes every conference, then the UDP socket and TCP listener.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	confs := make([]*Conference, 0, len(s.conferences))
	for _, c := range s.conferences {
		confs = append(confs, c)
	}
	s.mu.Unlock()
	for _, c := range confs {
		c.Close()
	}
	return s.closeMuxes()
}

func (s *SFU) closeMuxes() error {
	var err error
	if s.tcpMux != nil {
		err = s.tcpMux.Close()
	}
	if s.udpMux != nil {
		if uerr := s.udpMux.Close(); uerr != nil && err == nil {
			err = uerr
		}
	}
	return err
}

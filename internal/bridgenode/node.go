// Package bridgenode is a bridge process (`parley bridge`): a media server
// (internal/bridge, the SFU through internal/localbridge) driven over XMPP.
// It logs in as an account, joins the brewery room and publishes its stats
// there in its presence, takes orders (docs/SIGNALLING.md §"Bridges") only
// from the configured focus JIDs, and sends each focus the events of the
// conferences it allocated. It reconnects with backoff; conferences do not
// survive a lost connection (their focus moves them elsewhere).
package bridgenode

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

const nsMUC = "http://jabber.org/protocol/muc"

// Config configures New.
type Config struct {
	// XMPP is the account the bridge logs in with (Address, Domain,
	// Username, Password). Required. Resource defaults to the nick and a
	// random suffix.
	XMPP xmppclient.Config
	// Brewery is the room the bridges and the focus meet in. Required.
	Brewery jid.JID
	// Nick is the bridge's nick there, and its name for operators.
	// Default: XMPP.Username.
	Nick string
	// Focus are the JIDs the bridge takes orders from; a bare JID matches
	// its every resource. Required: at least one.
	Focus []jid.JID
	// Media carries the conferences. Required.
	Media bridge.Server
	// Load reads the media's counters for the stats. Required.
	Load func() Load
	// Capacity scales the stress. Default: see Capacity.
	Capacity Capacity
	// Region and Version are published as they are. Default "".
	Region, Version string
	// StatsInterval is how often the stats are measured and, when they
	// changed, published. Default 1 s.
	StatsInterval time.Duration
	// RequestTimeout bounds each media operation an order asks for.
	// Default 10 s.
	RequestTimeout time.Duration
	// Logger receives the bridge's logs. Default slog.Default().
	Logger *slog.Logger
}

// ConfigError is a Config the bridge cannot run with.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "bridge: " + e.Field + ": " + e.Reason }

// Node is a running bridge. Its methods are safe for concurrent use.
type Node struct {
	cfg   Config
	log   *slog.Logger
	meter meter // owned by the stats loop

	mu       sync.Mutex
	confs    map[string]*conference // by conference id; guarded by mu
	draining bool                   // guarded by mu
	state    string                 // the XMPP connection's state, for /health; guarded by mu
	stats    bridgeproto.Stats      // the last measured; guarded by mu
	focusIn  map[string]jid.JID     // focus occupants of the brewery (nick -> real JID) on this connection; guarded by mu
	kick     chan struct{}          // asks the session to publish its presence now
}

// New checks cfg and returns a bridge; Run connects it.
func New(cfg Config) (*Node, error) {
	if cfg.XMPP.Address == "" || cfg.XMPP.Domain == "" || cfg.XMPP.Username == "" {
		return nil, &ConfigError{"xmpp", "the server address, the domain and an account are required"}
	}
	if cfg.Brewery.IsZero() || !cfg.Brewery.IsBare() || cfg.Brewery.Local == "" {
		return nil, &ConfigError{"brewery", "must be a room's bare JID such as jvbbrewery@internal.example.test"}
	}
	if len(cfg.Focus) == 0 {
		return nil, &ConfigError{"focus", "at least one focus JID is required: the bridge takes orders from nobody else"}
	}
	if cfg.Media == nil || cfg.Load == nil {
		return nil, &ConfigError{"media", "required"}
	}
	if cfg.Nick == "" {
		cfg.Nick = cfg.XMPP.Username
	}
	if cfg.XMPP.Resource == "" {
		// Unique: bridges sharing an account must not take each
		// other's session over.
		cfg.XMPP.Resource = fmt.Sprintf("%s-%04x", cfg.Nick, rand.N(0x10000))
	}
	cfg.Capacity.setDefaults()
	if cfg.StatsInterval <= 0 {
		cfg.StatsInterval = time.Second
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Node{cfg: cfg, log: cfg.Logger, confs: make(map[string]*conference), state: "connecting",
		focusIn: make(map[string]jid.JID), kick: make(chan struct{}, 1)}, nil
}

// Health is what GET /health answers.
type Health struct {
	Status       string  `json:"status"` // "ok", "draining" or "disconnected"
	XMPP         string  `json:"xmpp"`   // "connected", or what is wrong, by name
	Nick         string  `json:"nick"`
	Conferences  int     `json:"conferences"`
	Participants int     `json:"participants"`
	Stress       float64 `json:"stress"`
	Draining     bool    `json:"draining"`
	// Missing names what the bridge waits for, if anything: the XMPP
	// server (while not connected), or the focus (connected, but no
	// configured focus in the brewery).
	Missing []string `json:"missing,omitempty"`
	// Relays counts, per stream, what crosses the relays of cascaded
	// conferences: each stream once per bridge pair.
	Relays []RelayStream `json:"relays,omitempty"`
}

// Health reports the bridge's state.
func (n *Node) Health() Health {
	var relays []RelayStream
	if n.cfg.Load != nil {
		relays = n.cfg.Load().Relays
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	h := Health{Status: "ok", XMPP: n.state, Nick: n.cfg.Nick, Conferences: len(n.confs), Stress: n.stats.Stress,
		Draining: n.draining, Relays: relays, Missing: n.missingLocked()}
	for _, c := range n.confs {
		h.Participants += c.size()
	}
	switch {
	case n.state != "connected":
		h.Status = "disconnected"
	case n.draining:
		h.Status = "draining"
	}
	return h
}

// Drain stops new conferences: the bridge says so in its presence, and
// refuses new allocations; running calls go on.
func (n *Node) Drain() {
	n.mu.Lock()
	already := n.draining
	n.draining = true
	n.mu.Unlock()
	if !already {
		n.log.Info("draining: no new conferences")
		n.publishSoon()
	}
}

// Conferences is the number of conferences running.
func (n *Node) Conferences() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	return len(n.confs)
}

func (n *Node) publishSoon() {
	select {
	case n.kick <- struct{}{}:
	default:
	}
}

func (n *Node) setState(s string) {
	n.mu.Lock()
	n.state = s
	n.mu.Unlock()
}

// Run connects, serves, and reconnects with backoff until ctx ends. It
// returns early, with the reason, when the configuration is wrong: the
// account is refused, a focus JID is not a focus, the brewery refuses the
// bridge.
func (n *Node) Run(ctx context.Context) error {
	go n.measure(ctx)
	backoff := 250 * time.Millisecond
	for first := true; ctx.Err() == nil; first = false {
		c, err := xmppclient.Dial(ctx, n.cfg.XMPP)
		if err == nil {
			n.log.Info("connected", "jid", c.JID().String())
			err = n.session(ctx, c, first)
			c.Close()
			n.expireAll("the XMPP connection was lost")
			if errors.Is(err, errMisconfigured) {
				n.setState(err.Error())
				return err
			}
			backoff = 250 * time.Millisecond
		} else {
			var xe *xmppclient.Error
			if errors.As(err, &xe) && xe.Step != "stream" {
				n.setState("login refused: " + err.Error())
				return fmt.Errorf("%w: --user %s on %s: %v", errMisconfigured, n.cfg.XMPP.Username, n.cfg.XMPP.Address, err)
			}
		}
		if ctx.Err() != nil {
			break
		}
		n.setState("disconnected: " + errText(err))
		n.log.Warn("XMPP server unreachable; retrying", "server", n.cfg.XMPP.Address, "err", err, "in", backoff)
		select {
		case <-ctx.Done():
		case <-time.After(backoff + rand.N(backoff/4)):
		}
		backoff = min(backoff*2, 10*time.Second)
	}
	n.expireAll("the bridge is stopping")
	return nil
}

func errText(err error) string {
	if err == nil {
		return "the connection ended"
	}
	return err.Error()
}

// errMisconfigured marks what retrying cannot fix.
var errMisconfigured = errors.New("bridge: misconfigured")

// session serves one XMPP connection until it ends.
func (n *Node) session(ctx context.Context, c *xmppclient.Client, first bool) error {
	n.forgetFocus()
	if err := n.checkFocus(ctx, c); err != nil {
		return err
	}
	nick, err := n.joinBrewery(ctx, c)
	if err != nil {
		if first || errors.Is(err, errMisconfigured) {
			return err
		}
		n.log.Warn("could not join the brewery", "err", err)
		return err
	}
	n.setState("connected")
	n.log.Info("in the brewery", "room", n.cfg.Brewery.String(), "nick", nick)
	n.mu.Lock()
	focusThere := len(n.focusIn) > 0
	n.mu.Unlock()
	if !focusThere {
		n.log.Warn("no focus in the brewery yet; waiting for it", "focus", n.focusNames(), "room", n.cfg.Brewery.String())
	}
	occupant := n.cfg.Brewery.WithResource(nick)
	tick := time.NewTicker(n.cfg.StatsInterval)
	defer tick.Stop()
	var last string
	publish := func(force bool) {
		p := n.presence(occupant)
		if s := p.String(); force || s != last {
			last = s
			c.Send(p)
		}
	}
	heartbeat := 0
	for {
		select {
		case <-ctx.Done():
			c.Send(xmlstream.New(xmlstream.NSClient, "presence", "to", occupant.String(), "type", "unavailable"))
			return ctx.Err()
		case <-c.Done():
			return c.Err()
		case <-n.kick:
			publish(false)
		case <-tick.C:
			heartbeat++
			publish(heartbeat%30 == 0)
		case st, ok := <-c.Incoming():
			if !ok {
				return c.Err()
			}
			n.handle(c, st)
		}
	}
}

// presence is the bridge's brewery presence with its stats.
func (n *Node) presence(occupant jid.JID) *xmlstream.Element {
	n.mu.Lock()
	st := n.stats
	st.Conferences = len(n.confs)
	st.Participants = 0
	for _, c := range n.confs {
		st.Participants += c.size()
	}
	st.Draining = n.draining
	n.mu.Unlock()
	st.Region, st.Version = n.cfg.Region, n.cfg.Version
	return xmlstream.New(xmlstream.NSClient, "presence", "to", occupant.String()).Add(
		xmlstream.New(nsMUC, "x"), st.Element())
}

// checkFocus asks each focus JID's disco#info: an error answer, or an
// entity that is not a focus, is a misconfiguration; no answer in time, or
// service-unavailable or remote-server-timeout (a component the server
// knows but that is not connected), is only logged (the focus may start
// later).
func (n *Node) checkFocus(ctx context.Context, c *xmppclient.Client) error {
	for _, f := range n.cfg.Focus {
		qctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		res, err := c.IQ(qctx, stanza.IQ("get", "", jid.JID{}, f, xmlstream.New("http://jabber.org/protocol/disco#info", "query")))
		cancel()
		var se *stanza.Error
		switch {
		case errors.As(err, &se) && f.Local != "" && se.Condition == stanza.ServiceUnavailable:
			// An account's bare JID: its server answers for it, not the focus.
			continue
		case errors.As(err, &se) && (se.Condition == stanza.ServiceUnavailable || se.Condition == "remote-server-timeout"):
			// A component not connected yet (Prosody bounces with
			// service-unavailable, or remote-server-timeout while it
			// starts): the focus may start later.
			n.log.Warn("the focus is not connected to the server yet", "focus", f.String())
			continue
		case errors.As(err, &se):
			return fmt.Errorf("%w: --focus %s: the server answers %s: no focus there", errMisconfigured, f, se.Condition)
		case err != nil:
			n.log.Warn("the focus does not answer yet", "focus", f.String(), "err", err)
			continue
		}
		if !isFocus(res) && f.Local == "" {
			return fmt.Errorf("%w: --focus %s: it is no conference focus (its disco#info has no conference/focus identity)", errMisconfigured, f)
		}
	}
	return nil
}

func isFocus(res *xmlstream.Element) bool {
	for _, id := range res.FirstChild().ChildrenNamed("http://jabber.org/protocol/disco#info", "identity") {
		if id.Attr("category") == "conference" && id.Attr("type") == "focus" {
			return true
		}
	}
	return false
}

// joinBrewery enters the brewery and waits for the room's answer. A nick
// taken (often this bridge's own previous connection, not gone yet) gets
// a suffix.
func (n *Node) joinBrewery(ctx context.Context, c *xmppclient.Client) (string, error) {
	nick := n.cfg.Nick
	for attempt := 0; attempt < 5; attempt++ {
		occupant := n.cfg.Brewery.WithResource(nick)
		c.Send(n.presence(occupant))
		deadline := time.After(10 * time.Second)
	wait:
		for {
			select {
			case <-ctx.Done():
				return "", ctx.Err()
			case <-deadline:
				return "", errors.New("the brewery did not answer")
			case st, ok := <-c.Incoming():
				if !ok {
					return "", c.Err()
				}
				if st.Name != "presence" || st.Attr("from") != occupant.String() {
					n.handle(c, st)
					continue
				}
				if st.Attr("type") != "error" {
					if bridgeproto.Created(st) {
						c.Send(stanza.IQ("set", c.NewID(), jid.JID{}, n.cfg.Brewery, bridgeproto.InstantRoom()))
					}
					return nick, nil
				}
				e := stanza.ParseError(st)
				if e != nil && e.Condition == stanza.Conflict {
					nick = n.cfg.Nick + "-" + fmt.Sprint(rand.N(10000))
					break wait
				}
				return "", fmt.Errorf("%w: the brewery %s refused the bridge: %v", errMisconfigured, n.cfg.Brewery, e)
			}
		}
	}
	return "", errors.New("no free nick in the brewery")
}

// trusted reports whether from may give orders.
func (n *Node) trusted(from jid.JID) bool {
	for _, f := range n.cfg.Focus {
		if from == f || (f.IsBare() && from.Bare() == f) {
			return true
		}
	}
	return false
}

// Package remotebridge is the focus's side of bridges in other processes
// (internal/bridgenode): a Pool that watches the brewery room for bridges
// and their stats, places each new conference on the least-stressed one
// that is not draining, and drives it over the IQ protocol of
// internal/bridgeproto (docs/SIGNALLING.md §"Bridges") behind the same
// bridge.Server interface as the in-process SFU. A bridge that leaves the
// brewery, or stops answering pings, is failed: its conferences report
// bridge.EventBridgeFailed and the focus moves them.
package remotebridge

import (
	"context"
	"errors"
	"log/slog"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/bridgeproto"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

const (
	nsMUC     = "http://jabber.org/protocol/muc"
	nsMUCUser = "http://jabber.org/protocol/muc#user"
	nsPing    = "urn:xmpp:ping"
	idPrefix  = "rb-" // the ids of the pool's requests: their answers are its own
)

// Config configures New.
type Config struct {
	// JID is the focus's address: the pool's orders come from it, and the
	// bridges trust it. Required.
	JID jid.JID
	// Router sends the pool's stanzas. Required.
	Router stanza.Router
	// Brewery is the room the bridges publish themselves in. Required.
	Brewery jid.JID
	// Nick is the focus's nick in the brewery. Default "focus".
	Nick string
	// Trusted says whether a brewery occupant's real JID may be a bridge.
	// Required: an occupant it refuses is ignored (and logged once).
	Trusted func(real jid.JID) bool
	// Local, if set, is the in-process bridge, a candidate beside the
	// remote ones, with LocalStress (default: always 0, so placed first
	// among equals). Default nil: remote bridges only.
	Local       bridge.Server
	LocalStress func() float64
	// Region, if set, is preferred: a bridge of this region is chosen
	// before any other that is not draining. Default "".
	Region string
	// PingInterval is how often each bridge is pinged; FailAfter pings
	// without an answer in a row fail it. Defaults 1 s and 3.
	PingInterval time.Duration
	FailAfter    int
	// Spread is how many bridges one conference may span (cascading):
	// each new participant goes to the conference's bridge with the
	// fewest of its participants, and while fewer than Spread bridges
	// carry it and each has someone, to one more, placed like a new
	// conference; the bridges are joined by relays (cascade.go). Default
	// 1: a conference stays on one bridge.
	Spread int
	// RequestTimeout bounds each order. Default 10 s.
	RequestTimeout time.Duration
	// Logger receives the pool's logs. Default slog.Default().
	Logger *slog.Logger
}

// Pool is the set of remote bridges. Its methods are safe for concurrent use.
type Pool struct {
	cfg    Config
	log    *slog.Logger
	nextID atomic.Uint64
	ctx    context.Context
	cancel context.CancelFunc
	// inbox queues brewery presences and bridge events for run: a
	// stanza handler must not block, nor route back into the service
	// that called it.
	inbox chan *xmlstream.Element

	mu       sync.Mutex
	bridges  map[string]*remote                 // by brewery nick; guarded by mu
	pending  map[string]chan *xmlstream.Element // request id -> waiter; guarded by mu
	refused  map[string]bool                    // real JIDs not trusted, logged once; guarded by mu
	joined   bool                               // the brewery answered our presence; guarded by mu
	lastJoin time.Time                          // when we last asked to join; guarded by mu
}

// New returns a pool; Start joins the brewery.
func New(cfg Config) (*Pool, error) {
	if cfg.JID.IsZero() || cfg.Router == nil || cfg.Trusted == nil {
		return nil, errors.New("remotebridge: JID, Router and Trusted are required")
	}
	if cfg.Brewery.IsZero() || !cfg.Brewery.IsBare() || cfg.Brewery.Local == "" {
		return nil, errors.New("remotebridge: Brewery must be a room's bare JID")
	}
	if cfg.Nick == "" {
		cfg.Nick = "focus"
	}
	if cfg.LocalStress == nil {
		cfg.LocalStress = func() float64 { return 0 }
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = time.Second
	}
	if cfg.FailAfter <= 0 {
		cfg.FailAfter = 3
	}
	if cfg.RequestTimeout <= 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Pool{cfg: cfg, log: cfg.Logger, ctx: ctx, cancel: cancel, inbox: make(chan *xmlstream.Element, 1024),
		bridges: make(map[string]*remote), pending: make(map[string]chan *xmlstream.Element), refused: make(map[string]bool)}, nil
}

// Start joins the brewery and starts watching the bridges.
func (p *Pool) Start() {
	go p.run()
	go p.pinger()
}

// run handles the queued presences and events, in order.
func (p *Pool) run() {
	p.join()
	for {
		select {
		case <-p.ctx.Done():
			return
		case st := <-p.inbox:
			if st.Name == "presence" {
				p.presence(st)
			} else {
				p.event(st)
			}
		}
	}
}

// Close stops the pool; its bridges' conferences are not expired (the
// bridges expire them when the focus's presence leaves).
func (p *Pool) Close() {
	p.cancel()
	p.cfg.Router.Route(xmlstream.New(xmlstream.NSClient, "presence", "from", p.cfg.JID.String(),
		"to", p.cfg.Brewery.WithResource(p.cfg.Nick).String(), "type", "unavailable"))
}

func (p *Pool) join() {
	p.mu.Lock()
	p.lastJoin = time.Now()
	p.mu.Unlock()
	p.cfg.Router.Route(xmlstream.New(xmlstream.NSClient, "presence", "from", p.cfg.JID.String(),
		"to", p.cfg.Brewery.WithResource(p.cfg.Nick).String()).Add(xmlstream.New(nsMUC, "x")))
}

// Wants reports whether a stanza sent to the focus's address is the
// pool's: brewery presences, bridge events, answers to its requests.
func (p *Pool) Wants(st *xmlstream.Element) bool {
	switch st.Name {
	case "presence":
		from, err := jid.Parse(st.Attr("from"))
		return err == nil && from.Bare() == p.cfg.Brewery
	case "message":
		return st.Child(bridgeproto.NS, "event") != nil
	case "iq":
		t := st.Attr("type")
		return (t == "result" || t == "error") && strings.HasPrefix(st.Attr("id"), idPrefix)
	}
	return false
}

// HandleStanza takes what Wants accepted.
func (p *Pool) HandleStanza(st *xmlstream.Element) {
	switch st.Name {
	case "presence", "message":
		select {
		case p.inbox <- st:
		default:
			p.log.Error("bridge pool queue full: a stanza dropped", "from", st.Attr("from"))
		}
	case "iq":
		p.mu.Lock()
		ch := p.pending[st.Attr("id")]
		delete(p.pending, st.Attr("id"))
		p.mu.Unlock()
		if ch != nil {
			ch <- st
		}
	}
}

// request sends an order to b and waits for its answer; errors match
// bridge's sentinels (bridgeproto.ErrorOf). It gives up with
// bridge.ErrGone as soon as b is failed.
func (p *Pool) request(ctx context.Context, b *remote, typ string, payload *xmlstream.Element) (*xmlstream.Element, error) {
	to := b.real
	id := idPrefix + strconv.FormatUint(p.nextID.Add(1), 10)
	ch := make(chan *xmlstream.Element, 1)
	p.mu.Lock()
	p.pending[id] = ch
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.pending, id)
		p.mu.Unlock()
	}()
	p.cfg.Router.Route(stanza.IQ(typ, id, p.cfg.JID, to, payload))
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, p.cfg.RequestTimeout)
		defer cancel()
	}
	select {
	case res := <-ch:
		return res, bridgeproto.ErrorOf(stanza.AnswerError(res))
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-b.gone:
		return nil, bridge.ErrGone
	case <-p.ctx.Done():
		return nil, bridge.ErrClosed
	}
}

// send sends an order without waiting: its answer, if an error, is
// logged by nobody (the orders sent so are hints whose loss a later
// state corrects).
func (p *Pool) send(to jid.JID, payload *xmlstream.Element) {
	id := idPrefix + "n" + strconv.FormatUint(p.nextID.Add(1), 10)
	p.cfg.Router.Route(stanza.IQ("set", id, p.cfg.JID, to, payload))
}

// BridgeInfo describes a bridge, for operators.
type BridgeInfo struct {
	Nick        string            `json:"nick"`
	JID         string            `json:"jid"`
	Stats       bridgeproto.Stats `json:"stats"`
	Conferences int               `json:"conferences_placed"` // by this focus
	Drained     bool              `json:"drained"`            // by this focus's operator
}

// Bridges lists the bridges in the brewery.
func (p *Pool) Bridges() []BridgeInfo {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]BridgeInfo, 0, len(p.bridges))
	for _, b := range p.bridges {
		out = append(out, BridgeInfo{Nick: b.nick, JID: b.real.String(), Stats: b.stats, Conferences: len(b.confs), Drained: b.drained})
	}
	slices.SortFunc(out, func(a, b BridgeInfo) int { return strings.Compare(a.Nick, b.Nick) })
	return out
}

// ErrNoSuchBridge is a Drain of a nick nobody has in the brewery.
var ErrNoSuchBridge = errors.New("remotebridge: no such bridge")

// Drain stops placing conferences on the bridge, and tells it to drain.
// With move, its conferences are moved now (their participants get new
// sessions elsewhere) instead of ending there.
func (p *Pool) Drain(nick string, move bool) error {
	p.mu.Lock()
	b := p.bridges[nick]
	var moving []*conference
	if b != nil {
		b.drained = true
		if move {
			for c := range b.confs {
				moving = append(moving, c)
				delete(b.confs, c)
			}
		}
	}
	p.mu.Unlock()
	if b == nil {
		return ErrNoSuchBridge
	}
	p.log.Info("draining a bridge", "bridge", nick, "moving", len(moving))
	for _, c := range moving {
		p.send(b.real, c.order(bridgeproto.OrderExpire, ""))
		c.failed("its bridge drains and moves its conferences")
	}
	ctx, cancel := context.WithTimeout(p.ctx, p.cfg.RequestTimeout)
	defer cancel()
	_, err := p.request(ctx, b, "set", xmlstream.New(bridgeproto.NS, bridgeproto.OrderDrain))
	return err
}

// Conference places a new conference: the bridge of the preferred
// region, then of the least stress (in steps of 0.05), then with the
// fewest conferences from this focus, then by name; never a draining one.
func (p *Pool) Conference(ctx context.Context, id string) (bridge.Conference, error) {
	if p.cfg.Spread > 1 {
		return newCascade(ctx, p, id)
	}
	c, _, err := p.place(ctx, id, nil)
	return c, err
}

// localName is the in-process bridge's name in placements.
const localName = "local"

// place places a conference on one bridge, none of exclude (by nick, or
// localName), as Conference does, and returns it with the bridge's name.
func (p *Pool) place(ctx context.Context, id string, exclude map[string]bool) (bridge.Conference, string, error) {
	p.mu.Lock()
	var best *remote
	bestKey := [3]float64{math.Inf(1)}
	for _, b := range p.bridges {
		if b.failed || b.drained || b.stats.Draining || exclude[b.nick] {
			continue
		}
		key := p.placementKey(b.stats.Region, b.stats.Stress, len(b.confs))
		if less(key, bestKey) || (!less(bestKey, key) && best != nil && b.nick < best.nick) {
			best, bestKey = b, key
		}
	}
	local := p.cfg.Local != nil && !exclude[localName] && !less(bestKey, p.placementKey(p.cfg.Region, p.cfg.LocalStress(), 0))
	var c *conference
	if !local && best != nil {
		c = newConference(p, best, id)
		best.confs[c] = struct{}{}
	}
	p.mu.Unlock()
	switch {
	case local:
		lc, err := p.cfg.Local.Conference(ctx, id)
		return lc, localName, err
	case c == nil:
		return nil, "", bridge.ErrNoBridge
	}
	p.log.Info("conference placed", "conference", id, "bridge", best.nick, "stress", best.stats.Stress)
	return c, best.nick, nil
}

func (p *Pool) placementKey(region string, stress float64, placed int) [3]float64 {
	r := 1.0
	if p.cfg.Region == "" || region == p.cfg.Region {
		r = 0
	}
	return [3]float64{r, math.Floor(stress * 20), float64(placed)}
}

func less(a, b [3]float64) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

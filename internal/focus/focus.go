// Package focus is the conference focus: the Jingle peer (focus.<domain>)
// that gives every room occupant able to do media one Jingle session with
// a media bridge. It translates between Jingle (internal/jingle) and the bridge's SDP,
// follows who joins and leaves the rooms, and renegotiates as tracks come
// and go. It joins the XMPP side and the media (internal/bridge): it imports neither the XMPP
// server, the MUC service nor the SFU, and the bridges know nothing of it.
package focus

import (
	"context"
	"errors"
	"log/slog"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Namespaces the focus speaks.
const (
	NSJingle     = "urn:xmpp:jingle:1"
	nsDiscoInfo  = "http://jabber.org/protocol/disco#info"
	nsJitMeet    = "http://jitsi.org/jitmeet"
	nsRTP        = "urn:xmpp:jingle:apps:rtp:1"
	nsICEUDP     = "urn:xmpp:jingle:transports:ice-udp:1"
	nsDTLS       = "urn:xmpp:jingle:apps:dtls:0"
	nsParleyRoom = "urn:parley:focus:0"
)

// requiredFeatures must all be in an occupant's disco#info for the focus to
// call it (docs/SIGNALLING.md).
var requiredFeatures = []string{NSJingle, nsRTP, nsICEUDP, nsDTLS}

// Config configures New.
type Config struct {
	// Domain is the focus's own address, e.g. focus.example.test. Required.
	Domain string
	// Router sends the focus's stanzas. Required.
	Router stanza.Router
	// Bridge carries the media: the in-process SFU (internal/localbridge)
	// or a pool of remote bridges (internal/remotebridge). Required.
	Bridge bridge.Server
	// RequestTimeout bounds each IQ the focus sends (disco, Jingle).
	// Default 10 s.
	RequestTimeout time.Duration
	// Logger receives the focus's logs. Default slog.Default().
	Logger *slog.Logger
	// LastN, if above 0, makes every room's participants receive the
	// camera of only the LastN most recent speakers (plus the ones they
	// pin); audio and screens always. A participant may ask for fewer; a
	// room's own setting (SetRoomLastN) may lower it. Default 0: no cap
	// but the room's.
	LastN int
	// Simulcast makes the SFU's offers ask publishers for simulcast layers
	// of their camera and screen. Default off (the zero value): one layer
	// each; parley serve turns it on unless --simulcast=false.
	Simulcast bool
}

// Focus runs the conferences. Its methods are safe for concurrent use.
type Focus struct {
	cfg    Config
	domain jid.JID
	log    *slog.Logger

	mu          sync.Mutex
	conferences map[jid.JID]*conference            // by bare room JID; guarded by mu
	sessions    map[string]*conference             // by Jingle sid; guarded by mu
	pending     map[string]chan *xmlstream.Element // IQ id -> waiter; guarded by mu
	closed      bool                               // guarded by mu

	nextID  atomic.Uint64
	refused perm.Refusals   // Jingle requests refused for lack of a permission
	trace   tracer          // signalling traces (trace.go); safe for concurrent use
	caps    capsCache       // what occupants' capabilities mean (caps.go); safe for concurrent use
	ctx     context.Context // cancelled by Close
	cancel  context.CancelFunc
	wg      sync.WaitGroup // conference actors
}

// ConfigError reports an invalid Config.
type ConfigError struct{ Field, Reason string }

func (e *ConfigError) Error() string { return "focus: config " + e.Field + ": " + e.Reason }

// New returns a focus.
func New(cfg Config) (*Focus, error) {
	d, err := jid.Parse(cfg.Domain)
	if err != nil || d.Local != "" || !d.IsBare() {
		return nil, &ConfigError{"Domain", "must be a bare domain such as focus.example.test"}
	}
	if cfg.Router == nil {
		return nil, &ConfigError{"Router", "required"}
	}
	if cfg.Bridge == nil {
		return nil, &ConfigError{"Bridge", "required"}
	}
	if cfg.RequestTimeout == 0 {
		cfg.RequestTimeout = 10 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Focus{
		cfg: cfg, domain: d, log: cfg.Logger,
		conferences: make(map[jid.JID]*conference),
		sessions:    make(map[string]*conference),
		pending:     make(map[string]chan *xmlstream.Element),
		trace:       tracer{traces: make(map[jid.JID]*Trace), ids: make(map[string]jid.JID)},
		ctx:         ctx, cancel: cancel,
	}, nil
}

// Joined tells the focus that an occupant entered a room, with what it may
// publish and the capabilities its presence announced (zero for none). It
// never blocks.
func (f *Focus) Joined(room jid.JID, nick string, real jid.JID, r Rights, caps Caps) {
	f.postTo(room, true, func(c *conference) { c.joined(nick, real, r, caps) })
}

// Left tells the focus that an occupant left a room. It never blocks.
func (f *Focus) Left(room jid.JID, nick string) {
	f.postTo(room, false, func(c *conference) { c.left(nick, "left the room") })
}

// SetRoomLastN tells the focus of a room's own lastN setting (0: none): it
// caps every participant's lastN, below the server's Config.LastN if that
// is smaller; a participant may ask for fewer, never more. A room without
// a call yet is told again at its next join. It never blocks.
func (f *Focus) SetRoomLastN(room jid.JID, n int) {
	f.postTo(room, false, func(c *conference) { c.setRoomLastN(max(n, 0)) })
}

// Renamed tells the focus that an occupant changed its nick.
func (f *Focus) Renamed(room jid.JID, prev, nick string) {
	f.postTo(room, false, func(c *conference) { c.renamed(prev, nick) })
}

// postTo queues work for the room's conference, creating it if asked. It
// posts under f.mu so that a conference cannot end between being found and
// receiving the work (see tryEnd).
func (f *Focus) postTo(room jid.JID, create bool, fn func(*conference)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	c := f.conferences[room]
	if c == nil {
		if !create {
			return
		}
		c = newConference(f, room)
		f.conferences[room] = c
		f.wg.Add(1)
		go func() {
			defer f.wg.Done()
			c.run()
		}()
	}
	c.post(func() { fn(c) })
}

// tryEnd removes an empty conference unless work for it is queued.
func (f *Focus) tryEnd(c *conference) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(c.inbox) > 0 {
		return false
	}
	if f.conferences[c.room] == c {
		delete(f.conferences, c.room)
	}
	return true
}

func (f *Focus) bindSession(sid string, c *conference) {
	f.mu.Lock()
	f.sessions[sid] = c
	f.mu.Unlock()
}

func (f *Focus) unbindSession(sid string) {
	f.mu.Lock()
	delete(f.sessions, sid)
	f.mu.Unlock()
}

// Close ends every conference: participants get session-terminate.
func (f *Focus) Close() {
	f.mu.Lock()
	f.closed = true
	f.mu.Unlock()
	f.cancel()
	f.wg.Wait()
}

// HandleStanza receives what is addressed to the focus: answers to its
// requests, Jingle requests from participants, disco.
func (f *Focus) HandleStanza(st *xmlstream.Element) {
	if st.Name != "iq" {
		return
	}
	f.record("in", st)
	switch st.Attr("type") {
	case "result", "error":
		f.mu.Lock()
		ch := f.pending[st.Attr("id")]
		delete(f.pending, st.Attr("id"))
		f.mu.Unlock()
		if ch != nil {
			ch <- st
		}
		return
	}
	payload := st.FirstChild()
	switch {
	case payload.Is(nsDiscoInfo, "query") && st.Attr("type") == "get":
		f.cfg.Router.Route(stanza.IQResult(st, f.discoInfo()))
	case payload.Is(NSJingle, "jingle") && st.Attr("type") == "set":
		f.handleJingle(st, payload)
	case payload.Is(nsParleyRoom, "trace"):
		f.handleTraceIQ(st, payload)
	default:
		f.reply(stanza.ErrorReply(st, stanza.NewError(stanza.ServiceUnavailable, "")))
	}
}

func (f *Focus) discoInfo() *xmlstream.Element {
	q := xmlstream.New(nsDiscoInfo, "query").Add(
		xmlstream.New(nsDiscoInfo, "identity", "category", "conference", "type", "focus", "name", "parley focus"))
	for _, v := range append([]string{nsDiscoInfo}, requiredFeatures...) {
		q.Add(xmlstream.New(nsDiscoInfo, "feature", "var", v))
	}
	return q
}

// handleJingle hands a participant's Jingle request to its conference,
// which checks that it comes from the session's participant.
func (f *Focus) handleJingle(iq, payload *xmlstream.Element) {
	sid := payload.Attr("sid")
	f.mu.Lock()
	c := f.sessions[sid]
	f.mu.Unlock()
	if c == nil {
		f.reply(jingleError(iq, stanza.ItemNotFound, "unknown-session", "no such session"))
		return
	}
	c.post(func() { c.jingleRequest(iq, payload) })
}

func (f *Focus) reply(st *xmlstream.Element) {
	if st != nil {
		f.record("out", st)
		f.cfg.Router.Route(st)
	}
}

// request sends an IQ from the focus and waits for its answer. An error
// answer is returned as a *stanza.Error.
func (f *Focus) request(to jid.JID, typ string, payload *xmlstream.Element) (*xmlstream.Element, error) {
	id := "focus" + strconv.FormatUint(f.nextID.Add(1), 10)
	ch := make(chan *xmlstream.Element, 1)
	f.mu.Lock()
	f.pending[id] = ch
	f.mu.Unlock()
	defer func() {
		f.mu.Lock()
		delete(f.pending, id)
		f.mu.Unlock()
	}()
	req := stanza.IQ(typ, id, f.domain, to, payload)
	f.record("out", req)
	f.cfg.Router.Route(req)
	timer := time.NewTimer(f.cfg.RequestTimeout)
	defer timer.Stop()
	select {
	case res := <-ch:
		return res, stanza.AnswerError(res)
	case <-timer.C:
		return nil, ErrTimeout
	case <-f.ctx.Done():
		return nil, ErrClosed
	}
}

// Errors of the focus.
var (
	ErrTimeout = errors.New("focus: no answer in time")
	ErrClosed  = errors.New("focus: closed")
)

// jingleError builds an IQ error with an XEP-0166 Jingle condition.
func jingleError(iq *xmlstream.Element, cond stanza.Condition, jingleCond, text string) *xmlstream.Element {
	e := stanza.NewError(cond, text)
	if jingleCond != "" {
		e.Extra = xmlstream.New("urn:xmpp:jingle:errors:1", jingleCond)
	}
	return stanza.ErrorReply(iq, e)
}

package focus

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmlstream"
)

// inboxSize bounds a conference's queue of work. Posting never blocks the
// XMPP side: when the queue is full the work is dropped and logged (a
// conference that far behind is broken anyway).
const inboxSize = 1024

// conference is one room's call. Its run goroutine is the actor that owns
// every field below; other goroutines talk to it through post.
type conference struct {
	f    *Focus
	room jid.JID
	log  *slog.Logger

	inbox chan func()
	done  chan struct{} // closed when run returns

	media    bridge.Conference       // the room's media on its bridge; nil before the first media participant, and after its bridge failed; owned by run
	byNick   map[string]*participant // owned by run
	bySID    map[string]*participant // owned by run
	byID     map[string]*participant // media participant id -> participant; owned by run
	nextID   int                     // owned by run
	started  time.Time               // when the media conference started; owned by run
	retrying bool                    // a retryMedia is scheduled; owned by run
	// speaker is the media participant id of the dominant speaker last
	// announced; "" before anyone. Owned by run.
	speaker string
	// roomLastN is the room's own lastN setting (SetRoomLastN); 0: none.
	// Owned by run.
	roomLastN int
}

func newConference(f *Focus, room jid.JID) *conference {
	return &conference{
		f: f, room: room, log: f.log.With("room", room.String()),
		inbox:  make(chan func(), inboxSize),
		done:   make(chan struct{}),
		byNick: make(map[string]*participant),
		bySID:  make(map[string]*participant),
		byID:   make(map[string]*participant),
	}
}

// post queues work for the actor without blocking.
func (c *conference) post(fn func()) {
	select {
	case <-c.done:
	case c.inbox <- fn:
	default:
		c.log.Error("conference queue full: dropping work")
	}
}

func (c *conference) run() {
	defer close(c.done)
	for {
		select {
		case fn := <-c.inbox:
			fn()
		case <-c.f.ctx.Done():
			c.shutdown()
			return
		}
		if len(c.byNick) == 0 && c.f.tryEnd(c) {
			c.shutdown()
			if !c.started.IsZero() {
				c.log.Info("conference ended", "lasted", time.Since(c.started).Round(time.Second))
			}
			return
		}
	}
}

func (c *conference) shutdown() {
	for _, p := range c.byNick {
		c.drop(p, "success", "the conference is closing", true)
	}
	if c.media != nil {
		c.media.Close()
		c.media = nil
	}
}

// joined starts calling a new occupant: first find out whether it speaks
// Jingle, from the capabilities its presence announced if the focus knows
// them, else by asking its disco#info.
func (c *conference) joined(nick string, real jid.JID, r Rights, caps Caps) {
	if old := c.byNick[nick]; old != nil {
		if old.real == real {
			old.setRights(r)
			return // a presence update
		}
		c.drop(old, "success", "replaced", true)
	}
	c.nextID++
	p := &participant{c: c, nick: nick, real: real, id: "p" + strconv.Itoa(c.nextID) + randomSuffix(),
		sid: randomSID(), state: stateProbing, rights: r}
	c.byNick[nick] = p
	c.byID[p.id] = p
	c.log.Debug("occupant joined", "nick", nick, "jid", real.String())
	if known, ok := c.f.caps.lookup(caps); ok {
		p.probed(known.jingle, known.client)
		return
	}
	go func() {
		ok, client, query := c.f.speaksJingle(real)
		c.f.caps.learn(caps, query, capsAnswer{jingle: ok, client: client})
		c.post(func() { p.probed(ok, client) })
	}()
}

func (c *conference) left(nick, why string) {
	if p := c.byNick[nick]; p != nil {
		c.drop(p, "success", why, true)
	}
}

func (c *conference) renamed(prev, nick string) {
	p := c.byNick[prev]
	if p == nil || c.byNick[nick] != nil {
		return
	}
	delete(c.byNick, prev)
	p.nick = nick
	c.byNick[nick] = p
}

// drop ends a participant's session and removes it.
func (c *conference) drop(p *participant, reason, text string, notify bool) {
	if c.byNick[p.nick] == p {
		delete(c.byNick, p.nick)
	}
	delete(c.byID, p.id)
	delete(c.bySID, p.sid)
	c.f.unbindSession(p.sid)
	if p.sp != nil {
		p.sp.Close()
		c.log.Info("participant left", "nick", p.nick, "why", text, "stayed", time.Since(p.since).Round(time.Second))
	}
	if notify && p.state >= stateOffered && p.state != stateEnded {
		j := xmlstream.New(NSJingle, "jingle", "action", "session-terminate", "sid", p.sid).Add(
			xmlstream.New(NSJingle, "reason").Add(
				xmlstream.New(NSJingle, reason),
				xmlstream.New(NSJingle, "text").SetText(text)))
		go c.f.request(p.real, "set", j)
	}
	p.state = stateEnded
}

// jingleRequest handles a Jingle IQ from a participant: only the
// participant the session belongs to may act on it.
func (c *conference) jingleRequest(iq, payload *xmlstream.Element) {
	p := c.bySID[payload.Attr("sid")]
	from, _ := jid.Parse(iq.Attr("from"))
	if p == nil || from != p.real {
		c.f.reply(jingleError(iq, "item-not-found", "unknown-session", "no such session"))
		return
	}
	p.handle(iq, payload)
}

// trackIDs returns the track ids the conference's participants may
// publish: what a receive-video request may name.
func (c *conference) trackIDs() map[string]bool {
	out := make(map[string]bool, 3*len(c.byID))
	for id := range c.byID {
		for _, src := range bridge.Sources() {
			out[bridge.TrackID(src, id)] = true
		}
	}
	return out
}

// ownerOf returns the occupant JID that publishes a stream, for ssrc-info.
func (c *conference) ownerOf(streamID string) string {
	if p := c.byID[streamID]; p != nil {
		return c.room.WithResource(p.nick).String()
	}
	return ""
}

// mediaConference returns the room's media conference, placing it on a
// bridge first if it has none.
func (c *conference) mediaConference() (bridge.Conference, error) {
	if c.media != nil {
		return c.media, nil
	}
	ctx, cancel := context.WithTimeout(c.f.ctx, c.f.cfg.RequestTimeout)
	defer cancel()
	m, err := c.f.cfg.Bridge.Conference(ctx, c.room.String())
	if err != nil {
		return nil, err
	}
	c.media = m
	if c.started.IsZero() {
		c.started = time.Now()
	}
	c.log.Info("conference started", "bridge", m.Bridge())
	m.SetLastN(c.lastN())
	go c.forwardConferenceEvents(m)
	return m, nil
}

// lastN is the cap on every participant's lastN: the smaller of the
// server's (Config.LastN) and the room's, where set; 0 for none.
func (c *conference) lastN() int {
	n, room := c.f.cfg.LastN, c.roomLastN
	if room > 0 && (n <= 0 || room < n) {
		n = room
	}
	return max(n, 0)
}

// setRoomLastN applies the room's lastN setting to its media at once.
func (c *conference) setRoomLastN(n int) {
	if n == c.roomLastN {
		return
	}
	c.roomLastN = n
	c.log.Info("room lastN", "room_last_n", n, "last_n", c.lastN())
	if c.media != nil {
		c.media.SetLastN(c.lastN())
	}
}

// forwardConferenceEvents feeds the media conference's events to the
// actor until the conference closes.
func (c *conference) forwardConferenceEvents(m bridge.Conference) {
	for ev := range m.Events() {
		switch ev.Kind {
		case bridge.EventDominantSpeaker:
			id := ev.ParticipantID
			c.post(func() { c.dominantSpeaker(id) })
		case bridge.EventBridgeFailed:
			why := ev.Reason
			c.post(func() { c.bridgeFailed(m, why) })
		}
	}
}

// bridgeFailed moves the conference off a bridge that is gone: every
// media participant gets a new session on the bridge placement picks now.
func (c *conference) bridgeFailed(m bridge.Conference, why string) {
	if c.media != m {
		return // an older bridge's news
	}
	c.log.Warn("bridge failed: moving the conference", "bridge", m.Bridge(), "why", why)
	c.media = nil
	m.Close()
	c.speaker = ""
	for _, p := range c.byNick {
		p.moveBridge()
	}
}

// bridgeRetry is how often participants that no bridge could take are
// offered to the bridges again.
const bridgeRetry = time.Second

// retryMediaLater schedules retryMedia, once.
func (c *conference) retryMediaLater() {
	if c.retrying {
		return
	}
	c.retrying = true
	time.AfterFunc(bridgeRetry, func() { c.post(c.retryMedia) })
}

// retryMedia offers the participants waiting for a bridge to the bridges
// again (one came back, or registered late).
func (c *conference) retryMedia() {
	c.retrying = false
	for _, p := range c.byNick {
		if p.state == stateNoBridge {
			p.startMedia()
		}
	}
}

// dominantSpeaker tells every occupant the bridge's new dominant speaker.
func (c *conference) dominantSpeaker(id string) {
	p := c.byID[id]
	if p == nil || c.speaker == id {
		return // left meanwhile, or nothing new
	}
	c.speaker = id
	for _, q := range c.byNick {
		c.announceSpeaker(q)
	}
}

// announceSpeaker sends occupant q the current dominant speaker, if any,
// as a headline message from the focus (docs/SIGNALLING.md).
func (c *conference) announceSpeaker(q *participant) {
	p := c.byID[c.speaker]
	if p == nil {
		return
	}
	msg := xmlstream.New(xmlstream.NSClient, "message", "type", "headline",
		"from", c.f.domain.String(), "to", q.real.String()).Add(
		xmlstream.New(nsParleyRoom, "dominant-speaker", "occupant", c.room.WithResource(p.nick).String()))
	c.f.cfg.Router.Route(msg)
}

// speaksJingle asks an occupant's disco#info for the Jingle features.
// It returns the answer's query too (nil without one), for the caps cache.
func (f *Focus) speaksJingle(real jid.JID) (ok bool, client string, query *xmlstream.Element) {
	res, err := f.request(real, "get", xmlstream.New(nsDiscoInfo, "query"))
	if err != nil || res.FirstChild() == nil {
		return false, "", nil
	}
	query = res.FirstChild()
	if id := query.Child(nsDiscoInfo, "identity"); id != nil {
		client = id.Attr("name")
	}
	var have []string
	for _, feat := range query.ChildrenNamed(nsDiscoInfo, "feature") {
		have = append(have, feat.Attr("var"))
	}
	for _, want := range requiredFeatures {
		if !slices.Contains(have, want) {
			return false, client, query
		}
	}
	return true, client, query
}

func randomSID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randomSuffix() string {
	var b [3]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

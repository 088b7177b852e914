package focus

import (
	"context"
	"encoding/json"
	"fmt"
	"sync"
	"testing"
	"time"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/jingle"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// fakeRouter collects what the focus sends.
type fakeRouter struct{ out chan *xmlstream.Element }

func (r *fakeRouter) Route(st *xmlstream.Element) { r.out <- st }

// fakePool places a conference on its first bridge that is not failed.
type fakePool struct {
	mu      sync.Mutex
	bridges []*fakeBridge // guarded by mu
}

func (p *fakePool) add(b *fakeBridge) {
	p.mu.Lock()
	p.bridges = append(p.bridges, b)
	p.mu.Unlock()
}

func (p *fakePool) Conference(ctx context.Context, id string) (bridge.Conference, error) {
	p.mu.Lock()
	bs := append([]*fakeBridge(nil), p.bridges...)
	p.mu.Unlock()
	for _, b := range bs {
		if c, err := b.Conference(ctx, id); err == nil {
			return c, nil
		}
	}
	return nil, bridge.ErrNoBridge
}

// fakeBridge records what the focus asks of it.
type fakeBridge struct {
	name string

	mu     sync.Mutex
	failed bool              // guarded by mu
	confs  []*fakeConference // guarded by mu
}

func (b *fakeBridge) Conference(_ context.Context, id string) (bridge.Conference, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.failed {
		return nil, bridge.ErrGone
	}
	c := &fakeConference{b: b, id: id, events: make(chan bridge.ConferenceEvent, 16), parts: map[string]*fakeParticipant{}}
	b.confs = append(b.confs, c)
	return c, nil
}

// fail makes the bridge vanish: its conferences report it and refuse
// everything after.
func (b *fakeBridge) fail() {
	b.mu.Lock()
	b.failed = true
	confs := append([]*fakeConference(nil), b.confs...)
	b.mu.Unlock()
	for _, c := range confs {
		c.mu.Lock()
		if !c.closed {
			c.closed = true
			c.events <- bridge.ConferenceEvent{Kind: bridge.EventBridgeFailed, Reason: "test"}
			close(c.events)
		}
		c.mu.Unlock()
	}
}

// participant returns the participant id of the bridge's conferences,
// the newest first, or nil.
func (b *fakeBridge) participant(id string) *fakeParticipant {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := len(b.confs) - 1; i >= 0; i-- {
		c := b.confs[i]
		c.mu.Lock()
		p := c.parts[id]
		c.mu.Unlock()
		if p != nil {
			return p
		}
	}
	return nil
}

type fakeConference struct {
	b      *fakeBridge
	id     string
	events chan bridge.ConferenceEvent

	mu     sync.Mutex
	closed bool                        // guarded by mu
	lastN  int                         // guarded by mu
	parts  map[string]*fakeParticipant // guarded by mu
}

func (c *fakeConference) Bridge() string { return c.b.name }

func (c *fakeConference) Join(_ context.Context, id string, opts bridge.JoinOptions) (bridge.Participant, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, bridge.ErrClosed
	}
	p := &fakeParticipant{id: id, opts: opts, events: make(chan bridge.Event, 16), forwarding: map[bridge.Source]bool{}}
	c.parts[id] = p
	return p, nil
}

func (c *fakeConference) SetLastN(n int) {
	c.mu.Lock()
	c.lastN = n
	c.mu.Unlock()
}

func (c *fakeConference) Events() <-chan bridge.ConferenceEvent { return c.events }

func (c *fakeConference) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.events)
	}
	for _, p := range c.parts {
		p.Close()
	}
}

// fakeParticipant makes numbered offers of two m-lines (a0, v0) and
// records answers, candidates and gates.
type fakeParticipant struct {
	id     string
	opts   bridge.JoinOptions
	events chan bridge.Event

	mu         sync.Mutex
	offers     int                    // guarded by mu
	pending    bool                   // an offer waits for its answer; guarded by mu
	answers    []string               // guarded by mu
	candidates []string               // guarded by mu
	forwarding map[bridge.Source]bool // guarded by mu
	screen     bool                   // guarded by mu
	closed     bool                   // guarded by mu
	gone       bool                   // its bridge is gone: offers fail with ErrGone; guarded by mu
}

func (p *fakeParticipant) offer(restart bool) (string, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch {
	case p.gone:
		return "", bridge.ErrGone
	case p.closed:
		return "", bridge.ErrClosed
	case p.pending:
		return "", bridge.ErrOfferPending
	case restart && len(p.answers) == 0:
		return "", bridge.ErrNotNegotiated
	}
	p.offers++
	p.pending = true
	return fakeOfferSDP(fmt.Sprintf("u%s%d", p.id, p.offers)), nil
}

func (p *fakeParticipant) Offer(context.Context) (string, error)        { return p.offer(false) }
func (p *fakeParticipant) RestartOffer(context.Context) (string, error) { return p.offer(true) }

func (p *fakeParticipant) SetAnswer(_ context.Context, sdp string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.pending {
		return fmt.Errorf("fake: no offer pending")
	}
	p.pending = false
	p.answers = append(p.answers, sdp)
	return nil
}

func (p *fakeParticipant) AddRemoteCandidate(_ context.Context, c string) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.candidates = append(p.candidates, c)
	return nil
}

func (p *fakeParticipant) SetScreenShare(_ context.Context, on bool) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.screen = on
	return nil
}

func (p *fakeParticipant) SetForwarding(src bridge.Source, on bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.forwarding[src] = on
}

func (p *fakeParticipant) SetReceiveVideo(bridge.ReceiveVideo) {}
func (p *fakeParticipant) OfferPublishing(bridge.MediaKind)    {}
func (p *fakeParticipant) Events() <-chan bridge.Event         { return p.events }
func (p *fakeParticipant) Report(context.Context) (json.RawMessage, error) {
	return json.RawMessage(`{"fake":true}`), nil
}

func (p *fakeParticipant) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.closed {
		p.closed = true
		close(p.events)
	}
}

func (p *fakeParticipant) snapshot() (answers, candidates []string, closed bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.answers...), append([]string(nil), p.candidates...), p.closed
}

// needsOffer raises EventNeedsOffer, as a bridge does when tracks come.
func (p *fakeParticipant) needsOffer() { p.events <- bridge.Event{Kind: bridge.EventNeedsOffer} }

func fakeOfferSDP(ufrag string) string {
	const fp = "1F:2E:3D:4C:5B:6A:79:88:97:A6:B5:C4:D3:E2:F1:00:0F:1E:2D:3C:4B:5A:69:78:87:96:A5:B4:C3:D2:E1:F0"
	m := func(kind, mid, pt, rtpmap string) string {
		return "m=" + kind + " 9 UDP/TLS/RTP/SAVPF " + pt + "\r\nc=IN IP4 0.0.0.0\r\n" +
			"a=ice-ufrag:" + ufrag + "\r\na=ice-pwd:pwdpwdpwdpwdpwdpwdpwdpwd\r\n" +
			"a=fingerprint:sha-256 " + fp + "\r\na=setup:actpass\r\na=mid:" + mid + "\r\n" +
			"a=sendrecv\r\na=rtcp-mux\r\na=rtpmap:" + pt + " " + rtpmap + "\r\n" +
			"a=candidate:1 1 udp 2130706431 192.0.2.1 10000 typ host\r\n"
	}
	return "v=0\r\no=- 1 1 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\na=group:BUNDLE a0 v0\r\n" +
		m("audio", "a0", "111", "opus/48000/2") + m("video", "v0", "96", "VP8/90000")
}

// harness is a focus between a fake router and fake bridges; the test
// plays the clients.
type harness struct {
	t       *testing.T
	f       *Focus
	r       *fakeRouter
	pool    *fakePool
	room    jid.JID
	backlog []*xmlstream.Element // stanzas read but not yet wanted
	nextID  int
}

func newHarness(t *testing.T, bridges ...*fakeBridge) *harness {
	t.Helper()
	r := &fakeRouter{out: make(chan *xmlstream.Element, 256)}
	pool := &fakePool{}
	for _, b := range bridges {
		pool.add(b)
	}
	f, err := New(Config{Domain: "focus.example.test", Router: r, Bridge: pool, RequestTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(f.Close)
	return &harness{t: t, f: f, r: r, pool: pool, room: jid.MustParse("room@conference.example.test")}
}

func everything() Rights { return Rights{Permissions: perm.ForRole(perm.Participant)} }

// client returns the real JID of a test occupant.
func client(nick string) jid.JID { return jid.MustParse(nick + "@example.test/res") }

// next returns the next stanza the focus sends that match accepts,
// keeping the others for later calls.
func (h *harness) next(what string, match func(*xmlstream.Element) bool) *xmlstream.Element {
	h.t.Helper()
	for i, st := range h.backlog {
		if match(st) {
			h.backlog = append(h.backlog[:i], h.backlog[i+1:]...)
			return st
		}
	}
	deadline := time.After(5 * time.Second)
	for {
		select {
		case st := <-h.r.out:
			if match(st) {
				return st
			}
			h.backlog = append(h.backlog, st)
		case <-deadline:
			h.t.Fatalf("the focus sent no %s (unmatched: %v)", what, h.backlog)
			return nil
		}
	}
}

// none checks that the focus sends nothing match accepts for a while.
func (h *harness) none(what string, match func(*xmlstream.Element) bool) {
	h.t.Helper()
	deadline := time.After(300 * time.Millisecond)
	for {
		select {
		case st := <-h.r.out:
			if match(st) {
				h.t.Fatalf("the focus sent %s: %s", what, st)
			}
			h.backlog = append(h.backlog, st)
		case <-deadline:
			for _, st := range h.backlog {
				if match(st) {
					h.t.Fatalf("the focus sent %s: %s", what, st)
				}
			}
			return
		}
	}
}

// jingleTo matches a Jingle request of action to who.
func jingleTo(who jid.JID, action string) func(*xmlstream.Element) bool {
	return func(st *xmlstream.Element) bool {
		j := st.FirstChild()
		return st.Name == "iq" && st.Attr("to") == who.String() && j.Is(NSJingle, "jingle") && j.Attr("action") == action
	}
}

// answerTo matches the focus's answer to the request id.
func answerTo(id string) func(*xmlstream.Element) bool {
	return func(st *xmlstream.Element) bool { return st.Name == "iq" && st.Attr("id") == id }
}

// join makes nick an occupant that speaks Jingle, answers its disco#info
// and returns the session-initiate it gets.
func (h *harness) join(nick string) *jingle.Jingle {
	h.t.Helper()
	who := client(nick)
	h.f.Joined(h.room, nick, who, everything(), Caps{})
	disco := h.next("disco#info to "+nick, func(st *xmlstream.Element) bool {
		return st.Attr("to") == who.String() && st.FirstChild().Is(nsDiscoInfo, "query")
	})
	q := xmlstream.New(nsDiscoInfo, "query")
	for _, v := range requiredFeatures {
		q.Add(xmlstream.New(nsDiscoInfo, "feature", "var", v))
	}
	h.f.HandleStanza(stanza.IQResult(disco, q).SetAttr("from", who.String()))
	return h.initiated(nick)
}

// initiated reads nick's next session-initiate and acknowledges it.
func (h *harness) initiated(nick string) *jingle.Jingle {
	h.t.Helper()
	return h.ack(h.next("session-initiate to "+nick, jingleTo(client(nick), "session-initiate")))
}

// ack answers a request of the focus with a result and parses its Jingle.
func (h *harness) ack(st *xmlstream.Element) *jingle.Jingle {
	h.t.Helper()
	h.f.HandleStanza(stanza.IQResult(st).SetAttr("from", st.Attr("to")))
	j, err := jingle.Parse(st.FirstChild())
	if err != nil {
		h.t.Fatalf("the focus sent bad Jingle: %v: %s", err, st)
	}
	return j
}

// send sends a Jingle request from nick and returns the focus's answer.
func (h *harness) send(nick string, j *jingle.Jingle) *xmlstream.Element {
	h.t.Helper()
	h.nextID++
	id := fmt.Sprintf("c%d", h.nextID)
	iq := stanza.IQ("set", id, client(nick), jid.MustParse("focus.example.test"), j.Element())
	h.f.HandleStanza(iq)
	return h.next("an answer to "+id, answerTo(id))
}

// answer is the client's answer to offered contents: the same contents,
// DTLS active, without candidates.
func answer(action, sid string, offered []jingle.Content) *jingle.Jingle {
	out := &jingle.Jingle{Action: action, SID: sid}
	for _, ct := range offered {
		t := *ct.Transport
		t.Candidates = nil
		t.Fingerprints = append([]jingle.Fingerprint(nil), t.Fingerprints...)
		for i := range t.Fingerprints {
			t.Fingerprints[i].Setup = "active"
		}
		ct.Transport = &t
		out.Contents = append(out.Contents, ct)
	}
	return out
}

// errorCondition returns an IQ error's condition and Jingle condition.
func errorCondition(st *xmlstream.Element) (string, string) {
	if st.Attr("type") != "error" {
		return "", ""
	}
	e := st.Child("", "error")
	if e == nil {
		e = st.Child(xmlstream.NSClient, "error")
	}
	var cond, jcond string
	for _, c := range e.Children {
		if c.Space == "urn:xmpp:jingle:errors:1" {
			jcond = c.Name
		} else if c.Name != "text" {
			cond = c.Name
		}
	}
	return cond, jcond
}

// eventually polls cond for up to 5 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for end := time.Now().Add(5 * time.Second); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("never: %s", what)
}

func stanzaIQ(id, nick string, payload *xmlstream.Element) *xmlstream.Element {
	return stanza.IQ("set", id, client(nick), jid.MustParse("focus.example.test"), payload)
}

func stanzaResult(req *xmlstream.Element, from jid.JID, payload *xmlstream.Element) *xmlstream.Element {
	return stanza.IQResult(req, payload).SetAttr("from", from.String())
}

package mediapeer

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtp"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmppclient"
)

// RoomConfig configures Conn.Join.
type RoomConfig struct {
	// Room is the bare room JID. Required.
	Room jid.JID
	// Nick is our nickname in the room. Required.
	Nick string
	// Password is the room's password. Default none.
	Password string
	// Media takes the focus's Jingle session in this room: publish Audio
	// and Video and receive everyone's tracks. Default false: the room is
	// followed for signalling only, and the focus's call is declined.
	Media bool
	// Audio and Video are what we publish with Media (see NewIVFSource,
	// NewOggSource, SyntheticVideo, SyntheticAudio). Default nil: nothing
	// of that kind is published.
	Audio, Video Source
	// VideoLayers, if set instead of Video, are published as the simulcast
	// layers of one video, smallest first, with the rids q, h and f (2 or 3
	// VP8 sources; SyntheticLayers gives three). Default nil: Video is sent
	// as one stream.
	VideoLayers []Source
	// OnRTP, if set, receives every RTP packet of every remote track. It
	// runs on the track's own goroutine; pkt and its payload are only valid
	// during the call. Default: packets are only counted.
	OnRTP func(t *Track, pkt *rtp.Packet)
	// InstantRoom unlocks a room we create with the default configuration.
	// Default true (a nil pointer); set it to false to configure the room
	// yourself with an owner IQ before others can enter.
	InstantRoom *bool
	// VideoType "desktop" declares our video a screen share (Jitsi's
	// videoType on the Jingle source): it then needs publish_screen
	// rather than publish_video. Default "": a camera.
	VideoType string
	// Presence are extension elements sent in our presence to the room
	// (a recorder's <recording/>, docs/SIGNALLING.md). Default none.
	Presence []*xmlstream.Element
}

// Peer is our presence in one room.
type Peer struct {
	conn *Conn        // read-only
	cfg  RoomConfig   // read-only
	room jid.JID      // bare room JID; read-only
	log  *slog.Logger // read-only

	ended chan struct{} // closed once we are out of the room

	mu        sync.Mutex
	joined    chan struct{}       // closed once the room answered this join attempt; guarded by mu
	occupants map[string]Occupant // by nick, ourselves included; guarded by mu
	subject   string              // guarded by mu
	speaker   string              // nick of the dominant speaker the focus last named; guarded by mu
	joinErr   error               // guarded by mu; set before joined closes
	isJoined  bool                // our self-presence arrived; guarded by mu (set by the read loop)
	endReason string              // guarded by mu; set before ended closes

	media   *session    // nil without Media; set by NewPeer; its own fields say who guards them
	started atomic.Bool // Join was called
}

// JoinError is returned when the room refuses us: a wrong password
// (not-authorized), a taken nick (conflict), a ban (forbidden), a
// members-only room (registration-required), and so on.
type JoinError struct {
	Room      string
	Condition string // the stanza error condition
	Text      string
}

func (e *JoinError) Error() string {
	s := "mediapeer: " + e.Room + " refused the join: " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// Join enters a room and returns once the room has accepted us (and, if we
// created it, unlocked it) or refused us. It is NewPeer and Peer.Join.
func (c *Conn) Join(ctx context.Context, cfg RoomConfig) (*Peer, error) {
	p, err := c.NewPeer(cfg)
	if err != nil {
		return nil, err
	}
	if err := p.Join(ctx); err != nil {
		return nil, err
	}
	return p, nil
}

// NewPeer prepares our presence in a room, which Join then enters: events
// of the room may name the Peer as soon as Join starts.
func (c *Conn) NewPeer(cfg RoomConfig) (*Peer, error) {
	if cfg.Room.IsZero() || !cfg.Room.IsBare() || cfg.Room.Local == "" {
		return nil, errors.New("mediapeer: RoomConfig.Room must be a bare room JID")
	}
	if cfg.Nick == "" {
		return nil, errors.New("mediapeer: RoomConfig.Nick is required")
	}
	if cfg.VideoLayers != nil && cfg.Video != nil {
		return nil, errLayers
	}
	if _, err := jid.New(cfg.Room.Local, cfg.Room.Domain, cfg.Nick); err != nil {
		return nil, fmt.Errorf("mediapeer: bad nick %q: %w", cfg.Nick, err)
	}
	p := &Peer{conn: c, cfg: cfg, room: cfg.Room, log: c.log.With("room", cfg.Room.String(), "nick", cfg.Nick),
		joined: make(chan struct{}), ended: make(chan struct{}), occupants: make(map[string]Occupant)}
	if cfg.Media {
		p.media = newSession(p)
	}
	return p, nil
}

// Join enters the room, once; see Conn.Join. On failure the Peer is ended.
func (p *Peer) Join(ctx context.Context) error {
	c := p.conn
	if p.started.Swap(true) {
		return errors.New("mediapeer: Join called twice")
	}
	if p.media != nil {
		go p.media.loop()
	}
	if err := c.register(p); err != nil {
		p.end(ReasonClosed, nil)
		return err
	}
	for attempt := 0; ; attempt++ {
		err := p.enter(ctx)
		var je *JoinError
		if errors.As(err, &je) && je.Condition == "item-not-found" && attempt < lockedRetries {
			// Most likely the room's creator has not unlocked it yet
			// (XEP-0045 §10.1.3): knock again shortly.
			select {
			case <-time.After(min(25*time.Millisecond<<attempt, time.Second)):
				continue
			case <-ctx.Done():
				err = ctx.Err()
			case <-p.ended:
				err = ErrClosed
			}
		}
		if err != nil {
			p.end(ReasonClosed, nil)
			return err
		}
		return nil
	}
}

// lockedRetries bounds how often Join knocks on a room that answers
// item-not-found: about 6 s in all.
const lockedRetries = 10

// enter sends our presence to the room once and waits for its answer.
func (p *Peer) enter(ctx context.Context) error {
	x := xmlstream.New(nsMUC, "x")
	if p.cfg.Password != "" {
		x.Add(xmlstream.New(nsMUC, "password").SetText(p.cfg.Password))
	}
	p.mu.Lock()
	p.joined, p.joinErr = make(chan struct{}), nil
	joined := p.joined
	p.mu.Unlock()
	pres := xmlstream.New(xmlstream.NSClient, "presence", "to", p.occupantJID(p.cfg.Nick)).Add(x)
	for _, el := range p.cfg.Presence {
		pres.Add(el)
	}
	if err := p.conn.cfg.Client.Send(pres); err != nil {
		return err
	}
	select {
	case <-joined:
	case <-ctx.Done():
		p.Close()
		return ctx.Err()
	case <-p.ended:
	}
	p.mu.Lock()
	err, ok := p.joinErr, p.isJoined
	p.mu.Unlock()
	if err == nil && !ok {
		err = ErrClosed
	}
	return err
}

// Room returns the bare room JID.
func (p *Peer) Room() jid.JID { return p.room }

// RestartICE asks the focus to restart this room's ICE session, as after a
// change of network; the focus answers with transport-replace. It fails
// when the room has no media session.
func (p *Peer) RestartICE() error {
	if p.media == nil {
		return errors.New("mediapeer: this room has no media")
	}
	return p.media.requestRestart()
}

// Nick returns our nickname.
func (p *Peer) Nick() string { return p.cfg.Nick }

// Conn returns the connection the peer belongs to.
func (p *Peer) Conn() *Conn { return p.conn }

// Ended is closed once we are out of the room; EndReason then says why.
func (p *Peer) Ended() <-chan struct{} { return p.ended }

// EndReason returns why we are out of the room, or "" while we are in.
func (p *Peer) EndReason() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.endReason
}

func (p *Peer) occupantJID(nick string) string { return p.room.WithResource(nick).String() }

// Occupants returns everyone in the room, ourselves included, sorted by nick.
func (p *Peer) Occupants() []Occupant {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make([]Occupant, 0, len(p.occupants))
	for _, o := range p.occupants {
		out = append(out, o)
	}
	slices.SortFunc(out, func(a, b Occupant) int {
		if a.Nick < b.Nick {
			return -1
		}
		if a.Nick > b.Nick {
			return 1
		}
		return 0
	})
	return out
}

// Occupant returns one occupant by nick.
func (p *Peer) Occupant(nick string) (Occupant, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	o, ok := p.occupants[nick]
	return o, ok
}

// DominantSpeaker returns the nick of the room's dominant speaker, as the
// focus last named it; "" before it did.
func (p *Peer) DominantSpeaker() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.speaker
}

// dominantSpeaker records the focus's new dominant speaker and raises
// EventDominantSpeaker.
func (p *Peer) dominantSpeaker(nick string) {
	p.mu.Lock()
	p.speaker = nick
	occ, ok := p.occupants[nick]
	p.mu.Unlock()
	if !ok {
		occ = Occupant{Nick: nick}
	}
	p.emit(Event{Kind: EventDominantSpeaker, Occupant: occ})
}

// Subject returns the room's subject.
func (p *Peer) Subject() string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.subject
}

// Tracks returns the remote tracks received so far in this room, ended
// ones included; nil without media.
func (p *Peer) Tracks() []*Track {
	if p.media == nil {
		return nil
	}
	return p.media.trackList()
}

// ResendStats counts the packets we publish that the SFU asked for again
// (NACKs), resent and not resent by reason; zero without media.
func (p *Peer) ResendStats() ResendStats {
	if p.media == nil {
		return ResendStats{}
	}
	return p.media.resends.snapshot()
}

// MediaConnected is closed when our media first connects (ICE and DTLS
// done, the first PeerConnection "connected"); never closed without media.
func (p *Peer) MediaConnected() <-chan struct{} {
	if p.media == nil {
		return nil
	}
	return p.media.connected
}

// Close leaves the room and ends its media. It does not close the Conn.
func (p *Peer) Close() error {
	select {
	case <-p.ended:
		return nil
	default:
	}
	p.conn.cfg.Client.Send(xmlstream.New(xmlstream.NSClient, "presence", "type", "unavailable",
		"to", p.occupantJID(p.cfg.Nick)))
	p.end(ReasonClosed, nil)
	return nil
}

// end marks us out of the room, once: media stops and the Conn forgets us.
// A non-nil ev is raised as EventRemoved.
func (p *Peer) end(reason string, ev *Event) {
	p.mu.Lock()
	select {
	case <-p.ended:
		p.mu.Unlock()
		return
	default:
	}
	p.endReason = reason
	close(p.ended)
	select {
	case <-p.joined:
	default:
		close(p.joined)
	}
	self := p.occupants[p.cfg.Nick]
	p.mu.Unlock()
	p.conn.unregister(p)
	if p.media != nil {
		p.media.close()
	}
	if ev != nil {
		ev.Kind, ev.Occupant, ev.Reason = EventRemoved, self, reason
		p.emit(*ev)
	}
}

// connectionEnded runs when the XMPP connection is gone.
func (p *Peer) connectionEnded() { p.end(ReasonDisconnected, &Event{}) }

func (p *Peer) emit(ev Event) {
	ev.Peer = p
	p.conn.cfg.OnEvent(ev)
}

// markJoined ends Join's wait, successfully or with the error set.
func (p *Peer) markJoined(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	select {
	case <-p.joined:
		return
	default:
	}
	p.joinErr = err
	close(p.joined)
}

// unlockRoom sends the instant-room request for a room we created, then
// lets Join return.
func (p *Peer) unlockRoom() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "set", "to", p.room.String()).Add(
		xmlstream.New(nsMUCOwner, "query").Add(xmlstream.New("jabber:x:data", "x", "type", "submit")))
	if _, err := p.conn.request(ctx, iq); err != nil {
		p.markJoined(fmt.Errorf("mediapeer: unlocking the new room %s: %w", p.room, err))
		return
	}
	p.markJoined(nil)
}

// Config configures Join, which puts a client in one room.
type Config struct {
	// Client is the logged-in connection. Required. The peer consumes its
	// Incoming channel; the caller closes the Client after the Peer.
	Client *xmppclient.Client
	// Room is the bare room JID and Nick the nickname. Required.
	Room jid.JID
	Nick string
	// Media publishes the synthetic audio and video and receives everyone's
	// tracks. Default false: signalling only.
	Media bool
	// BindIP is the local address for media. Default 127.0.0.1.
	BindIP net.IP
	// Focus is the conference focus's JID (ConnConfig.Focus). Default
	// focus.<the Client's domain>.
	Focus string
	// Logger. Default slog.Default().
	Logger *slog.Logger
}

// Join connects one client to one room: a Conn of its own with a single
// Peer. The Conn lives until the Client is closed.
func Join(ctx context.Context, cfg Config) (*Peer, error) {
	c, err := NewConn(ConnConfig{Client: cfg.Client, BindIP: cfg.BindIP, Focus: cfg.Focus, Logger: cfg.Logger})
	if err != nil {
		return nil, err
	}
	rc := RoomConfig{Room: cfg.Room, Nick: cfg.Nick, Media: cfg.Media}
	if cfg.Media {
		rc.Audio, rc.Video = SyntheticAudio(), SyntheticVideo()
	}
	return c.Join(ctx, rc)
}

// refusal turns an error stanza into the package's error for it.
func refusal(room string, st *xmlstream.Element) *JoinError {
	e := stanza.ParseError(st)
	if e == nil {
		return &JoinError{Room: room, Condition: string(stanza.UndefinedCondition)}
	}
	return &JoinError{Room: room, Condition: string(e.Condition), Text: e.Text}
}

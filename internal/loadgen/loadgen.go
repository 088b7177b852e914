// Package loadgen is parley's load generator (parley load): R rooms of P
// participants each, every one a headless SDK client that publishes the
// synthetic video (about 1 Mbit/s, 30 frames/s) and audio (Opus, 50
// packets/s) and receives everyone else, or joins for signalling only.
// It measures how long connecting and joining take, then, over a steady
// window, the loss, jitter and bitrate every subscriber sees, and the
// server's CPU time and peak memory when its process id is given.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"parley.dev/parley/sdk"
)

// Config configures Run.
type Config struct {
	// Server is parley's XMPP WebSocket URL (or HOST:PORT for TCP). Required.
	Server string
	// Domain is the XMPP domain. Default: the host of Server.
	Domain string
	// Rooms and Participants (per room) size the load. Default 1 and 2.
	Rooms, Participants int
	// Duration is the measurement window, after everyone joined and media
	// flows. Default 30 s.
	Duration time.Duration
	// SignallingOnly joins without media. Default false: everyone
	// publishes and receives.
	SignallingOnly bool
	// ShareConnections gives participant i of every room the same
	// connection: Participants connections in all. Default false: one
	// connection per participant.
	ShareConnections bool
	// Ramp spreads the joins evenly over this time. Default 0: all at once.
	Ramp time.Duration
	// JoinConcurrency, above 0, bounds the joins in progress (connecting,
	// joining, and the media session up to its first packet sent): the
	// next one starts when one of them is done. It keeps the load
	// generator's own CPU (DTLS handshakes, key generation) from deciding
	// whether joins time out. Default 0: no bound.
	JoinConcurrency int
	// Settle bounds the wait, from a room's last join, for media to flow
	// between everyone of the room, before the window. Default 30 s.
	Settle time.Duration
	// Simulcast publishes the synthetic video as three simulcast layers
	// (180, 360 and 720 lines, about 150 kbit/s, 1 and 1.5 Mbit/s), as a
	// browser does. Default false: one 360-line layer of about 1 Mbit/s.
	Simulcast bool
	// LastN, above 0, makes every subscriber ask the focus for the camera
	// of only the LastN most recent speakers (the web client's
	// receive-video request), once media flows. Default 0: all cameras.
	LastN int
	// Speakers, above 0, makes only the first Speakers participants of each
	// room speak (the tone, marked as speech); the others send silence
	// (marked as silence), so that the dominant speaker and lastN's set
	// stay fixed. Default 0: everyone sends the tone.
	Speakers int
	// ServerPID, if set, is the parley process to measure (Linux /proc).
	ServerPID int
	// RoomPrefix names the rooms PREFIX1 … PREFIXn. Default "load-" and a
	// time stamp, so that runs do not meet.
	RoomPrefix string
	// Logger receives progress and problems. Default slog.Default().
	Logger *slog.Logger
}

// Summary is what a run measured; it is parley load's JSON output.
type Summary struct {
	Rooms        int     `json:"rooms"`
	Participants int     `json:"participants"` // in all rooms
	Media        bool    `json:"media"`
	DurationS    float64 `json:"duration_s"` // the measurement window
	// ConnectMS is dial, TLS, SASL and bind; JoinMS is the MUC join (a
	// room's creator also unlocks it); MediaMS is from joining to receiving
	// every other participant of the room, timed from the room's last
	// join (when joins are bounded, early joiners wait for the late).
	ConnectMS Dist  `json:"connect_ms"`
	JoinMS    Dist  `json:"join_ms"`
	MediaMS   *Dist `json:"media_ms,omitempty"`
	// Over the window, all subscribers and tracks together.
	LossPct     float64 `json:"loss_pct"`
	RecvPackets int64   `json:"recv_packets"` // packets the SFU forwarded to our subscribers
	JitterMS    Spread  `json:"jitter_ms"`    // per received track, at the end
	RecvKbps    Spread  `json:"recv_kbps"`    // per subscriber
	// EgressKbps is what the SFU sent all our subscribers together: RTP
	// with headers, without SRTP, UDP and IP overhead.
	EgressKbps float64 `json:"egress_kbps"`
	// Videos counts, per subscriber, the videos it was receiving when the
	// window started (a frame within FreezeGap): lastN's effect.
	Videos Spread `json:"videos_per_subscriber"`
	// Freezes are the gaps longer than FreezeGap between frames of those
	// videos during the window (one still open at its end included);
	// FrozenS is their total length and FrozenPct its share of the time
	// watched (videos times window).
	Freezes   int64   `json:"freezes"`
	FrozenS   float64 `json:"frozen_s"`
	FrozenPct float64 `json:"frozen_pct"`
	// What was published and asked for: Config's Simulcast, LastN and
	// Speakers.
	Simulcast bool `json:"simulcast"`
	LastN     int  `json:"last_n"`
	Speakers  int  `json:"speakers"`
	// Resends are what the SFU asked our publishers for again (NACKs),
	// over the whole run: the packets resent and those refused by reason.
	Resends sdk.ResendStats `json:"resends"`
	// Errors counts failed connections and joins, missing tracks and
	// connections lost during the run; ErrorSamples shows the first few.
	Errors       int          `json:"errors"`
	ErrorSamples []string     `json:"error_samples,omitempty"`
	Server       *ServerUsage `json:"server,omitempty"`
	Loadgen      ProcessUsage `json:"loadgen"`
}

// ServerUsage is the server process's cost over the window.
type ServerUsage struct {
	PID             int     `json:"pid"`
	CPUSeconds      float64 `json:"cpu_seconds"`       // user + system, during the window
	CPUMicrosPerPkt float64 `json:"cpu_us_per_packet"` // CPUSeconds per forwarded packet
	PeakRSSMB       float64 `json:"peak_rss_mb"`       // highest sampled RSS over the whole run
	StartRSSMB      float64 `json:"start_rss_mb"`      // RSS before the first join
}

// ProcessUsage is the load generator's own cost.
type ProcessUsage struct {
	CPUSeconds float64 `json:"cpu_seconds"` // over the whole run
	PeakRSSMB  float64 `json:"peak_rss_mb"`
}

// ErrConfig reports an unusable Config.
var ErrConfig = errors.New("loadgen: bad config")

func (c *Config) setDefaults() error {
	if c.Server == "" {
		return fmt.Errorf("%w: Server is required", ErrConfig)
	}
	if c.Rooms == 0 {
		c.Rooms = 1
	}
	if c.Participants == 0 {
		c.Participants = 2
	}
	if c.Rooms < 0 || c.Participants < 0 || c.Duration < 0 || c.Ramp < 0 || c.JoinConcurrency < 0 || c.Settle < 0 || c.LastN < 0 || c.Speakers < 0 {
		return fmt.Errorf("%w: negative sizes or times", ErrConfig)
	}
	if c.Duration == 0 {
		c.Duration = 30 * time.Second
	}
	if c.Settle == 0 {
		c.Settle = 30 * time.Second
	}
	if c.RoomPrefix == "" {
		c.RoomPrefix = fmt.Sprintf("load-%d-", time.Now().Unix())
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

// Run generates the load and measures it. It returns an error only when
// it cannot run at all; what fails during the run is in Summary.Errors.
func Run(ctx context.Context, cfg Config) (*Summary, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, log: cfg.Logger}
	if cfg.ServerPID != 0 {
		if _, err := readProc(cfg.ServerPID); err != nil {
			return nil, fmt.Errorf("loadgen: server process %d: %w", cfg.ServerPID, err)
		}
	}
	selfStart, _ := readProc(os.Getpid())
	sampler := newSampler(cfg.ServerPID)
	defer sampler.stop()
	r.serverStart = sampler.server()

	r.joinAll(ctx)
	defer r.leaveAll()
	if !cfg.SignallingOnly {
		r.settle()
		if cfg.LastN > 0 {
			r.askLastN(ctx)
		}
	}
	sum := r.measure(ctx, sampler)
	selfEnd, _ := readProc(os.Getpid())
	sum.Loadgen = ProcessUsage{CPUSeconds: round3((selfEnd.CPU - selfStart.CPU).Seconds()),
		PeakRSSMB: round3(mb(sampler.peakSelf()))}
	return sum, ctx.Err()
}

// run is one load run's state.
type run struct {
	cfg Config       // defaults applied; read-only
	log *slog.Logger // read-only

	parts       []*participant // every participant, room by room; written by joinAll
	shared      []*sdk.Client  // the shared connections, with ShareConnections
	serverStart procUsage

	mu     sync.Mutex            // guards errors and rooms' counts
	errors []string              // what went wrong, in order
	rooms  map[string]*roomJoins // by room name; the map is written by joinAll before its goroutines start
}

func (r *run) fail(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	r.mu.Lock()
	r.errors = append(r.errors, msg)
	r.mu.Unlock()
	r.log.Warn("load: " + msg)
}

func (r *run) sdkConfig() sdk.Config {
	return sdk.Config{Server: r.cfg.Server, Domain: r.cfg.Domain, Events: 16, Logger: r.log}
}

// joinAll connects and joins every participant, at once or over the ramp.
func (r *run) joinAll(ctx context.Context) {
	cfg := r.cfg
	for room := 1; room <= cfg.Rooms; room++ {
		for i := 0; i < cfg.Participants; i++ {
			r.parts = append(r.parts, &participant{room: fmt.Sprintf("%s%d", cfg.RoomPrefix, room),
				nick: fmt.Sprintf("p%d", i+1), idx: i, mediaMS: -1})
		}
	}
	r.rooms = map[string]*roomJoins{}
	for _, p := range r.parts {
		if r.rooms[p.room] == nil {
			r.rooms[p.room] = &roomJoins{complete: make(chan struct{})}
		}
		r.rooms[p.room].remaining++
	}
	if cfg.ShareConnections {
		r.connectShared(ctx)
	}
	var wg sync.WaitGroup
	var slots chan struct{} // JoinConcurrency tokens; nil for no bound
	if cfg.JoinConcurrency > 0 {
		slots = make(chan struct{}, cfg.JoinConcurrency)
	}
	start := time.Now()
	for n, p := range r.parts {
		var share *sdk.Client
		if cfg.ShareConnections {
			if share = r.shared[p.idx]; share == nil {
				p.err = fmt.Errorf("%s: its shared connection failed", p.nick)
				r.joinDone(p)
				continue
			}
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			finished := false
			defer func() {
				if !finished {
					r.joinDone(p)
				}
			}()
			if cfg.Ramp > 0 {
				at := start.Add(cfg.Ramp * time.Duration(n) / time.Duration(len(r.parts)))
				select {
				case <-time.After(time.Until(at)):
				case <-ctx.Done():
					p.err = ctx.Err()
					return
				}
			}
			if slots != nil {
				select {
				case slots <- struct{}{}:
				case <-ctx.Done():
					p.err = ctx.Err()
					return
				}
			}
			jctx, cancel := context.WithTimeout(ctx, 60*time.Second)
			defer cancel()
			var media *sdk.Media
			if !cfg.SignallingOnly {
				media = cfg.media(p.idx)
			}
			p.join(jctx, r.sdkConfig(), media, share)
			if slots != nil {
				if media != nil {
					p.awaitMedia(jctx, cfg.Settle) // a join that never connects holds its slot no longer
				}
				<-slots
			}
			rj := r.joinDone(p)
			finished = true
			if media != nil && p.seat != nil {
				r.awaitRoomMedia(ctx, p, rj)
			}
		}()
	}
	wg.Wait()
	for _, p := range r.parts {
		if p.err != nil {
			r.fail("%v", p.err)
		}
	}
	r.log.Info("load: joined", "participants", len(r.parts), "took", time.Since(start).Round(time.Millisecond))
}

// connectShared makes one connection per participant index.
func (r *run) connectShared(ctx context.Context) {
	r.shared = make([]*sdk.Client, r.cfg.Participants)
	for i := range r.shared {
		c, err := sdk.Connect(ctx, r.sdkConfig())
		if err != nil {
			r.fail("shared connection %d: %v", i+1, err)
			continue
		}
		r.shared[i] = c
	}
}

// byRoom groups the participants that are in their room.
func (r *run) byRoom() map[string][]*participant {
	out := map[string][]*participant{}
	for _, p := range r.parts {
		if p.seat != nil {
			out[p.room] = append(out[p.room], p)
		}
	}
	return out
}

// roomJoins follows one room's joins: media is timed from the last of them.
type roomJoins struct {
	remaining int           // members whose join has not finished; guarded by run.mu
	complete  chan struct{} // closed when remaining reaches 0
	last      time.Time     // the latest successful join; written before complete closes
}

// joinDone marks p's join finished, successful or not, and returns its
// room's joins.
func (r *run) joinDone(p *participant) *roomJoins {
	r.mu.Lock()
	defer r.mu.Unlock()
	rj := r.rooms[p.room]
	rj.remaining--
	if rj.remaining == 0 {
		for _, o := range r.members(p.room) {
			if o.seat != nil && o.joinedAt.After(rj.last) {
				rj.last = o.joinedAt
			}
		}
		close(rj.complete)
	}
	return rj
}

// members returns the participants of room, joined or not.
func (r *run) members(room string) []*participant {
	var out []*participant
	for _, p := range r.parts {
		if p.room == room {
			out = append(out, p)
		}
	}
	return out
}

// awaitRoomMedia waits, once everyone of p's room has finished joining,
// until p receives all the others, for up to Settle; it sets p.mediaMS to
// the time from the room's last join, or leaves it at -1.
func (r *run) awaitRoomMedia(ctx context.Context, p *participant, rj *roomJoins) {
	select {
	case <-rj.complete:
	case <-ctx.Done():
		return
	}
	var members []*participant
	for _, o := range r.members(p.room) {
		if o.seat != nil {
			members = append(members, o)
		}
	}
	deadline := time.Now().Add(r.cfg.Settle)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for p.missing(members, r.cfg.LastN) != "" {
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
	p.mediaMS = ms(time.Since(rj.last))
}

// settle reports those who did not receive everyone else of their room
// within Settle of its last join (joinAll waited for that).
func (r *run) settle() {
	for _, members := range r.byRoom() {
		for _, p := range members {
			if p.mediaMS >= 0 {
				continue
			}
			if m := p.missing(members, r.cfg.LastN); m != "" {
				r.fail("after %v: %s", r.cfg.Settle, m)
			}
		}
	}
}

// lastNSettle is how long the SFU gets to apply the subscribers' lastN
// before the window: its next allocation, and a keyframe (one a second)
// for the cameras that stay.
const lastNSettle = 3 * time.Second

// askLastN sends every subscriber's receive-video request with LastN, then
// waits for the SFU to apply them.
func (r *run) askLastN(ctx context.Context) {
	var wg sync.WaitGroup
	for _, p := range r.parts {
		if p.seat == nil {
			continue
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			defer cancel()
			if err := p.seat.SetReceiveVideo(rctx, sdk.ReceiveVideo{LastN: r.cfg.LastN}); err != nil {
				r.fail("%s in %s asking for lastN %d: %v", p.nick, p.room, r.cfg.LastN, err)
			}
		}()
	}
	wg.Wait()
	select {
	case <-time.After(lastNSettle):
	case <-ctx.Done():
	}
}

// leaveAll closes every connection.
func (r *run) leaveAll() {
	var wg sync.WaitGroup
	closeClient := func(c *sdk.Client) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			c.Close()
		}()
	}
	if r.cfg.ShareConnections {
		for _, c := range r.shared {
			if c != nil {
				closeClient(c)
			}
		}
	} else {
		for _, p := range r.parts {
			if p.client != nil {
				closeClient(p.client)
			}
		}
	}
	wg.Wait()
}

func mb(bytes int64) float64 { return float64(bytes) / (1 << 20) }

// Package sdk is parley's Go SDK: a program, not a browser, that sits in
// parley's conference rooms. A Client is one XMPP connection (WebSocket or
// TCP; anonymous or with a password) that can be in many rooms at once. In
// each room it follows the occupants and the chat, talks, moderates where
// its permissions allow it (kick, ban, grant and revoke roles and
// affiliations; mute others at the server, ask them to unmute, change
// their permissions one at a time: docs/PERMISSIONS.md) and, if asked, takes part in the call: it publishes audio and video (a
// built-in synthetic test pattern and tone, or IVF and Ogg files) and
// receives everyone else's tracks as RTP.
//
// Media is optional: a room joined without it costs a few kilobytes, so one
// process can hold a thousand rooms open on one connection.
//
//	c, err := sdk.Connect(ctx, sdk.Config{Server: "ws://localhost:8080/xmpp-websocket"})
//	room, err := c.Join(ctx, sdk.RoomConfig{Room: "standup", Nick: "bot",
//		Media: &sdk.Media{Video: sdk.SyntheticVideo(), Audio: sdk.SyntheticAudio()}})
//	for ev := range c.Events() {
//		if ev.Kind == sdk.EventJoined && !ev.Existing && !ev.Occupant.Self {
//			ev.Room.Say("welcome, " + ev.Occupant.Nick)
//		}
//	}
//
// What a Client does on the wire is parley's documented signalling
// (docs/SIGNALLING.md): MUC (XEP-0045) for rooms and Jingle with the
// conference focus for media.
package sdk

import (
	"context"
	"crypto/tls"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"

	"parley.dev/parley/internal/mediapeer"
	"parley.dev/parley/internal/xmppclient"
)

// Config configures Connect.
type Config struct {
	// Server is where parley listens: "ws://HOST:PORT/xmpp-websocket" (or
	// wss://) for XMPP over WebSocket, "HOST:PORT" for XMPP over TCP.
	// Required.
	Server string
	// Domain is the XMPP domain. Default: the host name of Server.
	Domain string
	// Focus is the conference focus's JID: only its calls are taken.
	// Default focus.<Domain>. A guest of Prosody logs in to its anonymous
	// host (Domain guest.example.org) and names the focus of the rooms'
	// domain (focus.example.org), and the rooms by their full address.
	Focus string
	// Username and Password log in to an account. Default (an empty
	// Username and Token): an anonymous guest.
	Username, Password string
	// Token logs in with a JWT (from the admin API's POST /api/tokens, or
	// any issuer the server trusts): over WebSocket in the URL with SASL
	// ANONYMOUS, over TCP with SASL OAUTHBEARER. A refused token fails
	// Connect; it is never a guest login. Default "": none.
	Token string
	// Resource is the XMPP resource to ask for. Default: the server picks.
	Resource string
	// TLS configures STARTTLS on TCP. Default: STARTTLS when offered,
	// verifying the server's certificate for Domain.
	TLS *tls.Config
	// MediaIP is the local address of media sockets. Default 127.0.0.1 for
	// a server on a loopback address, otherwise all interfaces.
	MediaIP net.IP
	// Web is the server's web address, http(s)://HOST:PORT, where
	// DownloadRecording fetches files. Default: that of a ws:// or wss://
	// Server (http or https, the same host and port); none for TCP.
	Web string
	// Events is the capacity of the Events channel; events that find it
	// full are dropped and counted. Default 1024.
	Events int
	// Logger receives the SDK's logs. Default slog.Default().
	Logger *slog.Logger
}

// Client is one connection to parley.
type Client struct {
	cfg  Config             // defaults applied; read-only
	xmpp *xmppclient.Client // the XMPP connection; read-only
	conn *mediapeer.Conn    // the rooms on it; read-only

	mu    sync.Mutex
	rooms map[string]*Room // by bare room JID, while joining or in; guarded by mu

	evMu     sync.Mutex // guards events' closing against senders
	events   chan Event // closed once the connection ended; guarded by evMu for sends and close
	evClosed bool       // guarded by evMu

	droppedFull   atomic.Int64 // events dropped: the channel was full
	droppedClosed atomic.Int64 // events dropped: raised after the channel closed
	closing       atomic.Bool  // Close was called
	closeOnce     sync.Once
}

// Connect dials the server, logs in and binds a resource.
func Connect(ctx context.Context, cfg Config) (*Client, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	x, err := xmppclient.Dial(ctx, xmppclient.Config{Address: cfg.Server, Domain: cfg.Domain,
		Username: cfg.Username, Password: cfg.Password, Token: cfg.Token, Resource: cfg.Resource, TLS: cfg.TLS,
		Logger: cfg.Logger})
	if err != nil {
		return nil, connectError(err)
	}
	c := &Client{cfg: cfg, xmpp: x, rooms: make(map[string]*Room), events: make(chan Event, cfg.Events)}
	c.conn, err = mediapeer.NewConn(mediapeer.ConnConfig{Client: x, BindIP: cfg.MediaIP, Focus: cfg.Focus,
		OnEvent: c.onEvent, Logger: cfg.Logger})
	if err != nil {
		x.Close()
		return nil, err
	}
	go func() {
		<-c.conn.Done()
		c.closeEvents()
	}()
	return c, nil
}

func (cfg *Config) setDefaults() error {
	if cfg.Server == "" {
		return &ConfigError{Field: "Server", Reason: "required"}
	}
	host := cfg.Server
	if strings.Contains(host, "://") {
		u, err := url.Parse(cfg.Server)
		if err != nil || (u.Scheme != "ws" && u.Scheme != "wss") {
			return &ConfigError{Field: "Server", Reason: "want ws://HOST:PORT/PATH, wss://… or HOST:PORT"}
		}
		host = u.Hostname()
		if cfg.Web == "" {
			cfg.Web = map[string]string{"ws": "http", "wss": "https"}[u.Scheme] + "://" + u.Host
		}
	} else if h, _, err := net.SplitHostPort(host); err == nil {
		host = h
	} else {
		return &ConfigError{Field: "Server", Reason: "want ws://HOST:PORT/PATH, wss://… or HOST:PORT"}
	}
	if cfg.Domain == "" {
		cfg.Domain = host
	}
	if cfg.MediaIP == nil {
		cfg.MediaIP = net.IPv4zero
		if ip := net.ParseIP(host); (ip != nil && ip.IsLoopback()) || host == "localhost" {
			cfg.MediaIP = net.IPv4(127, 0, 0, 1)
		}
	}
	if cfg.Events <= 0 {
		cfg.Events = 1024
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return nil
}

// JID returns the address the server bound, e.g. "bot@example.com/res" or,
// for a guest, a generated one.
func (c *Client) JID() string { return c.xmpp.JID().String() }

// Domain returns the XMPP domain.
func (c *Client) Domain() string { return c.cfg.Domain }

// Events returns what happens in every room of this client. It is closed
// once the connection has ended (after Close, or when the server went
// away); Err then says why. Read it promptly: events that find it full are
// dropped (see Dropped).
func (c *Client) Events() <-chan Event { return c.events }

// Dropped counts the events that were not delivered.
type Dropped struct {
	Full   int64 // the Events channel was full
	Closed int64 // raised after the channel was closed
}

// Dropped returns the counts of undelivered events.
func (c *Client) Dropped() Dropped {
	return Dropped{Full: c.droppedFull.Load(), Closed: c.droppedClosed.Load()}
}

// Done is closed once the connection has ended.
func (c *Client) Done() <-chan struct{} { return c.conn.Done() }

// Err returns why the connection ended, or nil while it runs or after Close.
func (c *Client) Err() error {
	if c.closing.Load() {
		return nil
	}
	return c.xmpp.Err()
}

// Rooms returns the rooms the client is in or joining.
func (c *Client) Rooms() []*Room {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Room, 0, len(c.rooms))
	for _, r := range c.rooms {
		out = append(out, r)
	}
	return out
}

// Close leaves every room and closes the connection.
func (c *Client) Close() error {
	var err error
	c.closeOnce.Do(func() {
		c.closing.Store(true)
		c.conn.Close()
		err = c.xmpp.Close()
		<-c.conn.Done()
		c.closeEvents()
	})
	if errors.Is(err, net.ErrClosed) {
		return nil
	}
	return err
}

// onEvent turns the engine's events into the SDK's and queues them. It
// must not block: it runs on the connection's read loop.
func (c *Client) onEvent(ev mediapeer.Event) {
	c.mu.Lock()
	r := c.rooms[ev.Peer.Room().String()]
	c.mu.Unlock()
	if r == nil {
		return
	}
	out := r.event(ev)
	if ev.Kind == mediapeer.EventRemoved {
		r.forget()
	}
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if c.evClosed {
		c.droppedClosed.Add(1)
		return
	}
	select {
	case c.events <- out:
	default:
		c.droppedFull.Add(1)
	}
}

func (c *Client) closeEvents() {
	c.evMu.Lock()
	defer c.evMu.Unlock()
	if !c.evClosed {
		c.evClosed = true
		close(c.events)
	}
}

// Package xmppclient is the client side of parley's XMPP: it dials a server
// over TCP (with STARTTLS) or WebSocket, authenticates with SASL, binds a
// resource, and then sends stanzas, matches IQ answers and hands every other
// incoming stanza to the caller. The focus, bridges, the SDK, the load tool
// and the tests all use it; it shares the stream code with the server.
package xmppclient

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coder/websocket"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

// Config configures a client connection.
type Config struct {
	// Address is "ws://HOST:PORT/xmpp-websocket" (or wss://) for WebSocket,
	// or "HOST:PORT" for TCP. Required.
	Address string
	// Domain is the XMPP domain to open the stream to. Required.
	Domain string
	// Username and Password authenticate; an empty Username logs in
	// anonymously.
	Username, Password string
	// Token logs in with a JWT instead of a password: over WebSocket it is
	// sent as the URL's token parameter with SASL ANONYMOUS (as Jitsi's
	// clients do), over TCP with SASL OAUTHBEARER. Default "": none.
	Token string
	// Mechanism forces a SASL mechanism. Default: the best the server offers
	// (SCRAM-SHA-256, SCRAM-SHA-1, then PLAIN; ANONYMOUS without a username).
	Mechanism string
	// Resource to bind. Default: the server chooses.
	Resource string
	// TLS is used for STARTTLS on TCP. Default: STARTTLS is used if offered,
	// verifying the server name; set InsecureSkipVerify for self-signed
	// local servers. NoStartTLS skips it.
	// With wss://, TLS (when set) also verifies the WebSocket's server.
	TLS        *tls.Config
	NoStartTLS bool
	// LocalAddr is the address to connect from, TCP and WebSocket alike
	// (tests speak from 127.0.0.2). Default: the system's choice.
	LocalAddr *net.TCPAddr
	// Limits bound incoming elements. Default xmlstream defaults.
	Limits xmlstream.Limits
	// Incoming is the capacity of the channel of incoming stanzas. Default 256.
	Incoming int
	// Logger receives debug logs. Default slog.Default().
	Logger *slog.Logger
}

// Client is one authenticated, bound XMPP connection.
type Client struct {
	cfg Config
	t   stream.Transport
	jid jid.JID // bound address; set by Dial

	wmu sync.Mutex // serializes writes

	mu      sync.Mutex
	pending map[string]chan *xmlstream.Element // IQ id -> waiter; guarded by mu

	in     chan *xmlstream.Element // incoming stanzas, closed when the read loop ends
	done   chan struct{}
	err    atomic.Pointer[error] // why the read loop ended
	nextID atomic.Uint64
	closed atomic.Bool
}

// Error is returned when the server refuses authentication or binding.
type Error struct {
	Step      string // "sasl", "bind", "stream"
	Condition string
	Text      string
}

func (e *Error) Error() string {
	s := "xmppclient: " + e.Step + " failed: " + e.Condition
	if e.Text != "" {
		s += " (" + e.Text + ")"
	}
	return s
}

// Dial connects, authenticates and binds.
func Dial(ctx context.Context, cfg Config) (*Client, error) {
	if cfg.Incoming == 0 {
		cfg.Incoming = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	t, err := dialTransport(ctx, cfg)
	if err != nil {
		return nil, err
	}
	c := &Client{cfg: cfg, t: t, pending: make(map[string]chan *xmlstream.Element),
		in: make(chan *xmlstream.Element, cfg.Incoming), done: make(chan struct{})}
	// Negotiation reads block; ctx ending closes the transport to free them.
	stop := context.AfterFunc(ctx, func() { t.Close() })
	defer stop()
	if err := c.negotiate(); err != nil {
		t.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	go c.readLoop()
	return c, nil
}

func dialTransport(ctx context.Context, cfg Config) (stream.Transport, error) {
	if strings.HasPrefix(cfg.Address, "ws://") || strings.HasPrefix(cfg.Address, "wss://") {
		opts := &websocket.DialOptions{Subprotocols: []string{"xmpp"}}
		if cfg.LocalAddr != nil || cfg.TLS != nil {
			d := &net.Dialer{}
			if cfg.LocalAddr != nil {
				d.LocalAddr = cfg.LocalAddr
			}
			opts.HTTPClient = &http.Client{Transport: &http.Transport{DialContext: d.DialContext, TLSClientConfig: cfg.TLS}}
		}
		c, _, err := websocket.Dial(ctx, withTokenParam(cfg.Address, cfg.Token), opts)
		if err != nil {
			return nil, fmt.Errorf("xmppclient: websocket dial: %w", err)
		}
		if c.Subprotocol() != "xmpp" {
			c.Close(websocket.StatusProtocolError, "")
			return nil, errors.New("xmppclient: server did not accept the xmpp subprotocol")
		}
		return stream.NewWS(c, stream.WSConfig{Limits: cfg.Limits, Secure: strings.HasPrefix(cfg.Address, "wss://")}), nil
	}
	d := net.Dialer{}
	if cfg.LocalAddr != nil {
		d.LocalAddr = cfg.LocalAddr
	}
	conn, err := d.DialContext(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("xmppclient: %w", err)
	}
	return stream.NewTCP(conn, stream.TCPConfig{Limits: cfg.Limits}), nil
}

// JID returns the bound address.
func (c *Client) JID() jid.JID { return c.jid }

// Incoming returns the stanzas the server sends that are not answers to
// this client's IQs. It is closed when the connection ends. The client
// answers pings itself; other IQ requests are the caller's to answer.
func (c *Client) Incoming() <-chan *xmlstream.Element { return c.in }

// Done is closed when the connection has ended; Err then says why.
func (c *Client) Done() <-chan struct{} { return c.done }

// Err returns why the connection ended, or nil while it runs.
func (c *Client) Err() error {
	if p := c.err.Load(); p != nil {
		return *p
	}
	return nil
}

// NewID returns a fresh stanza id.
func (c *Client) NewID() string { return "c" + fmt.Sprint(c.nextID.Add(1)) }

// Send writes stanzas now.
func (c *Client) Send(els ...*xmlstream.Element) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.closed.Load() {
		return net.ErrClosed
	}
	return c.t.Write(els...)
}

// IQ sends an IQ request and waits for its answer. An error answer is
// returned as a *stanza.Error. An id is set if missing.
func (c *Client) IQ(ctx context.Context, iq *xmlstream.Element) (*xmlstream.Element, error) {
	id := iq.Attr("id")
	if id == "" {
		id = c.NewID()
		iq.SetAttr("id", id)
	}
	ch := make(chan *xmlstream.Element, 1)
	c.mu.Lock()
	c.pending[id] = ch
	c.mu.Unlock()
	defer func() {
		c.mu.Lock()
		delete(c.pending, id)
		c.mu.Unlock()
	}()
	if err := c.Send(iq); err != nil {
		return nil, err
	}
	select {
	case res := <-ch:
		return res, stanza.AnswerError(res)
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, net.ErrClosed
	}
}

// Close ends the stream politely and closes the connection.
func (c *Client) Close() error {
	if c.closed.Swap(true) {
		return nil
	}
	c.wmu.Lock()
	c.t.WriteClose()
	c.wmu.Unlock()
	select {
	case <-c.done:
	case <-time.After(time.Second):
	}
	return c.t.Close()
}

func (c *Client) readLoop() {
	defer close(c.done)
	defer close(c.in)
	for {
		el, err := c.t.ReadElement()
		if err != nil {
			c.err.Store(&err)
			c.t.Close()
			return
		}
		if el.Is(xmlstream.NSStream, "error") {
			e := error(&Error{Step: "stream", Condition: firstChildName(el), Text: el.ChildText("", "text")})
			c.err.Store(&e)
			c.t.Close()
			return
		}
		if c.dispatchIQ(el) {
			continue
		}
		c.in <- el
	}
}

// dispatchIQ hands IQ answers to their waiters and answers pings.
func (c *Client) dispatchIQ(el *xmlstream.Element) bool {
	if el.Name != "iq" {
		return false
	}
	switch el.Attr("type") {
	case "result", "error":
		c.mu.Lock()
		ch := c.pending[el.Attr("id")]
		c.mu.Unlock()
		if ch != nil {
			ch <- el
			return true
		}
	case "get":
		if el.Child("urn:xmpp:ping", "ping") != nil {
			go c.Send(stanza.IQResult(el))
			return true
		}
	}
	return false
}

func firstChildName(el *xmlstream.Element) string {
	for _, ch := range el.Children {
		if ch.Name != "text" {
			return ch.Name
		}
	}
	return "undefined-condition"
}

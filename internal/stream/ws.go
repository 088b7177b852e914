package stream

import (
	"context"
	"crypto/tls"
	"net"
	"time"

	"github.com/coder/websocket"

	"parley.dev/parley/internal/xmlstream"
)

// WSConfig configures a WebSocket transport.
type WSConfig struct {
	// Limits bound each message's element. Default xmlstream defaults.
	Limits xmlstream.Limits
	// Secure marks the connection as encrypted or trusted (wss, or a
	// loopback peer behind a local proxy). Default false.
	Secure bool
	// RemoteAddr is reported by RemoteAddr. Default: an unknown address.
	RemoteAddr net.Addr
	// WriteTimeout bounds one write; a peer that does not read for that
	// long is disconnected. Default 30 s.
	WriteTimeout time.Duration
}

// WS is an RFC 7395 transport: one complete element per text message,
// <open/> and <close/> in the framing namespace.
type WS struct {
	c   *websocket.Conn
	cfg WSConfig

	ctx    context.Context // cancelled by Close
	cancel context.CancelFunc

	wbuf []byte // owned by the writer
}

// NewWS wraps an established WebSocket connection (subprotocol "xmpp").
func NewWS(c *websocket.Conn, cfg WSConfig) *WS {
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	if cfg.RemoteAddr == nil {
		cfg.RemoteAddr = &net.TCPAddr{}
	}
	lim := cfg.Limits.MaxElementBytes
	if lim == 0 {
		lim = xmlstream.DefaultMaxElementBytes
	}
	c.SetReadLimit(int64(lim) + 1024)
	ctx, cancel := context.WithCancel(context.Background())
	return &WS{c: c, cfg: cfg, ctx: ctx, cancel: cancel}
}

func (w *WS) readMessage() (*xmlstream.Element, error) {
	typ, b, err := w.c.Read(w.ctx)
	if err != nil {
		if websocket.CloseStatus(err) != -1 {
			return nil, ErrClosed
		}
		return nil, err
	}
	if typ != websocket.MessageText {
		return nil, &xmlstream.SyntaxError{Cond: xmlstream.CondBadFormat, Msg: "binary WebSocket message"}
	}
	return xmlstream.ParseElement(b, w.cfg.Limits)
}

// ReadOpen reads the <open/> element.
func (w *WS) ReadOpen() (Header, error) {
	el, err := w.readMessage()
	if err != nil {
		return Header{}, err
	}
	if el.Is(xmlstream.NSFraming, "close") {
		return Header{}, ErrClosed
	}
	if !el.Is(xmlstream.NSFraming, "open") {
		return Header{}, &xmlstream.SyntaxError{Cond: xmlstream.CondInvalidNamespace, Msg: "expected <open/> in " + xmlstream.NSFraming}
	}
	return Header{To: el.Attr("to"), From: el.Attr("from"), ID: el.Attr("id"), Version: el.Attr("version"), Lang: el.Attr("xml:lang")}, nil
}

// WriteOpen sends <open/>.
func (w *WS) WriteOpen(h Header) error {
	el := xmlstream.New(xmlstream.NSFraming, "open")
	for _, a := range [...][2]string{{"to", h.To}, {"from", h.From}, {"id", h.ID}, {"version", h.Version}, {"xml:lang", h.Lang}} {
		el.SetAttr(a[0], a[1])
	}
	return w.Write(el)
}

// ReadElement reads the next element; <close/> gives ErrClosed.
func (w *WS) ReadElement() (*xmlstream.Element, error) {
	el, err := w.readMessage()
	if err != nil {
		return nil, err
	}
	if el.Is(xmlstream.NSFraming, "close") {
		return nil, ErrClosed
	}
	return el, nil
}

// Write sends each element as its own message.
func (w *WS) Write(els ...*xmlstream.Element) error {
	ctx, cancel := context.WithTimeout(w.ctx, w.cfg.WriteTimeout)
	defer cancel()
	for _, el := range els {
		w.wbuf = el.Append(w.wbuf[:0], "")
		if err := w.c.Write(ctx, websocket.MessageText, w.wbuf); err != nil {
			return err
		}
	}
	if cap(w.wbuf) > 64<<10 {
		w.wbuf = nil // do not pin a large buffer to an idle connection
	}
	return nil
}

// WriteClose sends <close/>.
func (w *WS) WriteClose() error {
	return w.Write(xmlstream.New(xmlstream.NSFraming, "close"))
}

// Restart is a no-op: on WebSocket a new <open/> is just the next message.
func (w *WS) Restart() {}

// CanStartTLS is false: TLS on WebSocket is the HTTP layer's.
func (w *WS) CanStartTLS() bool { return false }

// StartTLS is not possible on WebSocket.
func (w *WS) StartTLS(*tls.Config, bool) error { return ErrNoTLS }

// Secure reports what the config said.
func (w *WS) Secure() bool { return w.cfg.Secure }

// RemoteAddr returns the configured peer address.
func (w *WS) RemoteAddr() net.Addr { return w.cfg.RemoteAddr }

// Close closes the WebSocket.
func (w *WS) Close() error {
	err := w.c.Close(websocket.StatusNormalClosure, "")
	w.cancel()
	return err
}

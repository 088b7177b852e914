package stream

import (
	"crypto/tls"
	"errors"
	"net"
	"time"

	"parley.dev/parley/internal/xmlstream"
)

// TCPConfig configures a TCP transport.
type TCPConfig struct {
	// Limits bound each element. Default xmlstream defaults.
	Limits xmlstream.Limits
	// Namespace is the stream's default namespace. Default jabber:client.
	Namespace string
	// WriteTimeout bounds one batch write; a peer that does not read for
	// that long is disconnected. Default 30 s.
	WriteTimeout time.Duration
	// ServerTLS is the server's TLS configuration when this is the server
	// side of a connection that is (Direct TLS) or may become (STARTTLS)
	// encrypted: tls-server-end-point channel binding hashes the
	// certificate it serves. Default nil: no tls-server-end-point binding
	// on the server side.
	ServerTLS *tls.Config
}

// TCP is an RFC 6120 stream over a TCP (or TLS) connection.
type TCP struct {
	cfg    TCPConfig
	raw    net.Conn           // the accepted connection; never changes, so Close and RemoteAddr need no lock
	conn   net.Conn           // raw, or TLS over it after StartTLS; swapped by the reader before any writer exists
	secure bool               // TLS is on; written with conn
	client bool               // StartTLS ran as the client; written with conn
	dec    *xmlstream.Decoder // owned by the reader
	wbuf   []byte             // owned by the writer
}

// NewTCP wraps a connection. A *tls.Conn counts as secure from the start.
func NewTCP(conn net.Conn, cfg TCPConfig) *TCP {
	if cfg.Namespace == "" {
		cfg.Namespace = xmlstream.NSClient
	}
	if cfg.WriteTimeout == 0 {
		cfg.WriteTimeout = 30 * time.Second
	}
	// A *tls.Conn, or a wrapper around one (the one-port mux hands out
	// replayed TLS conns), is secure from the start.
	_, isTLS := conn.(interface{ ConnectionState() tls.ConnectionState })
	return &TCP{cfg: cfg, raw: conn, conn: conn, secure: isTLS, dec: xmlstream.NewDecoder(conn, cfg.Limits)}
}

// ReadOpen reads the stream header.
func (t *TCP) ReadOpen() (Header, error) {
	h, err := t.dec.ReadHeader()
	if err != nil {
		return Header{}, mapClosed(err)
	}
	return Header{To: h.To, From: h.From, ID: h.ID, Version: h.Version, Lang: h.Lang}, nil
}

// WriteOpen writes the XML declaration and the stream header.
func (t *TCP) WriteOpen(h Header) error {
	b := append(t.wbuf[:0], `<?xml version='1.0'?><stream:stream xmlns='`...)
	b = append(b, t.cfg.Namespace...)
	b = append(b, `' xmlns:stream='`+xmlstream.NSStream+`'`...)
	for _, a := range [...][2]string{{"to", h.To}, {"from", h.From}, {"id", h.ID}, {"version", h.Version}, {"xml:lang", h.Lang}} {
		if a[1] == "" {
			continue
		}
		b = append(b, ' ')
		b = append(b, a[0]...)
		b = append(b, `="`...)
		b = xmlstream.AppendAttrValue(b, a[1])
		b = append(b, '"')
	}
	b = append(b, '>')
	t.wbuf = b
	return t.write(b)
}

// ReadElement reads the next top-level element.
func (t *TCP) ReadElement() (*xmlstream.Element, error) {
	el, err := t.dec.ReadElement()
	return el, mapClosed(err)
}

func mapClosed(err error) error {
	if errors.Is(err, xmlstream.ErrStreamClosed) {
		return ErrClosed
	}
	return err
}

// Write serializes the elements into one buffer and writes it at once.
func (t *TCP) Write(els ...*xmlstream.Element) error {
	b := t.wbuf[:0]
	for _, el := range els {
		b = el.Append(b, t.cfg.Namespace)
	}
	err := t.write(b)
	if cap(b) > 64<<10 {
		b = nil // do not pin a large buffer to an idle connection
	}
	t.wbuf = b
	return err
}

func (t *TCP) write(b []byte) error {
	t.conn.SetWriteDeadline(time.Now().Add(t.cfg.WriteTimeout))
	_, err := t.conn.Write(b)
	return err
}

// WriteClose writes </stream:stream>.
func (t *TCP) WriteClose() error {
	return t.write([]byte("</stream:stream>"))
}

// Restart makes the next ReadOpen parse a fresh header on the same connection.
func (t *TCP) Restart() { t.dec.Reset(t.conn) }

// CanStartTLS reports whether the connection is still plain.
func (t *TCP) CanStartTLS() bool { return !t.secure }

// StartTLS runs the TLS handshake and restarts the stream over it.
func (t *TCP) StartTLS(cfg *tls.Config, server bool) error {
	if t.secure {
		return ErrNoTLS
	}
	var tc *tls.Conn
	if server {
		tc = tls.Server(t.conn, cfg)
	} else {
		tc = tls.Client(t.conn, cfg)
	}
	tc.SetDeadline(time.Now().Add(t.cfg.WriteTimeout))
	if err := tc.Handshake(); err != nil {
		return err
	}
	tc.SetDeadline(time.Time{})
	t.conn, t.secure, t.client = tc, true, !server
	t.dec.Reset(tc)
	return nil
}

// Secure reports whether TLS is on.
func (t *TCP) Secure() bool { return t.secure }

// TLSState returns the TLS connection's state, for channel binding; false
// while the connection is plain.
func (t *TCP) TLSState() (tls.ConnectionState, bool) {
	if c, ok := t.conn.(interface{ ConnectionState() tls.ConnectionState }); ok && t.secure {
		return c.ConnectionState(), true
	}
	return tls.ConnectionState{}, false
}

// ChannelBinding returns the channel binding data of the TLS connection
// for cbType: "tls-exporter" (RFC 9266, TLS 1.3 only) or
// "tls-server-end-point" (RFC 5929: the hash of the server's certificate;
// on the server side only with TCPConfig.ServerTLS). nil when there is none.
func ChannelBinding(t Transport, cbType string) []byte {
	tt, ok := t.(*TCP)
	if !ok {
		return nil
	}
	cs, ok := tt.TLSState()
	if !ok {
		return nil
	}
	switch cbType {
	case "tls-exporter":
		if cs.Version != tls.VersionTLS13 {
			return nil
		}
		b, err := cs.ExportKeyingMaterial("EXPORTER-Channel-Binding", nil, 32)
		if err != nil {
			return nil
		}
		return b
	case "tls-server-end-point":
		return serverEndPoint(tt.serverCertificate(cs))
	}
	return nil
}

// RemoteAddr is the peer's address.
func (t *TCP) RemoteAddr() net.Addr { return t.raw.RemoteAddr() }

// Close closes the connection.
func (t *TCP) Close() error { return t.raw.Close() }

// Package stream frames XMPP streams over TCP (RFC 6120) and WebSocket
// (RFC 7395) behind one Transport interface, for both ends of a connection:
// the server's c2s sessions and the client side used by the focus, bridges,
// the SDK and the load tool.
//
// A Transport only moves elements; negotiation (STARTTLS, SASL, bind) is the
// caller's business: internal/xmpp for the server side, internal/xmppclient
// for the client side.
package stream

import (
	"crypto/tls"
	"errors"
	"net"

	"parley.dev/parley/internal/xmlstream"
)

// Header is what a stream opening carries (RFC 6120 §4.7).
type Header struct {
	To, From, ID, Version, Lang string
}

// ErrClosed is returned by ReadElement once the peer closed its stream
// (</stream:stream> or <close/>).
var ErrClosed = errors.New("stream: closed by peer")

// ErrNoTLS is returned by StartTLS on transports that cannot upgrade.
var ErrNoTLS = errors.New("stream: transport cannot start TLS")

// Transport moves XMPP elements over one connection.
//
// ReadOpen, ReadElement and StartTLS belong to the reading goroutine;
// WriteOpen, Write and WriteClose may be called from one writing goroutine
// concurrently with reads. Close may be called from anywhere.
type Transport interface {
	// ReadOpen waits for the peer's stream opening (after connecting, or
	// after a restart) and returns it.
	ReadOpen() (Header, error)
	// WriteOpen sends our stream opening.
	WriteOpen(h Header) error
	// ReadElement returns the next top-level element; ErrClosed when the
	// peer closed the stream; a *xmlstream.SyntaxError for bad input.
	ReadElement() (*xmlstream.Element, error)
	// Write sends elements, in order, as one batch (one flush on TCP, one
	// message each on WebSocket).
	Write(els ...*xmlstream.Element) error
	// WriteClose sends the stream closing (</stream:stream> or <close/>).
	WriteClose() error
	// Restart prepares for a new stream on the same connection after SASL
	// success or STARTTLS: the next ReadOpen reads a fresh header.
	Restart()
	// CanStartTLS reports whether StartTLS may be called (TCP, not yet encrypted).
	CanStartTLS() bool
	// StartTLS upgrades the connection (TCP only); server says which side
	// of the handshake we are.
	StartTLS(cfg *tls.Config, server bool) error
	// Secure reports whether the connection is encrypted or otherwise
	// trusted (TLS on TCP; wss, or a loopback peer behind a local proxy).
	Secure() bool
	// RemoteAddr is the peer's address.
	RemoteAddr() net.Addr
	// Close tears the connection down without a closing handshake.
	Close() error
}

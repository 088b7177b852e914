package xmppclient

import (
	"context"
	"crypto/sha1"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stream"
	"parley.dev/parley/internal/xmlstream"
)

// nsComponent is the stream namespace of XEP-0114 components.
const nsComponent = "jabber:component:accept"

// ComponentConfig configures DialComponent.
type ComponentConfig struct {
	// Address is the server's component port, "HOST:PORT". Required.
	Address string
	// Domain is the component's domain, e.g. focus.example.test. Required.
	Domain string
	// Secret is the shared secret the server has for Domain. Required.
	Secret string
	// Limits bound incoming elements. Default xmlstream defaults.
	Limits xmlstream.Limits
	// Incoming is the capacity of the channel of incoming stanzas. Default 256.
	Incoming int
	// Logger receives debug logs. Default slog.Default().
	Logger *slog.Logger
}

// DialComponent connects to a server as an external component (XEP-0114):
// the stream in jabber:component:accept and the SHA-1 handshake. The
// Client it returns works as a c2s one, with two differences: its JID is
// the bare Domain, and every stanza sent must carry a from in Domain
// (servers reject the others). Stanzas are written and read in
// jabber:client; the namespace of the wire is the transport's business.
func DialComponent(ctx context.Context, cfg ComponentConfig) (*Client, error) {
	if cfg.Address == "" || cfg.Domain == "" || cfg.Secret == "" {
		return nil, errors.New("xmppclient: component Address, Domain and Secret are required")
	}
	d, err := jid.Parse(cfg.Domain)
	if err != nil || d.Local != "" || !d.IsBare() {
		return nil, fmt.Errorf("xmppclient: component domain %q is not a bare domain", cfg.Domain)
	}
	if cfg.Incoming == 0 {
		cfg.Incoming = 256
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	var dialer net.Dialer
	conn, err := dialer.DialContext(ctx, "tcp", cfg.Address)
	if err != nil {
		return nil, fmt.Errorf("xmppclient: %w", err)
	}
	t := componentTransport{stream.NewTCP(conn, stream.TCPConfig{Limits: cfg.Limits, Namespace: nsComponent})}
	stop := context.AfterFunc(ctx, func() { t.Close() })
	defer stop()
	if err := componentHandshake(t, cfg); err != nil {
		t.Close()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, err
	}
	c := &Client{cfg: Config{Address: cfg.Address, Domain: cfg.Domain, Logger: cfg.Logger}, t: t, jid: d,
		pending: make(map[string]chan *xmlstream.Element),
		in:      make(chan *xmlstream.Element, cfg.Incoming), done: make(chan struct{})}
	go c.readLoop()
	return c, nil
}

// componentHandshake opens the stream and proves the secret (XEP-0114 §3).
func componentHandshake(t stream.Transport, cfg ComponentConfig) error {
	if err := t.WriteOpen(stream.Header{To: cfg.Domain}); err != nil {
		return err
	}
	h, err := t.ReadOpen()
	if err != nil {
		return err
	}
	sum := sha1.Sum([]byte(h.ID + cfg.Secret))
	if err := t.Write(xmlstream.New(xmlstream.NSClient, "handshake").SetText(hex.EncodeToString(sum[:]))); err != nil {
		return err
	}
	el, err := t.ReadElement()
	if err != nil {
		return err
	}
	if el.Is(xmlstream.NSStream, "error") {
		return &Error{Step: "handshake", Condition: firstChildName(el), Text: el.ChildText("", "text")}
	}
	if !el.Is(xmlstream.NSClient, "handshake") {
		return &Error{Step: "handshake", Condition: "unexpected <" + el.Name + "/>"}
	}
	return nil
}

// componentTransport moves stanzas between jabber:client, the namespace
// the rest of parley builds and reads them in, and the component
// namespace of the wire.
type componentTransport struct{ stream.Transport }

func (t componentTransport) ReadElement() (*xmlstream.Element, error) {
	el, err := t.Transport.ReadElement()
	if err != nil {
		return nil, err
	}
	return inNamespace(el, nsComponent, xmlstream.NSClient), nil
}

func (t componentTransport) Write(els ...*xmlstream.Element) error {
	out := make([]*xmlstream.Element, len(els))
	for i, el := range els {
		out[i] = inNamespace(el, xmlstream.NSClient, nsComponent)
	}
	return t.Transport.Write(out...)
}

// inNamespace returns el with every element in namespace from moved to
// namespace to; el is not modified, and untouched subtrees are shared.
func inNamespace(el *xmlstream.Element, from, to string) *xmlstream.Element {
	if !usesNamespace(el, from) {
		return el
	}
	c := el.ShallowCopy()
	if c.Space == from {
		c.Space = to
	}
	if len(el.Children) > 0 {
		c.Children = make([]*xmlstream.Element, len(el.Children))
		for i, ch := range el.Children {
			c.Children[i] = inNamespace(ch, from, to)
		}
	}
	return c
}

func usesNamespace(el *xmlstream.Element, ns string) bool {
	if el.Space == ns {
		return true
	}
	for _, ch := range el.Children {
		if usesNamespace(ch, ns) {
			return true
		}
	}
	return false
}

// Package sip is parley's SIP gateway: phones dial into a room (an INVITE
// to sip:ROOM@gateway), and each call joins the room as an SDK participant
// that publishes the phone's audio as Opus and sends the phone a mix of the
// room's loudest voices in G.711. Signalling is github.com/emiago/sipgo;
// Opus is a Codec the caller supplies (libopus through cgo, in the build
// tagged "sip"), so that this package itself builds without cgo.
package sip

import (
	"crypto/tls"
	"log/slog"
	"net"
	"net/netip"
	"time"

	"parley.dev/parley/sdk"
)

// Config configures New.
type Config struct {
	// Listen is the SIP address, UDP and TCP ("0.0.0.0:5060"). Required.
	Listen string
	// TLSListen, if set, is a SIP over TLS address ("0.0.0.0:5061"),
	// served with TLS's certificate. Default "": no TLS.
	TLSListen string
	// TLS is the certificate for TLSListen. Required with TLSListen.
	TLS *tls.Config
	// Server is parley's XMPP address that calls join through (the SDK's
	// Server: "ws://127.0.0.1:8080/xmpp-websocket" or "HOST:5222").
	// Required.
	Server string
	// Domain is the XMPP domain. Default: the host of Server.
	Domain string
	// Token, if set, logs each call in with this JWT instead of as a guest
	// (for servers that take no guests). Default "": a guest.
	Token string
	// Trunks may dial in. Default none: any source may (a local try-out;
	// New's caller should warn).
	Trunks []Trunk
	// Outbound is where dial-out calls go (Gateway.Dial). Default: SIP
	// URIs only, straight to their host, without credentials.
	Outbound Outbound
	// IVRUser is the Request-URI user that reaches the IVR (a caller types
	// a room's PIN); an empty user or a number (+...) does too. Default
	// "join".
	IVRUser string
	// Language of the IVR's prompts: en, fr or es. Default en.
	Language string
	// PINs are the rooms' PINs. Default: in memory, lost at restart.
	PINs *PINs
	// DialInNumber is the phone number the operator routes to the gateway,
	// shown with a room's PIN (DialIn). Default "": none shown.
	DialInNumber string
	// Codec makes the Opus encoders and decoders. Required.
	Codec Codec
	// MediaIP is the address of the calls' RTP sockets, and the one the
	// SDP answer names. Default: the local address the INVITE came to.
	MediaIP net.IP
	// InvitesPerSecond and InviteBurst bound the new calls one source
	// (IPv4 address, IPv6 /64) may start; beyond, 503. Default 2 and 10.
	InvitesPerSecond float64
	InviteBurst      int
	// PacketsPerSecond bounds the SIP messages one source may send; beyond,
	// they are dropped unread (UDP) or the connection closed (TCP).
	// Default 50, burst twice that.
	PacketsPerSecond float64
	// MaxCalls bounds the live calls; beyond, 503. Default 100.
	MaxCalls int
	// JoinTimeout bounds how long a call waits to be in its room.
	// Default 15 s.
	JoinTimeout time.Duration
	// MixSpeakers is how many of the room's loudest voices the phone
	// hears at once. Default 3.
	MixSpeakers int
	// Logger receives the gateway's logs. Default slog.Default().
	Logger *slog.Logger
	// SDK, if set, adjusts each call's SDK configuration (tests set
	// MediaIP). Default nil.
	SDK func(*sdk.Config)
}

// Trunk is a SIP peer allowed to dial in: by its address, by digest
// credentials, or both (then both must match).
type Trunk struct {
	// Name names the trunk in logs. Default: its first address.
	Name string
	// Addrs are the sources it dials from. Default none: any address with
	// the credentials.
	Addrs []netip.Prefix
	// Username and Password, if set, are asked for with a digest
	// challenge (RFC 2617/8760, MD5). Default "": no credentials.
	Username, Password string
}

// Codec makes Opus encoders and decoders of mono 16-bit PCM at a given
// sample rate (8000 for G.711 phones).
type Codec interface {
	NewEncoder(sampleRate int) (Encoder, error)
	NewDecoder(sampleRate int) (Decoder, error)
}

// Encoder encodes one frame of PCM (20 ms) into out, returning its length.
type Encoder interface {
	Encode(pcm []int16, out []byte) (int, error)
}

// Decoder decodes one Opus packet into pcm, returning the samples written.
type Decoder interface {
	Decode(packet []byte, pcm []int16) (int, error)
}

func (c *Config) defaults() {
	if c.InvitesPerSecond <= 0 {
		c.InvitesPerSecond = 2
	}
	if c.InviteBurst <= 0 {
		c.InviteBurst = 10
	}
	if c.PacketsPerSecond <= 0 {
		c.PacketsPerSecond = 50
	}
	if c.MaxCalls <= 0 {
		c.MaxCalls = 100
	}
	if c.JoinTimeout <= 0 {
		c.JoinTimeout = 15 * time.Second
	}
	if c.MixSpeakers <= 0 {
		c.MixSpeakers = 3
	}
	if c.Outbound.RingTimeout <= 0 {
		c.Outbound.RingTimeout = 45 * time.Second
	}
	if c.IVRUser == "" {
		c.IVRUser = "join"
	}
	if c.Language == "" {
		c.Language = "en"
	}
	if c.PINs == nil {
		c.PINs, _ = OpenPINs("") // in memory: cannot fail
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

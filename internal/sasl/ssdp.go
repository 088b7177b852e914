package sasl

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
)

// SASL SCRAM Downgrade Protection (XEP-0474, version 0.5.0): the server
// puts a hash of the mechanisms and channel-binding types it advertised in
// the server-first-message (attribute h), which the client's proof then
// signs; a client compares it with what it saw advertised and so detects a
// man in the middle who removed mechanisms or binding types.

// Advertised is what a server advertised before the exchange.
type Advertised struct {
	// Mechanisms are the mechanisms offered in the SASL profile the client
	// uses (RFC 6120's or SASL2's, not both).
	Mechanisms []string
	// ChannelBindings are the types advertised with XEP-0440; nil when the
	// server did not use XEP-0440 (an empty non-nil list is a use of it
	// with no type).
	ChannelBindings []string
}

// ErrDowngrade: the server-first-message's XEP-0474 hash does not match
// what the client saw advertised; someone changed the advertisement.
var ErrDowngrade = errors.New("sasl: the advertised mechanisms or channel bindings were tampered with (XEP-0474)")

// DowngradeHash is the XEP-0474 value of a: the sorted mechanisms joined by
// 0x1E, then, with XEP-0440, 0x1F and the sorted binding types joined by
// 0x1E, hashed with h and base64-encoded.
func DowngradeHash(h Hash, a Advertised) string {
	mechs := slices.Sorted(slices.Values(a.Mechanisms))
	s := strings.Join(mechs, "\x1e")
	if a.ChannelBindings != nil {
		s += "\x1f" + strings.Join(slices.Sorted(slices.Values(a.ChannelBindings)), "\x1e")
	}
	return base64.StdEncoding.EncodeToString(hashSum(h, []byte(s)))
}

// downgradeAttr returns the value of a server-first-message's h attribute
// and whether it has one.
func downgradeAttr(serverFirst string) (string, bool) {
	attrs := strings.Split(serverFirst, ",")
	for _, a := range attrs[min(3, len(attrs)):] {
		if v, ok := strings.CutPrefix(a, "h="); ok {
			return v, true
		}
	}
	return "", false
}

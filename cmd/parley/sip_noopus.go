//go:build !sip

package main

import "parley.dev/parley/internal/sip"

// sipCodec is nil: the default build has no libopus, so no SIP gateway.
func sipCodec() sip.Codec { return nil }

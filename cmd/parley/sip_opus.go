//go:build sip

package main

import (
	"parley.dev/parley/internal/sip"
	"parley.dev/parley/internal/sip/opus"
)

// sipCodec is libopus: this build has the SIP gateway.
func sipCodec() sip.Codec { return opus.Codec{} }

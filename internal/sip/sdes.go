package sip

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"

	"github.com/pion/srtp/v3"
)

// SDES (RFC 4568): SRTP keys carried in the SDP's a=crypto lines, for
// trunks that encrypt media. The one suite parley speaks is
// AES_CM_128_HMAC_SHA1_80, which every SDES implementation has.
const (
	sdesSuite   = "AES_CM_128_HMAC_SHA1_80"
	sdesKeyLen  = 16 // AES-128 master key
	sdesSaltLen = 14 // master salt
)

// sdes is a call's SRTP keying: the phone's key, from its a=crypto, and
// ours, that our answer (or offer) carries.
type sdes struct {
	tag    int    // the a=crypto tag the answer repeats
	remote []byte // the phone's master key and salt (30 bytes)
	local  []byte // ours
}

// newSDESKey makes a random master key and salt.
func newSDESKey() []byte {
	k := make([]byte, sdesKeyLen+sdesSaltLen)
	_, _ = rand.Read(k) // crypto/rand does not fail (Go 1.24+)
	return k
}

// parseCrypto reads one a=crypto value ("1 AES_CM_128_HMAC_SHA1_80
// inline:KEY|2^20|1:32"); ok is false for another suite, session
// parameters, or a key that is not 30 bytes.
func parseCrypto(value string) (tag int, key []byte, ok bool) {
	f := strings.Fields(value)
	if len(f) != 3 || f[1] != sdesSuite { // session parameters (a 4th field) are not supported
		return 0, nil, false
	}
	tag, err := strconv.Atoi(f[0])
	if err != nil || tag < 0 || tag > 999999999 {
		return 0, nil, false
	}
	params, found := strings.CutPrefix(f[2], "inline:")
	if !found || strings.Contains(params, ";") { // several keys (MKI) are not supported
		return 0, nil, false
	}
	b64, rest, _ := strings.Cut(params, "|")
	if strings.Contains(rest, ":") { // an MKI
		return 0, nil, false
	}
	key, err = base64.StdEncoding.DecodeString(b64)
	if err != nil || len(key) != sdesKeyLen+sdesSaltLen {
		return 0, nil, false
	}
	return tag, key, true
}

// cryptoLine is our a=crypto attribute for key.
func cryptoLine(tag int, key []byte) string {
	return fmt.Sprintf("a=crypto:%d %s inline:%s", tag, sdesSuite, base64.StdEncoding.EncodeToString(key))
}

// srtpContexts makes the contexts that decrypt what the phone sends and
// encrypt what we send.
func (s *sdes) contexts() (in, out *srtp.Context, err error) {
	in, err = srtp.CreateContext(s.remote[:sdesKeyLen], s.remote[sdesKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return nil, nil, fmt.Errorf("sip: SRTP: %w", err)
	}
	out, err = srtp.CreateContext(s.local[:sdesKeyLen], s.local[sdesKeyLen:], srtp.ProtectionProfileAes128CmHmacSha1_80)
	if err != nil {
		return nil, nil, fmt.Errorf("sip: SRTP: %w", err)
	}
	return in, out, nil
}

//go:build sip

package sip_test

import (
	"crypto/tls"
	"os"
	"path/filepath"
	"testing"
	"time"

	"parley.dev/parley/internal/certs"
	"parley.dev/parley/internal/sip"
)

// A real phone (baresip) calls over SIP over TLS with SRTP (SDES,
// RTP/SAVP required: srtp-mand): the room and the phone hear each other,
// and the phone's audio reached the gateway as SRTP that authenticated.
func TestTLSAndSRTP(t *testing.T) {
	certPEM, keyPEM, err := certs.SelfSigned([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		t.Fatal(err)
	}
	h := start(t, func(c *sip.Config) {
		c.TLSListen = "127.0.0.1:0"
		c.TLS = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	})
	ca := filepath.Join(t.TempDir(), "ca.pem")
	if err := os.WriteFile(ca, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	// The TLS port is its own: a phone that fell back to UDP or TCP would
	// reach nothing there.
	uri := "sip:lab@" + h.gw.TLSAddr() + ";transport=tls"
	audioBothWays(t, h, uri, baresipOpts{config: "module srtp.so\nsip_cafile " + ca, account: ";mediaenc=srtp-mand"})
	s := h.gw.Stats()
	t.Logf("RTP from the phone: %d received, %d of them SRTP, %d refused", s.RTPReceived, s.RTPSecured, s.RTPRefused)
	if s.RTPSecured < 100 || s.RTPSecured < s.RTPReceived {
		t.Errorf("%d of the phone's %d packets came as SRTP, want all (and >= 100)", s.RTPSecured, s.RTPReceived)
	}
}

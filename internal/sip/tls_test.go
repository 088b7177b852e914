//go:build sip

package sip_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
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

// Dial-out over TLS offers SRTP: a baresip that answers by itself over
// TLS (mediaenc=srtp: it takes SRTP when offered) joins the room, and its
// audio reaches the gateway as SRTP that authenticates.
func TestDialOutTLSSRTP(t *testing.T) {
	serverPEM, serverKey, err := certs.SelfSigned([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	server, err := tls.X509KeyPair(serverPEM, serverKey)
	if err != nil {
		t.Fatal(err)
	}
	calleePEM, calleeKey, err := certs.SelfSigned([]string{"127.0.0.1"}, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM(calleePEM)
	h := start(t, func(c *sip.Config) {
		c.TLSListen = "127.0.0.1:0"
		c.TLS = &tls.Config{Certificates: []tls.Certificate{server}, MinVersion: tls.VersionTLS12}
		c.Outbound.TLS = &tls.Config{RootCAs: roots, MinVersion: tls.VersionTLS12}
	})
	l := h.listen(t, "lab")
	dir := t.TempDir()
	pem := filepath.Join(dir, "callee.pem") // baresip wants the certificate and its key in one file
	if err := os.WriteFile(pem, append(append([]byte{}, calleePEM...), calleeKey...), 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePortPair(t)
	done := make(chan error, 1)
	go func() {
		_, err := baresipWith(t, "", 10, baresipOpts{port: port, config: "module srtp.so\nsip_certificate " + pem,
			account: ";answermode=auto;mediaenc=srtp"})
		done <- err
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	// baresip serves TLS on the port after its sip_listen one.
	to := fmt.Sprintf("sip:+4915112345678@127.0.0.1:%d;transport=tls", port+1)
	var d sip.Dialled
	eventually(t, "baresip answers over TLS", func() bool {
		d, err = h.gw.Dial(ctx, "lab", to)
		return err == nil
	})
	eventually(t, "the room hears the callee", func() bool { return l.packets(d.Nick) > 50 })
	s := h.gw.Stats()
	t.Logf("RTP from the callee: %d received, %d of them SRTP, %d refused", s.RTPReceived, s.RTPSecured, s.RTPRefused)
	if s.RTPSecured < 50 || s.RTPSecured < s.RTPReceived {
		t.Errorf("%d of the callee's %d packets came as SRTP, want all (and >= 50)", s.RTPSecured, s.RTPReceived)
	}
	if err := l.room.Kick(ctx, d.Nick, "bye"); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("the callee: %v", err)
	}
	h.idle(t)
}

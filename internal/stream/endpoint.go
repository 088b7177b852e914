package stream

import (
	"crypto/sha256"
	"crypto/sha512"
	"crypto/tls"
	"crypto/x509"
)

// serverCertificate is the certificate the server side of the connection
// presented: the peer's on the client side, ours (looked up again in
// ServerTLS, as the handshake chose it) on the server side.
func (t *TCP) serverCertificate(cs tls.ConnectionState) *x509.Certificate {
	if t.client || t.cfg.ServerTLS == nil {
		// A client: the server's certificate is the peer's. (A server
		// without ServerTLS finds none there: clients rarely present one.)
		if t.client && len(cs.PeerCertificates) > 0 {
			return cs.PeerCertificates[0]
		}
		return nil
	}
	cfg := t.cfg.ServerTLS
	var cert *tls.Certificate
	switch {
	case cfg.GetCertificate != nil:
		cert, _ = cfg.GetCertificate(&tls.ClientHelloInfo{ServerName: cs.ServerName})
	case len(cfg.Certificates) > 0:
		cert = &cfg.Certificates[0]
		for i := range cfg.Certificates {
			c := &cfg.Certificates[i]
			if leaf := leafOf(c); leaf != nil && cs.ServerName != "" && leaf.VerifyHostname(cs.ServerName) == nil {
				cert = c
				break
			}
		}
	}
	if cert == nil {
		return nil
	}
	return leafOf(cert)
}

func leafOf(c *tls.Certificate) *x509.Certificate {
	if c.Leaf != nil {
		return c.Leaf
	}
	if len(c.Certificate) == 0 {
		return nil
	}
	leaf, err := x509.ParseCertificate(c.Certificate[0])
	if err != nil {
		return nil
	}
	return leaf
}

// serverEndPoint is RFC 5929 §4.1's tls-server-end-point: the certificate
// hashed with its signature's hash function, SHA-256 for MD5, SHA-1 and
// signatures without one (Ed25519).
func serverEndPoint(cert *x509.Certificate) []byte {
	if cert == nil {
		return nil
	}
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		sum := sha512.Sum384(cert.Raw)
		return sum[:]
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		sum := sha512.Sum512(cert.Raw)
		return sum[:]
	}
	sum := sha256.Sum256(cert.Raw)
	return sum[:]
}

package stream

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"math/big"
	"testing"
	"time"
)

// RFC 5929 §4.1: the certificate's own signature hash, SHA-256 for SHA-1,
// MD5 and hashless signatures.
func TestServerEndPointHash(t *testing.T) {
	make := func(alg x509.SignatureAlgorithm, pub, priv any) *x509.Certificate {
		tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), NotBefore: time.Now(), NotAfter: time.Now().Add(time.Hour), SignatureAlgorithm: alg}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, pub, priv)
		if err != nil {
			t.Fatal(err)
		}
		c, err := x509.ParseCertificate(der)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	k384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	c384 := make(x509.ECDSAWithSHA384, &k384.PublicKey, k384)
	if want := sha512.Sum384(c384.Raw); string(serverEndPoint(c384)) != string(want[:]) {
		t.Fatal("ECDSA-SHA384 certificate not hashed with SHA-384")
	}
	k256, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	c256 := make(x509.ECDSAWithSHA256, &k256.PublicKey, k256)
	if want := sha256.Sum256(c256.Raw); string(serverEndPoint(c256)) != string(want[:]) {
		t.Fatal("ECDSA-SHA256 certificate not hashed with SHA-256")
	}
	pub, priv, _ := ed25519.GenerateKey(rand.Reader)
	ced := make(x509.PureEd25519, pub, priv)
	if want := sha256.Sum256(ced.Raw); string(serverEndPoint(ced)) != string(want[:]) {
		t.Fatal("Ed25519 certificate not hashed with SHA-256")
	}
	if serverEndPoint(nil) != nil {
		t.Fatal("binding data without a certificate")
	}
}

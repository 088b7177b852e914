package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"os"
)

// jwk is one key of a JWKS (RFC 7517/7518/8037), public parts only.
type jwk struct {
	Kty string `json:"kty"`
	Kid string `json:"kid"`
	Use string `json:"use"`
	Crv string `json:"crv"`
	N   string `json:"n"`
	E   string `json:"e"`
	X   string `json:"x"`
	Y   string `json:"y"`
}

// parseJWKS reads the public keys of a JWKS document. golang-jwt has no
// JWKS reader; the three key types parley accepts are a few lines each.
// Keys of other types, or meant for encryption, are skipped.
func parseJWKS(data []byte) ([]namedKey, error) {
	var doc struct {
		Keys []jwk `json:"keys"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		return nil, fmt.Errorf("not a JWKS document: %w", err)
	}
	var out []namedKey
	for i, k := range doc.Keys {
		if k.Use == "enc" {
			continue
		}
		key, err := k.publicKey()
		if err != nil {
			return nil, fmt.Errorf("key %d (kid %q): %w", i, k.Kid, err)
		}
		if key != nil {
			out = append(out, namedKey{kid: k.Kid, key: key})
		}
	}
	if len(out) == 0 {
		return nil, errors.New("no RSA, EC P-256 or Ed25519 signing key")
	}
	return out, nil
}

func (k jwk) publicKey() (any, error) {
	switch {
	case k.Kty == "RSA":
		n, err1 := b64int(k.N)
		e, err2 := b64int(k.E)
		if err1 != nil || err2 != nil || !e.IsInt64() || n.BitLen() < 2048 {
			return nil, errors.New("bad RSA key (n, e; at least 2048 bits)")
		}
		return &rsa.PublicKey{N: n, E: int(e.Int64())}, nil
	case k.Kty == "EC" && k.Crv == "P-256":
		x, err1 := b64int(k.X)
		y, err2 := b64int(k.Y)
		if err1 != nil || err2 != nil {
			return nil, errors.New("bad EC key (x, y)")
		}
		// Check the point through the standard encoding: ecdh rejects
		// points off the curve.
		raw := append([]byte{4}, append(x.FillBytes(make([]byte, 32)), y.FillBytes(make([]byte, 32))...)...)
		pub, err := ecdsa.ParseUncompressedPublicKey(elliptic.P256(), raw)
		if err != nil {
			return nil, errors.New("EC point not on P-256")
		}
		return pub, nil
	case k.Kty == "OKP" && k.Crv == "Ed25519":
		x, err := base64.RawURLEncoding.DecodeString(k.X)
		if err != nil || len(x) != ed25519.PublicKeySize {
			return nil, errors.New("bad Ed25519 key (x)")
		}
		return ed25519.PublicKey(x), nil
	}
	return nil, nil
}

func b64int(s string) (*big.Int, error) {
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) == 0 {
		return nil, errors.New("bad base64url integer")
	}
	return new(big.Int).SetBytes(b), nil
}

// LoadPublicKeys reads PEM public keys (PKIX "PUBLIC KEY" blocks, or
// certificates) from a file: RSA, EC P-256 or Ed25519.
func LoadPublicKeys(path string) ([]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var out []any
	for {
		var block *pem.Block
		block, data = pem.Decode(data)
		if block == nil {
			break
		}
		switch block.Type {
		case "PUBLIC KEY":
			k, err := x509.ParsePKIXPublicKey(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, k)
		case "CERTIFICATE":
			c, err := x509.ParseCertificate(block.Bytes)
			if err != nil {
				return nil, fmt.Errorf("%s: %w", path, err)
			}
			out = append(out, c.PublicKey)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: no PEM PUBLIC KEY or CERTIFICATE", path)
	}
	return out, nil
}

package token

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

var (
	secret = []byte("0123456789abcdef0123456789abcdef")
	now    = time.Date(2026, 12, 7, 3, 0, 0, 0, time.UTC)
)

func clock() time.Time { return now }

func sign(t *testing.T, m jwt.SigningMethod, key any, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(m, c).SignedString(key)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func base(extra map[string]any) jwt.MapClaims {
	c := jwt.MapClaims{"sub": "alice", "exp": now.Add(time.Hour).Unix(), "nbf": now.Add(-time.Minute).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	return c
}

func wantReason(t *testing.T, err error, r Reason) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want refusal %s", r)
	}
	var re *RefusedError
	if !errors.As(err, &re) || re.Reason != r {
		t.Fatalf("error %v; want reason %s", err, r)
	}
	if !errors.Is(err, &RefusedError{Reason: r}) {
		t.Fatal("errors.Is does not match the reason")
	}
}

func TestHS256AcceptsJitsiLayout(t *testing.T) {
	v, err := New(Config{Secret: secret, Clock: clock, Audience: "parley", Issuer: "game-platform"})
	if err != nil {
		t.Fatal(err)
	}
	raw := sign(t, jwt.SigningMethodHS256, secret, base(map[string]any{
		"aud": "parley", "iss": "game-platform", "sub": "meet.example.com", "room": "*",
		"context": map[string]any{"user": map[string]any{"id": "u-42", "name": "Ada Lovelace", "avatar": "https://a.example/ada.png", "moderator": "true"}},
	}))
	id, err := v.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.Name != "Ada Lovelace" || id.UserID != "u-42" || id.Avatar != "https://a.example/ada.png" || !id.Moderator {
		t.Fatalf("identity %+v", id)
	}
	if err := id.AllowsRoom("anything"); err != nil {
		t.Fatalf("room * refused: %v", err)
	}
	if id.Localpart() != SubjectLocalpart("u-42") || !strings.HasPrefix(id.Localpart(), "tok-") {
		t.Fatalf("localpart %q", id.Localpart())
	}
	if got := v.Refusals()["accepted"]; got != 1 {
		t.Fatalf("accepted count %d", got)
	}
}

func TestJitsiUsersWithoutIDAreToldApart(t *testing.T) {
	v, _ := New(Config{Secret: secret, Clock: clock})
	ids := map[string]bool{}
	for _, user := range []map[string]any{{"name": "Ann"}, {"name": "Bob"}, {"email": "c@example.com", "name": "Ann"}, {}} {
		c := base(map[string]any{"sub": "meet.example.com"})
		if len(user) > 0 {
			c["context"] = map[string]any{"user": user}
		}
		id, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, c))
		if err != nil {
			t.Fatal(err)
		}
		ids[id.Localpart()] = true
	}
	if len(ids) != 4 {
		t.Fatalf("users of one tenant share an identity: %v", ids)
	}
}

func TestParleyClaim(t *testing.T) {
	v, _ := New(Config{Secret: secret, Clock: clock})
	raw := sign(t, jwt.SigningMethodHS256, secret, base(map[string]any{
		"parley":    map[string]any{"role": "guest", "perms": []string{"join", "chat"}, "overrides": map[string]bool{"publish_audio": true}},
		"moderator": true,
	}))
	id, err := v.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.Role != "guest" || fmt.Sprint(id.Perms) != "[join chat]" || !id.Overrides["publish_audio"] || !id.Moderator {
		t.Fatalf("identity %+v", id)
	}
}

func TestRefusals(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	otherRSA, _ := rsa.GenerateKey(rand.Reader, 2048)
	hsOnly, _ := New(Config{Secret: secret, Clock: clock, Audience: "parley", Issuer: "iss"})
	pubOnly, _ := New(Config{PublicKeys: []any{&rsaKey.PublicKey, &ecKey.PublicKey, edPub}, Clock: clock})
	good := func(extra map[string]any) jwt.MapClaims {
		return base(mergeMaps(map[string]any{"aud": "parley", "iss": "iss"}, extra))
	}
	rsaDER, _ := x509.MarshalPKIXPublicKey(&rsaKey.PublicKey)
	unsigned := func() string {
		h := base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"none","typ":"JWT"}`))
		b, _ := json.Marshal(good(nil))
		return h + "." + base64.RawURLEncoding.EncodeToString(b) + "."
	}()
	cases := []struct {
		name string
		v    *Verifier
		raw  string
		want Reason
	}{
		{"alg none", hsOnly, unsigned, ReasonAlgNone},
		{"alg None spelled otherwise", pubOnly, strings.Replace(unsigned, unsigned[:strings.Index(unsigned, ".")], base64.RawURLEncoding.EncodeToString([]byte(`{"alg":"NONE"}`)), 1), ReasonAlgNone},
		{"RS256 to an HS256-only server", hsOnly, sign(t, jwt.SigningMethodRS256, rsaKey, good(nil)), ReasonAlgorithm},
		{"HS256 signed with the RSA public key (key confusion)", pubOnly, sign(t, jwt.SigningMethodHS256, rsaDER, good(nil)), ReasonAlgorithm},
		{"HS384 not accepted", hsOnly, sign(t, jwt.SigningMethodHS384, secret, good(nil)), ReasonAlgorithm},
		{"wrong secret", hsOnly, sign(t, jwt.SigningMethodHS256, []byte("another secret, 32 bytes long!!"), good(nil)), ReasonSignature},
		{"wrong RSA key", pubOnly, sign(t, jwt.SigningMethodRS256, otherRSA, good(nil)), ReasonSignature},
		{"tampered body", hsOnly, tamper(sign(t, jwt.SigningMethodHS256, secret, good(nil))), ReasonSignature},
		{"expired", hsOnly, sign(t, jwt.SigningMethodHS256, secret, good(map[string]any{"exp": now.Add(-time.Minute).Unix()})), ReasonExpired},
		{"not yet valid", hsOnly, sign(t, jwt.SigningMethodHS256, secret, good(map[string]any{"nbf": now.Add(time.Minute).Unix()})), ReasonNotYetValid},
		{"wrong audience", hsOnly, sign(t, jwt.SigningMethodHS256, secret, good(map[string]any{"aud": "someone-else"})), ReasonAudience},
		{"no audience", hsOnly, sign(t, jwt.SigningMethodHS256, secret, base(map[string]any{"iss": "iss"})), ReasonAudience},
		{"wrong issuer", hsOnly, sign(t, jwt.SigningMethodHS256, secret, good(map[string]any{"iss": "mallory"})), ReasonIssuer},
		{"garbage", hsOnly, "not.a.token", ReasonMalformed},
		{"no exp", hsOnly, sign(t, jwt.SigningMethodHS256, secret, jwt.MapClaims{"sub": "a", "aud": "parley", "iss": "iss"}), ReasonMalformed},
		{"no user", hsOnly, sign(t, jwt.SigningMethodHS256, secret, good(map[string]any{"sub": ""})), ReasonMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			before := c.v.Refusals()[c.want.String()]
			_, err := c.v.Verify(c.raw)
			wantReason(t, err, c.want)
			if after := c.v.Refusals()[c.want.String()]; after != before+1 {
				t.Fatalf("counter %s went from %d to %d", c.want, before, after)
			}
		})
	}
	// The same public keys accept their own algorithms.
	for name, raw := range map[string]string{
		"RS256": sign(t, jwt.SigningMethodRS256, rsaKey, good(nil)),
		"ES256": sign(t, jwt.SigningMethodES256, ecKey, good(nil)),
		"EdDSA": sign(t, jwt.SigningMethodEdDSA, edPriv, good(nil)),
	} {
		if _, err := pubOnly.Verify(raw); err != nil {
			t.Errorf("%s refused: %v", name, err)
		}
	}
}

func TestLeeway(t *testing.T) {
	v, _ := New(Config{Secret: secret, Clock: clock, Leeway: 10 * time.Second})
	if _, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, base(map[string]any{"exp": now.Add(-5 * time.Second).Unix()}))); err != nil {
		t.Fatalf("5 s past exp within a 10 s leeway refused: %v", err)
	}
	_, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, base(map[string]any{"exp": now.Add(-15 * time.Second).Unix()})))
	wantReason(t, err, ReasonExpired)
}

func TestWrongRoom(t *testing.T) {
	v, _ := New(Config{Secret: secret, Clock: clock})
	id, err := v.Verify(sign(t, jwt.SigningMethodHS256, secret, base(map[string]any{"room": "Standup"})))
	if err != nil {
		t.Fatal(err)
	}
	if err := id.AllowsRoom("standup"); err != nil {
		t.Fatalf("same room, other case: %v", err)
	}
	err = id.AllowsRoom("board")
	wantReason(t, err, ReasonRoom)
	v.CountRefusal(err)
	if v.Refusals()["room"] != 1 {
		t.Fatal("room refusal not counted")
	}
}

func TestJWKS(t *testing.T) {
	rsaKey, _ := rsa.GenerateKey(rand.Reader, 2048)
	ecKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	edPub, edPriv, _ := ed25519.GenerateKey(rand.Reader)
	b64 := base64.RawURLEncoding.EncodeToString
	ecBytes, _ := ecKey.PublicKey.Bytes()
	doc := map[string]any{"keys": []map[string]string{
		{"kty": "RSA", "kid": "r1", "n": b64(rsaKey.N.Bytes()), "e": b64([]byte{1, 0, 1})},
		{"kty": "EC", "kid": "e1", "crv": "P-256", "x": b64(ecBytes[1:33]), "y": b64(ecBytes[33:])},
		{"kty": "OKP", "kid": "d1", "crv": "Ed25519", "x": b64(edPub)},
		{"kty": "oct", "kid": "ignored", "k": "c2VjcmV0"},
	}}
	data, _ := json.Marshal(doc)
	v, err := New(Config{JWKS: data, Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	if got := fmt.Sprint(v.Methods()); got != "[RS256 ES256 EdDSA]" {
		t.Fatalf("methods %s", got)
	}
	withKid := func(m jwt.SigningMethod, key any, kid string) string {
		tok := jwt.NewWithClaims(m, base(nil))
		tok.Header["kid"] = kid
		s, err := tok.SignedString(key)
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	for _, raw := range []string{withKid(jwt.SigningMethodRS256, rsaKey, "r1"), withKid(jwt.SigningMethodES256, ecKey, "e1"), withKid(jwt.SigningMethodEdDSA, edPriv, "d1")} {
		if _, err := v.Verify(raw); err != nil {
			t.Errorf("refused: %v", err)
		}
	}
	// A kid that names another key: the signature matches no key it names.
	_, err = v.Verify(withKid(jwt.SigningMethodRS256, rsaKey, "e1"))
	wantReason(t, err, ReasonSignature)
	if _, err := New(Config{JWKS: []byte(`{"keys":[{"kty":"EC","crv":"P-256","x":"AA","y":"AA"}]}`)}); err == nil {
		t.Fatal("an EC point off the curve was accepted")
	}
}

func TestMintRoundTrip(t *testing.T) {
	v, _ := New(Config{Secret: secret, Clock: clock, Audience: "parley"})
	raw, exp, err := v.Mint(MintRequest{User: "bob", Name: "Bob", Room: "standup", Moderator: true, TTL: time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	if !exp.Equal(now.Add(time.Minute)) {
		t.Fatalf("exp %v", exp)
	}
	id, err := v.Verify(raw)
	if err != nil {
		t.Fatal(err)
	}
	if id.UserID != "bob" || id.Name != "Bob" || id.Room != "standup" || !id.Moderator {
		t.Fatalf("identity %+v", id)
	}
	pub, _, _ := ed25519.GenerateKey(rand.Reader)
	pv, _ := New(Config{PublicKeys: []any{pub}})
	if _, _, err := pv.Mint(MintRequest{User: "x"}); !errors.Is(err, ErrCannotMint) {
		t.Fatalf("mint without a secret: %v", err)
	}
}

func tamper(raw string) string {
	parts := strings.Split(raw, ".")
	b, _ := base64.RawURLEncoding.DecodeString(parts[1])
	var m map[string]any
	json.Unmarshal(b, &m)
	m["sub"] = "mallory"
	b, _ = json.Marshal(m)
	parts[1] = base64.RawURLEncoding.EncodeToString(b)
	return strings.Join(parts, ".")
}

func mergeMaps(a, b map[string]any) map[string]any {
	for k, v := range b {
		a[k] = v
	}
	return a
}

package xmpp_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
	"parley.dev/parley/internal/xmppclient"
)

var tokenSecret = []byte("a shared secret of 32 bytes ....")

func signToken(t *testing.T, c jwt.MapClaims) string {
	t.Helper()
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(tokenSecret)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func jitsiClaims(exp time.Time) jwt.MapClaims {
	return jwt.MapClaims{
		"iss": "platform", "sub": "meet.example", "aud": "jitsi", "room": "*", "exp": exp.Unix(),
		"context": map[string]any{"user": map[string]any{"id": "u-7", "name": "Grace Hopper"}},
	}
}

func tokenHarness(t *testing.T, withTokens bool) *harness {
	return newHarness(t, func(c *xmpp.Config) {
		c.AllowAnonymous = false
		if withTokens {
			v, err := token.New(token.Config{Secret: tokenSecret})
			if err != nil {
				t.Fatal(err)
			}
			c.Tokens = v
		}
	})
}

func TestTokenLoginOverWebSocket(t *testing.T) {
	h := tokenHarness(t, true)
	c := h.dial("", true, func(cfg *xmppclient.Config) { cfg.Token = signToken(t, jitsiClaims(time.Now().Add(time.Hour))) })
	if want := token.SubjectLocalpart("u-7"); c.JID().Local != want {
		t.Fatalf("bound %s, want localpart %s", c.JID(), want)
	}
	id, ok := h.srv.IdentityOf(c.JID())
	if !ok || id.Kind != xmpp.IdentityToken || id.Token.Name != "Grace Hopper" {
		t.Fatalf("identity %+v %v", id, ok)
	}
	// The same user again gets the same bare JID: a returning user keeps it.
	c2 := h.dial("", true, func(cfg *xmppclient.Config) { cfg.Token = signToken(t, jitsiClaims(time.Now().Add(time.Hour))) })
	if c2.JID().Bare() != c.JID().Bare() {
		t.Fatalf("second login %s, first %s", c2.JID(), c.JID())
	}
}

func TestTokenLoginOverTCPWithOAuthBearer(t *testing.T) {
	h := tokenHarness(t, true)
	c := h.dial("", false, func(cfg *xmppclient.Config) { cfg.Token = signToken(t, jitsiClaims(time.Now().Add(time.Hour))) })
	if id, ok := h.srv.IdentityOf(c.JID()); !ok || id.Kind != xmpp.IdentityToken || id.Token.UserID != "u-7" {
		t.Fatalf("identity %+v", id)
	}
	// Accounts still log in next to tokens, and say so.
	a := h.dial("alice", false, nil)
	if id, _ := h.srv.IdentityOf(a.JID()); id.Kind != xmpp.IdentityAccount {
		t.Fatalf("alice's identity %v", id.Kind)
	}
}

func TestBadTokenIsRefusedNotDowngraded(t *testing.T) {
	cases := []struct {
		name       string
		withTokens bool
		ws         bool
		raw        string
		text       string
	}{
		{"expired over WebSocket", true, true, signToken(t, jitsiClaims(time.Now().Add(-time.Hour))), "expired"},
		{"expired over TCP", true, false, signToken(t, jitsiClaims(time.Now().Add(-time.Hour))), "expired"},
		{"garbage", true, true, "abc.def.ghi", "malformed"},
		{"a server without tokens", false, true, signToken(t, jitsiClaims(time.Now().Add(time.Hour))), "accepts no tokens"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			h := newHarness(t, func(cfg *xmpp.Config) {
				cfg.AllowAnonymous = true // even with guests on, a bad token is no guest
				if c.withTokens {
					cfg.Tokens, _ = token.New(token.Config{Secret: tokenSecret})
				}
			})
			_, err := h.tryDial("", c.ws, func(cfg *xmppclient.Config) {
				cfg.Token = c.raw
				if !c.ws && !c.withTokens {
					cfg.Mechanism = "ANONYMOUS"
				}
			})
			var xe *xmppclient.Error
			if !errors.As(err, &xe) || xe.Step != "sasl" || xe.Condition != "not-authorized" || !strings.Contains(xe.Text, c.text) {
				t.Fatalf("got %v; want SASL not-authorized mentioning %q", err, c.text)
			}
		})
	}
}

func TestNoAnonymousWithoutToken(t *testing.T) {
	h := tokenHarness(t, true)
	_, err := h.tryDial("", true, nil)
	var xe *xmppclient.Error
	if !errors.As(err, &xe) || xe.Condition != "no-usable-mechanism" {
		t.Fatalf("a guest without a token on a --no-anonymous server: %v", err)
	}
}

func TestGuestResumption(t *testing.T) {
	resume, err := token.New(token.Config{Secret: []byte("the server's own resumption secret")})
	if err != nil {
		t.Fatal(err)
	}
	h := newHarness(t, func(c *xmpp.Config) { c.Resume = resume })
	g := h.dial("", true, nil)
	res, err := iq(ctx5(t), t, g, "get", "", xmlstream.New(xmpp.NSResume, "resume"))
	if err != nil {
		t.Fatal(err)
	}
	raw := res.Child(xmpp.NSResume, "resume").Attr("token")
	if raw == "" {
		t.Fatalf("no token: %s", res)
	}
	g.Close()
	back := h.dial("", true, func(c *xmppclient.Config) { c.Address += "?resume=" + raw })
	if back.JID().Bare() != g.JID().Bare() {
		t.Fatalf("resumed as %s, was %s", back.JID(), g.JID())
	}
	if id, _ := h.srv.IdentityOf(back.JID()); id.Kind != xmpp.IdentityGuest {
		t.Fatalf("kind %v", id.Kind)
	}
	// A forged or foreign token is refused, not a new guest.
	other, _ := token.New(token.Config{Secret: []byte("somebody else's secret, 32 bytes")})
	forged, _, _ := other.Mint(token.MintRequest{User: g.JID().Local})
	_, err = h.tryDial("", true, func(c *xmppclient.Config) { c.Address += "?resume=" + forged })
	var xe *xmppclient.Error
	if !errors.As(err, &xe) || xe.Condition != "not-authorized" {
		t.Fatalf("forged resumption: %v", err)
	}
	// With guests off, a resumption token brings no guest back.
	off := newHarness(t, func(c *xmpp.Config) { c.Resume = resume; c.AllowAnonymous = false })
	if _, err := off.tryDial("", true, func(c *xmppclient.Config) { c.Address += "?resume=" + raw }); !errors.As(err, &xe) || xe.Condition != "no-usable-mechanism" {
		t.Fatalf("resumption with guests off: %v", err)
	}
	// Accounts get no resumption token: they log in again as themselves.
	a := h.dial("alice", true, nil)
	if _, err := iq(ctx5(t), t, a, "get", "", xmlstream.New(xmpp.NSResume, "resume")); err == nil {
		t.Fatal("an account got a resumption token")
	}
}

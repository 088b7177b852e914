package token

import (
	"encoding/json"
	"errors"
	"strconv"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// claims is the token body: the registered claims, Jitsi's layout and
// parley's own claim.
type claims struct {
	jwt.RegisteredClaims
	Room      string          `json:"room,omitempty"`
	Moderator json.RawMessage `json:"moderator,omitempty"` // bool or "true"
	Context   *jitsiContext   `json:"context,omitempty"`
	Parley    *ParleyClaim    `json:"parley,omitempty"`
}

type jitsiContext struct {
	User *jitsiUser `json:"user,omitempty"`
}

type jitsiUser struct {
	ID        string          `json:"id,omitempty"`
	Name      string          `json:"name,omitempty"`
	Avatar    string          `json:"avatar,omitempty"`
	Email     string          `json:"email,omitempty"`
	Moderator json.RawMessage `json:"moderator,omitempty"` // JaaS writes "true"
}

// ParleyClaim is parley's own claim, "parley": a role, and either a whole
// permission set or overrides of the role's defaults.
type ParleyClaim struct {
	Role      string          `json:"role,omitempty"`
	Perms     []string        `json:"perms,omitempty"`
	Overrides map[string]bool `json:"overrides,omitempty"`
}

// flexBool reads true, "true", 1 or "1" as true; absent is false.
func flexBool(raw json.RawMessage) (bool, error) {
	if len(raw) == 0 || string(raw) == "null" {
		return false, nil
	}
	var b bool
	if err := json.Unmarshal(raw, &b); err == nil {
		return b, nil
	}
	var s string
	if err := json.Unmarshal(raw, &s); err == nil {
		if v, err := strconv.ParseBool(s); err == nil {
			return v, nil
		}
	}
	var n int
	if err := json.Unmarshal(raw, &n); err == nil {
		return n != 0, nil
	}
	return false, errors.New("moderator is not a boolean")
}

// identity extracts who the claims name.
func (c *claims) identity() (*Identity, error) {
	id := &Identity{Issuer: c.Issuer, Subject: c.Subject, UserID: c.Subject, Room: c.Room}
	mod, err := flexBool(c.Moderator)
	if err != nil {
		return nil, err
	}
	if c.Context != nil && c.Context.User != nil {
		u := c.Context.User
		id.Name, id.Avatar, id.Email = u.Name, u.Avatar, u.Email
		// Jitsi's sub is the tenant, shared by all its users: without an
		// id, tell users apart by e-mail, else by name.
		switch {
		case u.ID != "":
			id.UserID = u.ID
		case u.Email != "":
			id.UserID = "email:" + u.Email
		case u.Name != "":
			id.UserID = c.Subject + "/name:" + u.Name
		}
		um, err := flexBool(u.Moderator)
		if err != nil {
			return nil, err
		}
		mod = mod || um
	}
	id.Moderator = mod
	if c.Parley != nil {
		id.Role, id.Perms, id.Overrides = c.Parley.Role, c.Parley.Perms, c.Parley.Overrides
	}
	if id.UserID == "" {
		return nil, errors.New("the token names no user (sub or context.user.id)")
	}
	if c.ExpiresAt != nil {
		id.Expires = c.ExpiresAt.Time
	}
	return id, nil
}

// MintRequest is what Mint puts in a token.
type MintRequest struct {
	User      string        // sub and context.user.id; required
	Name      string        // context.user.name
	Avatar    string        // context.user.avatar
	Room      string        // "" or "*": any room
	Moderator bool          // Jitsi's moderator claim
	Parley    *ParleyClaim  // parley's claim; nil: none
	TTL       time.Duration // lifetime; default 1 h
	Audience  string        // aud; default none
	Issuer    string        // iss; default none
}

// ErrCannotMint is returned by Mint without a shared secret: parley keeps
// no private keys.
var ErrCannotMint = errors.New("token: minting needs the HS256 secret (--jwt-secret-file)")

// Mint signs a token with the shared secret (HS256). The Verifier's own
// Audience and Issuer are used when the request names none.
func (v *Verifier) Mint(req MintRequest) (string, time.Time, error) {
	kr := v.ring.Load()
	if len(kr.cfg.Secret) == 0 {
		return "", time.Time{}, ErrCannotMint
	}
	if req.User == "" {
		return "", time.Time{}, errors.New("token: a user is required")
	}
	if req.TTL <= 0 {
		req.TTL = time.Hour
	}
	if req.Audience == "" {
		req.Audience = kr.cfg.Audience
	}
	if req.Issuer == "" {
		req.Issuer = kr.cfg.Issuer
	}
	now := kr.cfg.Clock()
	exp := now.Add(req.TTL).Truncate(time.Second)
	c := claims{
		RegisteredClaims: jwt.RegisteredClaims{
			Subject:   req.User,
			Issuer:    req.Issuer,
			IssuedAt:  jwt.NewNumericDate(now),
			NotBefore: jwt.NewNumericDate(now),
			ExpiresAt: jwt.NewNumericDate(exp),
		},
		Room:    req.Room,
		Context: &jitsiContext{User: &jitsiUser{ID: req.User, Name: req.Name, Avatar: req.Avatar}},
		Parley:  req.Parley,
	}
	if req.Audience != "" {
		c.Audience = jwt.ClaimStrings{req.Audience}
	}
	if req.Moderator {
		c.Moderator = json.RawMessage("true")
	}
	s, err := jwt.NewWithClaims(jwt.SigningMethodHS256, c).SignedString(kr.cfg.Secret)
	return s, exp, err
}

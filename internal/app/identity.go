package app

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"

	"parley.dev/parley/internal/admin"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/token"
	"parley.dev/parley/internal/xmpp"
)

// TokenConfig turns JWT logins on. Every field is optional; tokens are on
// when a secret, public keys or a JWKS file is given.
type TokenConfig struct {
	SecretFile    string        // HS256 shared secret (the file's content, trimmed)
	PublicKeyFile string        // PEM public keys (RS256, ES256, EdDSA)
	JWKSFile      string        // a JWKS document of public keys
	Audience      string        // required aud; default: not checked
	Issuer        string        // required iss; default: not checked
	Leeway        time.Duration // clock skew on exp/nbf; default 30 s
}

// loadTokens builds the verifier; nil when tokens are off.
func loadTokens(tc TokenConfig) (*token.Verifier, error) {
	if !tc.on() {
		return nil, nil
	}
	cfg, err := tc.read()
	if err != nil {
		return nil, err
	}
	v, err := token.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	return v, nil
}

// on says whether token logins are configured.
func (tc TokenConfig) on() bool {
	return tc.SecretFile != "" || tc.PublicKeyFile != "" || tc.JWKSFile != ""
}

// read reads the key files into a verifier's configuration.
func (tc TokenConfig) read() (token.Config, error) {
	cfg := token.Config{Audience: tc.Audience, Issuer: tc.Issuer, Leeway: tc.Leeway}
	if tc.SecretFile != "" {
		secret, err := ReadSecretFile(tc.SecretFile)
		if err != nil {
			return cfg, fmt.Errorf("--jwt-secret-file: %w", err)
		}
		cfg.Secret = []byte(secret)
	}
	if tc.PublicKeyFile != "" {
		keys, err := token.LoadPublicKeys(tc.PublicKeyFile)
		if err != nil {
			return cfg, fmt.Errorf("--jwt-public-key-file: %w", err)
		}
		cfg.PublicKeys = keys
	}
	if tc.JWKSFile != "" {
		data, err := os.ReadFile(tc.JWKSFile)
		if err != nil {
			return cfg, fmt.Errorf("--jwt-jwks-file: %w", err)
		}
		cfg.JWKS = data
	}
	return cfg, nil
}

// loadResume builds the signer of guests' resumption tokens, with a secret
// kept in DATA/resume-secret (made on first start): tokens survive restarts.
func loadResume(dataDir string) (*token.Verifier, error) {
	secret, err := loadOrCreateSecret(filepath.Join(dataDir, "resume-secret"))
	if err != nil {
		return nil, fmt.Errorf("resume secret: %w", err)
	}
	return token.New(token.Config{Secret: []byte(secret), Audience: "parley-resume"})
}

// ReadSecretFile reads a secret kept in a file, without surrounding white
// space; an empty file is an error. The parley command's X-file settings
// use it too.
func ReadSecretFile(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	s := strings.TrimSpace(string(data))
	if s == "" {
		return "", errors.New(path + " is empty")
	}
	return s, nil
}

// identify tells MUC how an occupant's session authenticated.
func (p *parley) identify(real jid.JID) muc.Identity {
	if p.recordings != nil && p.recordings.IsRecorder(real) {
		return recorderIdentity()
	}
	id, ok := p.xmpp.IdentityOf(real)
	if !ok {
		return muc.Identity{}
	}
	switch id.Kind {
	case xmpp.IdentityAccount:
		return muc.Identity{Kind: muc.IdentityAccount}
	case xmpp.IdentityGuest:
		return muc.Identity{Kind: muc.IdentityGuest, Anonymous: true}
	case xmpp.IdentityToken:
		o, err := tokenOverrides(id.Token)
		if err != nil {
			// Verified at login (claims are checked there too): cannot
			// happen, but never grant on a claim that does not parse.
			p.log.Warn("token permissions unreadable; none granted", "user", id.Token.UserID, "err", err)
			o = perm.Overrides{Revoke: perm.Full}
		}
		return muc.Identity{Kind: muc.IdentityToken, Token: id.Token, Overrides: o, Moderator: id.Token.Moderator}
	}
	return muc.Identity{}
}

// tokenOverrides turns the parley claim's permissions into overrides: a
// whole set ("perms") grants those and revokes the rest; "overrides" then
// change one permission at a time; role viewer withholds publishing.
func tokenOverrides(t *token.Identity) (perm.Overrides, error) {
	var o perm.Overrides
	if t.Role == string(perm.Viewer) {
		o = perm.Overrides{Revoke: perm.Of(perm.PublishAudio, perm.PublishVideo, perm.PublishScreen)}
	}
	if t.Perms != nil {
		set, err := perm.ParseNames(t.Perms)
		if err != nil {
			return o, err
		}
		o = perm.Overrides{Grant: set, Revoke: perm.Full &^ set}
	}
	if t.Overrides != nil {
		more, err := perm.OverridesFromMap(t.Overrides)
		if err != nil {
			return o, err
		}
		o = o.Then(more)
	}
	return o, nil
}

// tokenRefused counts a join refused for a token's room claim with the
// token's other refusals.
func (p *parley) tokenRefused(err error) {
	if p.tokens != nil {
		p.tokens.CountRefusal(err)
	}
}

// openAdmin opens the admin listener and mounts the API on its mux.
func (p *parley) openAdmin() error {
	cfg := p.cfg
	ln := cfg.AdminListener
	if ln == nil && cfg.Admin == "" {
		return nil
	}
	tok := ""
	if cfg.AdminTokenFile != "" {
		var err error
		if tok, err = ReadSecretFile(cfg.AdminTokenFile); err != nil {
			return fmt.Errorf("--admin-token-file: %w", err)
		}
	}
	if ln == nil {
		var err error
		if ln, err = net.Listen("tcp", cfg.Admin); err != nil {
			if cfg.AdminOptional {
				p.log.Warn("admin API off: cannot listen on the default --admin address", "addr", cfg.Admin, "err", err)
				return nil
			}
			return fmt.Errorf("--admin: %w", err)
		}
	}
	p.adminLn = ln
	p.adminMux = http.NewServeMux()
	admin.New(admin.Config{Token: tok, Rooms: p.muc, Tokens: p.tokens, Stats: p.identityStats, Drain: p.drainStatus,
		StartTrace: p.startTrace, Recordings: p.adminRecordings(), Trace: p.traceOf, Conferences: p.conferenceStats,
		Dial: cfg.Dial, DialIn: cfg.DialIn,
		Bridges: func() any { return p.bridges.Bridges() }, DrainBridge: p.bridges.Drain,
		Logger: cfg.Logger.With("part", "admin")}).Register(p.adminMux)
	p.admin = &http.Server{Handler: p.adminMux, ReadHeaderTimeout: 10 * time.Second,
		ErrorLog: slog.NewLogLogger(p.log.Handler(), slog.LevelDebug)}
	return nil
}

// identityStats are the counters of logins and rooms for GET /api/stats:
// token refusals by reason, and the MUC's counters (joins refused for a
// token's room, guests, undeclared rooms; knocks; permission refusals).
func (p *parley) identityStats() any {
	out := map[string]any{"muc": p.muc.Stats()}
	if p.tokens != nil {
		out["tokens"] = p.tokens.Refusals()
	}
	return out
}

// serveAdmin serves the admin mux on its listener.
func (p *parley) serveAdmin() {
	if p.admin == nil {
		return
	}
	p.log.Info("admin API listening", "addr", p.adminLn.Addr().String())
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		if err := p.admin.Serve(p.adminLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.log.Error("admin server stopped", "err", err)
		}
	}()
}

package app

import (
	"path/filepath"
	"reflect"
)

// reloadable lists the settings that reload applies; every other field of
// Config that differs is reported as needing a restart.
var reloadable = map[string]bool{
	"TURNSecret": true, "Tokens": true,
	// Set by the caller for each Run, not settings.
	"Logger": true, "Reloads": true, "Drain": true, "Ready": true, "HTTPListener": true, "C2SListener": true,
	"AdminListener": true, "ACMEHTTPClient": true, "Recordings": true,
}

// reload applies new settings while calls carry on: the TURN secret
// rotates (credentials issued before stay good for their life). Log levels
// are the caller's (it owns the logger). Declared rooms are reread when
// their files change, without a reload.
func (p *parley) reload(next Config) {
	next.setDefaults()
	if err := next.Check(); err != nil {
		p.log.Error("reload refused", "err", err)
		return
	}
	p.rotateTURNSecret(next)
	p.reloadTokens(next.Tokens)
	var restart []string
	old, nv := reflect.ValueOf(p.cfg), reflect.ValueOf(next)
	for i := 0; i < old.NumField(); i++ {
		name := old.Type().Field(i).Name
		if reloadable[name] || !old.Type().Field(i).IsExported() {
			continue
		}
		if !reflect.DeepEqual(old.Field(i).Interface(), nv.Field(i).Interface()) {
			restart = append(restart, name)
		}
	}
	if len(restart) > 0 {
		p.log.Warn("reload: these settings changed and need a restart", "settings", restart)
	}
	p.log.Info("reloaded")
}

// rotateTURNSecret gives TURN the configured secret, or the one in the
// data folder (which an operator may have replaced).
func (p *parley) rotateTURNSecret(next Config) {
	secret := next.TURNSecret
	if secret == "" {
		var err error
		if secret, err = loadOrCreateSecret(filepath.Join(p.cfg.DataDir, "turn-secret")); err != nil {
			p.log.Error("reload: turn secret", "err", err)
			return
		}
	}
	if err := p.port.turn.RotateSecret(secret, turnCredentialTTL); err != nil {
		p.log.Error("reload: turn secret", "err", err)
		return
	}
	p.cfg.TURNSecret = next.TURNSecret
}

// reloadTokens reads the token keys again (files the operator rotated).
// Turning tokens on or off needs a restart: the login paths are built at
// start.
func (p *parley) reloadTokens(tc TokenConfig) {
	switch {
	case p.tokens == nil && !tc.on():
		return
	case p.tokens == nil || !tc.on():
		p.log.Warn("reload: turning token logins on or off needs a restart")
		return
	}
	cfg, err := tc.read()
	if err == nil {
		err = p.tokens.Reload(cfg)
	}
	if err != nil {
		p.log.Error("reload: token keys kept as they were", "err", err)
		return
	}
	p.cfg.Tokens = tc
	p.log.Info("token keys reloaded", "methods", p.tokens.Methods())
}

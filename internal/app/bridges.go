package app

import (
	"fmt"
	"slices"
	"strings"

	"parley.dev/parley/internal/bridge"
	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/remotebridge"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
	"parley.dev/parley/internal/xmpp"
)

// BridgesConfig says where conferences' media go (docs/ARCHITECTURE.md,
// internal/remotebridge): the in-process SFU and the bridges that join
// the brewery.
type BridgesConfig struct {
	// NoLocal places conferences on remote bridges only
	// (--local-bridge=false). Default false: the in-process SFU is a
	// bridge too, so a bare parley serve does everything.
	NoLocal bool
	// Brewery is the room bridges join. Default
	// jvbbrewery@internal.<domain>, a non-anonymous room of the MUC
	// service internal.<domain>, which takes no guests.
	Brewery string
	// Users are the accounts (names, comma separated) allowed to be
	// bridges. Default "jvb".
	Users string
	// Spread is how many bridges one conference may span, joined by
	// relays (remotebridge.Config.Spread; --bridge-spread). Default 1.
	Spread int
}

// brewery returns the brewery's JID, checked.
func (c Config) brewery() (jid.JID, error) {
	b := c.Bridges.Brewery
	if b == "" {
		b = "jvbbrewery@internal." + c.Domain
	}
	j, err := jid.Parse(b)
	if err != nil || j.Local == "" || !j.IsBare() {
		return jid.JID{}, fmt.Errorf("--brewery %q: not a room's bare JID", b)
	}
	return j, nil
}

// bridgeUsers are the bare JIDs allowed to be bridges.
func (c Config) bridgeUsers() []jid.JID {
	users := c.Bridges.Users
	if users == "" {
		users = "jvb"
	}
	var out []jid.JID
	for _, u := range strings.Split(users, ",") {
		if j, err := jid.Parse(strings.TrimSpace(u) + "@" + c.Domain); err == nil {
			out = append(out, j)
		}
	}
	return out
}

// startBridges builds the pool of bridges the focus places conferences
// on, and, when the brewery is on this server, its MUC service.
func (p *parley) startBridges(focusDomain string, local bridge.Server) error {
	cfg := p.cfg
	brewery, err := cfg.brewery()
	if err != nil {
		return err
	}
	if brewery.Domain != p.mucDomain() && strings.HasSuffix(brewery.Domain, "."+cfg.Domain) {
		p.internalMUC, err = muc.New(muc.Config{
			Domain: brewery.Domain, Router: p.xmpp, Identify: p.identify, UserDomain: cfg.Domain,
			DefaultRoomConfig: &muc.RoomConfig{WhoIs: muc.WhoIsAnyone, NoGuests: true},
			Logger:            cfg.Logger.With("part", "muc", "service", "internal"),
		})
		if err != nil {
			return fmt.Errorf("internal muc: %w", err)
		}
		p.xmpp.AddService(brewery.Domain, p.internalMUC, xmpp.DiscoIdentity{Name: "Internal rooms"})
	}
	users := cfg.bridgeUsers()
	rc := remotebridge.Config{JID: jid.MustParse(focusDomain), Router: p.xmpp, Brewery: brewery,
		Logger: cfg.Logger.With("part", "focus", "sub", "bridges"),
		Trusted: func(real jid.JID) bool {
			id, ok := p.xmpp.IdentityOf(real)
			return ok && id.Kind == xmpp.IdentityAccount && slices.Contains(users, real.Bare())
		}}
	if !cfg.Bridges.NoLocal {
		rc.Local = local
	}
	rc.Spread = cfg.Bridges.Spread
	p.bridges, err = remotebridge.New(rc)
	return err
}

// focusHandler hands what is addressed to the focus's domain to the pool
// of bridges (brewery presences, bridge events and answers) or the focus.
func (p *parley) focusHandler() stanza.Handler {
	return stanza.HandlerFunc(func(st *xmlstream.Element) {
		if p.bridges.Wants(st) {
			p.bridges.HandleStanza(st)
			return
		}
		p.focus.HandleStanza(st)
	})
}

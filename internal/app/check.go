package app

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"

	"parley.dev/parley/internal/acme"
)

// ConfigError is a configuration that cannot work, whatever the machine:
// Keys names the settings involved (flag and config-file names), so that
// `parley config check` can point at the line that set them.
type ConfigError struct {
	Keys []string
	Err  error
}

func (e *ConfigError) Error() string { return e.Err.Error() }
func (e *ConfigError) Unwrap() error { return e.Err }

func configErr(err error, keys ...string) *ConfigError { return &ConfigError{Keys: keys, Err: err} }

// Check refuses impossible configurations before anything is opened; start
// runs it, and so does `parley config check`. It reads no file and opens no
// socket.
func (c Config) Check() error {
	if c.Listen != "" && c.HTTPListener == nil {
		if _, _, err := net.SplitHostPort(c.Listen); err != nil {
			return configErr(fmt.Errorf("--listen %q: %w", c.Listen, err), "listen")
		}
	}
	if c.C2S != "" && c.C2SListener == nil {
		if _, _, err := net.SplitHostPort(c.C2S); err != nil {
			return configErr(fmt.Errorf("--c2s %q: %w", c.C2S, err), "c2s")
		}
	}
	if _, err := c.publicAddr(); err != nil {
		return configErr(err, "public-ip")
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		return configErr(errors.New("--tls-cert and --tls-key go together: give both or neither"), "tls-cert", "tls-key")
	}
	if c.ACME {
		if err := c.checkACME(); err != nil {
			return err
		}
	}
	// After --acme's: the default brewery is named after --domain, and a
	// domain ACME refuses is better explained by ACME.
	if _, err := c.brewery(); err != nil {
		return configErr(err, "brewery")
	}
	return nil
}

// publicAddr is --public-ip, parsed: the one place it is. The zero Addr
// when it is not set.
func (c Config) publicAddr() (netip.Addr, error) {
	if c.PublicIP == "" {
		return netip.Addr{}, nil
	}
	a, err := netip.ParseAddr(c.PublicIP)
	if err != nil {
		return a, fmt.Errorf("--public-ip %q: not an IP address", c.PublicIP)
	}
	return a.Unmap(), nil
}

// checkACME refuses what an ACME CA cannot certify.
func (c Config) checkACME() error {
	if c.TLSCert != "" || c.TLSKey != "" {
		return configErr(errors.New("--acme: not with --tls-cert/--tls-key; choose one"), "acme", "tls-cert")
	}
	if err := acme.CheckHost(c.Domain); err != nil {
		return configErr(fmt.Errorf("--acme: --domain %q: a CA only certifies public DNS names (%w); use --tls-cert, or no --acme for a self-signed certificate", c.Domain, err), "domain", "acme")
	}
	if h := c.TURNHost; h != "" && !isIP(h) && !strings.EqualFold(h, c.Domain) {
		if err := acme.CheckHost(h); err != nil {
			return configErr(fmt.Errorf("--acme: --turn-host: %w", err), "turn-host", "acme")
		}
	}
	return nil
}

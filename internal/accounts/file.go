package accounts

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"parley.dev/parley/internal/sasl"
)

// fileVersion is the format version written to accounts.json.
const fileVersion = 1

// fileData is the content of accounts.json.
type fileData struct {
	Version  int                   `json:"version"`
	Domain   string                `json:"domain"`
	DecoyKey []byte                `json:"decoy_key"` // keys decoy salts for unknown users
	Users    map[string]userRecord `json:"users"`     // by normalized localpart
}

// userRecord is one account.
type userRecord struct {
	Created time.Time              `json:"created"`
	SCRAM   map[string]scramRecord `json:"scram"` // by mechanism name
}

// scramRecord is sasl.SCRAMCredentials as stored.
type scramRecord struct {
	Salt       []byte `json:"salt"`
	Iterations int    `json:"iterations"`
	StoredKey  []byte `json:"stored_key"`
	ServerKey  []byte `json:"server_key"`
}

// maybeRefreshLocked reloads the file if another process changed it, at
// most once per reloadInterval. Problems are logged and the last good
// content stays in use.
func (s *Store) maybeRefreshLocked() {
	if s.cfg.Clock().Sub(s.lastCheck) < reloadInterval {
		return
	}
	if err := s.refreshLocked(false); err != nil {
		s.cfg.Logger.Warn("accounts: keeping previous accounts", "path", s.path, "err", err)
	}
}

// refreshLocked stats the file and reads it again if it changed (always
// when force is set, so that changes start from the newest content).
func (s *Store) refreshLocked(force bool) error {
	s.lastCheck = s.cfg.Clock()
	fi, err := os.Stat(s.path)
	if errors.Is(err, fs.ErrNotExist) {
		// Deleted behind our back (or never written): no accounts, but
		// keep the decoy key so that decoy salts stay the same.
		s.stat = nil
		s.data = fileData{Version: fileVersion, Domain: s.domain, DecoyKey: s.data.DecoyKey}
		return nil
	}
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	if !force && s.stat != nil && os.SameFile(fi, s.stat) && fi.ModTime().Equal(s.stat.ModTime()) && fi.Size() == s.stat.Size() {
		return nil
	}
	raw, err := os.ReadFile(s.path)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	data, err := s.parse(raw)
	if err != nil {
		return err
	}
	s.data, s.stat = data, fi
	return nil
}

// parse decodes and checks the file's content.
func (s *Store) parse(raw []byte) (fileData, error) {
	var d fileData
	if err := json.Unmarshal(raw, &d); err != nil {
		return d, fmt.Errorf("%w: %s: %v", ErrCorrupt, s.path, err)
	}
	switch {
	case d.Version != fileVersion:
		return d, fmt.Errorf("%w: %s: unknown version %d", ErrCorrupt, s.path, d.Version)
	case d.Domain != s.domain:
		return d, fmt.Errorf("%w: %s is for %q, not %q", ErrDomainMismatch, s.path, d.Domain, s.domain)
	case len(d.DecoyKey) < 16:
		return d, fmt.Errorf("%w: %s: missing decoy key", ErrCorrupt, s.path)
	}
	for name, rec := range d.Users {
		if n, err := NormalizeUsername(name); err != nil || n != name {
			return d, fmt.Errorf("%w: %s: username %q is not normalized", ErrCorrupt, s.path, name)
		}
		for _, h := range []sasl.Hash{sasl.SHA1, sasl.SHA256} {
			c, ok := rec.SCRAM[h.Name()]
			if !ok || len(c.Salt) == 0 || c.Iterations < 1 || c.Iterations > sasl.MaxIterations ||
				len(c.StoredKey) != h.Size() || len(c.ServerKey) != h.Size() {
				return d, fmt.Errorf("%w: %s: user %q has bad %s keys", ErrCorrupt, s.path, name, h.Name())
			}
		}
	}
	if d.Users == nil {
		d.Users = map[string]userRecord{}
	}
	return d, nil
}

// saveLocked writes data atomically (temporary file, fsync, rename) with
// mode 0600, then makes it the current state.
func (s *Store) saveLocked(data fileData) error {
	raw, err := json.MarshalIndent(data, "", "  ")
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	tmp, err := os.CreateTemp(s.cfg.Dir, "."+FileName+".*.tmp")
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	_, err = tmp.Write(append(raw, '\n'))
	if err == nil {
		err = tmp.Chmod(0o600)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), s.path)
	}
	if err != nil {
		return fmt.Errorf("accounts: writing %s: %w", s.path, err)
	}
	if dir, err := os.Open(filepath.Dir(s.path)); err == nil {
		dir.Sync() // make the rename durable; best effort
		dir.Close()
	}
	fi, err := os.Stat(s.path)
	if err != nil {
		return fmt.Errorf("accounts: %w", err)
	}
	s.data, s.stat, s.lastCheck = data, fi, s.cfg.Clock()
	return nil
}

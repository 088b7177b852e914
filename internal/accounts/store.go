// Package accounts keeps parley's user accounts for one XMPP domain in a
// JSON file in the data folder (DIR/accounts.json). Per user it stores SCRAM
// keys for SHA-1 and SHA-256 and the creation time, never the password.
//
// A Store is safe for concurrent use, and other processes (the "parley
// user" command while the server runs) may change the file: every change is
// written atomically, and lookups notice a changed file within a second.
// Two processes changing accounts at the very same moment can still lose
// one change (last writer wins); the file itself is never torn.
package accounts

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/sasl"
)

// FileName is the name of the accounts file inside the data folder.
const FileName = "accounts.json"

// reloadInterval is how often lookups stat the file for outside changes.
const reloadInterval = time.Second

// saltSize is the length of every salt, real or decoy, in bytes.
const saltSize = 16

// Errors of this package.
var (
	ErrExists          = errors.New("accounts: user already exists")
	ErrNotFound        = errors.New("accounts: no such user")
	ErrInvalidUsername = errors.New("accounts: invalid username")
	ErrInvalidPassword = errors.New("accounts: invalid password")
	ErrDomainMismatch  = errors.New("accounts: file belongs to another domain")
	ErrCorrupt         = errors.New("accounts: accounts file is corrupt")
	ErrConfig          = errors.New("accounts: invalid configuration")
)

// Config configures Open.
type Config struct {
	// Dir is the data folder; it is created (mode 0700) if missing. Required.
	Dir string
	// Domain is the XMPP domain the accounts belong to; a file made for
	// another domain is refused with ErrDomainMismatch. Default "localhost".
	Domain string
	// Iterations is the PBKDF2 iteration count for new passwords, between
	// sasl.DefaultIterations and sasl.MaxIterations. Default
	// sasl.DefaultIterations (4096).
	Iterations int
	// Clock gives creation times and paces reloads. Default time.Now.
	Clock func() time.Time
	// Rand supplies salts and the decoy key. Default crypto/rand.Reader.
	Rand io.Reader
	// Logger receives reload problems. Default slog.Default().
	Logger *slog.Logger
}

// Account is one user as List reports it.
type Account struct {
	Name    string    // normalized localpart
	Created time.Time // when the account was added
}

// Store is the account store of one domain.
type Store struct {
	cfg    Config // defaults applied; immutable after Open
	path   string // DIR/accounts.json; immutable
	domain string // normalized domain; immutable

	mu        sync.Mutex  // guards the fields below
	data      fileData    // guarded by mu; replaced, never mutated in place
	stat      os.FileInfo // guarded by mu; the file as last read or written, nil if absent
	lastCheck time.Time   // guarded by mu; when the file was last stat'ed
}

// Open loads the accounts of cfg.Domain from cfg.Dir, creating an empty
// accounts file (with a fresh decoy key) if there is none.
func Open(cfg Config) (*Store, error) {
	if cfg.Dir == "" {
		return nil, fmt.Errorf("%w: Dir is required", ErrConfig)
	}
	if cfg.Domain == "" {
		cfg.Domain = "localhost"
	}
	d, err := jid.New("", cfg.Domain, "")
	if err != nil {
		return nil, fmt.Errorf("%w: domain %q: %v", ErrConfig, cfg.Domain, err)
	}
	if cfg.Iterations == 0 {
		cfg.Iterations = sasl.DefaultIterations
	}
	if cfg.Iterations < sasl.DefaultIterations || cfg.Iterations > sasl.MaxIterations {
		return nil, fmt.Errorf("%w: iterations %d not in [%d, %d]", ErrConfig,
			cfg.Iterations, sasl.DefaultIterations, sasl.MaxIterations)
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if cfg.Rand == nil {
		cfg.Rand = rand.Reader
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("accounts: %w", err)
	}
	s := &Store{cfg: cfg, path: filepath.Join(cfg.Dir, FileName), domain: d.Domain}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(true); err != nil {
		return nil, err
	}
	if s.stat == nil { // no file yet: write one so the decoy key persists
		key := make([]byte, 32)
		if _, err := io.ReadFull(cfg.Rand, key); err != nil {
			return nil, fmt.Errorf("accounts: decoy key: %w", err)
		}
		if err := s.saveLocked(fileData{Version: fileVersion, Domain: s.domain, DecoyKey: key, Users: map[string]userRecord{}}); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// Domain returns the normalized domain of the store.
func (s *Store) Domain() string { return s.domain }

// Path returns the accounts file's path.
func (s *Store) Path() string { return s.path }

// NormalizeUsername maps name to the localpart form accounts are kept
// under (PRECIS UsernameCaseMapped, as for JIDs); ErrInvalidUsername if it
// cannot be a localpart.
func NormalizeUsername(name string) (string, error) {
	j, err := jid.New(name, "localhost", "")
	if err != nil || name == "" {
		return "", fmt.Errorf("%w: %q", ErrInvalidUsername, name)
	}
	return j.Local, nil
}

// NormalizeUsername is the package function NormalizeUsername; it makes
// Store a sasl.UsernameNormalizer.
func (s *Store) NormalizeUsername(name string) (string, error) { return NormalizeUsername(name) }

// Add creates user with password; ErrExists if the user is already there.
func (s *Store) Add(user, password string) error {
	name, rec, err := s.newRecord(user, password)
	if err != nil {
		return err
	}
	return s.update(func(users map[string]userRecord) error {
		if _, ok := users[name]; ok {
			return fmt.Errorf("%w: %s", ErrExists, name)
		}
		users[name] = rec
		return nil
	})
}

// SetPassword replaces user's credentials; ErrNotFound if there is no such user.
func (s *Store) SetPassword(user, password string) error {
	name, rec, err := s.newRecord(user, password)
	if err != nil {
		return err
	}
	return s.update(func(users map[string]userRecord) error {
		old, ok := users[name]
		if !ok {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		rec.Created = old.Created
		users[name] = rec
		return nil
	})
}

// Delete removes user; ErrNotFound if there is no such user.
func (s *Store) Delete(user string) error {
	name, err := NormalizeUsername(user)
	if err != nil {
		return err
	}
	return s.update(func(users map[string]userRecord) error {
		if _, ok := users[name]; !ok {
			return fmt.Errorf("%w: %s", ErrNotFound, name)
		}
		delete(users, name)
		return nil
	})
}

// Exists reports whether user has an account.
func (s *Store) Exists(user string) bool {
	name, err := NormalizeUsername(user)
	if err != nil {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeRefreshLocked()
	_, ok := s.data.Users[name]
	return ok
}

// List returns every account, sorted by name.
func (s *Store) List() []Account {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeRefreshLocked()
	out := make([]Account, 0, len(s.data.Users))
	for _, name := range slices.Sorted(maps.Keys(s.data.Users)) {
		out = append(out, Account{Name: name, Created: s.data.Users[name].Created})
	}
	return out
}

// SCRAM implements sasl.CredentialLookup. For a user that does not exist it
// returns sasl.ErrUnknownUser with decoy credentials: a salt derived from
// the name and the file's secret decoy key, and the configured iteration
// count, so that a probe cannot tell it from a real account.
func (s *Store) SCRAM(user string, h sasl.Hash) (sasl.SCRAMCredentials, error) {
	name, err := NormalizeUsername(user)
	if err != nil {
		name = user // cannot exist; the decoy still must be stable
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.maybeRefreshLocked()
	rec, ok := s.data.Users[name]
	if !ok || err != nil {
		return s.decoyLocked(name, h), sasl.ErrUnknownUser
	}
	c, ok := rec.SCRAM[h.Name()]
	if !ok {
		return sasl.SCRAMCredentials{}, fmt.Errorf("%w: user %s has no %s keys", ErrCorrupt, name, h.Name())
	}
	return sasl.SCRAMCredentials{Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey}, nil
}

func (s *Store) decoyLocked(name string, h sasl.Hash) sasl.SCRAMCredentials {
	mac := hmac.New(sha256.New, s.data.DecoyKey)
	io.WriteString(mac, h.Name()+"\x00"+name)
	return sasl.SCRAMCredentials{Salt: mac.Sum(nil)[:saltSize], Iterations: s.cfg.Iterations}
}

// newRecord derives the credentials for a new password, outside the lock
// because PBKDF2 is slow on purpose.
func (s *Store) newRecord(user, password string) (string, userRecord, error) {
	name, err := NormalizeUsername(user)
	if err != nil {
		return "", userRecord{}, err
	}
	rec := userRecord{Created: s.cfg.Clock().UTC(), SCRAM: map[string]scramRecord{}}
	for _, h := range []sasl.Hash{sasl.SHA1, sasl.SHA256} {
		salt := make([]byte, saltSize)
		if _, err := io.ReadFull(s.cfg.Rand, salt); err != nil {
			return "", userRecord{}, fmt.Errorf("accounts: salt: %w", err)
		}
		c, err := sasl.DeriveSCRAM(h, password, salt, s.cfg.Iterations)
		if err != nil {
			return "", userRecord{}, fmt.Errorf("%w: %w", ErrInvalidPassword, err)
		}
		rec.SCRAM[h.Name()] = scramRecord{Salt: c.Salt, Iterations: c.Iterations, StoredKey: c.StoredKey, ServerKey: c.ServerKey}
	}
	return name, rec, nil
}

// update applies change to a copy of the users, freshly read from disk,
// and writes the result; the in-memory state changes only if the write did.
func (s *Store) update(change func(users map[string]userRecord) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.refreshLocked(true); err != nil {
		return err
	}
	next := s.data
	next.Users = maps.Clone(s.data.Users)
	if next.Users == nil {
		next.Users = map[string]userRecord{}
	}
	if err := change(next.Users); err != nil {
		return err
	}
	return s.saveLocked(next)
}

package muc

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"

	"parley.dev/parley/internal/jid"
)

// PersistError reports that DataDir cannot be used.
type PersistError struct {
	Path string
	Err  error
}

func (e *PersistError) Error() string { return "muc: data dir " + e.Path + ": " + e.Err.Error() }

func (e *PersistError) Unwrap() error { return e.Err }

// storedRoom is the on-disk form of a persistent room. History and
// occupants are not kept: they belong to a running server.
type storedRoom struct {
	Name         string            `json:"name"` // room localpart
	Config       RoomConfig        `json:"config"`
	Locked       bool              `json:"locked,omitempty"`
	Affiliations map[string]string `json:"affiliations,omitempty"` // bare JID → affiliation
	Subject      string            `json:"subject,omitempty"`
	SubjectNick  string            `json:"subject_nick,omitempty"`
	Declared     *Declaration      `json:"declared,omitempty"`

	migrated bool     // a clear-text password was hashed on load: rewrite the file
	sum      [32]byte // SHA-256 of the file as read
}

// legacyConfig is what files written before passwords were hashed held.
type legacyConfig struct {
	Config struct {
		Password string `json:"password"`
	} `json:"config"`
}

// parseStoredRoom reads a room file, hashing a clear-text password left by
// an older parley (the caller rewrites the file).
func parseStoredRoom(data []byte) (storedRoom, error) {
	var sr storedRoom
	if err := json.Unmarshal(data, &sr); err != nil {
		return sr, err
	}
	var old legacyConfig
	if json.Unmarshal(data, &old) == nil && old.Config.Password != "" {
		if sr.Config.PasswordHash == "" {
			h, err := HashPassword(old.Config.Password)
			if err != nil {
				return sr, err
			}
			sr.Config.PasswordHash = h
		}
		sr.migrated = true
	}
	sr.sum = sha256.Sum256(data)
	return sr, nil
}

// stored renders the room's durable state as JSON.
func (r *room) stored() []byte {
	data, err := jsonRoom(storedRoomOf(r))
	if err != nil {
		panic("muc: cannot marshal a room: " + err.Error()) // plain strings, bools and maps: cannot happen
	}
	return data
}

func jsonRoom(sr storedRoom) ([]byte, error) { return json.MarshalIndent(sr, "", "  ") }

// roomFile names a room's file: the localpart hex-encoded, since localparts
// may hold characters that file systems treat specially.
func roomFile(dir, name string) string {
	return filepath.Join(dir, hex.EncodeToString([]byte(name))+".json")
}

// loadRooms reads every room file in dir, creating dir if needed.
// Unreadable or invalid files are logged and skipped.
func loadRooms(dir string, log *slog.Logger) ([]storedRoom, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, &PersistError{dir, err}
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, &PersistError{dir, err}
	}
	var out []storedRoom
	for _, e := range entries {
		name := e.Name()
		path := filepath.Join(dir, name)
		if strings.HasPrefix(name, ".tmp-") {
			os.Remove(path) // a write interrupted by a crash
			continue
		}
		if e.IsDir() || !strings.HasSuffix(name, ".json") {
			continue
		}
		data, err := os.ReadFile(path)
		if err != nil {
			log.Warn("skipping unreadable room file", "path", path, "err", err)
			continue
		}
		sr, err := parseStoredRoom(data)
		if err != nil {
			log.Warn("skipping corrupt room file", "path", path, "err", err)
			continue
		}
		out = append(out, sr)
	}
	return out, nil
}

// restoreRoom rebuilds a room from its file; nil if the file is not valid.
func (s *Service) restoreRoom(sr storedRoom) *room {
	j, err := jid.New(sr.Name, s.domain.Domain, "")
	if err != nil || j.Local != sr.Name || !sr.Config.Persistent {
		s.log.Warn("skipping invalid room file", "room", sr.Name)
		return nil
	}
	c := sr.Config
	if c.WhoIs != WhoIsAnyone {
		c.WhoIs = WhoIsModerators
	}
	if c.MaxUsers < 0 || c.MaxUsers > maxUsersLimit {
		c.MaxUsers = 0
	}
	r := s.newRoom(sr.Name)
	r.isNew = false
	r.saved = true
	sr.Config = c
	r.loadStored(sr)
	return r
}

// loadStored sets the room's durable state from its file.
func (r *room) loadStored(sr storedRoom) {
	r.config, r.locked = sr.Config, sr.Locked
	r.subject, r.subjectNick = sr.Subject, sr.SubjectNick
	r.declared = sr.Declared.clone()
	if r.declared != nil {
		r.config.Persistent = true
	}
	r.affiliations = make(map[jid.JID]Affiliation, len(sr.Affiliations))
	s := r.svc
	for js, as := range sr.Affiliations {
		bare, err := jid.Parse(js)
		aff, ok := parseAffiliation(as)
		if err != nil || !ok || aff == AffNone {
			s.log.Warn("skipping invalid affiliation", "room", sr.Name, "jid", js, "affiliation", as)
			continue
		}
		r.affiliations[bare.Bare()] = aff
	}
}

// saver writes room files on its own goroutine, so that disk latency never
// holds a room's lock. Writes to the same room coalesce: only the latest
// state is written.
type saver struct {
	dir    string         // immutable
	log    *slog.Logger   // immutable
	errors *atomic.Uint64 // the service's save error counter
	wake   chan struct{}  // capacity 1: work is waiting
	done   chan struct{}  // closed when the loop has exited

	mu      sync.Mutex
	pending map[string][]byte // guarded by mu; room localpart → JSON, nil = delete the file
	closing bool              // guarded by mu

	// fileMu serializes the saver's writes with the reloader's reads, so
	// that the reloader knows which file contents are the service's own.
	fileMu sync.Mutex
	// written is the SHA-256 of what the service last wrote per room
	// ("" removed); guarded by fileMu.
	written map[string][32]byte
}

func startSaver(dir string, log *slog.Logger, errs *atomic.Uint64) *saver {
	sv := &saver{dir: dir, log: log, errors: errs, wake: make(chan struct{}, 1),
		done: make(chan struct{}), pending: make(map[string][]byte), written: make(map[string][32]byte)}
	go sv.loop()
	return sv
}

func (sv *saver) put(name string, data []byte) { sv.queue(name, data) }

func (sv *saver) remove(name string) { sv.queue(name, nil) }

func (sv *saver) queue(name string, data []byte) {
	sv.mu.Lock()
	if sv.closing {
		sv.mu.Unlock()
		sv.errors.Add(1)
		sv.log.Warn("room change after close not saved", "room", name)
		return
	}
	sv.pending[name] = data
	sv.mu.Unlock()
	select {
	case sv.wake <- struct{}{}:
	default:
	}
}

// close writes what is pending and stops the loop.
func (sv *saver) close() {
	sv.mu.Lock()
	sv.closing = true
	sv.mu.Unlock()
	select {
	case sv.wake <- struct{}{}:
	default:
	}
	<-sv.done
}

func (sv *saver) loop() {
	defer close(sv.done)
	for range sv.wake {
		sv.mu.Lock()
		batch, closing := sv.pending, sv.closing
		sv.pending = make(map[string][]byte)
		sv.mu.Unlock()
		for name, data := range batch {
			if err := sv.write(name, data); err != nil {
				sv.errors.Add(1)
				sv.log.Error("saving room failed", "room", name, "err", err)
			}
		}
		if closing {
			return
		}
	}
}

// write replaces (or removes) a room file atomically: a temporary file is
// synced and renamed over the old one.
func (sv *saver) write(name string, data []byte) error {
	sv.fileMu.Lock()
	defer sv.fileMu.Unlock()
	if data == nil {
		delete(sv.written, name)
	} else {
		sv.written[name] = sha256.Sum256(data)
	}
	return writeRoomFile(sv.dir, name, data)
}

// isPending says whether a write of name waits in the queue.
func (sv *saver) isPending(name string) bool {
	sv.mu.Lock()
	defer sv.mu.Unlock()
	_, ok := sv.pending[name]
	return ok
}

// writeRoomFile replaces (or, data nil, removes) a room file atomically.
func writeRoomFile(dir, name string, data []byte) error {
	path := roomFile(dir, name)
	if data == nil {
		if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(f.Name(), path)
	}
	if err != nil {
		os.Remove(f.Name())
		return err
	}
	if d, err := os.Open(dir); err == nil {
		d.Sync() // make the rename itself durable; best effort
		d.Close()
	}
	return nil
}

package record

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/xmppclient"
)

// ManagerConfig configures a Manager.
type ManagerConfig struct {
	// Dir holds the recordings, DATA/recordings/ROOM/ID/. Required.
	Dir string
	// MUCDomain is the rooms' service, conference.DOMAIN. Required.
	MUCDomain string
	// Dial opens the XMPP connection of one recorder, logged in. Required.
	Dial func(ctx context.Context) (*xmppclient.Client, error)
	// MinFree is the free space below which no recording starts and a
	// running one ends. Default 256 MiB.
	MinFree int64
	// JoinTimeout bounds a recorder's dial and join. Default 20 s.
	JoinTimeout time.Duration
	// Logger receives the logs. Default slog.Default().
	Logger *slog.Logger
}

// Manager runs a server's recordings. It is safe for concurrent use; its
// Start and Stop return at once (a recorder joins its room on its own
// goroutine), so that the MUC may call them under a room's lock.
type Manager struct {
	cfg ManagerConfig // defaults applied; read-only
	log *slog.Logger  // read-only

	mu      sync.Mutex
	running map[string]*job     // by ROOM/ID; guarded by mu
	clients map[string]struct{} // full JIDs of our recorders' connections; guarded by mu
	closed  bool                // guarded by mu
	wg      sync.WaitGroup      // the jobs' goroutines
}

// job is one recording the Manager started.
type job struct {
	room, id string
	stop     chan struct{} // closed to stop
	done     chan struct{} // closed once the recording has ended
	once     sync.Once
}

// NewManager returns a Manager.
func NewManager(cfg ManagerConfig) (*Manager, error) {
	if cfg.Dir == "" || cfg.MUCDomain == "" || cfg.Dial == nil {
		return nil, errors.New("record: ManagerConfig needs Dir, MUCDomain and Dial")
	}
	if cfg.MinFree == 0 {
		cfg.MinFree = 256 << 20
	}
	if cfg.JoinTimeout == 0 {
		cfg.JoinTimeout = 20 * time.Second
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	return &Manager{cfg: cfg, log: cfg.Logger, running: make(map[string]*job), clients: make(map[string]struct{})}, nil
}

var safeName = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,127}$`)

// dirOf returns a recording's folder, refusing names that could leave
// Dir.
func (m *Manager) dirOf(room, id string) (string, error) {
	if !safeName.MatchString(room) || (id != "" && !safeName.MatchString(id)) || room == ".." || id == ".." {
		return "", ErrBadName
	}
	return filepath.Join(m.cfg.Dir, room, id), nil
}

// StartRecording starts recording room and returns the recording's id,
// after checking the free space; the recorder joins on its own.
func (m *Manager) StartRecording(room, by string) (string, error) { return m.Start(room, by, "") }

// Start is StartRecording that also streams the meeting live to
// streamURL (rtmp://, rtmps://, srt://) unless it is "".
func (m *Manager) Start(room, by, streamURL string) (string, error) {
	if _, err := m.dirOf(room, ""); err != nil {
		return "", err
	}
	if streamURL != "" {
		if err := CheckStreamURL(streamURL); err != nil {
			return "", err
		}
	}
	if err := os.MkdirAll(m.cfg.Dir, 0o750); err != nil {
		return "", err
	}
	if free, err := FreeSpace(m.cfg.Dir); err == nil && free < m.cfg.MinFree {
		return "", fmt.Errorf("%w: %d MiB free, %d MiB needed", ErrDiskFull, free>>20, m.cfg.MinFree>>20)
	}
	var b [4]byte
	rand.Read(b[:])
	id := time.Now().UTC().Format("20060102-150405") + "-" + hex.EncodeToString(b[:])
	dir, _ := m.dirOf(room, id)
	j := &job{room: room, id: id, stop: make(chan struct{}), done: make(chan struct{})}
	m.mu.Lock()
	if m.closed {
		m.mu.Unlock()
		return "", ErrClosed
	}
	m.running[room+"/"+id] = j
	m.wg.Add(1)
	m.mu.Unlock()
	go m.run(j, dir, by, streamURL)
	return id, nil
}

// run is one recording's life, on its own goroutine.
func (m *Manager) run(j *job, dir, by, streamURL string) {
	defer m.wg.Done()
	defer close(j.done)
	defer func() {
		m.mu.Lock()
		delete(m.running, j.room+"/"+j.id)
		m.mu.Unlock()
	}()
	ctx, cancel := context.WithTimeout(context.Background(), m.cfg.JoinTimeout)
	go func() {
		select {
		case <-j.stop:
		case <-ctx.Done():
		}
		cancel()
	}()
	fail := func(err error) {
		m.log.Warn("recording did not start", "room", j.room, "recording", j.id, "err", err)
		os.MkdirAll(dir, 0o750)
		man := Manifest{ID: j.id, Room: j.room, State: StateFailed, Reason: err.Error(), By: by,
			Started: time.Now(), Ended: time.Now(), Participants: []Participant{}, Tracks: []TrackInfo{}}
		man.write(dir)
	}
	client, err := m.cfg.Dial(ctx)
	if err != nil {
		cancel()
		fail(err)
		return
	}
	full := client.JID().String()
	m.mu.Lock()
	m.clients[full] = struct{}{}
	m.mu.Unlock()
	defer func() {
		m.mu.Lock()
		delete(m.clients, full)
		m.mu.Unlock()
	}()
	room, err := jid.New(j.room, m.cfg.MUCDomain, "")
	if err != nil {
		client.Close()
		cancel()
		fail(err)
		return
	}
	rec, err := Start(ctx, Config{Client: client, Room: room, ID: j.id, Dir: dir, By: by, MinFree: m.cfg.MinFree / 4,
		Logger: m.log})
	cancel()
	if err != nil {
		client.Close()
		if _, rerr := ReadManifest(dir); rerr != nil {
			fail(err) // Start failed before it wrote one
		}
		return
	}
	streamed := make(chan struct{})
	if streamURL != "" {
		go func() {
			defer close(streamed)
			if err := Stream(context.Background(), rec, streamURL, 10*time.Second, CompositeConfig{Logger: m.log}); err != nil {
				m.log.Warn("live stream ended on an error", "room", j.room, "recording", j.id, "err", err)
			}
		}()
	} else {
		close(streamed)
	}
	select {
	case <-j.stop:
		rec.Stop("stopped")
	case <-rec.Done():
	}
	<-rec.Done()
	<-streamed
}

// Composite makes a finished recording's composite (composite.go).
func (m *Manager) Composite(ctx context.Context, room, id string) (any, error) {
	dir, err := m.dirOf(room, id)
	if err != nil {
		return nil, err
	}
	if _, err := m.Manifest(room, id); err != nil {
		return nil, err
	}
	m.mu.Lock()
	_, running := m.running[room+"/"+id]
	m.mu.Unlock()
	if running {
		return nil, ErrRunning
	}
	if _, err := Composite(ctx, dir, CompositeConfig{Logger: m.log}); err != nil {
		return nil, err
	}
	return m.Manifest(room, id)
}

// StopRecording asks a recording of room to stop, or every recording of
// room with id "". It returns at once.
func (m *Manager) StopRecording(room, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, j := range m.running {
		if j.room == room && (id == "" || j.id == id) {
			j.once.Do(func() { close(j.stop) })
			n++
		}
	}
	if n == 0 {
		return ErrNoRecording
	}
	return nil
}

// Stop stops a recording and waits until its files are complete.
func (m *Manager) Stop(ctx context.Context, room, id string) error {
	m.mu.Lock()
	j := m.running[room+"/"+id]
	m.mu.Unlock()
	if j == nil {
		if _, err := m.Manifest(room, id); err != nil {
			return err
		}
		return nil // already over
	}
	j.once.Do(func() { close(j.stop) })
	select {
	case <-j.done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// IsRecorder says whether full is the connection of one of our
// recorders: app grants it the record permission in the room.
func (m *Manager) IsRecorder(full jid.JID) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	_, ok := m.clients[full.String()]
	return ok
}

// Manifest reads a recording's manifest.
func (m *Manager) Manifest(room, id string) (*Manifest, error) {
	dir, err := m.dirOf(room, id)
	if err != nil {
		return nil, err
	}
	man, err := ReadManifest(dir)
	if errors.Is(err, os.ErrNotExist) {
		m.mu.Lock()
		_, starting := m.running[room+"/"+id]
		m.mu.Unlock()
		if starting {
			return &Manifest{ID: id, Room: room, State: "starting", Participants: []Participant{}, Tracks: []TrackInfo{}}, nil
		}
		return nil, ErrNoRecording
	}
	return man, err
}

// List returns the manifests of room's recordings, oldest first.
func (m *Manager) List(room string) ([]*Manifest, error) {
	dir, err := m.dirOf(room, "")
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	ids := map[string]bool{}
	for _, e := range entries {
		if e.IsDir() && safeName.MatchString(e.Name()) {
			ids[e.Name()] = true
		}
	}
	m.mu.Lock()
	for _, j := range m.running {
		if j.room == room {
			ids[j.id] = true
		}
	}
	m.mu.Unlock()
	out := []*Manifest{}
	for _, id := range slices.Sorted(mapKeys(ids)) {
		if man, err := m.Manifest(room, id); err == nil {
			out = append(out, man)
		}
	}
	return out, nil
}

func mapKeys(m map[string]bool) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// File returns the path of one file of a recording, for a download; name
// must be the manifest, a track or the composite the manifest names.
func (m *Manager) File(room, id, name string) (string, error) {
	man, err := m.Manifest(room, id)
	if err != nil {
		return "", err
	}
	ok := name == ManifestFile || (name != "" && name == man.Composite)
	for _, t := range man.Tracks {
		ok = ok || t.File == name
	}
	if !ok {
		return "", ErrNoRecording
	}
	dir, _ := m.dirOf(room, id)
	return filepath.Join(dir, name), nil
}

// Remove deletes a finished recording's folder.
func (m *Manager) Remove(room, id string) error {
	dir, err := m.dirOf(room, id)
	if err != nil {
		return err
	}
	m.mu.Lock()
	_, running := m.running[room+"/"+id]
	m.mu.Unlock()
	if running {
		return ErrRunning
	}
	if _, err := os.Stat(filepath.Join(dir, ManifestFile)); err != nil {
		return ErrNoRecording
	}
	return os.RemoveAll(dir)
}

// Close stops every recording and waits for their files.
func (m *Manager) Close() {
	m.mu.Lock()
	m.closed = true
	for _, j := range m.running {
		j.once.Do(func() { close(j.stop) })
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// Recordings is List for the admin API, as JSON-encodable data.
func (m *Manager) Recordings(room string) (any, error) { return m.List(room) }

// Recording is Manifest for the admin API, as JSON-encodable data.
func (m *Manager) Recording(room, id string) (any, error) { return m.Manifest(room, id) }

package muc

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// reloader picks up room files another process (parley room ...) wrote or
// removed while the service runs: a room added appears without a restart.
// It polls DataDir; the service's own writes are told apart by content
// (saver.written), under the saver's fileMu.
type reloader struct {
	svc   *Service      // immutable
	every time.Duration // immutable
	stop  chan struct{} // closed by close
	done  chan struct{} // closed when the loop exits

	// Owned by the loop.
	seen map[string]fileStamp // room name → the file as last examined
}

type fileStamp struct {
	mod  time.Time
	size int64
	sum  [32]byte
}

func startReloader(s *Service, every time.Duration, loaded []storedRoom) *reloader {
	if every < 0 {
		return nil
	}
	if every == 0 {
		every = time.Second
	}
	rl := &reloader{svc: s, every: every, stop: make(chan struct{}), done: make(chan struct{}), seen: make(map[string]fileStamp)}
	for _, sr := range loaded {
		if fi, err := os.Stat(roomFile(s.dataDir, sr.Name)); err == nil {
			rl.seen[sr.Name] = fileStamp{mod: fi.ModTime(), size: fi.Size(), sum: sr.sum}
		}
	}
	go rl.loop()
	return rl
}

func (rl *reloader) close() {
	close(rl.stop)
	<-rl.done
}

func (rl *reloader) loop() {
	defer close(rl.done)
	t := time.NewTicker(rl.every)
	defer t.Stop()
	for {
		select {
		case <-rl.stop:
			return
		case <-t.C:
			rl.scan()
		}
	}
}

// scan applies the files that changed since the last scan.
func (rl *reloader) scan() {
	dir := rl.svc.dataDir
	entries, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	present := make(map[string]bool, len(entries))
	for _, e := range entries {
		name, ok := roomNameOf(e.Name())
		if !ok || e.IsDir() {
			continue
		}
		present[name] = true
		fi, err := e.Info()
		if err != nil {
			continue
		}
		old, known := rl.seen[name]
		if known && fi.ModTime().Equal(old.mod) && fi.Size() == old.size {
			continue
		}
		rl.examine(name, fi)
	}
	for name := range rl.seen {
		if !present[name] {
			delete(rl.seen, name)
			rl.removed(name)
		}
	}
}

// examine reads a changed file and applies it unless it is the service's own.
func (rl *reloader) examine(name string, fi os.FileInfo) {
	sv := rl.svc.saver
	sv.fileMu.Lock()
	data, err := os.ReadFile(filepath.Join(rl.svc.dataDir, fi.Name()))
	own := sv.written[name]
	sv.fileMu.Unlock()
	if err != nil {
		return
	}
	sum := sha256.Sum256(data)
	stamp := fileStamp{mod: fi.ModTime(), size: fi.Size(), sum: sum}
	prev, known := rl.seen[name]
	rl.seen[name] = stamp
	if sum == own || (known && sum == prev.sum) {
		return
	}
	sr, err := parseStoredRoom(data)
	if err != nil || sr.Name != name {
		rl.svc.log.Warn("ignoring a changed room file that does not parse", "room", name, "err", err)
		return
	}
	rl.svc.log.Info("room file changed outside, applying it", "room", name)
	rl.svc.applyStoredRoom(sr)
}

// removed retires a room whose file another process deleted.
func (rl *reloader) removed(name string) {
	if rl.svc.saver.isPending(name) {
		return // the service is about to write it again
	}
	r := rl.svc.lockRoom(name, false)
	if r == nil {
		return
	}
	defer r.mu.Unlock()
	if r.isNew || !r.saved {
		return // the service removed the file itself
	}
	rl.svc.log.Info("room file deleted outside, removing the room", "room", name)
	r.declared = nil
	r.saved = false // already gone from disk
	r.endMeeting("the room was deleted", "")
	if !r.gone {
		r.retire()
	}
}

// applyStoredRoom makes a room match a file written by another process.
func (s *Service) applyStoredRoom(sr storedRoom) {
	if err := validRoomName(sr.Name, s.domain.Domain); err != nil || !sr.Config.Persistent {
		return
	}
	r := s.lockRoom(sr.Name, true)
	defer r.mu.Unlock()
	created := r.isNew
	old := r.config
	if !r.saved && !created {
		// A room that lived on the fly, without a file, is being declared:
		// keep who it already knows (its creator's ownership) unless the
		// file says otherwise.
		if sr.Affiliations == nil {
			sr.Affiliations = make(map[string]string)
		}
		for j, a := range r.affiliations {
			if _, ok := sr.Affiliations[j.String()]; !ok {
				sr.Affiliations[j.String()] = string(a)
			}
		}
	}
	r.loadStored(sr)
	r.isNew = false
	r.saved = true
	if created {
		r.event(RoomCreated, nil, "")
		return
	}
	r.settingsChanged(old)
}

// roomNameOf decodes a room file's name; false for other files.
func roomNameOf(file string) (string, bool) {
	base, ok := strings.CutSuffix(file, ".json")
	if !ok || strings.HasPrefix(file, ".tmp-") {
		return "", false
	}
	b, err := hex.DecodeString(base)
	if err != nil {
		return "", false
	}
	return string(b), true
}

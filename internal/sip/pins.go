package sip

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"
	"sync"
)

// pinDigits is the length of a room's PIN.
const pinDigits = 6

// PINs gives each room a stable numeric PIN, for callers who reach the
// IVR: assigned at the first request, kept in a JSON file so that it
// survives restarts. Safe for concurrent use.
type PINs struct {
	path   string            // the file; "" keeps them in memory only
	mu     sync.Mutex        // guards the maps and the file
	byRoom map[string]string // room to PIN; guarded by mu
	byPIN  map[string]string // PIN to room; guarded by mu
}

// OpenPINs reads the PINs kept at path ("" for none kept).
func OpenPINs(path string) (*PINs, error) {
	p := &PINs{path: path, byRoom: map[string]string{}, byPIN: map[string]string{}}
	if path == "" {
		return p, nil
	}
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return p, nil
	}
	if err != nil {
		return nil, fmt.Errorf("sip: PINs: %w", err)
	}
	if err := json.Unmarshal(data, &p.byRoom); err != nil {
		return nil, fmt.Errorf("sip: PINs: %s: %w", path, err)
	}
	for room, pin := range p.byRoom {
		p.byPIN[pin] = room
	}
	return p, nil
}

// PIN returns room's PIN, assigning one if it has none.
func (p *PINs) PIN(room string) (string, error) {
	room, ok := roomOf(room)
	if !ok {
		return "", fmt.Errorf("%w: not a room name", errBadTarget)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if pin, ok := p.byRoom[room]; ok {
		return pin, nil
	}
	limit := big.NewInt(1_000_000)
	for {
		n, err := rand.Int(rand.Reader, limit)
		if err != nil {
			return "", err
		}
		pin := fmt.Sprintf("%0*d", pinDigits, n.Int64())
		if _, taken := p.byPIN[pin]; taken {
			continue
		}
		p.byRoom[room], p.byPIN[pin] = pin, room
		if err := p.save(); err != nil {
			delete(p.byRoom, room)
			delete(p.byPIN, pin)
			return "", err
		}
		return pin, nil
	}
}

// Room returns the room of a PIN.
func (p *PINs) Room(pin string) (string, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	room, ok := p.byPIN[pin]
	return room, ok
}

// save writes the file atomically; the caller holds mu.
func (p *PINs) save() error {
	if p.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(p.byRoom, "", "  ")
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(p.path), ".sip-pins-*")
	if err != nil {
		return fmt.Errorf("sip: PINs: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("sip: PINs: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("sip: PINs: %w", err)
	}
	return os.Rename(tmp.Name(), p.path)
}

package muc

import (
	"errors"
	"os"
	"sort"
	"strings"

	"parley.dev/parley/internal/jid"
)

// RoomFiles manages declared rooms in a data folder without a running
// service: what `parley room` uses. A running service picks the changes up
// within its ReloadInterval.
type RoomFiles struct {
	// Dir is the rooms folder, DATA/rooms. Required.
	Dir string
	// Domain is the MUC domain, conference.<domain>. Required.
	Domain string
	// UserDomain resolves owners given as account names. Default: Domain
	// without its first label.
	UserDomain string
}

func (f RoomFiles) userDomain() string {
	if f.UserDomain != "" {
		return f.UserDomain
	}
	_, rest, _ := strings.Cut(f.Domain, ".")
	return rest
}

// StoredRoom is a room as its file holds it.
type StoredRoom struct {
	Name         string
	Config       RoomConfig
	Declared     *Declaration
	Affiliations map[string]string // bare JID → affiliation
}

func (f RoomFiles) read(name string) (storedRoom, error) {
	data, err := os.ReadFile(roomFile(f.Dir, name))
	if errors.Is(err, os.ErrNotExist) {
		return storedRoom{}, ErrNoRoom
	}
	if err != nil {
		return storedRoom{}, err
	}
	return parseStoredRoom(data)
}

func (f RoomFiles) write(sr storedRoom) error {
	if err := os.MkdirAll(f.Dir, 0o700); err != nil {
		return err
	}
	data, err := jsonRoom(sr)
	if err != nil {
		return err
	}
	return writeRoomFile(f.Dir, sr.Name, data)
}

// Add declares a room; ErrRoomExists if a file for it exists.
func (f RoomFiles) Add(name string, set RoomSettings) (StoredRoom, error) {
	if err := validRoomName(name, f.Domain); err != nil {
		return StoredRoom{}, err
	}
	if _, err := f.read(name); err == nil {
		return StoredRoom{}, ErrRoomExists
	}
	c := DefaultRoomConfig()
	c.Handover = HandoverLongest
	sr := storedRoom{Name: name, Config: c, Declared: &Declaration{}, Affiliations: map[string]string{}}
	if err := applySettings(&sr, set, f.userDomain()); err != nil {
		return StoredRoom{}, err
	}
	return sr.public(), f.write(sr)
}

// Set changes a room's settings (the room becomes declared).
func (f RoomFiles) Set(name string, set RoomSettings) (StoredRoom, error) {
	sr, err := f.read(name)
	if err != nil {
		return StoredRoom{}, err
	}
	if err := applySettings(&sr, set, f.userDomain()); err != nil {
		return StoredRoom{}, err
	}
	return sr.public(), f.write(sr)
}

// Get reads a room (migrating a clear-text password in its file).
func (f RoomFiles) Get(name string) (StoredRoom, error) {
	sr, err := f.read(name)
	if err == nil && sr.migrated {
		err = f.write(sr)
	}
	return sr.public(), err
}

// Delete removes a room's file.
func (f RoomFiles) Delete(name string) error {
	if _, err := f.read(name); err != nil {
		return err
	}
	return writeRoomFile(f.Dir, name, nil)
}

// List reads every room, sorted by name.
func (f RoomFiles) List() ([]StoredRoom, error) {
	entries, err := os.ReadDir(f.Dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []StoredRoom
	for _, e := range entries {
		name, ok := roomNameOf(e.Name())
		if !ok {
			continue
		}
		if sr, err := f.Get(name); err == nil {
			out = append(out, sr)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (sr storedRoom) public() StoredRoom {
	return StoredRoom{Name: sr.Name, Config: sr.Config, Declared: sr.Declared.clone(), Affiliations: sr.Affiliations}
}

// Owners returns the room's owner JIDs.
func (sr StoredRoom) Owners() []jid.JID {
	var out []jid.JID
	for j, a := range sr.Affiliations {
		if a == string(AffOwner) {
			if b, err := jid.Parse(j); err == nil {
				out = append(out, b)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

package app

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"time"

	"parley.dev/parley/internal/muc"
)

// recordingURLTTL is how long a download URL from a list stays good.
const recordingURLTTL = time.Hour

// recordingFiles lists, removes and serves recordings for occupants who
// may record (muc.RecordingFiles): the room checks the permission and
// hands out download URLs signed here; the web port serves a file only
// against a valid signature, so a URL works without a login, for an hour,
// for the one file it names.
type recordingFiles struct {
	rec Recordings       // read-only
	key []byte           // HMAC key, random per process; read-only
	now func() time.Time // read-only
}

func newRecordingFiles(rec Recordings) *recordingFiles {
	key := make([]byte, 32)
	rand.Read(key)
	return &recordingFiles{rec: rec, key: key, now: time.Now}
}

// manifestView is the part of a recording's manifest.json (API.md,
// "Recordings") a list shows. app does not import the record package
// (see Recordings), so the manifest's documented JSON is the contract.
type manifestView struct {
	ID        string    `json:"id"`
	State     string    `json:"state"`
	Reason    string    `json:"reason"`
	By        string    `json:"by"`
	Started   time.Time `json:"started"`
	Ended     time.Time `json:"ended"`
	Composite string    `json:"composite"`
	Tracks    []struct {
		File  string `json:"file"`
		Nick  string `json:"nick"`
		Kind  string `json:"kind"`
		Bytes int64  `json:"bytes"`
	} `json:"tracks"`
}

// ListRecordings is muc.RecordingFiles'.
func (f *recordingFiles) ListRecordings(room string) ([]muc.RecordingEntry, error) {
	list, err := f.rec.Recordings(room)
	if err != nil {
		return nil, err
	}
	data, err := json.Marshal(list)
	if err != nil {
		return nil, err
	}
	var mans []manifestView
	if err := json.Unmarshal(data, &mans); err != nil {
		return nil, err
	}
	expires := f.now().Add(recordingURLTTL).Unix()
	out := make([]muc.RecordingEntry, 0, len(mans))
	for _, m := range mans {
		e := muc.RecordingEntry{ID: m.ID, State: m.State, Reason: m.Reason, By: m.By, Started: m.Started, Ended: m.Ended,
			Files: []muc.RecordingFile{}}
		add := func(name, nick, kind string, bytes int64) {
			e.Files = append(e.Files, muc.RecordingFile{Name: name, Nick: nick, Kind: kind, Bytes: bytes,
				URL: f.url(room, m.ID, name, expires)})
		}
		for _, t := range m.Tracks {
			if t.Bytes > 0 { // a track not recorded (its codec) has no file
				add(t.File, t.Nick, t.Kind, t.Bytes)
			}
		}
		if m.Composite != "" {
			add(m.Composite, "", "composite", 0)
		}
		add("manifest.json", "", "manifest", 0)
		out = append(out, e)
	}
	return out, nil
}

// RemoveRecording is muc.RecordingFiles'.
func (f *recordingFiles) RemoveRecording(room, id string) error { return f.rec.Remove(room, id) }

// sign is the signature of a download of room/id/name until expires.
func (f *recordingFiles) sign(room, id, name string, expires int64) string {
	m := hmac.New(sha256.New, f.key)
	m.Write([]byte(room + "\n" + id + "\n" + name + "\n" + strconv.FormatInt(expires, 10)))
	return hex.EncodeToString(m.Sum(nil))
}

// url is a download URL: a path on the web port.
func (f *recordingFiles) url(room, id, name string, expires int64) string {
	return "/recordings/" + url.PathEscape(room) + "/" + url.PathEscape(id) + "/" + url.PathEscape(name) +
		"?expires=" + strconv.FormatInt(expires, 10) + "&sig=" + f.sign(room, id, name, expires)
}

var errBadSignature = errors.New("this download link is not valid, or has expired: list the recordings again")

// ServeHTTP serves GET /recordings/{room}/{id}/{name}?expires=&sig=.
func (f *recordingFiles) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	room, id, name := r.PathValue("room"), r.PathValue("id"), r.PathValue("name")
	expires, err := strconv.ParseInt(r.URL.Query().Get("expires"), 10, 64)
	sig, _ := hex.DecodeString(r.URL.Query().Get("sig"))
	want, _ := hex.DecodeString(f.sign(room, id, name, expires))
	if err != nil || f.now().Unix() > expires || !hmac.Equal(sig, want) {
		http.Error(w, errBadSignature.Error(), http.StatusForbidden)
		return
	}
	path, err := f.rec.File(room, id, name)
	if err != nil {
		status := http.StatusInternalServerError
		var hs interface{ HTTPStatus() int }
		if errors.As(err, &hs) && hs.HTTPStatus() != 0 {
			status = hs.HTTPStatus()
		}
		http.Error(w, err.Error(), status)
		return
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	w.Header().Set("Cache-Control", "private, no-store")
	http.ServeFile(w, r, path)
}

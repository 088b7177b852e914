package admin

import (
	"context"
	"errors"
	"net/http"
	"time"

	"parley.dev/parley/internal/muc"
)

// Recordings is what the API needs from the recordings (*record.Manager).
// Its errors may carry their status (HTTPStatus() int).
type Recordings interface {
	Start(room, by, streamURL string) (string, error)            // streamURL "": no live stream
	Composite(ctx context.Context, room, id string) (any, error) // makes the composite; the manifest
	Stop(ctx context.Context, room, id string) error
	Recordings(room string) (any, error)        // the manifests, as JSON-encodable data
	Recording(room, id string) (any, error)     // one manifest
	File(room, id, name string) (string, error) // the path of a file to download
	Remove(room, id string) error
}

func (a *API) registerRecordings(h func(string, func(http.ResponseWriter, *http.Request) error)) {
	h("POST /api/rooms/{room}/recordings", a.startRecording)
	h("GET /api/rooms/{room}/recordings", a.listRecordings)
	h("GET /api/rooms/{room}/recordings/{id}", a.showRecording)
	h("DELETE /api/rooms/{room}/recordings/{id}", a.stopRecording)
	h("GET /api/rooms/{room}/recordings/{id}/files/{name}", a.downloadRecording)
	h("DELETE /api/rooms/{room}/recordings/{id}/files", a.removeRecording)
	h("POST /api/rooms/{room}/recordings/{id}/composite", a.compositeRecording)
}

func (a *API) recordings() (Recordings, error) {
	if a.cfg.Recordings == nil {
		return nil, &httpError{http.StatusNotImplemented, "recording is not available here"}
	}
	return a.cfg.Recordings, nil
}

// startRecording is POST /api/rooms/{room}/recordings, with an optional
// body {"stream_url": "rtmp://..."} to stream live too: the room must
// exist (a recorder never creates one); answers {"id": "..."}.
func (a *API) startRecording(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	var body struct {
		StreamURL string `json:"stream_url,omitempty"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	room := r.PathValue("room")
	if _, ok := a.cfg.Rooms.Room(room); !ok {
		return muc.ErrNoRoom
	}
	id, err := rec.Start(room, "admin API", body.StreamURL)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusCreated, map[string]string{"id": id})
}

func (a *API) listRecordings(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	list, err := rec.Recordings(r.PathValue("room"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, list)
}

func (a *API) showRecording(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	m, err := rec.Recording(r.PathValue("room"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

// stopRecording is DELETE /api/rooms/{room}/recordings/{id}: it returns
// once the files are complete, with the final manifest.
func (a *API) stopRecording(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	room, id := r.PathValue("room"), r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Second)
	defer cancel()
	if err := rec.Stop(ctx, room, id); err != nil {
		return err
	}
	m, err := rec.Recording(room, id)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

func (a *API) downloadRecording(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	path, err := rec.File(r.PathValue("room"), r.PathValue("id"), r.PathValue("name"))
	if err != nil {
		return err
	}
	w.Header().Set("Content-Disposition", `attachment; filename="`+r.PathValue("name")+`"`)
	http.ServeFile(w, r, path)
	return nil
}

func (a *API) removeRecording(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	if err := rec.Remove(r.PathValue("room"), r.PathValue("id")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// recordingError sets the HTTP status of an error that carries one.
func recordingError(err error, status *int) bool {
	var hs interface{ HTTPStatus() int }
	if errors.As(err, &hs) && hs.HTTPStatus() != 0 {
		*status = hs.HTTPStatus()
		return true
	}
	return false
}

// compositeRecording is POST /api/rooms/{room}/recordings/{id}/composite:
// it makes composite.mp4 (which can take a while) and returns the
// manifest that names it.
func (a *API) compositeRecording(w http.ResponseWriter, r *http.Request) error {
	rec, err := a.recordings()
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(r.Context(), 30*time.Minute)
	defer cancel()
	m, err := rec.Composite(ctx, r.PathValue("room"), r.PathValue("id"))
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, m)
}

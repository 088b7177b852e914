package sdk

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"
)

// StartRecording asks the server to record the meeting and returns the
// recording's id; we need the record permission (owners and moderators by
// default), which the server checks. A recorder joins the room: everyone
// sees its Occupant.Recording. The files are in the server's
// DATA/recordings/ROOM/ID/ (docs/API.md for the admin API's access).
func (r *Room) StartRecording(ctx context.Context) (string, error) {
	id, err := r.peer.StartRecording(ctx)
	return id, sdkError(err)
}

// StopRecording stops a recording of the room, or all of them with id "";
// it needs the record permission.
func (r *Room) StopRecording(ctx context.Context, id string) error {
	return sdkError(r.peer.StopRecording(ctx, id))
}

// Recording is one recording of a room (ListRecordings).
type Recording struct {
	ID     string
	State  string // "recording", "stopped" or "failed"
	Reason string // why it ended: "stopped", "not enough free disk space", ...
	By     string // who started it
	// Started and Ended (zero while it runs) are the server's clock.
	Started, Ended time.Time
	Files          []RecordingFile
}

// RecordingFile is one file of a recording: a track (Kind "audio" or
// "video", Nick its publisher), the composite or the manifest.
type RecordingFile struct {
	Name, Nick, Kind string
	Bytes            int64 // 0 when not known (the composite, the manifest)
	// URL is a path on the server's web port, signed and good for an hour;
	// no login is needed to GET it (DownloadRecording does).
	URL string
}

// ListRecordings lists the room's recordings, oldest first, with a link
// to each file; it needs the record permission (owners and moderators by
// default), which the server checks.
func (r *Room) ListRecordings(ctx context.Context) ([]Recording, error) {
	list, err := r.peer.ListRecordings(ctx)
	if err != nil {
		return nil, sdkError(err)
	}
	out := make([]Recording, 0, len(list))
	for _, l := range list {
		rec := Recording{ID: l.ID, State: l.State, Reason: l.Reason, By: l.By, Started: l.Started, Ended: l.Ended,
			Files: make([]RecordingFile, 0, len(l.Files))}
		for _, f := range l.Files {
			rec.Files = append(rec.Files, RecordingFile{Name: f.Name, Nick: f.Nick, Kind: f.Kind, Bytes: f.Bytes, URL: f.URL})
		}
		out = append(out, rec)
	}
	return out, nil
}

// RemoveRecording deletes a finished recording and its files; it needs
// the record permission.
func (r *Room) RemoveRecording(ctx context.Context, id string) error {
	return sdkError(r.peer.RemoveRecording(ctx, id))
}

// DownloadRecording writes a file of a recording (from ListRecordings) to
// w, fetching its URL from Config.Web.
func (r *Room) DownloadRecording(ctx context.Context, f RecordingFile, w io.Writer) error {
	if r.c.cfg.Web == "" {
		return &ConfigError{Field: "Web", Reason: "needed to download recordings over a TCP connection"}
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimSuffix(r.c.cfg.Web, "/")+f.URL, nil)
	if err != nil {
		return err
	}
	client := http.DefaultClient
	if r.c.cfg.TLS != nil {
		client = &http.Client{Transport: &http.Transport{TLSClientConfig: r.c.cfg.TLS}}
	}
	res, err := client.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(res.Body, 512))
		return fmt.Errorf("sdk: download of %s: %s: %s", f.Name, res.Status, strings.TrimSpace(string(msg)))
	}
	_, err = io.Copy(w, res.Body)
	return err
}

// Package admin is parley's HTTP admin API: rooms (declare, list, show,
// change, delete, end the meeting), their participants (list, kick, mute,
// change role), their lobby (admit, deny), and minting tokens. JSON in and
// out, a bearer token on every request. docs/API.md documents it.
//
// The API mounts itself on a ServeMux the application owns and serves on
// its own listener (--admin, loopback by default), never on the public
// port; other parts (metrics) can share that mux.
package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/token"
)

// Rooms is what the API needs from the MUC service (*muc.Service).
type Rooms interface {
	Rooms() []muc.RoomInfo
	Room(name string) (muc.RoomInfo, bool)
	DeclareRoom(name string, set muc.RoomSettings) (muc.RoomInfo, error)
	ChangeRoom(name string, set muc.RoomSettings) (muc.RoomInfo, error)
	DeleteRoom(name, reason string) error
	EndMeeting(name, reason string) error
	KickOccupant(room, nick, reason string) error
	SetOccupantRole(room, nick string, role muc.Role, reason string) error
	MuteOccupant(room, nick string, media perm.Set, mute bool) error
	GrantOccupant(room, nick string, o perm.Overrides) error
	DecideKnock(room, id string, admit bool, reason string) error
}

// Config configures the API.
type Config struct {
	// Token is the bearer token every request must carry. Default "":
	// every request is refused with 401 (the API is off until a token is
	// configured), and New logs why.
	Token string
	// Rooms is the MUC service. Required.
	Rooms Rooms
	// Tokens mints tokens for POST /api/tokens. Default nil: that endpoint
	// answers 501.
	Tokens *token.Verifier
	// Stats returns the counters GET /api/stats shows (refusals of tokens
	// and joins, and so on), as JSON-encodable data. Default nil: {}.
	Stats func() any
	// StartTrace records a room's signalling (to and from the focus) for a
	// while; Trace returns what was recorded, as JSON-encodable data, or
	// an error if the room was never traced. Default nil: those endpoints
	// answer 501.
	StartTrace func(room string, d time.Duration) error
	Trace      func(room string) (any, error)
	// Conferences describes the running conferences (GET /stats and GET
	// /stats/conferences/{room}), as JSON-encodable data; room "" is all.
	// ok is false for a room with no conference. Default nil: 501.
	Conferences func(ctx context.Context, room string) (v any, ok bool)
	// Drain starts a graceful stop (POST /admin/drain) and returns its
	// state, as JSON-encodable data. Default nil: that endpoint answers 501.
	Drain func() any
	// Recordings runs recordings (/api/rooms/{room}/recordings). Default
	// nil: those endpoints answer 501.
	Recordings Recordings
	// Dial calls a phone into a room (the SIP gateway's dial-out) for POST
	// /api/rooms/{room}/dial. Default nil: that endpoint answers 501.
	Dial DialFunc
	// DialIn returns a room's PIN and dial-in number for phones (GET
	// /api/rooms/{room}/dial-in), as JSON and its HTTP status. Default nil:
	// that endpoint answers 501.
	DialIn func(room string) (v any, status int)
	// Bridges lists the media bridges (GET /api/bridges); DrainBridge
	// stops placing conferences on one (POST /api/bridges/{nick}/drain),
	// an error when there is no such bridge. Default nil: 501.
	Bridges     func() any
	DrainBridge func(nick string, move bool) error
	// Logger receives the API's logs. Default slog.Default().
	Logger *slog.Logger
}

// DialFunc calls to (a SIP URI or a number) into room, returning once the
// callee is in the room or the call failed: the JSON value to answer and
// its HTTP status.
type DialFunc func(ctx context.Context, room, to string) (v any, status int)

// API serves /api/. It is safe for concurrent use.
type API struct {
	cfg       Config   // immutable
	tokenHash [32]byte // immutable; SHA-256 of Token, compared in constant time
}

// New returns the API.
func New(cfg Config) *API {
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Token == "" {
		cfg.Logger.Warn("admin API: no token configured (--admin-token-file): every request is refused with 401")
	}
	return &API{cfg: cfg, tokenHash: sha256.Sum256([]byte(cfg.Token))}
}

// Register mounts the API's routes on mux.
func (a *API) Register(mux *http.ServeMux) {
	h := func(pattern string, fn func(http.ResponseWriter, *http.Request) error) {
		mux.Handle(pattern, a.authorized(fn))
	}
	h("GET /api/rooms", a.listRooms)
	h("POST /api/rooms", a.createRoom)
	h("GET /api/rooms/{room}", a.showRoom)
	h("PATCH /api/rooms/{room}", a.changeRoom)
	h("DELETE /api/rooms/{room}", a.deleteRoom)
	h("POST /api/rooms/{room}/end", a.endMeeting)
	h("GET /api/rooms/{room}/participants", a.listParticipants)
	h("POST /api/rooms/{room}/participants/{nick}/kick", a.kick)
	h("POST /api/rooms/{room}/participants/{nick}/mute", a.mute)
	h("POST /api/rooms/{room}/participants/{nick}/unmute", a.unmute)
	h("PUT /api/rooms/{room}/participants/{nick}/role", a.setRole)
	h("PATCH /api/rooms/{room}/participants/{nick}/permissions", a.setPermissions)
	h("GET /api/rooms/{room}/lobby", a.listLobby)
	h("POST /api/rooms/{room}/lobby/{id}/admit", a.admit)
	h("POST /api/rooms/{room}/lobby/{id}/deny", a.deny)
	h("POST /api/tokens", a.mintToken)
	h("GET /api/stats", a.stats)
	h("POST /admin/drain", a.drain)
	h("GET /stats", a.conferenceStats)
	h("GET /stats/conferences/{room}", a.conferenceStats)
	h("POST /api/rooms/{room}/trace", a.startTrace)
	h("GET /api/rooms/{room}/trace", a.getTrace)
	a.registerRecordings(h)
	h("POST /api/rooms/{room}/dial", a.dial)
	h("GET /api/rooms/{room}/dial-in", a.dialIn)
	h("GET /api/bridges", a.listBridges)
	h("POST /api/bridges/{nick}/drain", a.drainBridge)
	mux.Handle("/api/", a.authorized(func(w http.ResponseWriter, r *http.Request) error {
		return &httpError{http.StatusNotFound, "no such endpoint: " + r.Method + " " + r.URL.Path}
	}))
}

// dial is POST /api/rooms/{room}/dial {"to": "sip:alice@pbx" or a
// number}: it answers when the callee is in the room, or with why not.
func (a *API) dial(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Dial == nil {
		return &httpError{http.StatusNotImplemented, "no SIP gateway (parley serve --sip, built with -tags sip)"}
	}
	var body struct {
		To string `json:"to"`
	}
	if err := readJSON(r, &body); err != nil {
		return err
	}
	if body.To == "" {
		return &httpError{http.StatusBadRequest, `"to" is required: a SIP URI or a number`}
	}
	v, status := a.cfg.Dial(r.Context(), r.PathValue("room"), body.To)
	return writeJSON(w, status, v)
}

// dialIn is GET /api/rooms/{room}/dial-in: {"pin", "number", "uri"}.
func (a *API) dialIn(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.DialIn == nil {
		return &httpError{http.StatusNotImplemented, "no SIP gateway (parley serve --sip, built with -tags sip)"}
	}
	v, status := a.cfg.DialIn(r.PathValue("room"))
	return writeJSON(w, status, v)
}

// listBridges is GET /api/bridges: the bridges in the brewery, their stats.
func (a *API) listBridges(w http.ResponseWriter, _ *http.Request) error {
	if a.cfg.Bridges == nil {
		return &httpError{http.StatusNotImplemented, "no bridges here"}
	}
	return writeJSON(w, http.StatusOK, a.cfg.Bridges())
}

// drainBridge is POST /api/bridges/{nick}/drain[?move=true]: no new
// conference there; with move, its conferences move now.
func (a *API) drainBridge(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.DrainBridge == nil {
		return &httpError{http.StatusNotImplemented, "no bridges here"}
	}
	if err := a.cfg.DrainBridge(r.PathValue("nick"), r.URL.Query().Get("move") == "true"); err != nil {
		return &httpError{http.StatusNotFound, err.Error()}
	}
	return writeJSON(w, http.StatusAccepted, map[string]string{"drained": r.PathValue("nick")})
}

// drain is POST /admin/drain: no new meetings, then stop when the calls end.
func (a *API) drain(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Drain == nil {
		return &httpError{http.StatusNotImplemented, "drain is not available here"}
	}
	return writeJSON(w, http.StatusAccepted, a.cfg.Drain())
}

// conferenceStats is GET /stats (every conference) and GET
// /stats/conferences/{room}: participants, their browsers, paths (candidate
// types), round-trip times, codecs, packets and losses.
func (a *API) conferenceStats(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Conferences == nil {
		return &httpError{http.StatusNotImplemented, "statistics are not available here"}
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	v, ok := a.cfg.Conferences(ctx, r.PathValue("room"))
	if !ok {
		return &httpError{http.StatusNotFound, "no conference in room " + r.PathValue("room")}
	}
	return writeJSON(w, http.StatusOK, v)
}

// startTrace is POST /api/rooms/{room}/trace {"seconds": N}: record the
// room's signalling for N seconds (default 60, at most 1800).
func (a *API) startTrace(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.StartTrace == nil {
		return &httpError{http.StatusNotImplemented, "traces are not available here"}
	}
	var body struct {
		Seconds int `json:"seconds"`
	}
	if r.ContentLength != 0 {
		if err := readJSON(r, &body); err != nil {
			return err
		}
	}
	if body.Seconds <= 0 {
		body.Seconds = 60
	}
	if err := a.cfg.StartTrace(r.PathValue("room"), time.Duration(body.Seconds)*time.Second); err != nil {
		return &httpError{http.StatusBadRequest, err.Error()}
	}
	return writeJSON(w, http.StatusAccepted, map[string]any{"room": r.PathValue("room"), "seconds": min(body.Seconds, 1800)})
}

// getTrace is GET /api/rooms/{room}/trace: the recorded signalling, redacted.
func (a *API) getTrace(w http.ResponseWriter, r *http.Request) error {
	if a.cfg.Trace == nil {
		return &httpError{http.StatusNotImplemented, "traces are not available here"}
	}
	t, err := a.cfg.Trace(r.PathValue("room"))
	if err != nil {
		return &httpError{http.StatusNotFound, err.Error()}
	}
	w.Header().Set("Content-Disposition", `attachment; filename="parley-trace.json"`)
	return writeJSON(w, http.StatusOK, t)
}

// httpError is an error with its HTTP status.
type httpError struct {
	status int
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// authorized checks the bearer token, runs fn and writes its error.
func (a *API) authorized(fn func(http.ResponseWriter, *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := a.check(r); err != nil {
			w.Header().Set("WWW-Authenticate", `Bearer realm="parley admin"`)
			writeError(w, err)
			return
		}
		r.Body = http.MaxBytesReader(w, r.Body, 1<<20)
		if err := fn(w, r); err != nil {
			writeError(w, err)
		}
	})
}

func (a *API) check(r *http.Request) error {
	if a.cfg.Token == "" {
		return &httpError{http.StatusUnauthorized, "the admin API has no token configured (parley serve --admin-token-file FILE)"}
	}
	got, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	sum := sha256.Sum256([]byte(strings.TrimSpace(got)))
	if !ok || subtle.ConstantTimeCompare(sum[:], a.tokenHash[:]) != 1 {
		// Debug: a guesser must not flood the log.
		a.cfg.Logger.Debug("admin API: refused a request without the right token", "remote", r.RemoteAddr, "path", r.URL.Path)
		return &httpError{http.StatusUnauthorized, "a valid bearer token is required"}
	}
	return nil
}

// writeError maps an error to a status and a JSON body.
func writeError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var he *httpError
	var se *muc.SettingsError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &he):
		status = he.status
	case recordingError(err, &status):
	case errors.Is(err, muc.ErrNoRoom), errors.Is(err, muc.ErrNoOccupant), errors.Is(err, muc.ErrNoKnock):
		status = http.StatusNotFound
	case errors.Is(err, muc.ErrRoomExists):
		status = http.StatusConflict
	case errors.As(err, &se):
		status = http.StatusBadRequest
	case errors.As(err, &mbe):
		status = http.StatusRequestEntityTooLarge
	case errors.Is(err, token.ErrCannotMint):
		status = http.StatusNotImplemented
	}
	writeJSON(w, status, map[string]string{"error": err.Error()})
}

func writeJSON(w http.ResponseWriter, status int, v any) error {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// readJSON decodes the body into v, refusing unknown fields; an empty
// body leaves v as it is.
func readJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil && !errors.Is(err, io.EOF) {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return err
		}
		return &httpError{http.StatusBadRequest, "bad JSON: " + err.Error()}
	}
	return nil
}

func (a *API) stats(w http.ResponseWriter, r *http.Request) error {
	var v any = map[string]any{}
	if a.cfg.Stats != nil {
		v = a.cfg.Stats()
	}
	return writeJSON(w, http.StatusOK, v)
}

// reasonBody is the optional body of actions that take a reason.
type reasonBody struct {
	Reason string `json:"reason,omitempty"`
}

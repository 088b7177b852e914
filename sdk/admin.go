package sdk

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// EndMeeting removes everyone from the room, each told reason; we need the
// end_meeting permission (owners and moderators). A declared room stays.
func (r *Room) EndMeeting(ctx context.Context, reason string) error {
	return sdkError(r.peer.EndMeeting(ctx, reason))
}

// Admit lets someone waiting in the room's lobby in (admit_lobby); id is
// the knock's, from Admin.Lobby or the knock message.
func (r *Room) Admit(ctx context.Context, id string) error { return sdkError(r.peer.Admit(ctx, id)) }

// Deny turns someone waiting in the lobby away, with a reason.
func (r *Room) Deny(ctx context.Context, id, reason string) error {
	return sdkError(r.peer.Deny(ctx, id, reason))
}

// Admin is a client of parley's admin API (docs/API.md): what a platform
// or a bot-admin needs to create and configure rooms, manage their
// participants, end meetings and mint tokens, without being in the room.
type Admin struct {
	base  string       // the API's base URL; read-only
	token string       // the bearer token; read-only
	http  *http.Client // read-only
}

// AdminConfig configures NewAdmin.
type AdminConfig struct {
	// URL is the admin listener, e.g. "http://127.0.0.1:8081". Required.
	URL string
	// Token is the admin API's bearer token (the server's
	// --admin-token-file). Required.
	Token string
	// HTTPClient makes the requests. Default: a client with a 30 s timeout.
	HTTPClient *http.Client
}

// NewAdmin returns an admin API client.
func NewAdmin(cfg AdminConfig) (*Admin, error) {
	if _, err := url.Parse(cfg.URL); err != nil || cfg.URL == "" {
		return nil, &ConfigError{Field: "URL", Reason: "want http://HOST:PORT"}
	}
	if cfg.Token == "" {
		return nil, &ConfigError{Field: "Token", Reason: "required"}
	}
	if cfg.HTTPClient == nil {
		cfg.HTTPClient = &http.Client{Timeout: 30 * time.Second}
	}
	return &Admin{base: strings.TrimRight(cfg.URL, "/"), token: cfg.Token, http: cfg.HTTPClient}, nil
}

// AdminError is an error answer of the admin API.
type AdminError struct {
	Status  int    // the HTTP status: 400, 401, 404, 409, 501...
	Message string // the API's explanation
}

func (e *AdminError) Error() string { return fmt.Sprintf("sdk: admin API %d: %s", e.Status, e.Message) }

// RoomSettings declare or change a room; nil fields are left as they are
// (or at their defaults). See docs/API.md for each.
type RoomSettings struct {
	Title        *string                    `json:"title,omitempty"`
	Description  *string                    `json:"description,omitempty"`
	Password     *string                    `json:"password,omitempty"` // "" removes it
	MembersOnly  *bool                      `json:"members_only,omitempty"`
	Lobby        *bool                      `json:"lobby,omitempty"`
	MaxUsers     *int                       `json:"max_users,omitempty"`
	Guests       *bool                      `json:"guests,omitempty"`
	Public       *bool                      `json:"public,omitempty"`
	Moderated    *bool                      `json:"moderated,omitempty"`
	Owners       *[]string                  `json:"owners,omitempty"`
	RoleDefaults map[string]map[string]bool `json:"role_defaults,omitempty"`
	Handover     *string                    `json:"handover,omitempty"` // "longest" or "none"
}

// Ptr returns a pointer to v, for RoomSettings' fields.
func Ptr[T any](v T) *T { return &v }

// RoomStatus is a room as the admin API shows it.
type RoomStatus struct {
	Name         string                     `json:"name"`
	JID          string                     `json:"jid"`
	Title        string                     `json:"title"`
	Description  string                     `json:"description"`
	Declared     bool                       `json:"declared"`
	Password     bool                       `json:"password"`
	MembersOnly  bool                       `json:"members_only"`
	Lobby        bool                       `json:"lobby"`
	MaxUsers     int                        `json:"max_users"`
	Guests       bool                       `json:"guests"`
	Public       bool                       `json:"public"`
	Moderated    bool                       `json:"moderated"`
	Handover     string                     `json:"handover"`
	Owners       []string                   `json:"owners"`
	RoleDefaults map[string]map[string]bool `json:"role_defaults"`
	Participants []Participant              `json:"participants"`
	Waiting      []Knock                    `json:"waiting"`
}

// Participant is an occupant as the admin API shows it.
type Participant struct {
	Nick        string    `json:"nick"`
	JID         string    `json:"jid"`
	Role        string    `json:"role"`
	Affiliation string    `json:"affiliation"`
	Kind        string    `json:"kind"` // account, guest, token
	Name        string    `json:"name"`
	Joined      time.Time `json:"joined"`
	Permissions []string  `json:"permissions"`
	Muted       []string  `json:"muted"` // publish permissions muted: publish_audio, ...
}

// Knock is someone waiting in a lobby.
type Knock struct {
	ID    string    `json:"id"`
	Nick  string    `json:"nick"`
	Name  string    `json:"name"`
	JID   string    `json:"jid"`
	Kind  string    `json:"kind"`
	Since time.Time `json:"since"`
}

// TokenRequest asks for a token (HS256; the server needs --jwt-secret-file).
type TokenRequest struct {
	User      string        `json:"user"`
	Name      string        `json:"name,omitempty"`
	Avatar    string        `json:"avatar,omitempty"`
	Room      string        `json:"room,omitempty"` // "" or "*": any room
	Moderator bool          `json:"moderator,omitempty"`
	TTL       time.Duration `json:"-"` // default one hour
	// Role, Perms and Overrides fill parley's claim (docs/PERMISSIONS.md).
	Role      string          `json:"-"`
	Perms     []string        `json:"-"`
	Overrides map[string]bool `json:"-"`
}

func (a *Admin) do(ctx context.Context, method, path string, body, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, a.base+path, rd)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+a.token)
	req.Header.Set("Content-Type", "application/json")
	res, err := a.http.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 8<<20))
	if err != nil {
		return err
	}
	if res.StatusCode >= 300 {
		var e struct{ Error string }
		json.Unmarshal(data, &e)
		return &AdminError{Status: res.StatusCode, Message: e.Error}
	}
	if out != nil && len(data) > 0 {
		return json.Unmarshal(data, out)
	}
	return nil
}

func roomPath(name string, more ...string) string {
	p := "/api/rooms/" + url.PathEscape(name)
	for _, m := range more {
		p += "/" + url.PathEscape(m)
	}
	return p
}

// CreateRoom declares a room: it exists from now on, empty, with these
// settings (409 AdminError if it is declared already).
func (a *Admin) CreateRoom(ctx context.Context, name string, s RoomSettings) (RoomStatus, error) {
	body := struct {
		Name string `json:"name"`
		RoomSettings
	}{name, s}
	var out RoomStatus
	return out, a.do(ctx, "POST", "/api/rooms", body, &out)
}

// ConfigureRoom changes a room's settings (only those given).
func (a *Admin) ConfigureRoom(ctx context.Context, name string, s RoomSettings) (RoomStatus, error) {
	var out RoomStatus
	return out, a.do(ctx, "PATCH", roomPath(name), s, &out)
}

// Room shows a room, its participants and its lobby.
func (a *Admin) Room(ctx context.Context, name string) (RoomStatus, error) {
	var out RoomStatus
	return out, a.do(ctx, "GET", roomPath(name), nil, &out)
}

// Rooms lists every room.
func (a *Admin) Rooms(ctx context.Context) ([]RoomStatus, error) {
	var out []RoomStatus
	return out, a.do(ctx, "GET", "/api/rooms", nil, &out)
}

// DeleteRoom ends the meeting and removes the room.
func (a *Admin) DeleteRoom(ctx context.Context, name, reason string) error {
	return a.do(ctx, "DELETE", roomPath(name)+"?reason="+url.QueryEscape(reason), nil, nil)
}

// EndMeeting removes everyone from the room, each told reason.
func (a *Admin) EndMeeting(ctx context.Context, name, reason string) error {
	return a.do(ctx, "POST", roomPath(name, "end"), map[string]string{"reason": reason}, nil)
}

// Kick removes a participant.
func (a *Admin) Kick(ctx context.Context, room, nick, reason string) error {
	return a.do(ctx, "POST", roomPath(room, "participants", nick, "kick"), map[string]string{"reason": reason}, nil)
}

// Mute stops forwarding a participant's media ("audio", "video",
// "screen"; none: all) until Unmute.
func (a *Admin) Mute(ctx context.Context, room, nick string, media ...string) error {
	return a.do(ctx, "POST", roomPath(room, "participants", nick, "mute"), map[string]string{"media": strings.Join(media, " ")}, nil)
}

// Unmute lets a participant's media through again.
func (a *Admin) Unmute(ctx context.Context, room, nick string, media ...string) error {
	return a.do(ctx, "POST", roomPath(room, "participants", nick, "unmute"), map[string]string{"media": strings.Join(media, " ")}, nil)
}

// SetRole gives a participant an XEP-0045 role.
func (a *Admin) SetRole(ctx context.Context, room, nick string, role Role) error {
	return a.do(ctx, "PUT", roomPath(room, "participants", nick, "role"), map[string]string{"role": string(role)}, nil)
}

// SetPermissions grants (true) or revokes (false) a participant's
// permissions for its visit, by name.
func (a *Admin) SetPermissions(ctx context.Context, room, nick string, changes map[string]bool) error {
	return a.do(ctx, "PATCH", roomPath(room, "participants", nick, "permissions"), changes, nil)
}

// Admit lets a knock in; Deny turns it away.
func (a *Admin) Admit(ctx context.Context, room, id string) error {
	return a.do(ctx, "POST", roomPath(room, "lobby", id, "admit"), nil, nil)
}

// Deny turns a knock away with a reason.
func (a *Admin) Deny(ctx context.Context, room, id, reason string) error {
	return a.do(ctx, "POST", roomPath(room, "lobby", id, "deny"), map[string]string{"reason": reason}, nil)
}

// MintToken returns a token for a user (and room), and when it expires.
func (a *Admin) MintToken(ctx context.Context, req TokenRequest) (string, time.Time, error) {
	body := map[string]any{"user": req.User, "name": req.Name, "avatar": req.Avatar, "room": req.Room,
		"moderator": req.Moderator, "ttl_seconds": int(req.TTL / time.Second)}
	if req.Role != "" || req.Perms != nil || req.Overrides != nil {
		body["parley"] = map[string]any{"role": req.Role, "perms": req.Perms, "overrides": req.Overrides}
	}
	var out struct {
		Token   string    `json:"token"`
		Expires time.Time `json:"expires"`
	}
	err := a.do(ctx, "POST", "/api/tokens", body, &out)
	return out.Token, out.Expires, err
}

// Dialled is a phone that Dial brought into a room.
type Dialled struct {
	Room string `json:"room"`
	Nick string `json:"nick"` // its name in the room
	Call string `json:"call"` // the SIP Call-ID
}

// Dial calls a phone (a SIP URI, or a number through the gateway's
// outbound proxy) into a room through parley's SIP gateway (parley serve
// --sip), and returns once it is in the room. A call that does not get
// there is an *AdminError whose Message is "busy", "no-answer",
// "rejected", or why it failed.
func (a *Admin) Dial(ctx context.Context, room, to string) (Dialled, error) {
	var d Dialled
	err := a.do(ctx, "POST", roomPath(room, "dial"), map[string]string{"to": to}, &d)
	return d, err
}

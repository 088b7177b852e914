package admin

import (
	"net/http"
	"strings"
	"time"

	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/token"
)

// RoomView is a room as the API shows it.
type RoomView struct {
	Name         string            `json:"name"`
	JID          string            `json:"jid"`
	Title        string            `json:"title,omitempty"`
	Description  string            `json:"description,omitempty"`
	Declared     bool              `json:"declared"`
	Password     bool              `json:"password"` // whether one is set; never the secret
	MembersOnly  bool              `json:"members_only"`
	Lobby        bool              `json:"lobby"`
	MaxUsers     int               `json:"max_users"`
	LastN        int               `json:"last_n"` // 0: no cap of the room's own
	Guests       bool              `json:"guests"`
	Public       bool              `json:"public"`
	Moderated    bool              `json:"moderated"`
	Handover     string            `json:"handover"`
	Owners       []string          `json:"owners"`
	RoleDefaults perm.Defaults     `json:"role_defaults,omitempty"`
	Participants []ParticipantView `json:"participants"`
	Waiting      []muc.KnockInfo   `json:"waiting"`
}

// ParticipantView is one occupant.
type ParticipantView struct {
	Nick        string    `json:"nick"`
	JID         string    `json:"jid"`
	Role        string    `json:"role"`
	Affiliation string    `json:"affiliation"`
	Kind        string    `json:"kind"`           // account, guest, token
	Name        string    `json:"name,omitempty"` // a token's context.user.name
	Joined      time.Time `json:"joined"`
	Permissions perm.Set  `json:"permissions"` // what it may do, mutes aside
	Muted       perm.Set  `json:"muted"`       // publish permissions muted
}

func roomView(ri muc.RoomInfo) RoomView {
	c := ri.Config
	v := RoomView{
		Name: ri.JID.Local, JID: ri.JID.String(), Title: c.Name, Description: c.Description,
		Declared: ri.Declared != nil, Password: c.PasswordHash != "" && c.PasswordProtected,
		MembersOnly: c.MembersOnly, Lobby: c.Lobby, MaxUsers: c.MaxUsers, LastN: c.LastN, Guests: !c.NoGuests,
		Public: c.Public, Moderated: c.Moderated, Handover: string(c.Handover),
		Owners: []string{}, Participants: participantViews(ri), Waiting: ri.Lobby,
	}
	if v.Handover == "" {
		v.Handover = string(muc.HandoverNone)
	}
	if v.Waiting == nil {
		v.Waiting = []muc.KnockInfo{}
	}
	v.RoleDefaults = ri.Config.RoleDefaults
	for j, a := range ri.Affiliations {
		if a == muc.AffOwner {
			v.Owners = append(v.Owners, j.String())
		}
	}
	sortStrings(v.Owners)
	return v
}

func participantViews(ri muc.RoomInfo) []ParticipantView {
	out := make([]ParticipantView, 0, len(ri.Occupants))
	for _, o := range ri.Occupants {
		p := ParticipantView{Nick: o.Nick, JID: o.RealJID.String(), Role: string(o.Role),
			Affiliation: string(o.Affiliation), Kind: o.Identity.Kind.String(), Joined: o.Joined.UTC(),
			Permissions: o.Permissions, Muted: o.Muted}
		if t := o.Identity.Token; t != nil {
			p.Name = t.Name
		}
		out = append(out, p)
	}
	return out
}

func sortStrings(s []string) {
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

func (a *API) listRooms(w http.ResponseWriter, r *http.Request) error {
	rooms := a.cfg.Rooms.Rooms()
	out := make([]RoomView, 0, len(rooms))
	for _, ri := range rooms {
		out = append(out, roomView(ri))
	}
	return writeJSON(w, http.StatusOK, out)
}

// createBody is POST /api/rooms: a name and the settings.
type createBody struct {
	Name string `json:"name"`
	muc.RoomSettings
}

func (a *API) createRoom(w http.ResponseWriter, r *http.Request) error {
	var b createBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	if b.Name == "" {
		return &httpError{http.StatusBadRequest, "name is required"}
	}
	ri, err := a.cfg.Rooms.DeclareRoom(b.Name, b.RoomSettings)
	if err != nil {
		return err
	}
	a.cfg.Logger.Info("admin API: room declared", "room", b.Name)
	w.Header().Set("Location", "/api/rooms/"+b.Name)
	return writeJSON(w, http.StatusCreated, roomView(ri))
}

func (a *API) room(r *http.Request) (muc.RoomInfo, error) {
	ri, ok := a.cfg.Rooms.Room(r.PathValue("room"))
	if !ok {
		return ri, muc.ErrNoRoom
	}
	return ri, nil
}

func (a *API) showRoom(w http.ResponseWriter, r *http.Request) error {
	ri, err := a.room(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, roomView(ri))
}

func (a *API) changeRoom(w http.ResponseWriter, r *http.Request) error {
	var set muc.RoomSettings
	if err := readJSON(r, &set); err != nil {
		return err
	}
	ri, err := a.cfg.Rooms.ChangeRoom(r.PathValue("room"), set)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, roomView(ri))
}

func (a *API) deleteRoom(w http.ResponseWriter, r *http.Request) error {
	if err := a.cfg.Rooms.DeleteRoom(r.PathValue("room"), r.URL.Query().Get("reason")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) endMeeting(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	if err := a.cfg.Rooms.EndMeeting(r.PathValue("room"), b.Reason); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (a *API) listParticipants(w http.ResponseWriter, r *http.Request) error {
	ri, err := a.room(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, participantViews(ri))
}

func (a *API) kick(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	return a.noContent(w, a.cfg.Rooms.KickOccupant(r.PathValue("room"), r.PathValue("nick"), b.Reason))
}

// muteBody names the media of a mute: "audio", "video", "screen",
// several separated by spaces; empty: all three.
type muteBody struct {
	Media string `json:"media,omitempty"`
}

func (b muteBody) set() (perm.Set, error) {
	var s perm.Set
	for _, m := range strings.Fields(b.Media) {
		switch m {
		case "audio":
			s = s.With(perm.PublishAudio)
		case "video":
			s = s.With(perm.PublishVideo)
		case "screen":
			s = s.With(perm.PublishScreen)
		default:
			return 0, &httpError{http.StatusBadRequest, "media: audio, video or screen, not " + m}
		}
	}
	return s, nil
}

// mute stops the forwarding of the participant's media server-side until
// it is unmuted; unmute lets it again.
func (a *API) mute(w http.ResponseWriter, r *http.Request) error   { return a.muteAs(w, r, true) }
func (a *API) unmute(w http.ResponseWriter, r *http.Request) error { return a.muteAs(w, r, false) }

func (a *API) muteAs(w http.ResponseWriter, r *http.Request, mute bool) error {
	var b muteBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	media, err := b.set()
	if err != nil {
		return err
	}
	return a.noContent(w, a.cfg.Rooms.MuteOccupant(r.PathValue("room"), r.PathValue("nick"), media, mute))
}

// setPermissions changes one participant's permissions for its visit:
// {"publish_video": false, "record": true}.
func (a *API) setPermissions(w http.ResponseWriter, r *http.Request) error {
	var o perm.Overrides
	if err := readJSON(r, &o); err != nil {
		return err
	}
	if o.IsZero() {
		return &httpError{http.StatusBadRequest, "no permission to change"}
	}
	return a.noContent(w, a.cfg.Rooms.GrantOccupant(r.PathValue("room"), r.PathValue("nick"), o))
}

type roleBody struct {
	Role   string `json:"role"`
	Reason string `json:"reason,omitempty"`
}

func (a *API) setRole(w http.ResponseWriter, r *http.Request) error {
	var b roleBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	return a.noContent(w, a.cfg.Rooms.SetOccupantRole(r.PathValue("room"), r.PathValue("nick"), muc.Role(b.Role), b.Reason))
}

func (a *API) listLobby(w http.ResponseWriter, r *http.Request) error {
	ri, err := a.room(r)
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, roomView(ri).Waiting)
}

func (a *API) admit(w http.ResponseWriter, r *http.Request) error {
	return a.noContent(w, a.cfg.Rooms.DecideKnock(r.PathValue("room"), r.PathValue("id"), true, ""))
}

func (a *API) deny(w http.ResponseWriter, r *http.Request) error {
	var b reasonBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	return a.noContent(w, a.cfg.Rooms.DecideKnock(r.PathValue("room"), r.PathValue("id"), false, b.Reason))
}

func (a *API) noContent(w http.ResponseWriter, err error) error {
	if err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// mintBody is POST /api/tokens.
type mintBody struct {
	User       string             `json:"user"`
	Name       string             `json:"name,omitempty"`
	Avatar     string             `json:"avatar,omitempty"`
	Room       string             `json:"room,omitempty"`
	Moderator  bool               `json:"moderator,omitempty"`
	TTLSeconds int                `json:"ttl_seconds,omitempty"`
	Parley     *token.ParleyClaim `json:"parley,omitempty"`
}

func (a *API) mintToken(w http.ResponseWriter, r *http.Request) error {
	var b mintBody
	if err := readJSON(r, &b); err != nil {
		return err
	}
	if b.User == "" {
		return &httpError{http.StatusBadRequest, "user is required"}
	}
	if b.TTLSeconds < 0 || b.TTLSeconds > 30*24*3600 {
		return &httpError{http.StatusBadRequest, "ttl_seconds must be 1 to 2592000 (0: one hour)"}
	}
	if a.cfg.Tokens == nil {
		return &httpError{http.StatusNotImplemented, "tokens are off: start parley with --jwt-secret-file"}
	}
	raw, exp, err := a.cfg.Tokens.Mint(token.MintRequest{User: b.User, Name: b.Name, Avatar: b.Avatar, Room: b.Room,
		Moderator: b.Moderator, Parley: b.Parley, TTL: time.Duration(b.TTLSeconds) * time.Second})
	if err != nil {
		return err
	}
	return writeJSON(w, http.StatusOK, map[string]any{"token": raw, "expires": exp.UTC()})
}

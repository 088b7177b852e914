package sdk

import (
	"context"
	"strings"

	"parley.dev/parley/internal/perm"
)

// Media names for Mute, Unmute and AskUnmute.
const (
	MediaAudio  = "audio"
	MediaVideo  = "video"
	MediaScreen = "screen" // a video published with Media.ScreenShare
)

// Permission names, as rooms, tokens and docs/PERMISSIONS.md write them.
const (
	PermJoin          = "join"
	PermPublishAudio  = "publish_audio"
	PermPublishVideo  = "publish_video"
	PermPublishScreen = "publish_screen"
	PermChat          = "chat"
	PermPrivateChat   = "private_chat"
	PermMuteOthers    = "mute_others"
	PermAskUnmute     = "ask_unmute"
	PermKick          = "kick"
	PermBan           = "ban"
	PermGrantRoles    = "grant_roles"
	PermAdmitLobby    = "admit_lobby"
	PermLockRoom      = "lock_room"
	PermEndMeeting    = "end_meeting"
	PermRecord        = "record"
	PermDialOut       = "dial_out"
)

// Can reports whether the occupant holds a permission (by name), as the
// room last announced it.
func (o Occupant) Can(permission string) bool {
	for _, p := range o.Permissions {
		if p == permission {
			return true
		}
	}
	return false
}

// IsMuted reports whether a moderator (or the occupant) muted media
// ("audio", "video" or "screen").
func (o Occupant) IsMuted(media string) bool {
	for _, m := range o.Muted {
		if m == media {
			return true
		}
	}
	return false
}

// Mute stops the forwarding of an occupant's media at the server, at
// once, whatever its client does, until it unmutes. Without media, all of
// it. nick "" mutes ourselves; muting others needs mute_others.
func (r *Room) Mute(ctx context.Context, nick string, media ...string) error {
	return sdkError(r.peer.Mute(ctx, nick, strings.Join(media, " ")))
}

// Unmute lifts a mute on our own media; we need its publish permission.
func (r *Room) Unmute(ctx context.Context, media ...string) error {
	return sdkError(r.peer.Unmute(ctx, strings.Join(media, " ")))
}

// AskUnmute asks another occupant to unmute (ask_unmute): it receives
// EventUnmuteAsked and decides.
func (r *Room) AskUnmute(ctx context.Context, nick string, media ...string) error {
	return sdkError(r.peer.AskUnmute(ctx, nick, strings.Join(media, " ")))
}

// SetPermissions grants (true) or revokes (false) an occupant's
// permissions one at a time, by name, for the rest of its visit; we need
// grant_roles, and cannot grant what we do not hold ourselves. A revoked
// publish permission stops the forwarding of that media at once. To change
// a role, use SetRole (viewer: RoleVisitor) or SetAffiliation.
func (r *Room) SetPermissions(ctx context.Context, nick string, changes map[string]bool) error {
	o, err := perm.OverridesFromMap(changes)
	if err != nil {
		return &ConfigError{Field: "changes", Reason: err.Error()}
	}
	return sdkError(r.peer.Override(ctx, nick, o))
}

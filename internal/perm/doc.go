package perm

//go:generate go test -run TestPermissionsDoc -update .

import (
	"fmt"
	"strings"
)

// enforcedAt says, for the docs, which layer refuses each permission's
// action and with what.
var enforcedAt = [numPermissions]string{
	Join:          "MUC: join presence → `forbidden`",
	PublishAudio:  "focus: no publish m-line, Jingle answer or `source-add` that starts sending → `forbidden`; SFU: packets not forwarded",
	PublishVideo:  "as publish_audio, for a camera",
	PublishScreen: "as publish_audio, for a video source with `videoType=\"desktop\"`",
	Chat:          "MUC: groupchat message or subject → `forbidden`",
	PrivateChat:   "MUC: private message, IQ to another occupant → `forbidden`",
	MuteOthers:    "MUC: `<mute nick>`, voice revoke (role visitor) → `forbidden`",
	AskUnmute:     "MUC: `<unmute nick>` → `forbidden`",
	Kick:          "MUC: muc#admin role none → `forbidden`",
	Ban:           "MUC: muc#admin affiliation outcast → `forbidden`",
	GrantRoles:    "MUC: other muc#admin role and affiliation changes, `<override>` → `forbidden`",
	AdmitLobby:    "not yet: the lobby (identities part of issue 12)",
	LockRoom:      "MUC: muc#owner form changing password, members-only or moderation → `forbidden`",
	EndMeeting:    "MUC: muc#owner `<destroy/>` → `forbidden`",
	Record:        "MUC: `<record action=\"start\">`, `\"stop\"`, `\"remove\"` and the `<recordings/>` list with its signed download links (web client, SDK) → `forbidden`; a `<recording/>` stamp in presence is not passed on (admin API: its bearer token)",
	DialOut:       "MUC: `<dial to>` (urn:parley:phone:0, web client) → `forbidden` (admin API: its bearer token)",
}

// MarkdownTable renders every permission by every role, from ForRole,
// with where each one is enforced: the table of docs/PERMISSIONS.md.
func MarkdownTable() string {
	var b strings.Builder
	b.WriteString("| permission |")
	for _, r := range Roles() {
		fmt.Fprintf(&b, " %s |", r)
	}
	b.WriteString(" what it allows | refused where, and how |\n|---|")
	for range Roles() {
		b.WriteString(":---:|")
	}
	b.WriteString("---|---|\n")
	for _, p := range All() {
		fmt.Fprintf(&b, "| `%s` |", p)
		for _, r := range Roles() {
			mark := "—"
			if ForRole(r).Has(p) {
				mark = "✓"
			}
			fmt.Fprintf(&b, " %s |", mark)
		}
		fmt.Fprintf(&b, " %s | %s |\n", p.Description(), enforcedAt[p])
	}
	return b.String()
}

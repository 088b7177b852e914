package muc

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"

	"golang.org/x/crypto/bcrypt"

	"parley.dev/parley/internal/perm"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Namespaces this package speaks.
const (
	NSMUC        = "http://jabber.org/protocol/muc"
	NSMUCUser    = "http://jabber.org/protocol/muc#user"
	NSMUCAdmin   = "http://jabber.org/protocol/muc#admin"
	NSMUCOwner   = "http://jabber.org/protocol/muc#owner"
	NSRoomConfig = "http://jabber.org/protocol/muc#roomconfig"
	NSRoomInfo   = "http://jabber.org/protocol/muc#roominfo"
	NSDataForms  = "jabber:x:data"
	NSDiscoInfo  = "http://jabber.org/protocol/disco#info"
	NSDiscoItems = "http://jabber.org/protocol/disco#items"
	NSDelay      = "urn:xmpp:delay"
)

// WhoIs says who may see occupants' real JIDs (muc#roomconfig_whois).
type WhoIs string

// WhoIs values.
const (
	WhoIsModerators WhoIs = "moderators" // semi-anonymous room
	WhoIsAnyone     WhoIs = "anyone"     // non-anonymous room
)

// RoomConfig is a room's owner-settable configuration (muc#roomconfig).
type RoomConfig struct {
	Name              string `json:"name,omitempty"`        // roomname; "" shows the room's localpart
	Description       string `json:"description,omitempty"` // roomdesc
	PasswordProtected bool   `json:"password_protected,omitempty"`
	// PasswordHash is the room secret's bcrypt hash; the secret itself is
	// never kept (files written before hashing are migrated on load).
	PasswordHash  string `json:"password_hash,omitempty"`
	MembersOnly   bool   `json:"members_only,omitempty"`
	Moderated     bool   `json:"moderated,omitempty"` // newcomers without affiliation enter as visitors
	MaxUsers      int    `json:"max_users,omitempty"` // 0 = unlimited; owners and admins may always enter
	Persistent    bool   `json:"persistent,omitempty"`
	Public        bool   `json:"public,omitempty"` // listed in the service's disco#items
	WhoIs         WhoIs  `json:"whois,omitempty"`  // "" means WhoIsModerators
	ChangeSubject bool   `json:"change_subject,omitempty"`
	// Lobby makes newcomers below member knock and wait until a moderator
	// admits them (lobby.go).
	Lobby bool `json:"lobby,omitempty"`
	// NoGuests refuses anonymous (SASL ANONYMOUS) users.
	NoGuests bool `json:"no_guests,omitempty"`
	// LastN, above 0, caps every occupant's lastN: each receives the
	// camera of at most this many recent speakers, plus the ones it pins
	// (the server's --last-n caps it too). 0: no cap of the room's own.
	LastN int `json:"last_n,omitempty"`
	// Handover is what happens when the last moderator leaves: HandoverLongest
	// or HandoverNone ("" means HandoverNone).
	Handover Handover `json:"handover,omitempty"`
	// RoleDefaults change what each parley role may do in this room, one
	// permission at a time (docs/PERMISSIONS.md). Not in the XEP-0045
	// form: set by whoever declares the room.
	RoleDefaults perm.Defaults `json:"role_defaults,omitempty"`
}

// configEqual compares two configurations through their stored form
// (RoleDefaults is a map, and fields will be added).
func configEqual(a, b RoomConfig) bool {
	ja, errA := json.Marshal(a)
	jb, errB := json.Marshal(b)
	return errA == nil && errB == nil && bytes.Equal(ja, jb)
}

// Handover is a room's rule for when its last moderator leaves.
type Handover string

// Handover rules.
const (
	HandoverNone    Handover = "none"    // the room stays without a moderator
	HandoverLongest Handover = "longest" // the longest-present occupant becomes moderator
)

// DefaultRoomConfig is what new rooms get when Config.DefaultRoomConfig is
// nil: public, open, unmoderated, temporary, semi-anonymous, no size limit,
// only moderators change the subject.
func DefaultRoomConfig() RoomConfig {
	return RoomConfig{Public: true, WhoIs: WhoIsModerators}
}

func (c RoomConfig) nonAnonymous() bool { return c.WhoIs == WhoIsAnyone }

// needsPassword reports whether joins must present the room secret.
func (c RoomConfig) needsPassword() bool { return c.PasswordProtected && c.PasswordHash != "" }

// passwordCost is bcrypt's cost for room secrets: slow enough to make a
// stolen room file expensive to guess, fast enough for a join (~50 ms).
const passwordCost = bcrypt.DefaultCost

// HashPassword returns the stored form of a room secret.
func HashPassword(secret string) (string, error) {
	h, err := bcrypt.GenerateFromPassword([]byte(secret), passwordCost)
	return string(h), err
}

// checkPassword reports whether secret is the room's.
func (c RoomConfig) checkPassword(secret string) bool {
	return bcrypt.CompareHashAndPassword([]byte(c.PasswordHash), []byte(secret)) == nil
}

// Config form field names.
const (
	fieldFormType      = "FORM_TYPE"
	fieldName          = "muc#roomconfig_roomname"
	fieldDesc          = "muc#roomconfig_roomdesc"
	fieldPasswordProt  = "muc#roomconfig_passwordprotectedroom"
	fieldSecret        = "muc#roomconfig_roomsecret"
	fieldMembersOnly   = "muc#roomconfig_membersonly"
	fieldModerated     = "muc#roomconfig_moderatedroom"
	fieldMaxUsers      = "muc#roomconfig_maxusers"
	fieldPersistent    = "muc#roomconfig_persistentroom"
	fieldPublic        = "muc#roomconfig_publicroom"
	fieldWhoIs         = "muc#roomconfig_whois"
	fieldChangeSubject = "muc#roomconfig_changesubject"
	// parley's own fields (docs/SIGNALLING.md §9).
	fieldLobby  = "parley#lobby"
	fieldGuests = "parley#guests"
	fieldLastN  = "parley#last-n"
)

// MaxLastN bounds a room's lastN (the focus's receive-video requests have
// the same bound).
const MaxLastN = 1000

// maxUsersLimit bounds muc#roomconfig_maxusers so that a typo cannot make a
// number that overflows anything downstream.
const maxUsersLimit = 100000

// configForm renders c as the muc#owner configuration form (XEP-0045 §10.2).
func configForm(c RoomConfig) *xmlstream.Element {
	x := xmlstream.New(NSDataForms, "x", "type", "form")
	x.Add(xmlstream.New(NSDataForms, "title").SetText("Room configuration"))
	x.Add(formField(fieldFormType, "hidden", "", NSRoomConfig))
	x.Add(formField(fieldName, "text-single", "Room name", c.Name))
	x.Add(formField(fieldDesc, "text-single", "Description", c.Description))
	x.Add(formField(fieldPasswordProt, "boolean", "Password required to enter", formBool(c.PasswordProtected)))
	// The secret is stored hashed: the form shows it empty, and an empty
	// submission keeps it.
	x.Add(formField(fieldSecret, "text-private", "Password (empty: unchanged)", ""))
	x.Add(formField(fieldMembersOnly, "boolean", "Only members may enter", formBool(c.MembersOnly)))
	x.Add(formField(fieldModerated, "boolean", "Moderated (visitors need voice)", formBool(c.Moderated)))
	maxUsers := "none"
	if c.MaxUsers > 0 {
		maxUsers = strconv.Itoa(c.MaxUsers)
	}
	mu := formField(fieldMaxUsers, "list-single", "Maximum occupants", maxUsers)
	for _, o := range []string{"10", "20", "30", "50", "100", "none"} {
		mu.Add(xmlstream.New(NSDataForms, "option", "label", o).Add(
			xmlstream.New(NSDataForms, "value").SetText(o)))
	}
	x.Add(mu)
	x.Add(formField(fieldPersistent, "boolean", "Persistent", formBool(c.Persistent)))
	x.Add(formField(fieldPublic, "boolean", "Listed publicly", formBool(c.Public)))
	whois := formField(fieldWhoIs, "list-single", "Who may see real JIDs", string(c.whoIs()))
	for _, o := range []WhoIs{WhoIsModerators, WhoIsAnyone} {
		whois.Add(xmlstream.New(NSDataForms, "option", "label", string(o)).Add(
			xmlstream.New(NSDataForms, "value").SetText(string(o))))
	}
	x.Add(whois)
	x.Add(formField(fieldChangeSubject, "boolean", "Participants may change the subject", formBool(c.ChangeSubject)))
	x.Add(formField(fieldLobby, "boolean", "Newcomers wait in a lobby until a moderator admits them", formBool(c.Lobby)))
	x.Add(formField(fieldGuests, "boolean", "Guests (no account, no token) may enter", formBool(!c.NoGuests)))
	x.Add(formField(fieldLastN, "text-single", "Cameras each participant receives: the last speakers' (0: no limit)", strconv.Itoa(c.LastN)))
	return x
}

func (c RoomConfig) whoIs() WhoIs {
	if c.WhoIs == "" {
		return WhoIsModerators
	}
	return c.WhoIs
}

func formField(name, typ, label, value string) *xmlstream.Element {
	f := xmlstream.New(NSDataForms, "field", "var", name, "type", typ)
	if label != "" {
		f.SetAttr("label", label)
	}
	return f.Add(xmlstream.New(NSDataForms, "value").SetText(value))
}

func formBool(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

// applyConfigForm returns c updated with the submitted form's fields.
// Unknown fields are ignored (XEP-0004 lets services skip what they do not
// support); malformed values are refused as a whole with not-acceptable.
func applyConfigForm(c RoomConfig, form *xmlstream.Element) (RoomConfig, error) {
	for _, f := range form.ChildrenNamed(NSDataForms, "field") {
		name := f.Attr("var")
		values := f.ChildrenNamed(NSDataForms, "value")
		value := ""
		if len(values) > 0 {
			value = strings.TrimSpace(values[0].Text)
		}
		var err error
		switch name {
		case fieldFormType:
			if value != NSRoomConfig {
				return c, stanza.NewError(stanza.BadRequest, "FORM_TYPE is not muc#roomconfig")
			}
		case fieldName:
			c.Name = value
		case fieldDesc:
			c.Description = value
		case fieldPasswordProt:
			c.PasswordProtected, err = parseFormBool(name, value)
		case fieldSecret:
			if value != "" {
				c.PasswordHash, err = HashPassword(value)
			}
		case fieldMembersOnly:
			c.MembersOnly, err = parseFormBool(name, value)
		case fieldModerated:
			c.Moderated, err = parseFormBool(name, value)
		case fieldMaxUsers:
			c.MaxUsers, err = parseMaxUsers(value)
		case fieldPersistent:
			c.Persistent, err = parseFormBool(name, value)
		case fieldPublic:
			c.Public, err = parseFormBool(name, value)
		case fieldWhoIs:
			switch WhoIs(value) {
			case WhoIsAnyone, WhoIsModerators:
				c.WhoIs = WhoIs(value)
			default:
				err = stanza.NewError(stanza.NotAcceptable, name+" must be anyone or moderators")
			}
		case fieldChangeSubject:
			c.ChangeSubject, err = parseFormBool(name, value)
		case fieldLobby:
			c.Lobby, err = parseFormBool(name, value)
		case fieldGuests:
			var guests bool
			guests, err = parseFormBool(name, value)
			c.NoGuests = !guests
		case fieldLastN:
			c.LastN, err = parseLastN(value)
		}
		if err != nil {
			return c, err
		}
	}
	if !c.PasswordProtected {
		c.PasswordHash = ""
	}
	if c.PasswordProtected && c.PasswordHash == "" {
		return c, stanza.NewError(stanza.NotAcceptable, "a password-protected room needs a password")
	}
	return c, nil
}

func parseFormBool(name, v string) (bool, error) {
	switch v {
	case "1", "true":
		return true, nil
	case "0", "false", "":
		return false, nil
	}
	return false, stanza.NewError(stanza.NotAcceptable, name+" must be a boolean")
}

func parseMaxUsers(v string) (int, error) {
	if v == "" || v == "none" || v == "0" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > maxUsersLimit {
		return 0, stanza.NewError(stanza.NotAcceptable, fieldMaxUsers+" must be a number up to 100000 or none")
	}
	return n, nil
}

func parseLastN(v string) (int, error) {
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 || n > MaxLastN {
		return 0, stanza.NewError(stanza.NotAcceptable, fieldLastN+" must be a number from 0 (no limit) to 1000")
	}
	return n, nil
}

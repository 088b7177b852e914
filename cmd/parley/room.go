package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"parley.dev/parley/internal/muc"
	"parley.dev/parley/internal/perm"
)

const roomUsage = `usage:
  parley room add NAME    [--data DIR] [--domain D] [settings]
  parley room set NAME    [--data DIR] [--domain D] [settings]
  parley room show NAME   [--data DIR] [--domain D]
  parley room delete NAME [--data DIR] [--domain D]
  parley room list        [--data DIR] [--domain D]
settings (set changes only those given):
  --title T  --description T  --password-file F  --no-password
  --members-only[=false]  --lobby[=false]  --guests[=false]  --public[=false]
  --max N (0: no limit)  --last-n N (cameras each receives; 0: no cap)  --owner NAME|JID|token:USER (repeat; replaces the list)
  --handover longest|none  --role-default ROLE:PERM=true|false (repeat)
A running server on the same --data picks changes up within a second.
Defaults: --data ./parley-data, --domain localhost.
`

// roomFlags hold the settings flags; set records which were given.
type roomFlags struct {
	data, domain, title, desc, passwordFile, handover string
	noPassword, membersOnly, lobby, guests, public    bool
	max, lastN                                        int
	owners, roleDefaults                              multiFlag
	set                                               map[string]bool
}

type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

// runRoom implements "parley room ...". Exit codes: 0 done, 1 failed, 2 bad usage.
func runRoom(args []string, stdout, stderr io.Writer) int {
	if len(args) == 0 {
		fmt.Fprint(stderr, roomUsage)
		return 2
	}
	sub := args[0]
	switch sub {
	case "help", "-h", "--help":
		fmt.Fprint(stdout, roomUsage)
		return 0
	case "add", "set", "show", "delete", "list":
	default:
		fmt.Fprintf(stderr, "parley room: unknown subcommand %q\n%s", sub, roomUsage)
		return 2
	}
	prog := "parley room " + sub
	f := roomFlags{set: map[string]bool{}}
	fs := flag.NewFlagSet(prog, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() { fmt.Fprint(stderr, roomUsage) }
	fs.StringVar(&f.data, "data", "./parley-data", "the data folder")
	fs.StringVar(&f.domain, "domain", "localhost", "the XMPP domain")
	fs.StringVar(&f.title, "title", "", "the room's title")
	fs.StringVar(&f.desc, "description", "", "the room's description")
	fs.StringVar(&f.passwordFile, "password-file", "", "a file whose first line is the room password (stored hashed)")
	fs.BoolVar(&f.noPassword, "no-password", false, "remove the password")
	fs.BoolVar(&f.membersOnly, "members-only", false, "only members and owners may enter")
	fs.BoolVar(&f.lobby, "lobby", false, "newcomers knock and wait for a moderator")
	fs.BoolVar(&f.guests, "guests", true, "guests (anonymous logins) may enter")
	fs.BoolVar(&f.public, "public", true, "listed in the service's disco#items")
	fs.IntVar(&f.max, "max", 0, "participant limit (0: none)")
	fs.IntVar(&f.lastN, "last-n", 0, "every participant receives the cameras of at most this many latest speakers (0: no cap)")
	fs.Var(&f.owners, "owner", "an owner: account name, JID, or token:USER (repeat)")
	fs.StringVar(&f.handover, "handover", "", "when the last moderator leaves: longest or none")
	fs.Var(&f.roleDefaults, "role-default", "ROLE:PERM=true|false (repeat)")
	names, err := parseInterspersed(fs, args[1:])
	if err != nil {
		return 2
	}
	fs.Visit(func(fl *flag.Flag) { f.set[fl.Name] = true })
	if want := map[bool]int{true: 0, false: 1}[sub == "list"]; len(names) != want {
		fmt.Fprintf(stderr, "%s: expected %d name(s), got %d\n%s", prog, want, len(names), roomUsage)
		return 2
	}
	files := muc.RoomFiles{Dir: filepath.Join(f.data, "rooms"), Domain: "conference." + f.domain, UserDomain: f.domain}
	if err := runRoomCommand(sub, names, f, files, stdout); err != nil {
		fmt.Fprintf(stderr, "%s: %s\n", prog, err)
		var se *muc.SettingsError
		if errors.As(err, &se) {
			return 2
		}
		return 1
	}
	return 0
}

func runRoomCommand(sub string, names []string, f roomFlags, files muc.RoomFiles, stdout io.Writer) error {
	switch sub {
	case "list":
		rooms, err := files.List()
		if err != nil {
			return err
		}
		for _, r := range rooms {
			fmt.Fprintf(stdout, "%s\t%s\t%s\n", r.Name, describeRoom(r), r.Config.Name)
		}
		return nil
	case "show":
		r, err := files.Get(names[0])
		if err != nil {
			return err
		}
		return printRoom(stdout, r)
	case "delete":
		return files.Delete(names[0])
	}
	set, err := f.settings()
	if err != nil {
		return err
	}
	var r muc.StoredRoom
	if sub == "add" {
		r, err = files.Add(names[0], set)
	} else {
		r, err = files.Set(names[0], set)
	}
	if err != nil {
		return err
	}
	return printRoom(stdout, r)
}

// settings turns the flags given into RoomSettings.
func (f roomFlags) settings() (muc.RoomSettings, error) {
	var s muc.RoomSettings
	str := func(name string, v string) *string {
		if f.set[name] {
			return &v
		}
		return nil
	}
	boolean := func(name string, v bool) *bool {
		if f.set[name] {
			return &v
		}
		return nil
	}
	s.Title, s.Description = str("title", f.title), str("description", f.desc)
	s.MembersOnly, s.Lobby = boolean("members-only", f.membersOnly), boolean("lobby", f.lobby)
	s.Guests, s.Public = boolean("guests", f.guests), boolean("public", f.public)
	if f.set["max"] {
		s.MaxUsers = &f.max
	}
	if f.set["last-n"] {
		s.LastN = &f.lastN
	}
	if f.set["handover"] {
		h := muc.Handover(f.handover)
		s.Handover = &h
	}
	if f.set["owner"] {
		owners := []string(f.owners)
		s.Owners = &owners
	}
	switch {
	case f.set["password-file"] && f.noPassword:
		return s, &muc.SettingsError{Field: "password", Reason: "--password-file and --no-password exclude each other"}
	case f.set["password-file"]:
		data, err := os.ReadFile(f.passwordFile)
		if err != nil {
			return s, err
		}
		pw, _, _ := strings.Cut(string(data), "\n")
		pw = strings.TrimRight(pw, "\r")
		if pw == "" {
			return s, &muc.SettingsError{Field: "password", Reason: f.passwordFile + " is empty"}
		}
		s.Password = &pw
	case f.noPassword:
		empty := ""
		s.Password = &empty
	}
	for _, rd := range f.roleDefaults {
		roleName, rest, ok1 := strings.Cut(rd, ":")
		permName, val, ok2 := strings.Cut(rest, "=")
		allowed, err := strconv.ParseBool(val)
		if !ok1 || !ok2 || err != nil {
			return s, &muc.SettingsError{Field: "role-default", Reason: fmt.Sprintf("%q is not ROLE:PERM=true|false", rd)}
		}
		role, err := perm.ParseRole(roleName)
		if err != nil {
			return s, &muc.SettingsError{Field: "role-default", Reason: err.Error()}
		}
		p, err := perm.ParsePermission(permName)
		if err != nil {
			return s, &muc.SettingsError{Field: "role-default", Reason: err.Error()}
		}
		if s.RoleDefaults == nil {
			s.RoleDefaults = perm.Defaults{}
		}
		o := s.RoleDefaults[role]
		o.Set(p, allowed)
		s.RoleDefaults[role] = o
	}
	return s, nil
}

func describeRoom(r muc.StoredRoom) string {
	var parts []string
	if r.Declared != nil {
		parts = append(parts, "declared")
	}
	if r.Config.Lobby {
		parts = append(parts, "lobby")
	}
	if r.Config.MembersOnly {
		parts = append(parts, "members-only")
	}
	if r.Config.PasswordProtected {
		parts = append(parts, "password")
	}
	if r.Config.MaxUsers > 0 {
		parts = append(parts, "max="+strconv.Itoa(r.Config.MaxUsers))
	}
	if r.Config.LastN > 0 {
		parts = append(parts, "last-n="+strconv.Itoa(r.Config.LastN))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

// printRoom shows a room as JSON, without its password hash.
func printRoom(w io.Writer, r muc.StoredRoom) error {
	c := r.Config
	owners := []string{}
	for _, j := range r.Owners() {
		owners = append(owners, j.String())
	}
	v := map[string]any{
		"name": r.Name, "title": c.Name, "description": c.Description, "declared": r.Declared != nil,
		"password": c.PasswordProtected, "members_only": c.MembersOnly, "lobby": c.Lobby,
		"max_users": c.MaxUsers, "last_n": c.LastN, "guests": !c.NoGuests, "public": c.Public, "handover": c.Handover,
		"owners": owners,
	}
	if len(c.RoleDefaults) > 0 {
		v["role_defaults"] = c.RoleDefaults
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

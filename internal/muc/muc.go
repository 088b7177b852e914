// Package muc is parley's multi-user chat service (XEP-0045): rooms,
// occupants, roles and affiliations, room configuration, history, disco and
// the routing of private messages and IQs between occupants (the conference
// focus reaches participants through it).
//
// Concurrency: each room has its own mutex and stanzas are handled on the
// caller's goroutine, so stanzas of one sender are processed in order and
// rooms never wait for each other. Handling never blocks: output goes
// through stanza.Router, which queues or drops, and persistence is written by
// a separate goroutine. Lock order is room.mu before Service.mu; code
// holding Service.mu never takes a room's lock.
//
// Room locking: a room created by a join presence carrying
// <x xmlns='http://jabber.org/protocol/muc'/> is locked (XEP-0045 §10.1)
// until its owner submits the configuration form or accepts the instant
// room; others get item-not-found meanwhile. A join without that element
// (a groupchat 1.0 client, or a client that wants no ceremony) creates an
// unlocked instant room.
package muc

import (
	"errors"
	"log/slog"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/perm"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// Config configures a Service.
type Config struct {
	// Domain is the service's address, e.g. conference.example.test. Required.
	Domain string
	// Router delivers everything the service sends. Required.
	Router stanza.Router
	// DataDir is where persistent rooms are saved, one JSON file each,
	// written atomically. "" keeps rooms in memory only.
	DataDir string
	// HistorySize is how many groupchat messages each room replays to
	// newcomers. 0 means the default, 20; a negative value keeps no history.
	HistorySize int
	// Clock gives the current time (history stamps, IQ expiry). Default time.Now.
	Clock func() time.Time
	// Logger receives the service's logs. Default slog.Default().
	Logger *slog.Logger
	// DefaultRoomConfig is the configuration of new rooms. Default (nil):
	// DefaultRoomConfig().
	DefaultRoomConfig *RoomConfig
	// Admins are server-wide administrators, compared by bare JID: they are
	// owners of every room. Default none.
	Admins []jid.JID
	// Identify tells rooms how a joining session authenticated (an
	// account, a guest, a token and what it grants: its permission
	// overrides). Called under the room's lock: it must return quickly and
	// not call into the Service. Default nil: every session is a logged-in
	// user (IdentityUnknown) without overrides.
	Identify func(real jid.JID) Identity
	// OnTokenRefused, if set, is told of each join refused because the
	// token is for another room (to count it with the token's other
	// refusals). Called under a room's lock. Default nil.
	OnTokenRefused func(error)
	// DeclaredOnly turns on-the-fly rooms off: a join to a room nobody
	// declared (declared.go) is refused with item-not-found. Default false.
	DeclaredOnly bool
	// UserDomain is the domain of local users, used to resolve a declared
	// room's owners given as account names. Default: Domain without its
	// first label (conference.example.test → example.test).
	UserDomain string
	// ReloadInterval is how often DataDir is checked for rooms another
	// process (parley room ...) added, changed or deleted. Default 1 s; a
	// negative value turns the check off.
	ReloadInterval time.Duration
	// OnEvent, if set, is told of room and occupant life-cycle events. It is
	// called synchronously, in order, while the room's lock is held: it must
	// return quickly and must not call back into the Service (hand the
	// event to your own goroutine or queue). Default nil.
	OnEvent func(Event)
	// Archive, if set, keeps rooms' groupchat messages for MAM (XEP-0313)
	// and answers MAM queries to rooms from their occupants and members.
	// It is called with the room's lock held. Default nil: no room archive.
	Archive RoomArchive
	// Recordings starts and stops recordings asked for in the room by
	// occupants with the record permission. Default nil: such requests
	// answer feature-not-implemented.
	Recordings Recordings
	// RecordingFiles lists and removes rooms' recordings for occupants
	// with the record permission. Default nil: such requests answer
	// feature-not-implemented.
	RecordingFiles RecordingFiles
	// Phones reads rooms' dial-in PINs and calls phones into rooms, for
	// occupants (NSPhone). Default nil: such requests answer
	// feature-not-implemented.
	Phones Phones
}

// RoomArchive is a message archive for rooms (the XMPP server's).
type RoomArchive interface {
	// Append archives a message the room reflects; it returns the copy to
	// reflect (carrying the archive's stanza-id).
	Append(room jid.JID, msg *xmlstream.Element) *xmlstream.Element
	// Query answers a MAM query to the room.
	Query(room jid.JID, iq *xmlstream.Element)
}

// ConfigError reports an unusable Config.
type ConfigError struct {
	Field  string
	Reason string
}

func (e *ConfigError) Error() string { return "muc: config " + e.Field + ": " + e.Reason }

// ErrClosed is returned by methods called after Close.
var ErrClosed = errors.New("muc: service closed")

const defaultHistorySize = 20

// Service is the MUC service. It implements stanza.Handler.
type Service struct {
	domain         jid.JID                        // immutable
	router         stanza.Router                  // immutable
	clock          func() time.Time               // immutable
	log            *slog.Logger                   // immutable
	historySize    int                            // immutable; 0 = none
	roomDefault    RoomConfig                     // immutable
	admins         map[jid.JID]struct{}           // immutable; bare JIDs
	onEvent        func(Event)                    // immutable; may be nil
	identify       func(jid.JID) Identity         // immutable; may be nil
	refused        perm.Refusals                  // atomic; refusals for lack of a permission
	onTokenRefused func(error)                    // immutable; may be nil
	declaredOnly   bool                           // immutable
	draining       atomic.Bool                    // Drain was called (drain.go)
	userDomain     string                         // immutable
	dataDir        string                         // immutable; "" without persistence
	reload         *reloader                      // immutable; nil without DataDir or with reloads off
	archive        RoomArchive                    // immutable; may be nil
	recordings     Recordings                     // immutable; may be nil
	recordingFiles RecordingFiles                 // immutable; may be nil
	phones         Phones                         // immutable; may be nil
	saver          *saver                         // immutable; nil without DataDir
	counters       counters                       // atomic
	mu             sync.Mutex                     // guards the fields below
	rooms          map[string]*room               // guarded by mu; by room localpart
	occupantOf     map[jid.JID]map[*room]struct{} // guarded by mu; real full JID → rooms it is in
	closed         bool                           // guarded by mu
}

// counters are the service's drop and event counts.
type counters struct {
	malformed     atomic.Uint64 // not a stanza, or without usable from
	unmatchedIQ   atomic.Uint64 // IQ result/error to an occupant that matched no forwarded request
	pendingFull   atomic.Uint64 // IQ to an occupant refused: too many in flight in the room
	expiredIQ     atomic.Uint64 // forwarded IQ whose answer never came in time
	ghostsRemoved atomic.Uint64 // occupants removed because their session bounced stanzas
	saveErrors    atomic.Uint64 // persistent room writes that failed
	afterClose    atomic.Uint64 // stanzas refused because the service was closed

	tokenRoomRefused atomic.Uint64 // joins refused: the token is for another room
	guestsRefused    atomic.Uint64 // joins refused: a guest in a room without guests
	undeclared       atomic.Uint64 // joins refused: on-the-fly rooms are off
	drainRefused     atomic.Uint64 // joins refused: a new meeting while draining
	knocks           atomic.Uint64 // newcomers who knocked at a lobby
	lobbyRefused     atomic.Uint64 // lobby decisions refused: not a moderator
}

// Stats are counters for monitoring.
type Stats struct {
	Rooms         int
	Sessions      int    // distinct real full JIDs present in rooms
	Malformed     uint64 // dropped: not a stanza, or no usable from
	UnmatchedIQ   uint64 // dropped: IQ answer to an occupant matching no request
	PendingFull   uint64 // refused: too many forwarded IQs in flight in one room
	ExpiredIQ     uint64 // forwarded IQs never answered in time
	GhostsRemoved uint64 // occupants removed after their session bounced stanzas
	SaveErrors    uint64 // failed persistent-room writes
	AfterClose    uint64 // stanzas refused after Close

	TokenRoomRefused uint64 // joins refused: the token is for another room
	GuestsRefused    uint64 // joins refused: guests not allowed in the room
	Undeclared       uint64 // joins refused: on-the-fly rooms are off
	DrainRefused     uint64 // joins refused: a new meeting while draining
	Knocks           uint64 // newcomers who knocked at a lobby
	LobbyRefused     uint64 // admit/deny refused: not a moderator
	// Refused counts stanzas refused for lack of a permission, by
	// permission name (only those with refusals).
	Refused map[string]uint64
}

// New returns a running service. With a DataDir it loads the persistent
// rooms found there.
func New(cfg Config) (*Service, error) {
	domain, err := jid.Parse(cfg.Domain)
	if err != nil || domain.Local != "" || domain.Resource != "" {
		return nil, &ConfigError{"Domain", "must be a bare domain such as conference.example.test"}
	}
	if cfg.Router == nil {
		return nil, &ConfigError{"Router", "is required"}
	}
	s := &Service{
		domain:         domain,
		router:         cfg.Router,
		clock:          cfg.Clock,
		log:            cfg.Logger,
		historySize:    cfg.HistorySize,
		roomDefault:    DefaultRoomConfig(),
		admins:         make(map[jid.JID]struct{}, len(cfg.Admins)),
		onEvent:        cfg.OnEvent,
		identify:       cfg.Identify,
		onTokenRefused: cfg.OnTokenRefused,
		declaredOnly:   cfg.DeclaredOnly,
		archive:        cfg.Archive,
		recordings:     cfg.Recordings,
		recordingFiles: cfg.RecordingFiles,
		phones:         cfg.Phones,
		userDomain:     cfg.UserDomain,
		dataDir:        cfg.DataDir,
		rooms:          make(map[string]*room),
		occupantOf:     make(map[jid.JID]map[*room]struct{}),
	}
	if s.clock == nil {
		s.clock = time.Now
	}
	if s.log == nil {
		s.log = slog.Default()
	}
	s.log = s.log.With("service", domain.String())
	switch {
	case s.historySize == 0:
		s.historySize = defaultHistorySize
	case s.historySize < 0:
		s.historySize = 0
	}
	if cfg.DefaultRoomConfig != nil {
		s.roomDefault = *cfg.DefaultRoomConfig
	}
	for _, a := range cfg.Admins {
		s.admins[a.Bare()] = struct{}{}
	}
	if s.userDomain == "" {
		if _, rest, ok := strings.Cut(domain.Domain, "."); ok {
			s.userDomain = rest
		}
	}
	if cfg.DataDir != "" {
		stored, err := loadRooms(cfg.DataDir, s.log)
		if err != nil {
			return nil, err
		}
		var migrated []*room
		for _, sr := range stored {
			r := s.restoreRoom(sr)
			if r != nil {
				s.rooms[r.jid.Local] = r
				if sr.migrated {
					migrated = append(migrated, r)
				}
			}
		}
		s.saver = startSaver(cfg.DataDir, s.log, &s.counters.saveErrors)
		for _, r := range migrated {
			r.mu.Lock()
			r.persist() // rewrite files that held a clear-text password
			r.mu.Unlock()
		}
		s.reload = startReloader(s, cfg.ReloadInterval, stored)
	}
	return s, nil
}

// Close stops the service: later stanzas are refused with
// service-unavailable, and pending room saves are written before it returns.
// Occupants are not told (the server is going away with their sessions).
func (s *Service) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrClosed
	}
	s.closed = true
	s.mu.Unlock()
	if s.reload != nil {
		s.reload.close()
	}
	if s.saver != nil {
		s.saver.close()
	}
	return nil
}

// Stats returns the service's counters.
func (s *Service) Stats() Stats {
	st := Stats{
		Malformed:     s.counters.malformed.Load(),
		UnmatchedIQ:   s.counters.unmatchedIQ.Load(),
		PendingFull:   s.counters.pendingFull.Load(),
		ExpiredIQ:     s.counters.expiredIQ.Load(),
		GhostsRemoved: s.counters.ghostsRemoved.Load(),
		SaveErrors:    s.counters.saveErrors.Load(),
		AfterClose:    s.counters.afterClose.Load(),

		TokenRoomRefused: s.counters.tokenRoomRefused.Load(),
		GuestsRefused:    s.counters.guestsRefused.Load(),
		Undeclared:       s.counters.undeclared.Load(),
		DrainRefused:     s.counters.drainRefused.Load(),
		Knocks:           s.counters.knocks.Load(),
		LobbyRefused:     s.counters.lobbyRefused.Load(),
		Refused:          s.refused.Snapshot(),
	}
	s.mu.Lock()
	st.Rooms = len(s.rooms)
	st.Sessions = len(s.occupantOf)
	s.mu.Unlock()
	return st
}

// HandleStanza processes one stanza addressed to the service or one of its
// rooms. The server guarantees a trustworthy from.
func (s *Service) HandleStanza(st *xmlstream.Element) {
	kind := stanza.Kind(st)
	from := stanza.From(st)
	if kind == "" || from.IsZero() {
		s.counters.malformed.Add(1)
		s.log.Debug("dropped malformed stanza", "name", st.Name, "from", st.Attr("from"))
		return
	}
	s.mu.Lock()
	closed := s.closed
	s.mu.Unlock()
	if closed {
		s.counters.afterClose.Add(1)
		s.reply(st, stanza.NewError(stanza.ServiceUnavailable, "the chat service is shutting down"))
		return
	}
	to, err := jid.Parse(st.Attr("to"))
	if err != nil || to.Domain != s.domain.Domain {
		// Not ours (a routing mistake): answer from the service itself, since
		// the stanza's own to cannot serve as the answer's from.
		if r := stanza.ErrorReply(st, stanza.NewError(stanza.JIDMalformed, "bad room address")); r != nil && st.Attr("type") != "result" {
			r.SetAttr("from", s.domain.String())
			s.router.Route(r)
		}
		return
	}
	if to.Local == "" {
		s.handleServiceStanza(st, kind, from, to)
		return
	}
	s.handleRoomStanza(st, kind, from, to)
}

// reply routes the error answer to st, unless st is itself an error or an
// IQ result, which are never answered.
func (s *Service) reply(st *xmlstream.Element, err error) {
	if st.Name == "iq" && st.Attr("type") == "result" {
		return
	}
	if r := stanza.ErrorReply(st, err); r != nil {
		s.router.Route(r)
	}
}

// handleServiceStanza answers stanzas to the bare service domain.
func (s *Service) handleServiceStanza(st *xmlstream.Element, kind string, from, to jid.JID) {
	switch kind {
	case "iq":
		s.handleServiceIQ(st)
	case "message":
		s.reply(st, stanza.NewError(stanza.ServiceUnavailable, "the chat service takes no messages"))
	default:
		// Presence to the service itself means nothing; ignore it.
	}
}

// handleRoomStanza finds (or, for a join, creates) the room and hands the
// stanza to it under the room's lock.
func (s *Service) handleRoomStanza(st *xmlstream.Element, kind string, from, to jid.JID) {
	join := kind == "presence" && st.Attr("type") == "" && to.Resource != ""
	r := s.lockRoom(to.Local, join && !s.declaredOnly)
	if r == nil && join {
		s.counters.undeclared.Add(1)
		s.reply(st, stanza.NewError(stanza.ItemNotFound, "no such room: this server only has declared rooms"))
		return
	}
	if r == nil {
		if kind == "presence" {
			if st.Attr("type") == "" {
				s.reply(st, stanza.NewError(stanza.JIDMalformed, "a nickname is required"))
			}
			return // unavailable/probe/error to a room that does not exist
		}
		s.reply(st, stanza.NewError(stanza.ItemNotFound, "no such room"))
		return
	}
	defer r.mu.Unlock()
	if join && r.refuseWhileDraining(st) {
		r.removeIfDead()
		return
	}
	r.handle(st, kind, from, to)
	r.removeIfDead()
}

// lockRoom returns the named room with its lock held, creating an empty
// room if asked to; nil if there is none.
func (s *Service) lockRoom(name string, create bool) *room {
	for {
		s.mu.Lock()
		r := s.rooms[name]
		if r == nil {
			if !create {
				s.mu.Unlock()
				return nil
			}
			r = s.newRoom(name)
			s.rooms[name] = r
		}
		s.mu.Unlock()
		r.mu.Lock()
		if !r.gone {
			return r
		}
		r.mu.Unlock() // removed meanwhile: look again
	}
}

// isAdmin reports whether bare is a server-wide admin.
func (s *Service) isAdmin(bare jid.JID) bool {
	_, ok := s.admins[bare.Bare()]
	return ok
}

func (s *Service) emit(ev Event) {
	if s.onEvent != nil {
		s.onEvent(ev)
	}
}

// trackOccupant records (or, with add false, forgets) that real is in r.
func (s *Service) trackOccupant(real jid.JID, r *room, add bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	set := s.occupantOf[real]
	if add {
		if set == nil {
			set = make(map[*room]struct{})
			s.occupantOf[real] = set
		}
		set[r] = struct{}{}
		return
	}
	delete(set, r)
	if len(set) == 0 {
		delete(s.occupantOf, real)
	}
}

// RemoveOccupantsOf removes the session full from every room it is in, as
// if it had sent unavailable presence; the server calls it when a session
// ends without doing so. Calling it again, or after the unavailable
// presence, does nothing.
func (s *Service) RemoveOccupantsOf(full jid.JID) {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.occupantOf[full]))
	for r := range s.occupantOf[full] {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone {
			if o := r.byJID[full]; o != nil {
				r.removeOccupant(o, leaveInfo{})
			}
			r.leaveLobby(full)
			r.removeIfDead()
		}
		r.mu.Unlock()
	}
}

// Rooms returns a snapshot of every room, sorted by address.
func (s *Service) Rooms() []RoomInfo {
	s.mu.Lock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	s.mu.Unlock()
	out := make([]RoomInfo, 0, len(rooms))
	for _, r := range rooms {
		r.mu.Lock()
		if !r.gone && !r.isNew {
			out = append(out, r.info())
		}
		r.mu.Unlock()
	}
	sort.Slice(out, func(i, j int) bool { return out[i].JID.Local < out[j].JID.Local })
	return out
}

// Room returns a snapshot of the room with that localpart.
func (s *Service) Room(name string) (RoomInfo, bool) {
	j, err := jid.New(name, s.domain.Domain, "")
	if err != nil {
		return RoomInfo{}, false
	}
	s.mu.Lock()
	r := s.rooms[j.Local]
	s.mu.Unlock()
	if r == nil {
		return RoomInfo{}, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.gone || r.isNew {
		return RoomInfo{}, false
	}
	return r.info(), true
}

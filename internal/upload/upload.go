// Package upload is HTTP File Upload (XEP-0363) at upload.<domain>: an
// account asks for a slot over XMPP, PUTs the file over HTTPS on the one
// port, and shares the GET URL in a chat or a room. Files live in
// DATA/uploads/<id>/ with a small metadata file; each account has a quota,
// and files expire.
package upload

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

// NS is the XEP-0363 namespace.
const NS = "urn:xmpp:http:upload:0"

// Accounts tells accounts from guests: only accounts may upload.
type Accounts interface {
	Exists(username string) bool
}

// Config configures a Service.
type Config struct {
	// Domain is the service's JID (upload.<domain>). Required.
	Domain string
	// UserDomain is the domain whose accounts may upload. Required.
	UserDomain string
	// Accounts says which users are accounts (guests may not upload). Required.
	Accounts Accounts
	// BaseURL is the public URL of the handler, ending in "/" (it is
	// mounted at /upload/). Required.
	BaseURL string
	// Dir is where files are kept. Required.
	Dir string
	// Router sends the service's answers. Set by Attach if nil.
	Router stanza.Router
	// MaxFileSize bounds one file. Default 100 MiB.
	MaxFileSize int64
	// Quota bounds what one account keeps. Default 1 GiB.
	Quota int64
	// Expiry is how long a file is kept. Default 30 days.
	Expiry time.Duration
	// SlotTTL is how long a slot waits for its PUT. Default 5 min.
	SlotTTL time.Duration
	// Logger receives the service's logs. Default slog.Default().
	Logger *slog.Logger
	// Clock returns the time. Default time.Now.
	Clock func() time.Time
}

// Service is the upload service; it is safe for concurrent use.
type Service struct {
	cfg Config // read-only after New

	mu    sync.Mutex
	slots map[string]*slot // id -> slot waiting for its PUT; guarded by mu
	files map[string]meta  // id -> stored file; guarded by mu
	used  map[string]int64 // account -> bytes stored or reserved; guarded by mu
}

type slot struct {
	user, filename, contentType string
	size                        int64
	expires                     time.Time
}

// meta is what is kept beside a file.
type meta struct {
	User        string    `json:"user"`
	Filename    string    `json:"filename"`
	ContentType string    `json:"content_type"`
	Size        int64     `json:"size"`
	Created     time.Time `json:"created"`
}

// Error is a refused request.
type Error struct {
	Cond stanza.Condition
	Text string
}

func (e *Error) Error() string { return "upload: " + e.Text }

// StanzaError makes it a stanza error.
func (e *Error) StanzaError() *stanza.Error { return stanza.NewError(e.Cond, e.Text) }

// New loads the files already stored under Dir.
func New(cfg Config) (*Service, error) {
	if cfg.Domain == "" || cfg.UserDomain == "" || cfg.Accounts == nil || cfg.Dir == "" || !strings.HasSuffix(cfg.BaseURL, "/") {
		return nil, errors.New("upload: Domain, UserDomain, Accounts, Dir and a BaseURL ending in / are required")
	}
	if cfg.MaxFileSize == 0 {
		cfg.MaxFileSize = 100 << 20
	}
	if cfg.Quota == 0 {
		cfg.Quota = 1 << 30
	}
	if cfg.Expiry == 0 {
		cfg.Expiry = 30 * 24 * time.Hour
	}
	if cfg.SlotTTL == 0 {
		cfg.SlotTTL = 5 * time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Clock == nil {
		cfg.Clock = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, err
	}
	s := &Service{cfg: cfg, slots: map[string]*slot{}, files: map[string]meta{}, used: map[string]int64{}}
	entries, err := os.ReadDir(cfg.Dir)
	if err != nil {
		return nil, err
	}
	for _, e := range entries {
		b, err := os.ReadFile(filepath.Join(cfg.Dir, e.Name(), ".meta"))
		var m meta
		if err != nil || json.Unmarshal(b, &m) != nil {
			continue
		}
		s.files[e.Name()] = m
		s.used[m.User] += m.Size
	}
	return s, nil
}

// SetRouter gives the service the router its answers go through.
func (s *Service) SetRouter(r stanza.Router) { s.cfg.Router = r }

// HandleStanza answers disco#info and slot requests.
func (s *Service) HandleStanza(st *xmlstream.Element) {
	if st.Name != "iq" || (st.Attr("type") != "get" && st.Attr("type") != "set") {
		return
	}
	var res *xmlstream.Element
	p := st.FirstChild()
	switch {
	case p.Is("http://jabber.org/protocol/disco#info", "query") && p.Attr("node") == "":
		res = stanza.IQResult(st, s.discoInfo())
	case p.Is(NS, "request") && st.Attr("type") == "get":
		el, err := s.requestSlot(stanza.From(st), p)
		if err != nil {
			res = stanza.ErrorReply(st, err)
			if fe, ok := err.(*Error); ok && fe.Cond == stanza.NotAcceptable {
				res.Child(xmlstream.NSClient, "error").Add(xmlstream.New(NS, "file-too-large").Add(
					xmlstream.New(NS, "max-file-size").SetText(strconv.FormatInt(s.cfg.MaxFileSize, 10))))
			}
		} else {
			res = stanza.IQResult(st, el)
		}
	default:
		res = stanza.ErrorReply(st, stanza.NewError(stanza.ServiceUnavailable, ""))
	}
	if res != nil && s.cfg.Router != nil {
		s.cfg.Router.Route(res)
	}
}

func (s *Service) discoInfo() *xmlstream.Element {
	const di = "http://jabber.org/protocol/disco#info"
	q := xmlstream.New(di, "query").Add(
		xmlstream.New(di, "identity", "category", "store", "type", "file", "name", "File upload"),
		xmlstream.New(di, "feature", "var", NS))
	x := xmlstream.New("jabber:x:data", "x", "type", "result").Add(
		xmlstream.New("jabber:x:data", "field", "var", "FORM_TYPE", "type", "hidden").Add(xmlstream.New("jabber:x:data", "value").SetText(NS)),
		xmlstream.New("jabber:x:data", "field", "var", "max-file-size").Add(xmlstream.New("jabber:x:data", "value").SetText(strconv.FormatInt(s.cfg.MaxFileSize, 10))))
	return q.Add(x)
}

func (s *Service) requestSlot(from jid.JID, req *xmlstream.Element) (*xmlstream.Element, error) {
	if from.Domain != s.cfg.UserDomain || from.Local == "" || !s.cfg.Accounts.Exists(from.Local) {
		return nil, &Error{stanza.Forbidden, "only accounts of " + s.cfg.UserDomain + " may upload"}
	}
	name := req.Attr("filename")
	size, err := strconv.ParseInt(req.Attr("size"), 10, 64)
	if err != nil || size <= 0 || !safeName(name) {
		return nil, &Error{stanza.BadRequest, "a file name without slashes and a positive size are required"}
	}
	if size > s.cfg.MaxFileSize {
		return nil, &Error{stanza.NotAcceptable, "the file is too large"}
	}
	ctype := req.Attr("content-type")
	if _, _, err := mime.ParseMediaType(ctype); ctype == "" || err != nil {
		ctype = "application/octet-stream"
	}
	now := s.cfg.Clock()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expireLocked(now)
	if s.used[from.Local]+size > s.cfg.Quota {
		return nil, &Error{stanza.ResourceConstraint, "the account's upload quota is used up"}
	}
	var b [16]byte
	rand.Read(b[:])
	id := hex.EncodeToString(b[:])
	s.slots[id] = &slot{user: from.Local, filename: name, contentType: ctype, size: size, expires: now.Add(s.cfg.SlotTTL)}
	s.used[from.Local] += size // reserved until the PUT or the slot's expiry
	url := s.cfg.BaseURL + id + "/" + urlEscape(name)
	return xmlstream.New(NS, "slot").Add(
		xmlstream.New(NS, "put", "url", url),
		xmlstream.New(NS, "get", "url", url)), nil
}

// safeName refuses names that would leave the file's folder or hide it.
func safeName(n string) bool {
	return n != "" && len(n) <= 255 && !strings.ContainsAny(n, "/\\\x00") && n != "." && n != ".." && !strings.HasPrefix(n, ".")
}

func urlEscape(n string) string { return url.PathEscape(n) }

// expireLocked drops expired slots and files. Called with mu held.
func (s *Service) expireLocked(now time.Time) {
	for id, sl := range s.slots {
		if now.After(sl.expires) {
			delete(s.slots, id)
			s.used[sl.user] -= sl.size
		}
	}
	for id, m := range s.files {
		if now.Sub(m.Created) > s.cfg.Expiry {
			os.RemoveAll(filepath.Join(s.cfg.Dir, id))
			delete(s.files, id)
			s.used[m.User] -= m.Size
		}
	}
}

// ServeHTTP takes PUTs to slots and serves GETs of stored files; it is
// mounted at /upload/.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest := strings.TrimPrefix(r.URL.Path, "/upload/")
	id, name, ok := strings.Cut(rest, "/")
	if !ok || len(id) != 32 || !safeName(name) {
		http.NotFound(w, r)
		return
	}
	switch r.Method {
	case http.MethodPut:
		s.put(w, r, id, name)
	case http.MethodGet, http.MethodHead:
		s.get(w, r, id, name)
	default:
		w.Header().Set("Allow", "GET, HEAD, PUT")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (s *Service) put(w http.ResponseWriter, r *http.Request, id, name string) {
	now := s.cfg.Clock()
	s.mu.Lock()
	sl := s.slots[id]
	if sl != nil && (now.After(sl.expires) || sl.filename != name) {
		sl = nil
	}
	if sl != nil {
		delete(s.slots, id) // one PUT per slot
	}
	s.mu.Unlock()
	if sl == nil {
		http.Error(w, "no such upload slot (or it expired)", http.StatusForbidden)
		return
	}
	fail := func(code int, msg string) {
		s.mu.Lock()
		s.used[sl.user] -= sl.size
		s.mu.Unlock()
		os.RemoveAll(filepath.Join(s.cfg.Dir, id))
		http.Error(w, msg, code)
	}
	if r.ContentLength != sl.size {
		fail(http.StatusBadRequest, "Content-Length must be the size the slot was asked for")
		return
	}
	dir := filepath.Join(s.cfg.Dir, id)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		fail(http.StatusInternalServerError, "storage")
		return
	}
	f, err := os.Create(filepath.Join(dir, name))
	if err != nil {
		fail(http.StatusInternalServerError, "storage")
		return
	}
	n, err := io.Copy(f, io.LimitReader(r.Body, sl.size+1))
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil || n != sl.size {
		fail(http.StatusBadRequest, "the body is not the size announced")
		return
	}
	m := meta{User: sl.user, Filename: name, ContentType: sl.contentType, Size: sl.size, Created: now}
	b, _ := json.Marshal(m)
	if err := os.WriteFile(filepath.Join(dir, ".meta"), b, 0o600); err != nil {
		fail(http.StatusInternalServerError, "storage")
		return
	}
	s.mu.Lock()
	s.files[id] = m
	s.mu.Unlock()
	w.WriteHeader(http.StatusCreated)
}

func (s *Service) get(w http.ResponseWriter, r *http.Request, id, name string) {
	s.mu.Lock()
	m, ok := s.files[id]
	expired := ok && s.cfg.Clock().Sub(m.Created) > s.cfg.Expiry
	s.mu.Unlock()
	if !ok || expired || m.Filename != name {
		http.NotFound(w, r)
		return
	}
	f, err := os.Open(filepath.Join(s.cfg.Dir, id, name))
	if err != nil {
		http.NotFound(w, r)
		return
	}
	defer f.Close()
	h := w.Header()
	h.Set("Content-Type", m.ContentType)
	// An uploaded page must not run as the server's origin.
	h.Set("Content-Security-Policy", "default-src 'none'; sandbox")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Access-Control-Allow-Origin", "*")
	http.ServeContent(w, r, "", m.Created, f)
}

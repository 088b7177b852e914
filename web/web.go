// Package web serves parley's browser client: the home page, the call page
// for each room and the static assets, all embedded in the binary.
//
// The client is plain ES modules with no build step. Room names in the URL
// are normalized here, the one place that decides them: a request for a
// name that is not in normal form is redirected to the normal form, so the
// JavaScript can take location.pathname as the room's MUC localpart.
package web

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html"
	"io"
	"io/fs"
	"mime"
	"net/http"
	"net/url"
	"path"
	"sort"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/unicode/norm"

	"parley.dev/parley/internal/jid"
)

//go:embed static
var files embed.FS

// MaxRoomName is the longest room name, in characters, that NormalizeRoom
// returns: long enough for any sensible name, short enough for a URL bar.
const MaxRoomName = 64

// contentSecurityPolicy allows exactly what the client does: scripts and
// styles from this origin, the WebSocket back to it, camera and microphone
// streams and blob: URLs for media elements.
const contentSecurityPolicy = "default-src 'self'; connect-src 'self' ws: wss:; media-src 'self' blob: mediastream:; " +
	"img-src 'self' data: blob:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'"

// ownSiteConfig is what /config.json says, and what the page carries in
// its <meta name="parley-config"> so that it need not fetch it: nothing,
// so the page uses this server (web/static/lib/siteconfig.js).
const ownSiteConfig = "{}"

// Handler returns the handler for every path the web client owns:
//
//	/               the home page (pick a room)
//	/ROOM           the call page for ROOM (a single path segment)
//	/static/...     scripts, styles and images
//	/config.json    {}: the client's defaults (this server) apply
//
// It answers only GET and HEAD. Mount it as the fallback route: more specific
// routes (/health, /xmpp-websocket) take precedence in http.ServeMux.
func Handler() http.Handler {
	static, err := fs.Sub(files, "static")
	if err != nil {
		panic("web: embedded static folder missing: " + err.Error()) // build error
	}
	index, err := fs.ReadFile(static, "index.html")
	if err != nil {
		panic("web: embedded index.html missing: " + err.Error()) // build error
	}
	etags, modules := scanStatic(static)
	h := &handler{
		gzipped: &gzipCache{fsys: static, files: map[string][]byte{}},
		static:  http.StripPrefix("/static/", http.FileServerFS(static)),
		fsys:    static,
		// The page's config, which it would otherwise fetch from
		// /config.json before anything else: this server's, in the page.
		index: withBefore(withModulePreloads(index, modules), `<meta name="parley-config" content="`+html.EscapeString(ownSiteConfig)+`">`+"\n  "),
		langs: languages(static),
		etags: etags,
		// The binary's build is the asset version: a fixed time keeps
		// If-Modified-Since meaningful without reading the clock.
		modTime: time.Unix(0, 0),
	}
	return h
}

type handler struct {
	static  http.Handler      // file server for /static/; immutable
	fsys    fs.FS             // the embedded static folder; immutable
	index   []byte            // index.html with its module preloads, served for / and /ROOM; immutable
	langs   []string          // the catalogues in static/i18n, by name ("en", "fr"...); immutable
	etags   map[string]string // strong ETag of each static file by path under static/; immutable
	gzipped *gzipCache        // gzipped text files, made on first request
	modTime time.Time         // Last-Modified of index.html; immutable
}

func (h *handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	hdr.Set("Content-Security-Policy", contentSecurityPolicy)
	hdr.Set("X-Content-Type-Options", "nosniff")
	hdr.Set("Referrer-Policy", "no-referrer")
	hdr.Set("Cache-Control", "no-cache") // assets change with the binary; revalidate
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/":
		h.serveIndex(w, r)
	case strings.HasPrefix(p, "/static/"):
		h.serveStatic(w, r)
	case p == "/config.json":
		// The page asks for it (web/static/lib/siteconfig.js): an
		// operator's static server may have one pointing at another XMPP
		// server; parley's own says nothing, so the page uses this origin.
		// An empty object, not a 404, which browsers log as an error.
		w.Header().Set("Content-Type", "application/json")
		_, _ = io.WriteString(w, ownSiteConfig+"\n")
	case p == "/favicon.ico":
		// Browsers ask for it whatever the page says; it is not a room.
		http.Redirect(w, r, "/static/favicon.svg", http.StatusMovedPermanently)
	default:
		h.serveRoom(w, r)
	}
}

func (h *handler) serveIndex(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	// The page fetches its catalogue only once its modules have run: a
	// preload of the one the browser most likely picks (its languages,
	// as ui/i18n.js reads them) starts it with the modules instead.
	w.Header().Add("Vary", "Accept-Language")
	lang := pickLanguage(r.Header.Get("Accept-Language"), h.langs)
	link := `<link rel="preload" href="/static/i18n/` + lang + `.json" as="fetch" crossorigin>` + "\n  "
	page := withBefore(h.index, link)
	http.ServeContent(w, r, "index.html", h.modTime, bytes.NewReader(page))
}

// pickLanguage returns the first language of an Accept-Language header
// (its order; q-values are not weighed, as navigator.languages is not)
// that has a catalogue, else "en".
func pickLanguage(accept string, have []string) string {
	for _, part := range strings.Split(accept, ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		primary, _, _ := strings.Cut(strings.ToLower(tag), "-")
		for _, l := range have {
			if primary == l {
				return l
			}
		}
	}
	return "en"
}

// languages lists the catalogues in static/i18n.
func languages(static fs.FS) []string {
	entries, err := fs.ReadDir(static, "i18n")
	if err != nil {
		panic("web: embedded i18n folder missing: " + err.Error()) // build error
	}
	var out []string
	for _, e := range entries {
		if name, ok := strings.CutSuffix(e.Name(), ".json"); ok {
			out = append(out, name)
		}
	}
	return out
}

// withBefore inserts text before the page's entry script.
func withBefore(index []byte, text string) []byte {
	i := bytes.Index(index, []byte(`<script type="module"`))
	if i < 0 {
		return index
	}
	out := append([]byte(nil), index[:i]...)
	out = append(out, text...)
	return append(out, index[i:]...)
}

// serveStatic serves files only: directory listings would reveal nothing
// secret but are not part of the client, so they are 404s.
func (h *handler) serveStatic(w http.ResponseWriter, r *http.Request) {
	name := strings.TrimPrefix(path.Clean(r.URL.Path), "/static/")
	st, err := fs.Stat(h.fsys, name)
	if err != nil || st.IsDir() || strings.HasSuffix(r.URL.Path, "/") {
		http.NotFound(w, r)
		return
	}
	// A validator, so that a returning browser revalidates its copy
	// ("no-cache") with a 304 instead of downloading every module again.
	w.Header().Set("ETag", h.etags[name])
	if gz := h.gzipped.get(name); gz != nil {
		w.Header().Add("Vary", "Accept-Encoding")
		if acceptsGzip(r.Header.Get("Accept-Encoding")) {
			// Its own strong validator: a representation's ETag names
			// its bytes (RFC 9110 §8.8.3).
			w.Header().Set("ETag", strings.TrimSuffix(h.etags[name], `"`)+`-gz"`)
			w.Header().Set("Content-Encoding", "gzip")
			if ct := mime.TypeByExtension(path.Ext(name)); ct != "" {
				w.Header().Set("Content-Type", ct)
			}
			http.ServeContent(w, r, name, h.modTime, bytes.NewReader(gz))
			return
		}
	}
	h.static.ServeHTTP(w, r)
}

// acceptsGzip reports whether an Accept-Encoding header takes gzip: named
// (or "*") with a q-value that is not 0.
func acceptsGzip(accept string) bool {
	for _, part := range strings.Split(accept, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		coding = strings.ToLower(strings.TrimSpace(coding))
		if coding != "gzip" && coding != "x-gzip" && coding != "*" {
			continue
		}
		q := strings.ReplaceAll(strings.ToLower(params), " ", "")
		if v, ok := strings.CutPrefix(q, "q="); ok && strings.Trim(v, "0.") == "" {
			return false // q=0, q=0.0, q=0.000: refused
		}
		return true
	}
	return false
}

// gzipCache holds the gzip of each embedded text file (scripts, styles,
// catalogues, SVG), made once, on its first request: the client is some
// 400 KB of modules with their comments, a third of that gzipped, and the
// binary serves the same bytes until it is replaced. Made lazily so that a
// server whose pages nobody opens (most tests) does not pay for it.
type gzipCache struct {
	fsys  fs.FS             // the embedded static folder; immutable
	mu    sync.Mutex        // guards files
	files map[string][]byte // by path; nil: not worth compressing
}

// get returns the gzip of the file at name, or nil when it is not a text
// file or does not shrink by a tenth.
func (c *gzipCache) get(name string) []byte {
	switch path.Ext(name) {
	case ".js", ".css", ".json", ".svg", ".html":
	default:
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if gz, ok := c.files[name]; ok {
		return gz
	}
	b, err := fs.ReadFile(c.fsys, name)
	if err != nil {
		return nil // the caller has checked that it exists
	}
	var buf bytes.Buffer
	zw := gzip.NewWriter(&buf)
	_, _ = zw.Write(b) // a bytes.Buffer does not fail
	_ = zw.Close()
	var gz []byte
	if buf.Len() < len(b)*9/10 {
		gz = buf.Bytes()
	}
	c.files[name] = gz
	return gz
}

// scanStatic returns the ETag of every embedded file (a hash of its
// content: the files change only with the binary) and the paths of the
// JavaScript modules, sorted.
func scanStatic(static fs.FS) (etags map[string]string, modules []string) {
	etags = map[string]string{}
	err := fs.WalkDir(static, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(static, p)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(b)
		etags[p] = `"` + hex.EncodeToString(sum[:12]) + `"`
		if strings.HasSuffix(p, ".js") {
			modules = append(modules, p)
		}
		return nil
	})
	if err != nil {
		panic("web: reading the embedded static folder: " + err.Error()) // build error
	}
	sort.Strings(modules)
	return etags, modules
}

// withModulePreloads adds a <link rel="modulepreload"> for every module
// before the page's entry script. With no build step the client is some
// fifty modules, and a browser finds them import by import, one level of
// the import graph per round trip; listed up front, they load at once.
func withModulePreloads(index []byte, modules []string) []byte {
	var links strings.Builder
	for _, m := range modules {
		fmt.Fprintf(&links, "<link rel=\"modulepreload\" href=\"/static/%s\">\n  ", m)
	}
	return withBefore(index, links.String())
}

// serveRoom serves the call page for /ROOM, redirecting to the normal form
// of the name when the request used another spelling.
func (h *handler) serveRoom(w http.ResponseWriter, r *http.Request) {
	raw := strings.TrimSuffix(strings.TrimPrefix(r.URL.Path, "/"), "/")
	if strings.Contains(raw, "/") {
		http.NotFound(w, r)
		return
	}
	room := NormalizeRoom(raw)
	if room == "" {
		http.Redirect(w, r, "/", http.StatusFound)
		return
	}
	if room != raw || strings.HasSuffix(r.URL.Path, "/") {
		target := "/" + url.PathEscape(room)
		if r.URL.RawQuery != "" {
			target += "?" + r.URL.RawQuery
		}
		http.Redirect(w, r, target, http.StatusFound)
		return
	}
	h.serveIndex(w, r)
}

// NormalizeRoom turns what someone typed into a room name usable as a MUC
// localpart: compatibility-normalized (NFKC) and lower-cased; letters,
// digits, combining marks after them, '.' and '_' kept; every other run of
// characters (dashes included) becomes one '-'; no leading or trailing '-'
// or '.'; at most
// MaxRoomName characters. The result is "" when nothing usable remains.
// A name whose letters the XMPP localpart profile would still change or
// refuse falls back to its ASCII letters and digits alone.
func NormalizeRoom(s string) string {
	if !utf8.ValidString(s) {
		s = strings.ToValidUTF8(s, "-")
	}
	s = norm.NFKC.String(strings.ToLower(norm.NFKC.String(s)))
	if out := foldRoom(s, false); localpartSafe(out) {
		return out
	}
	return foldRoom(s, true)
}

// foldRoom keeps the characters NormalizeRoom allows (ASCII only when
// asciiOnly), joins the rest into single dashes and trims.
func foldRoom(s string, asciiOnly bool) string {
	var b strings.Builder
	n, dash, prevLetter := 0, false, false
	for _, c := range s {
		if n >= MaxRoomName {
			break
		}
		ascii := c < utf8.RuneSelf
		keep := c == '.' || c == '_' ||
			((ascii || !asciiOnly) && (unicode.IsLetter(c) || unicode.IsDigit(c))) ||
			(!asciiOnly && prevLetter && unicode.Is(unicode.M, c))
		if !keep {
			dash = b.Len() > 0
			prevLetter = false
			continue
		}
		if dash {
			b.WriteByte('-')
			n++
			dash = false
			if n >= MaxRoomName {
				break
			}
		}
		b.WriteRune(c)
		n++
		prevLetter = unicode.IsLetter(c) || unicode.Is(unicode.M, c)
	}
	return strings.Trim(b.String(), "-.")
}

// localpartSafe reports whether the XMPP localpart profile accepts s
// unchanged, so the room JID the client builds is the one the server uses.
func localpartSafe(s string) bool {
	if s == "" {
		return true
	}
	j, err := jid.New(s, "conference.localhost", "")
	return err == nil && j.Local == s
}

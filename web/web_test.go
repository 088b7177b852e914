package web

import (
	"compress/gzip"
	"html"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"unicode/utf8"

	"parley.dev/parley/internal/jid"
)

func get(t *testing.T, h http.Handler, method, target string) *http.Response {
	t.Helper()
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, target, nil))
	return rec.Result()
}

func body(t *testing.T, r *http.Response) string {
	t.Helper()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestPagesServeIndex(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/weekly-sync", "/room_1.b", "/caf%C3%A9"} {
		r := get(t, h, "GET", p)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", p, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != "text/html; charset=utf-8" {
			t.Errorf("%s: content type %q", p, ct)
		}
		if cc := r.Header.Get("Cache-Control"); cc != "no-cache" {
			t.Errorf("%s: cache control %q", p, cc)
		}
		if !strings.Contains(r.Header.Get("Content-Security-Policy"), "default-src 'self'") {
			t.Errorf("%s: no CSP", p)
		}
		if b := body(t, r); !strings.Contains(b, `<script type="module" src="/static/app.js">`) {
			t.Errorf("%s: body is not index.html: %.80q", p, b)
		}
	}
}

func TestRoomRedirectsToNormalForm(t *testing.T) {
	h := Handler()
	cases := []struct{ path, want string }{
		{"/Weekly%20Sync", "/weekly-sync"},
		{"/weekly-sync/", "/weekly-sync"},
		{"/A&B?name=Ann&join=1", "/a-b?name=Ann&join=1"},
		{"/--x--", "/x"},
		{"/%E2%98%83", "/"}, // a snowman alone leaves nothing
		{"/Caf%C3%A9", "/caf%C3%A9"},
	}
	for _, c := range cases {
		r := get(t, h, "GET", c.path)
		if r.StatusCode != http.StatusFound {
			t.Fatalf("%s: status %d, want 302", c.path, r.StatusCode)
		}
		if loc := r.Header.Get("Location"); loc != c.want {
			t.Errorf("%s: redirected to %q, want %q", c.path, loc, c.want)
		}
	}
}

func TestStaticAssets(t *testing.T) {
	h := Handler()
	cases := map[string]string{
		"/static/app.js":      "text/javascript; charset=utf-8",
		"/static/style.css":   "text/css; charset=utf-8",
		"/static/favicon.svg": "image/svg+xml",
		"/static/lib/xmpp.js": "text/javascript; charset=utf-8",
	}
	for p, want := range cases {
		r := get(t, h, "GET", p)
		if r.StatusCode != http.StatusOK {
			t.Fatalf("%s: status %d", p, r.StatusCode)
		}
		if ct := r.Header.Get("Content-Type"); ct != want {
			t.Errorf("%s: content type %q, want %q", p, ct, want)
		}
		if r.Header.Get("Cache-Control") != "no-cache" || r.Header.Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("%s: headers %v", p, r.Header)
		}
	}
}

func TestNotFoundAndMethods(t *testing.T) {
	h := Handler()
	// config.json is the client's pointer to another XMPP server; parley
	// says nothing (and it is no room), so the page uses this origin.
	if r := get(t, h, "GET", "/config.json"); r.StatusCode != http.StatusOK || body(t, r) != "{}\n" || r.Header.Get("Content-Type") != "application/json" {
		t.Errorf("GET /config.json: status %d, %s", r.StatusCode, r.Header.Get("Content-Type"))
	}
	for _, p := range []string{"/static/", "/static/lib/", "/static/nope.js", "/static/../web.go", "/a/b"} {
		if r := get(t, h, "GET", p); r.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: status %d, want 404", p, r.StatusCode)
		}
	}
	r := get(t, h, "POST", "/room")
	if r.StatusCode != http.StatusMethodNotAllowed || r.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: status %d, Allow %q", r.StatusCode, r.Header.Get("Allow"))
	}
	if r := get(t, h, "HEAD", "/room"); r.StatusCode != http.StatusOK {
		t.Errorf("HEAD: status %d", r.StatusCode)
	}
	if r := get(t, h, "GET", "/favicon.ico"); r.StatusCode != http.StatusMovedPermanently {
		t.Errorf("favicon.ico: status %d", r.StatusCode)
	}
}

// TestMountedBesideOtherRoutes checks the handler as app.go mounts it: the
// more specific routes keep their requests.
func TestMountedBesideOtherRoutes(t *testing.T) {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /health", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "health") })
	mux.HandleFunc("/xmpp-websocket", func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ws") })
	mux.Handle("/", Handler())
	for p, want := range map[string]string{"/health": "health", "/xmpp-websocket": "ws"} {
		if b := body(t, get(t, mux, "GET", p)); b != want {
			t.Errorf("%s went to the web client: %.40q", p, b)
		}
	}
}

func TestNormalizeRoom(t *testing.T) {
	cases := map[string]string{
		"Weekly Sync":           "weekly-sync",
		"  team  standup ":      "team-standup",
		"a--b__c..d":            "a-b__c..d",
		"Ünïcode Räum":          "ünïcode-räum",
		"ＦＵＬＬ":                  "full", // compatibility forms fold to ASCII
		"x@y/z'\"<>&:":          "x-y-z",
		"":                      "",
		"!!!":                   "",
		".hidden.":              "hidden",
		strings.Repeat("a", 99): strings.Repeat("a", MaxRoomName),
	}
	for in, want := range cases {
		if got := NormalizeRoom(in); got != want {
			t.Errorf("NormalizeRoom(%q) = %q, want %q", in, got, want)
		}
	}
}

// checkRoom states what every normalized name must satisfy.
func checkRoom(t *testing.T, in string) {
	out := NormalizeRoom(in)
	if out == "" {
		return
	}
	if again := NormalizeRoom(out); again != out {
		t.Fatalf("not idempotent: %q -> %q -> %q", in, out, again)
	}
	if n := utf8.RuneCountInString(out); n > MaxRoomName {
		t.Fatalf("%q -> %q has %d characters", in, out, n)
	}
	j, err := jid.New(out, "conference.localhost", "")
	if err != nil || j.Local != out {
		t.Fatalf("%q -> %q is not a stable localpart: %v %q", in, out, err, j.Local)
	}
	if strings.ContainsAny(out, " \"&'/:<>@") {
		t.Fatalf("%q -> %q keeps a character JIDs forbid", in, out)
	}
}

func FuzzNormalizeRoom(f *testing.F) {
	for _, s := range []string{"Weekly Sync", "ＦＵＬＬ", "ǅemal", "İstanbul", "ﬁle", "a\u0301", "\u0301a", "Straße", "ß", "\xff\xfe", "x\u200dy"} {
		f.Add(s)
	}
	f.Fuzz(checkRoom)
}

// A returning browser revalidates each asset and gets a 304 with no body;
// a changed asset (another ETag) is sent in full.
func TestStaticAssetsRevalidate(t *testing.T) {
	h := Handler()
	first := get(t, h, "GET", "/static/lib/xmpp.js")
	tag := first.Header.Get("ETag")
	if first.StatusCode != http.StatusOK || !strings.HasPrefix(tag, `"`) || len(tag) < 10 {
		t.Fatalf("first GET: status %d, ETag %q", first.StatusCode, tag)
	}
	if other := get(t, h, "GET", "/static/app.js").Header.Get("ETag"); other == tag || other == "" {
		t.Errorf("app.js has ETag %q, xmpp.js %q: want distinct tags", other, tag)
	}
	for _, c := range []struct {
		tag  string
		want int
	}{{tag, http.StatusNotModified}, {`"stale"`, http.StatusOK}} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/static/lib/xmpp.js", nil)
		req.Header.Set("If-None-Match", c.tag)
		h.ServeHTTP(rec, req)
		if rec.Code != c.want {
			t.Errorf("If-None-Match %s: status %d, want %d", c.tag, rec.Code, c.want)
		}
		if c.want == http.StatusNotModified && rec.Body.Len() != 0 {
			t.Errorf("a 304 carried %d bytes", rec.Body.Len())
		}
	}
}

// The page names every module up front (rel=modulepreload, before its
// entry script), each one served: a browser fetches them all at once
// instead of one level of imports per round trip.
func TestPagePreloadsEveryModule(t *testing.T) {
	h := Handler()
	page := body(t, get(t, h, "GET", "/someroom"))
	entry := strings.Index(page, `<script type="module"`)
	var modules []string
	err := fs.WalkDir(files, "static", func(p string, d fs.DirEntry, err error) error {
		if err == nil && strings.HasSuffix(p, ".js") {
			modules = append(modules, strings.TrimPrefix(p, "static/"))
		}
		return err
	})
	if err != nil || len(modules) < 10 {
		t.Fatalf("walking the embedded files: %v (%d modules)", err, len(modules))
	}
	for _, m := range modules {
		link := `<link rel="modulepreload" href="/static/` + m + `">`
		i := strings.Index(page, link)
		if i < 0 || i > entry {
			t.Errorf("%s: no preload before the entry script", m)
			continue
		}
		if r := get(t, h, "GET", "/static/"+m); r.StatusCode != http.StatusOK {
			t.Errorf("%s: status %d", m, r.StatusCode)
		}
	}
}

// The page carries this server's config (what /config.json says) so that
// it does not have to fetch it before it can log in.
func TestPageCarriesTheSiteConfig(t *testing.T) {
	h := Handler()
	page := body(t, get(t, h, "GET", "/someroom"))
	served := strings.TrimSpace(body(t, get(t, h, "GET", "/config.json")))
	meta := `<meta name="parley-config" content="` + html.EscapeString(served) + `">`
	i := strings.Index(page, meta)
	if i < 0 || i > strings.Index(page, `<script type="module"`) {
		t.Errorf("no %s before the scripts in the page", meta)
	}
}

// The page preloads the catalogue its browser's languages pick (the first
// one parley has, else English), and says the page varies with them.
func TestPagePreloadsTheBrowsersCatalogue(t *testing.T) {
	h := Handler()
	for accept, want := range map[string]string{
		"fr-FR,fr;q=0.9,en;q=0.8": "fr", "de-DE, es;q=0.5": "es", "de": "en", "": "en", "EN-gb": "en",
	} {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/someroom", nil)
		req.Header.Set("Accept-Language", accept)
		h.ServeHTTP(rec, req)
		page := rec.Body.String()
		link := `<link rel="preload" href="/static/i18n/` + want + `.json" as="fetch" crossorigin>`
		if i := strings.Index(page, link); i < 0 || i > strings.Index(page, `<script type="module"`) {
			t.Errorf("Accept-Language %q: no %s before the entry script", accept, link)
		}
		if strings.Count(page, `rel="preload" href="/static/i18n/`) != 1 {
			t.Errorf("Accept-Language %q: %d catalogue preloads", accept, strings.Count(page, `rel="preload"`))
		}
		if !strings.Contains(rec.Header().Get("Vary"), "Accept-Language") {
			t.Errorf("Accept-Language %q: Vary %q", accept, rec.Header().Get("Vary"))
		}
	}
}

// A browser that takes gzip gets the scripts gzipped, with their own
// validator and Vary, and the bytes unpack to the file; one that does not
// (or refuses it with q=0) gets the file itself.
func TestStaticAssetsGzipped(t *testing.T) {
	h := Handler()
	want, err := fs.ReadFile(files, "static/lib/xmpp.js")
	if err != nil {
		t.Fatal(err)
	}
	fetch := func(accept, ifNoneMatch string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		req := httptest.NewRequest("GET", "/static/lib/xmpp.js", nil)
		if accept != "" {
			req.Header.Set("Accept-Encoding", accept)
		}
		if ifNoneMatch != "" {
			req.Header.Set("If-None-Match", ifNoneMatch)
		}
		h.ServeHTTP(rec, req)
		return rec
	}
	plain := fetch("", "")
	if plain.Header().Get("Content-Encoding") != "" || plain.Body.String() != string(want) {
		t.Fatalf("without Accept-Encoding: Content-Encoding %q, %d bytes, want the file's %d",
			plain.Header().Get("Content-Encoding"), plain.Body.Len(), len(want))
	}
	gz := fetch("gzip, deflate, br, zstd", "")
	if gz.Code != http.StatusOK || gz.Header().Get("Content-Encoding") != "gzip" {
		t.Fatalf("with gzip accepted: status %d, Content-Encoding %q", gz.Code, gz.Header().Get("Content-Encoding"))
	}
	if !strings.Contains(gz.Header().Get("Vary"), "Accept-Encoding") || !strings.HasPrefix(gz.Header().Get("Content-Type"), "text/javascript") {
		t.Errorf("gzipped: Vary %q, Content-Type %q", gz.Header().Get("Vary"), gz.Header().Get("Content-Type"))
	}
	if gz.Body.Len() >= len(want)/2 {
		t.Errorf("gzipped %d bytes of %d: want under half", gz.Body.Len(), len(want))
	}
	zr, err := gzip.NewReader(gz.Body)
	if err != nil {
		t.Fatal(err)
	}
	unpacked, err := io.ReadAll(zr)
	if err != nil || string(unpacked) != string(want) {
		t.Fatalf("gzipped body unpacks to %d bytes (err %v), want the file's %d", len(unpacked), err, len(want))
	}
	tag := gz.Header().Get("ETag")
	if tag == "" || tag == plain.Header().Get("ETag") {
		t.Errorf("gzipped ETag %q, plain %q: want distinct tags", tag, plain.Header().Get("ETag"))
	}
	if again := fetch("gzip", tag); again.Code != http.StatusNotModified {
		t.Errorf("revalidating the gzipped copy: status %d, want 304", again.Code)
	}
	for _, refused := range []string{"gzip;q=0", "identity", "br", "*;q=0.0"} {
		if r := fetch(refused, ""); r.Header().Get("Content-Encoding") != "" || r.Body.String() != string(want) {
			t.Errorf("Accept-Encoding %q: Content-Encoding %q, want the file itself", refused, r.Header().Get("Content-Encoding"))
		}
	}
}

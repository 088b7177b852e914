package upload

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"parley.dev/parley/internal/stanza"
	"parley.dev/parley/internal/xmlstream"
)

type accounts map[string]bool

func (a accounts) Exists(u string) bool { return a[u] }

type capture struct{ got []*xmlstream.Element }

func (c *capture) Route(st *xmlstream.Element) { c.got = append(c.got, st) }

type fixture struct {
	svc *Service
	out *capture
	web *httptest.Server
	now time.Time
}

func newFixture(t *testing.T, mod func(*Config)) *fixture {
	f := &fixture{out: &capture{}, now: time.Now()}
	mux := http.NewServeMux()
	f.web = httptest.NewServer(mux)
	t.Cleanup(f.web.Close)
	cfg := Config{Domain: "upload.example.test", UserDomain: "example.test", Accounts: accounts{"alice": true},
		BaseURL: f.web.URL + "/upload/", Dir: t.TempDir(), Router: f.out, MaxFileSize: 1000, Quota: 1500,
		Clock: func() time.Time { return f.now }}
	if mod != nil {
		mod(&cfg)
	}
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
	mux.Handle("/upload/", svc)
	return f
}

// slot asks for a slot and returns the reply.
func (f *fixture) slot(from, name string, size int) *xmlstream.Element {
	f.out.got = nil
	iq := xmlstream.New(xmlstream.NSClient, "iq", "type", "get", "id", "1", "from", from, "to", "upload.example.test").Add(
		xmlstream.New(NS, "request", "filename", name, "size", itoa(size), "content-type", "image/png"))
	f.svc.HandleStanza(iq)
	return f.out.got[0]
}

func itoa(n int) string { return strconv.Itoa(n) }

func do(t *testing.T, method, url string, body []byte) (int, []byte, http.Header) {
	req, _ := http.NewRequest(method, url, bytes.NewReader(body))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b, res.Header
}

func TestUploadThenDownload(t *testing.T) {
	f := newFixture(t, nil)
	res := f.slot("alice@example.test/phone", "cat picture.png", 600)
	slot := res.Child(NS, "slot")
	if res.Attr("type") != "result" || slot == nil {
		t.Fatalf("slot: %s", res)
	}
	put, get := slot.Child(NS, "put").Attr("url"), slot.Child(NS, "get").Attr("url")
	data := bytes.Repeat([]byte{7}, 600)
	if code, b, _ := do(t, "PUT", put, data); code != http.StatusCreated {
		t.Fatalf("put: %d %s", code, b)
	}
	code, b, h := do(t, "GET", get, nil)
	if code != 200 || !bytes.Equal(b, data) || h.Get("Content-Type") != "image/png" || !strings.Contains(h.Get("Content-Security-Policy"), "sandbox") {
		t.Fatalf("get: %d %d bytes %v", code, len(b), h)
	}
	// A slot takes one PUT.
	if code, _, _ := do(t, "PUT", put, data); code != http.StatusForbidden {
		t.Fatalf("second put: %d", code)
	}
	// Files survive a restart of the service.
	svc2, err := New(f.svc.cfg)
	if err != nil || len(svc2.files) != 1 || svc2.used["alice"] != 600 {
		t.Fatalf("reload: %v %v", svc2.files, err)
	}
}

func TestUploadRefusals(t *testing.T) {
	f := newFixture(t, nil)
	if e := stanza.ParseError(f.slot("guest-1@example.test/x", "a.png", 10)); e == nil || e.Condition != stanza.Forbidden {
		t.Fatal("a guest got a slot")
	}
	tooBig := f.slot("alice@example.test/phone", "a.png", 1001)
	if e := stanza.ParseError(tooBig); e == nil || tooBig.Child(xmlstream.NSClient, "error").Child(NS, "file-too-large") == nil {
		t.Fatalf("too large: %s", tooBig)
	}
	for _, bad := range []string{"../x", ".meta", "a/b"} {
		if e := stanza.ParseError(f.slot("alice@example.test/phone", bad, 10)); e == nil || e.Condition != stanza.BadRequest {
			t.Fatalf("name %q accepted", bad)
		}
	}
	// The quota counts reserved slots: 900 + 900 > 1500.
	first := f.slot("alice@example.test/phone", "one.png", 900)
	if first.Attr("type") != "result" {
		t.Fatal(first)
	}
	if e := stanza.ParseError(f.slot("alice@example.test/phone", "two.png", 900)); e == nil || e.Condition != stanza.ResourceConstraint {
		t.Fatal("quota not enforced")
	}
	// A PUT of the wrong size is refused and frees the reservation.
	put := first.Child(NS, "slot").Child(NS, "put").Attr("url")
	if code, _, _ := do(t, "PUT", put, make([]byte, 10)); code != http.StatusBadRequest {
		t.Fatalf("short put: %d", code)
	}
	if f.slot("alice@example.test/phone", "two.png", 900).Attr("type") != "result" {
		t.Fatal("reservation not freed")
	}
}

func TestUploadExpiry(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Expiry = time.Hour })
	slot := f.slot("alice@example.test/phone", "a.txt", 5).Child(NS, "slot")
	do(t, "PUT", slot.Child(NS, "put").Attr("url"), []byte("hello"))
	get := slot.Child(NS, "get").Attr("url")
	if code, _, _ := do(t, "GET", get, nil); code != 200 {
		t.Fatalf("get: %d", code)
	}
	f.now = f.now.Add(2 * time.Hour)
	if code, _, _ := do(t, "GET", get, nil); code != 404 {
		t.Fatalf("expired get: %d", code)
	}
	f.slot("alice@example.test/phone", "b.txt", 5) // runs the sweep
	if len(f.svc.files) != 0 || f.svc.used["alice"] != 5 {
		t.Fatalf("after expiry: %v %v", f.svc.files, f.svc.used)
	}
}

package focus

import (
	"crypto/sha1" //nolint:gosec // XEP-0115's hash: a cache key checked against the answer, not a secret
	"encoding/base64"
	"sort"
	"strings"
	"sync"

	"parley.dev/parley/internal/xmlstream"
)

// Caps is an occupant's entity capabilities (XEP-0115) as its presence in
// the room announced them: a hash of its disco#info. Zero when it
// announced none.
type Caps struct {
	Hash string // the hash function's name; only "sha-1" is used
	Ver  string // the base64 hash
}

// maxCapsKnown bounds the capabilities the focus remembers: a client
// version each, so a few; past it, occupants are probed as before.
const maxCapsKnown = 256

// capsAnswer is what a disco#info answer whose hash was a Caps.Ver said.
type capsAnswer struct {
	jingle bool   // it has every required feature
	client string // its identity's name
}

// capsCache remembers, by verified hash, what occupants' disco#info said:
// an occupant announcing a known hash in its join presence is called at
// once, without the disco#info round trip. A hash is remembered only
// after an answer hashed to it, so an occupant cannot claim another's.
type capsCache struct {
	mu    sync.Mutex
	known map[string]capsAnswer // by Caps.Ver; guarded by mu
}

// lookup returns what the disco#info behind caps said, if known.
func (cc *capsCache) lookup(caps Caps) (capsAnswer, bool) {
	if caps.Hash != "sha-1" || caps.Ver == "" {
		return capsAnswer{}, false
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	a, ok := cc.known[caps.Ver]
	return a, ok
}

// learn remembers answer for caps if the disco#info query result hashes
// to caps.Ver.
func (cc *capsCache) learn(caps Caps, query *xmlstream.Element, answer capsAnswer) {
	if caps.Hash != "sha-1" || caps.Ver == "" || query == nil {
		return
	}
	ver, ok := capsVer(query)
	if !ok || ver != caps.Ver {
		return
	}
	cc.mu.Lock()
	defer cc.mu.Unlock()
	if cc.known == nil {
		cc.known = make(map[string]capsAnswer)
	}
	if len(cc.known) < maxCapsKnown {
		cc.known[ver] = answer
	}
}

// capsVer computes the XEP-0115 (§5.1) SHA-1 verification string of a
// disco#info query result. Results with extended information (data
// forms) are not handled: ok is false.
func capsVer(query *xmlstream.Element) (ver string, ok bool) {
	if query.Child("jabber:x:data", "x") != nil {
		return "", false
	}
	var ids, feats []string
	for _, id := range query.ChildrenNamed(nsDiscoInfo, "identity") {
		ids = append(ids, id.Attr("category")+"/"+id.Attr("type")+"/"+id.Attr("xml:lang")+"/"+id.Attr("name"))
	}
	for _, f := range query.ChildrenNamed(nsDiscoInfo, "feature") {
		feats = append(feats, f.Attr("var"))
	}
	sort.Strings(ids)
	sort.Strings(feats)
	var s strings.Builder
	for _, x := range append(ids, feats...) {
		s.WriteString(x)
		s.WriteByte('<')
	}
	sum := sha1.Sum([]byte(s.String())) //nolint:gosec // see the import
	return base64.StdEncoding.EncodeToString(sum[:]), true
}

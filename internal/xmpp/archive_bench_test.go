package xmpp

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"

	"parley.dev/parley/internal/jid"
	"parley.dev/parley/internal/sasl"
	"parley.dev/parley/internal/store"
	"parley.dev/parley/internal/xmlstream"
)

// nopAccounts: every account exists, nobody logs in.
type nopAccounts struct{}

func (nopAccounts) Exists(string) bool { return true }
func (nopAccounts) SCRAM(string, sasl.Hash) (sasl.SCRAMCredentials, error) {
	return sasl.SCRAMCredentials{}, sasl.ErrUnknownUser
}

func benchServer(b *testing.B) (*Server, string) {
	path := filepath.Join(b.TempDir(), "xmpp.db")
	kv, err := store.Open(path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { kv.Close() })
	s, err := New(Config{Domain: "example.test", Accounts: nopAccounts{}, Store: kv})
	if err != nil {
		b.Fatal(err)
	}
	return s, path
}

func benchMessage(i int) *xmlstream.Element {
	return xmlstream.New(xmlstream.NSClient, "message", "from", "bob@example.test/phone",
		"to", "alice@example.test", "type", "chat", "id", "m"+strconv.Itoa(i)).Add(
		xmlstream.New(xmlstream.NSClient, "body").SetText("a 100-byte message body, about what a chat line is, give or take a few words ......"),
		xmlstream.New("urn:xmpp:receipts", "request"))
}

// BenchmarkArchiveWrite: messages archived per second on bbolt (one
// transaction, fsync'd, per message), and the file's size per message.
func BenchmarkArchiveWrite(b *testing.B) {
	s, path := benchServer(b)
	from := jid.JID{Local: "bob", Domain: "example.test", Resource: "phone"}
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		s.archive("alice", from, benchMessage(i))
	}
	b.StopTimer()
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(fi.Size())/float64(b.N), "disk-B/msg")
}

// BenchmarkArchiveQuery: one MAM page of 50 messages (RSM after a random
// id) out of an archive of 20,000, parsed back into stanzas, with the
// RSM count; and the file size per message of that archive.
func BenchmarkArchiveQuery(b *testing.B) {
	s, path := benchServer(b)
	from := jid.JID{Local: "bob", Domain: "example.test", Resource: "phone"}
	const n = 20000
	ids := make([]uint64, 0, n)
	for i := range n {
		c := s.archive("alice", from, benchMessage(i))
		id, _ := strconv.ParseUint(c.Child(nsStanzaID, "stanza-id").Attr("id"), 10, 64)
		ids = append(ids, id)
	}
	fi, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	msgs := 0
	for b.Loop() {
		after := ids[rand.IntN(n-50)]
		q := &mamQuery{lo: after + 1, hi: ^uint64(0), max: 50}
		hits, _, err := s.mamPage("alice", q)
		if err != nil || len(hits) != 50 {
			b.Fatalf("page: %d %v", len(hits), err)
		}
		for _, h := range hits {
			if _, err := xmlstream.ParseElementIn(h.xml, xmlstream.Limits{}, xmlstream.NSClient); err != nil {
				b.Fatal(err)
			}
		}
		s.mamFin(q, hits, true, "alice")
		msgs += len(hits)
	}
	b.ReportMetric(float64(msgs)/b.Elapsed().Seconds(), "msgs/s")
	b.ReportMetric(float64(fi.Size())/n, "disk-B/msg")
}

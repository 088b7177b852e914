package store

import (
	"fmt"
	"path/filepath"
	"slices"
	"testing"
)

// Both implementations must behave the same.
func stores(t *testing.T) map[string]KV {
	b, err := Open(filepath.Join(t.TempDir(), "s.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return map[string]KV{"bolt": b, "memory": NewMemory()}
}

func scan(t *testing.T, kv KV, prefix, from string, reverse bool, limit int) []string {
	t.Helper()
	var out []string
	var f []byte
	if from != "" {
		f = []byte(from)
	}
	if err := kv.Scan("b", []byte(prefix), f, reverse, func(k, v []byte) bool {
		if string(v) != "v"+string(k) {
			t.Fatalf("value of %s is %s", k, v)
		}
		out = append(out, string(k))
		return len(out) < limit
	}); err != nil {
		t.Fatal(err)
	}
	return out
}

func TestKV(t *testing.T) {
	for name, kv := range stores(t) {
		t.Run(name, func(t *testing.T) {
			for _, k := range []string{"a/3", "a/1", "b/1", "a/2", "c", "a/5"} {
				if err := kv.Put("b", []byte(k), []byte("v"+k)); err != nil {
					t.Fatal(err)
				}
			}
			if v, _ := kv.Get("b", []byte("a/2")); string(v) != "va/2" {
				t.Fatalf("get: %q", v)
			}
			if v, _ := kv.Get("b", []byte("zz")); v != nil {
				t.Fatalf("missing key: %q", v)
			}
			if v, _ := kv.Get("nobucket", []byte("a")); v != nil {
				t.Fatalf("missing bucket: %q", v)
			}
			cases := []struct {
				prefix, from string
				reverse      bool
				limit        int
				want         []string
			}{
				{"a/", "", false, 10, []string{"a/1", "a/2", "a/3", "a/5"}},
				{"a/", "", true, 10, []string{"a/5", "a/3", "a/2", "a/1"}},
				{"a/", "a/2", false, 10, []string{"a/2", "a/3", "a/5"}},
				{"a/", "a/4", false, 10, []string{"a/5"}},
				{"a/", "a/4", true, 10, []string{"a/3", "a/2", "a/1"}},
				{"a/", "a/3", true, 2, []string{"a/3", "a/2"}},
				{"", "", true, 1, []string{"c"}},
				{"c", "", true, 10, []string{"c"}},
			}
			for _, c := range cases {
				got := scan(t, kv, c.prefix, c.from, c.reverse, c.limit)
				if !slices.Equal(got, c.want) {
					t.Errorf("scan %+v: %v", c, got)
				}
			}
			if err := kv.Delete("b", []byte("a/2")); err != nil {
				t.Fatal(err)
			}
			if n, err := kv.DeleteRange("b", []byte("a/"), []byte("a/3")); err != nil || n != 1 {
				t.Fatalf("delete range: %d %v", n, err)
			}
			if n, err := kv.DeletePrefix("b", []byte("a/")); err != nil || n != 2 {
				t.Fatalf("delete prefix: %d %v", n, err)
			}
			if got := scan(t, kv, "", "", false, 10); !slices.Equal(got, []string{"b/1", "c"}) {
				t.Fatalf("after deletes: %v", got)
			}
		})
	}
}

func TestBoltDurable(t *testing.T) {
	path := filepath.Join(t.TempDir(), "s.db")
	b, err := Open(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		b.Put("x", fmt.Appendf(nil, "k%03d", i), []byte("v"))
	}
	b.Close()
	b, err = Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	n := 0
	b.Scan("x", nil, nil, false, func(k, v []byte) bool { n++; return true })
	if n != 100 {
		t.Fatalf("%d keys after reopen", n)
	}
}

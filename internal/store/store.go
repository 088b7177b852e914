// Package store is parley's embedded durable key-value store: ordered keys
// in named buckets, on bbolt in DATA (Open) or in memory (NewMemory, for
// tests and for servers that keep nothing). The XMPP server keeps offline
// messages, the message archive, PEP nodes and block lists in it.
package store

import (
	"bytes"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	bolt "go.etcd.io/bbolt"
)

// KV is an ordered key-value store with buckets. Implementations are safe
// for concurrent use. Keys and values handed in are copied; values handed
// out are the caller's.
type KV interface {
	// Get returns the value of key, or nil when there is none.
	Get(bucket string, key []byte) ([]byte, error)
	// Put stores key=value.
	Put(bucket string, key, value []byte) error
	// Delete removes key; a missing key is not an error.
	Delete(bucket string, key []byte) error
	// Scan calls fn for each key with the given prefix in key order (or
	// reverse order), starting at from (inclusive; nil: the first key of
	// the prefix, or the last one when reverse), until fn returns false.
	Scan(bucket string, prefix, from []byte, reverse bool, fn func(key, value []byte) bool) error
	// DeletePrefix removes every key with the prefix and reports how many.
	DeletePrefix(bucket string, prefix []byte) (int, error)
	// DeleteRange removes every key k with start <= k < end and reports how many.
	DeleteRange(bucket string, start, end []byte) (int, error)
	// Close releases the store.
	Close() error
}

// ErrClosed is returned by a closed store.
var ErrClosed = errors.New("store: closed")

// Bolt is a KV on a bbolt file.
type Bolt struct {
	db *bolt.DB
}

// Open opens (creating if needed) the bbolt file at path.
func Open(path string) (*Bolt, error) {
	db, err := bolt.Open(path, 0o600, &bolt.Options{Timeout: 5 * time.Second})
	if err != nil {
		return nil, fmt.Errorf("store: open %s: %w", path, err)
	}
	return &Bolt{db: db}, nil
}

// Get implements KV.
func (b *Bolt) Get(bucket string, key []byte) ([]byte, error) {
	var out []byte
	err := b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		if v := bk.Get(key); v != nil {
			out = slices.Clone(v)
		}
		return nil
	})
	return out, err
}

// Put implements KV.
func (b *Bolt) Put(bucket string, key, value []byte) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		bk, err := tx.CreateBucketIfNotExists([]byte(bucket))
		if err != nil {
			return err
		}
		return bk.Put(key, value)
	})
}

// Delete implements KV.
func (b *Bolt) Delete(bucket string, key []byte) error {
	return b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		return bk.Delete(key)
	})
}

// Scan implements KV. fn runs inside a read transaction: it must not call
// the store.
func (b *Bolt) Scan(bucket string, prefix, from []byte, reverse bool, fn func(key, value []byte) bool) error {
	return b.db.View(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		var k, v []byte
		switch {
		case from != nil:
			k, v = c.Seek(from)
			if reverse && (k == nil || !bytes.Equal(k, from)) {
				if k == nil {
					k, v = c.Last()
				} else {
					k, v = c.Prev()
				}
			}
		case reverse:
			k, v = seekLast(c, prefix)
		default:
			k, v = c.Seek(prefix)
		}
		for ; k != nil && bytes.HasPrefix(k, prefix); k, v = step(c, reverse) {
			if !fn(slices.Clone(k), slices.Clone(v)) {
				return nil
			}
		}
		return nil
	})
}

func step(c *bolt.Cursor, reverse bool) ([]byte, []byte) {
	if reverse {
		return c.Prev()
	}
	return c.Next()
}

// seekLast positions c on the last key with prefix.
func seekLast(c *bolt.Cursor, prefix []byte) ([]byte, []byte) {
	end := prefixEnd(prefix)
	if end == nil {
		return c.Last()
	}
	k, _ := c.Seek(end)
	if k == nil {
		return c.Last()
	}
	return c.Prev()
}

// prefixEnd is the first key after every key with prefix (nil: none).
func prefixEnd(prefix []byte) []byte {
	end := slices.Clone(prefix)
	for i := len(end) - 1; i >= 0; i-- {
		if end[i] < 0xff {
			end[i]++
			return end[:i+1]
		}
	}
	return nil
}

// DeletePrefix implements KV.
func (b *Bolt) DeletePrefix(bucket string, prefix []byte) (int, error) {
	return b.DeleteRange(bucket, prefix, prefixEnd(prefix))
}

// DeleteRange implements KV; a nil end means no upper bound.
func (b *Bolt) DeleteRange(bucket string, start, end []byte) (int, error) {
	n := 0
	err := b.db.Update(func(tx *bolt.Tx) error {
		bk := tx.Bucket([]byte(bucket))
		if bk == nil {
			return nil
		}
		c := bk.Cursor()
		for k, _ := c.Seek(start); k != nil && (end == nil || bytes.Compare(k, end) < 0); k, _ = c.Seek(start) {
			if err := c.Delete(); err != nil {
				return err
			}
			n++
		}
		return nil
	})
	return n, err
}

// Close implements KV.
func (b *Bolt) Close() error { return b.db.Close() }

// Memory is a KV in memory: sorted keys per bucket.
type Memory struct {
	mu      sync.RWMutex
	buckets map[string]*memBucket // guarded by mu
	closed  bool                  // guarded by mu
}

type memBucket struct {
	keys [][]byte          // sorted
	vals map[string][]byte // key -> value
}

// NewMemory returns an empty in-memory store.
func NewMemory() *Memory { return &Memory{buckets: make(map[string]*memBucket)} }

// Get implements KV.
func (m *Memory) Get(bucket string, key []byte) ([]byte, error) {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return nil, ErrClosed
	}
	if bk := m.buckets[bucket]; bk != nil {
		if v, ok := bk.vals[string(key)]; ok {
			return slices.Clone(v), nil
		}
	}
	return nil, nil
}

// Put implements KV.
func (m *Memory) Put(bucket string, key, value []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	bk := m.buckets[bucket]
	if bk == nil {
		bk = &memBucket{vals: make(map[string][]byte)}
		m.buckets[bucket] = bk
	}
	if _, ok := bk.vals[string(key)]; !ok {
		i, _ := slices.BinarySearchFunc(bk.keys, key, bytes.Compare)
		bk.keys = slices.Insert(bk.keys, i, slices.Clone(key))
	}
	bk.vals[string(key)] = slices.Clone(value)
	return nil
}

// Delete implements KV.
func (m *Memory) Delete(bucket string, key []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return ErrClosed
	}
	bk := m.buckets[bucket]
	if bk == nil {
		return nil
	}
	if _, ok := bk.vals[string(key)]; ok {
		delete(bk.vals, string(key))
		i, _ := slices.BinarySearchFunc(bk.keys, key, bytes.Compare)
		bk.keys = slices.Delete(bk.keys, i, i+1)
	}
	return nil
}

// Scan implements KV. fn runs under the store's read lock: it must not
// call the store.
func (m *Memory) Scan(bucket string, prefix, from []byte, reverse bool, fn func(key, value []byte) bool) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.closed {
		return ErrClosed
	}
	bk := m.buckets[bucket]
	if bk == nil {
		return nil
	}
	var i int
	switch {
	case from != nil:
		var found bool
		i, found = slices.BinarySearchFunc(bk.keys, from, bytes.Compare)
		if reverse && !found {
			i--
		}
	case reverse:
		if end := prefixEnd(prefix); end != nil {
			i, _ = slices.BinarySearchFunc(bk.keys, end, bytes.Compare)
			i--
		} else {
			i = len(bk.keys) - 1
		}
	default:
		i, _ = slices.BinarySearchFunc(bk.keys, prefix, bytes.Compare)
	}
	for i >= 0 && i < len(bk.keys) && bytes.HasPrefix(bk.keys[i], prefix) {
		k := bk.keys[i]
		if !fn(slices.Clone(k), slices.Clone(bk.vals[string(k)])) {
			return nil
		}
		if reverse {
			i--
		} else {
			i++
		}
	}
	return nil
}

// DeletePrefix implements KV.
func (m *Memory) DeletePrefix(bucket string, prefix []byte) (int, error) {
	return m.DeleteRange(bucket, prefix, prefixEnd(prefix))
}

// DeleteRange implements KV; a nil end means no upper bound.
func (m *Memory) DeleteRange(bucket string, start, end []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.closed {
		return 0, ErrClosed
	}
	bk := m.buckets[bucket]
	if bk == nil {
		return 0, nil
	}
	i, _ := slices.BinarySearchFunc(bk.keys, start, bytes.Compare)
	j := i
	for j < len(bk.keys) && (end == nil || bytes.Compare(bk.keys[j], end) < 0) {
		delete(bk.vals, string(bk.keys[j]))
		j++
	}
	bk.keys = slices.Delete(bk.keys, i, j)
	return j - i, nil
}

// Close implements KV.
func (m *Memory) Close() error {
	m.mu.Lock()
	m.closed = true
	m.mu.Unlock()
	return nil
}

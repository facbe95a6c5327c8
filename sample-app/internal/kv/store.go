// Package kv is a small, concurrency-safe, in-memory key/value store with per-key versions.
//
// It holds the state behind the service's /api/v1/kv endpoints. Nothing is persisted: a new
// task starts empty, which keeps the container's root filesystem read-only.
package kv

import (
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"
)

// Errors returned by Store; callers match them with errors.Is.
var (
	ErrNotFound        = errors.New("key not found")
	ErrFull            = errors.New("store is full")
	ErrInvalidKey      = errors.New("invalid key")
	ErrValueTooLarge   = errors.New("value too large")
	ErrVersionMismatch = errors.New("version mismatch")
)

// MaxKeyLength is the longest key accepted.
const MaxKeyLength = 64

// Entry is one stored value.
type Entry struct {
	Key       string    `json:"key"`
	Value     string    `json:"value"`
	Version   int64     `json:"version"`
	UpdatedAt time.Time `json:"updatedAt"`
}

// Store is an in-memory map of keys to entries, bounded in entries and value size.
type Store struct {
	maxEntries    int
	maxValueBytes int
	now           func() time.Time

	mu      sync.RWMutex
	entries map[string]Entry
}

// New returns an empty store holding at most maxEntries keys of at most maxValueBytes each.
// now supplies timestamps; nil means time.Now.
func New(maxEntries, maxValueBytes int, now func() time.Time) *Store {
	if now == nil {
		now = time.Now
	}
	return &Store{maxEntries: maxEntries, maxValueBytes: maxValueBytes, now: now, entries: map[string]Entry{}}
}

// MaxValueBytes is the largest value, in bytes, that Put accepts.
func (s *Store) MaxValueBytes() int { return s.maxValueBytes }

// ValidateKey reports whether key is 1..64 characters of a-z, A-Z, 0-9, '.', '_' or '-',
// not starting with '.'.
func ValidateKey(key string) error {
	if key == "" || len(key) > MaxKeyLength {
		return fmt.Errorf("%w: must be 1 to %d characters long", ErrInvalidKey, MaxKeyLength)
	}
	if key[0] == '.' {
		return fmt.Errorf("%w: must not start with '.'", ErrInvalidKey)
	}
	for i := 0; i < len(key); i++ {
		c := key[i]
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
		if !ok {
			return fmt.Errorf("%w: character %q at position %d is not one of a-z A-Z 0-9 . _ -", ErrInvalidKey, c, i)
		}
	}
	return nil
}

// Get returns the entry for key.
func (s *Store) Get(key string) (Entry, error) {
	if err := ValidateKey(key); err != nil {
		return Entry{}, err
	}
	s.mu.RLock()
	defer s.mu.RUnlock()
	e, ok := s.entries[key]
	if !ok {
		return Entry{}, fmt.Errorf("get %q: %w", key, ErrNotFound)
	}
	return e, nil
}

// Keys returns all keys in ascending order.
func (s *Store) Keys() []string {
	s.mu.RLock()
	keys := make([]string, 0, len(s.entries))
	for k := range s.entries {
		keys = append(keys, k)
	}
	s.mu.RUnlock()
	slices.Sort(keys)
	return keys
}

// Put stores value under key and returns the new entry and whether the key was created.
// If ifVersion is non-zero the write only succeeds when the current version equals it
// (optimistic concurrency; a missing key has version 0, so ifVersion 0 means "any").
func (s *Store) Put(key, value string, ifVersion int64) (Entry, bool, error) {
	if err := ValidateKey(key); err != nil {
		return Entry{}, false, err
	}
	if len(value) > s.maxValueBytes {
		return Entry{}, false, fmt.Errorf("put %q: %w: %d bytes, limit %d", key, ErrValueTooLarge, len(value), s.maxValueBytes)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	old, exists := s.entries[key]
	if ifVersion != 0 && old.Version != ifVersion {
		return Entry{}, false, fmt.Errorf("put %q: %w: current version is %d, not %d", key, ErrVersionMismatch, old.Version, ifVersion)
	}
	if !exists && len(s.entries) >= s.maxEntries {
		return Entry{}, false, fmt.Errorf("put %q: %w: limit of %d keys reached", key, ErrFull, s.maxEntries)
	}
	e := Entry{Key: key, Value: value, Version: old.Version + 1, UpdatedAt: s.now().UTC()}
	s.entries[key] = e
	return e, !exists, nil
}

// Delete removes key.
func (s *Store) Delete(key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.entries[key]; !ok {
		return fmt.Errorf("delete %q: %w", key, ErrNotFound)
	}
	delete(s.entries, key)
	return nil
}

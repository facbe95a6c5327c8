package kv

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

var fixed = time.Date(2026, 11, 25, 12, 0, 0, 0, time.UTC)

func clock() func() time.Time { return func() time.Time { return fixed } }

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key  string
		want string // "" means valid; otherwise a substring of the error
	}{
		{"a", ""},
		{"user-1.name_2", ""},
		{"ABC.def", ""},
		{strings.Repeat("k", 64), ""},
		{"", "1 to 64 characters"},
		{strings.Repeat("k", 65), "1 to 64 characters"},
		{".hidden", "must not start with '.'"},
		{"a/b", `character '/' at position 1`},
		{"sp ace", `character ' ' at position 2`},
		{"é", "is not one of"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%q", tt.key), func(t *testing.T) {
			err := ValidateKey(tt.key)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("ValidateKey(%q) = %v, want nil", tt.key, err)
				}
				return
			}
			if !errors.Is(err, ErrInvalidKey) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("ValidateKey(%q) = %v, want ErrInvalidKey containing %q", tt.key, err, tt.want)
			}
		})
	}
}

func TestPutGetDeleteLifecycle(t *testing.T) {
	s := New(10, 16, clock())

	e, created, err := s.Put("k", "v1", 0)
	if err != nil || !created {
		t.Fatalf("first Put = %+v, %v, %v; want created", e, created, err)
	}
	if want := (Entry{Key: "k", Value: "v1", Version: 1, UpdatedAt: fixed}); e != want {
		t.Fatalf("first Put entry = %+v, want %+v", e, want)
	}

	e, created, err = s.Put("k", "v2", 0)
	if err != nil || created || e.Version != 2 || e.Value != "v2" {
		t.Fatalf("second Put = %+v, %v, %v; want version 2, not created", e, created, err)
	}
	got, err := s.Get("k")
	if err != nil || got != e {
		t.Fatalf("Get = %+v, %v; want %+v", got, err, e)
	}

	if err := s.Delete("k"); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if _, err := s.Get("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("Get after Delete = %v, want ErrNotFound", err)
	}
	if err := s.Delete("k"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("second Delete = %v, want ErrNotFound", err)
	}
	// A re-created key starts again at version 1.
	if e, _, _ := s.Put("k", "v3", 0); e.Version != 1 {
		t.Fatalf("re-created key has version %d, want 1", e.Version)
	}
}

func TestPutErrors(t *testing.T) {
	tests := []struct {
		name      string
		setup     func(s *Store)
		key, val  string
		ifVersion int64
		wantErr   error
		wantMsg   string
	}{
		{name: "invalid key", key: "no/slash", val: "v", wantErr: ErrInvalidKey},
		{name: "value over limit", key: "k", val: strings.Repeat("x", 9), wantErr: ErrValueTooLarge, wantMsg: "9 bytes, limit 8"},
		{name: "value at limit", key: "k", val: strings.Repeat("x", 8)},
		{name: "version matches", setup: func(s *Store) { s.Put("k", "a", 0) }, key: "k", val: "b", ifVersion: 1},
		{name: "stale version", setup: func(s *Store) { s.Put("k", "a", 0); s.Put("k", "b", 0) }, key: "k", val: "c", ifVersion: 1, wantErr: ErrVersionMismatch, wantMsg: "current version is 2, not 1"},
		{name: "version on missing key", key: "k", val: "a", ifVersion: 3, wantErr: ErrVersionMismatch},
		{name: "full store rejects new key", setup: func(s *Store) { s.Put("a", "", 0); s.Put("b", "", 0) }, key: "c", val: "v", wantErr: ErrFull, wantMsg: "limit of 2 keys"},
		{name: "full store accepts update", setup: func(s *Store) { s.Put("a", "", 0); s.Put("b", "", 0) }, key: "b", val: "v"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(2, 8, clock())
			if tt.setup != nil {
				tt.setup(s)
			}
			_, _, err := s.Put(tt.key, tt.val, tt.ifVersion)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Put: %v", err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) || !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Put = %v, want %v containing %q", err, tt.wantErr, tt.wantMsg)
			}
		})
	}
}

func TestKeysSorted(t *testing.T) {
	s := New(10, 8, nil)
	for _, k := range []string{"b", "c", "a"} {
		if _, _, err := s.Put(k, "", 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := s.Keys(); !slices.Equal(got, []string{"a", "b", "c"}) {
		t.Fatalf("Keys = %v", got)
	}
}

func TestConcurrentPutsKeepEveryVersion(t *testing.T) {
	s := New(10, 8, nil)
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for range writers {
		wg.Go(func() {
			for range each {
				if _, _, err := s.Put("shared", "v", 0); err != nil {
					t.Error(err)
				}
			}
		})
	}
	wg.Wait()
	e, err := s.Get("shared")
	if err != nil || e.Version != writers*each {
		t.Fatalf("after %d puts: %+v, %v", writers*each, e, err)
	}
}

func BenchmarkPutGet(b *testing.B) {
	s := New(1000, 64, nil)
	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("key-%d", i)
	}
	for i := 0; b.Loop(); i++ {
		k := keys[i%len(keys)]
		if _, _, err := s.Put(k, "value", 0); err != nil {
			b.Fatal(err)
		}
		if _, err := s.Get(k); err != nil {
			b.Fatal(err)
		}
	}
}

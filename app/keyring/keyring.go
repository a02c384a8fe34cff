/*
Copyright 2026 The Rekomi Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

package keyring

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"
)

// KeySize is the length in bytes of every key in a ring (AES-256).
const KeySize = 32

const (
	maxKeyIDLen   = 32
	keyIDBytes    = 4
	keyIDAttempts = 8
)

var (
	// ErrInvalidKeyRing reports a key ring document or value that cannot be
	// used: a bad version, id, key or primary.
	ErrInvalidKeyRing = errors.New("invalid key ring")
	// ErrRetirePrimary reports an attempt to retire the primary key.
	ErrRetirePrimary = errors.New("cannot retire the primary key")
)

// KeyRing is an immutable set of AES-256 keys, each named by a key id, one of
// which is the primary that encrypts. It is safe for concurrent use. Printing
// a KeyRing with fmt shows its key ids only.
type KeyRing struct {
	primary string
	keys    map[string]*key
}

type key struct {
	material []byte
	aead     cipher.AEAD
	// created is when the key was made; zero when the ring does not say
	// (one written by Generate, Rotate or a version 1 document).
	created time.Time
}

func newKey(material []byte) (*key, error) {
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, fmt.Errorf("creating cipher: %w", err)
	}
	aead, err := cipher.NewGCMWithRandomNonce(block)
	if err != nil {
		return nil, fmt.Errorf("creating GCM: %w", err)
	}
	return &key{material: slices.Clone(material), aead: aead}, nil
}

// Generate returns a new ring with one fresh primary key. The key and its id
// are read from rand, which is crypto/rand.Reader outside tests.
func Generate(rand io.Reader) (*KeyRing, error) {
	return GenerateAt(rand, time.Time{})
}

// GenerateAt is Generate recording that the key was made at now.
func GenerateAt(rand io.Reader, now time.Time) (*KeyRing, error) {
	r, err := (&KeyRing{}).withNewPrimary(rand, now)
	if err != nil {
		return nil, fmt.Errorf("generating key ring: %w", err)
	}
	return r, nil
}

// Rotate returns a new ring that holds r's keys plus a fresh key, read from
// rand, as its primary. r is unchanged; its keys still decrypt.
func (r *KeyRing) Rotate(rand io.Reader) (*KeyRing, error) {
	return r.RotateAt(rand, time.Time{})
}

// RotateAt is Rotate recording that the new key was made at now.
func (r *KeyRing) RotateAt(rand io.Reader, now time.Time) (*KeyRing, error) {
	if _, err := r.primaryKey(); err != nil {
		return nil, fmt.Errorf("rotating key ring: %w", err)
	}
	next, err := r.withNewPrimary(rand, now)
	if err != nil {
		return nil, fmt.Errorf("rotating key ring: %w", err)
	}
	return next, nil
}

// Retire returns a new ring without the key id, so ciphertexts under it fail
// with ErrUnknownKey. It refuses the primary with ErrRetirePrimary and an id
// not in the ring with ErrUnknownKey. r is unchanged.
func (r *KeyRing) Retire(id string) (*KeyRing, error) {
	if _, ok := r.lookup(id); !ok {
		return nil, fmt.Errorf("retiring key %s: %w", describeID(id), ErrUnknownKey)
	}
	if id == r.primary {
		return nil, fmt.Errorf("retiring key %s: %w", describeID(id), ErrRetirePrimary)
	}
	keys := r.cloneKeys()
	delete(keys, id)
	return &KeyRing{primary: r.primary, keys: keys}, nil
}

// Primary returns the id of the key that encrypts.
func (r *KeyRing) Primary() string {
	if r == nil {
		return ""
	}
	return r.primary
}

// KeyIDs returns the ids of every key in the ring, sorted.
func (r *KeyRing) KeyIDs() []string {
	if r == nil {
		return nil
	}
	ids := make([]string, 0, len(r.keys))
	for id := range r.keys {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// PrimaryCreated is when the primary key, the newest the ring encrypts
// with, was made; false when the ring does not record it.
func (r *KeyRing) PrimaryCreated() (time.Time, bool) {
	k, err := r.primaryKey()
	if err != nil || k.created.IsZero() {
		return time.Time{}, false
	}
	return k.created, true
}

// String describes the ring by its key ids, never its key material.
func (r *KeyRing) String() string {
	return fmt.Sprintf("KeyRing(primary=%s, keys=[%s])", r.Primary(), strings.Join(r.KeyIDs(), " "))
}

// Format prints the ring as String does for every verb, so no fmt verb or
// flag prints key material.
func (r *KeyRing) Format(f fmt.State, _ rune) {
	_, _ = io.WriteString(f, r.String())
}

func (r *KeyRing) withNewPrimary(rand io.Reader, now time.Time) (*KeyRing, error) {
	if rand == nil {
		return nil, errors.New("no source of randomness")
	}
	material := make([]byte, KeySize)
	if _, err := io.ReadFull(rand, material); err != nil {
		return nil, fmt.Errorf("reading key: %w", err)
	}
	if r.hasMaterial(material) {
		return nil, errors.New("the new key equals a key already in the ring")
	}
	id, err := r.unusedKeyID(rand)
	if err != nil {
		return nil, err
	}
	k, err := newKey(material)
	if err != nil {
		return nil, err
	}
	k.created = now.UTC().Truncate(time.Second)
	keys := r.cloneKeys()
	keys[id] = k
	return &KeyRing{primary: id, keys: keys}, nil
}

func (r *KeyRing) unusedKeyID(rand io.Reader) (string, error) {
	buf := make([]byte, keyIDBytes)
	for range keyIDAttempts {
		if _, err := io.ReadFull(rand, buf); err != nil {
			return "", fmt.Errorf("reading key id: %w", err)
		}
		id := hex.EncodeToString(buf)
		if _, taken := r.lookup(id); !taken {
			return id, nil
		}
	}
	return "", fmt.Errorf("drawing a key id: %d draws were all taken", keyIDAttempts)
}

func (r *KeyRing) hasMaterial(material []byte) bool {
	for _, k := range r.keys {
		if subtle.ConstantTimeCompare(k.material, material) == 1 {
			return true
		}
	}
	return false
}

func (r *KeyRing) cloneKeys() map[string]*key {
	keys := make(map[string]*key, len(r.keys)+1)
	for id, k := range r.keys {
		keys[id] = k
	}
	return keys
}

func (r *KeyRing) lookup(id string) (*key, bool) {
	if r == nil {
		return nil, false
	}
	k, ok := r.keys[id]
	return k, ok
}

func (r *KeyRing) primaryKey() (*key, error) {
	k, ok := r.lookup(r.Primary())
	if !ok {
		return nil, fmt.Errorf("%w: no primary key", ErrInvalidKeyRing)
	}
	return k, nil
}

// validKeyID reports whether id is 1 to maxKeyIDLen characters of a-z, 0-9,
// '_' and '-'.
func validKeyID(id string) bool {
	if len(id) == 0 || len(id) > maxKeyIDLen {
		return false
	}
	for _, c := range []byte(id) {
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// describeID quotes a valid key id for an error message and withholds any
// other string, which may be key material pasted into the wrong place.
func describeID(id string) string {
	if validKeyID(id) {
		return fmt.Sprintf("%q", id)
	}
	return "(invalid id not shown)"
}

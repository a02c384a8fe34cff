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

package apikey

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Lengths of a key's parts.
const (
	// PrefixLength is the number of characters of a key's public prefix.
	PrefixLength = 12
	// SecretLength is the number of characters of a key's secret part.
	SecretLength = 52
	// Length is the number of characters of a whole key.
	Length = len(Scheme) + PrefixLength + 1 + SecretLength
)

// Scheme starts every key; it makes a leaked key easy to recognise and scan for.
const Scheme = "rk_live_"

// HashSize is the size in bytes of a key's hash.
const HashSize = sha256.Size

// alphabet is RFC 4648's base32 alphabet in lower case: 32 symbols, so each
// random byte's low five bits pick one without bias.
const alphabet = "abcdefghijklmnopqrstuvwxyz234567"

// ErrMalformed is returned, wrapped with what is wrong, for a string that is
// not an API key.
var ErrMalformed = errors.New("malformed API key")

// Generate returns a new key and its prefix, read from rand
// (crypto/rand.Reader outside tests).
func Generate(rand io.Reader) (key, prefix string, err error) {
	b := make([]byte, PrefixLength+SecretLength)
	if _, err := io.ReadFull(rand, b); err != nil {
		return "", "", fmt.Errorf("generating an API key: %w", err)
	}
	for i := range b {
		b[i] = alphabet[b[i]&31]
	}
	prefix = string(b[:PrefixLength])
	return Scheme + prefix + "_" + string(b[PrefixLength:]), prefix, nil
}

// Parse checks that key has the format of an API key and returns its
// prefix. It does not say whether the key is valid: compare its Hash with
// the stored one for that.
func Parse(key string) (prefix string, err error) {
	rest, ok := strings.CutPrefix(key, Scheme)
	switch {
	case !ok:
		return "", fmt.Errorf("%w: it must start with %q", ErrMalformed, Scheme)
	case len(key) != Length:
		return "", fmt.Errorf("%w: it must be %d characters long, not %d", ErrMalformed, Length, len(key))
	case !inAlphabet(rest[:PrefixLength]):
		return "", fmt.Errorf("%w: the prefix must be %d characters of a-z and 2-7", ErrMalformed, PrefixLength)
	case rest[PrefixLength] != '_':
		return "", fmt.Errorf("%w: an underscore must follow the %d-character prefix", ErrMalformed, PrefixLength)
	case !inAlphabet(rest[PrefixLength+1:]):
		return "", fmt.Errorf("%w: the secret must be %d characters of a-z and 2-7", ErrMalformed, SecretLength)
	}
	return rest[:PrefixLength], nil
}

func inAlphabet(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < '2' || c > '7') {
			return false
		}
	}
	return true
}

// Hash is the SHA-256 of the whole key, as stored in api_keys.hash.
func Hash(key string) [HashSize]byte {
	return sha256.Sum256([]byte(key))
}

// Matches reports whether key hashes to stored, in time that does not
// depend on where they differ.
func Matches(key string, stored []byte) bool {
	h := Hash(key)
	return subtle.ConstantTimeCompare(h[:], stored) == 1
}

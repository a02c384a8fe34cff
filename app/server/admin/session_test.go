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

package admin

import (
	"bytes"
	"log/slog"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/keyring"
)

func seededRing(t *testing.T, seed byte) *keyring.KeyRing {
	t.Helper()
	ring, err := keyring.Generate(rand.NewChaCha8([32]byte{seed}))
	require.NoError(t, err)
	return ring
}

func macKeysOf(ring *keyring.KeyRing) macKeys {
	return newMACKeys(ring, slog.New(slog.DiscardHandler))
}

func TestAdminSessions(t *testing.T) {
	t.Parallel()
	now := time.Unix(1_800_000_000, 0)
	ring := seededRing(t, 1)
	keys := macKeysOf(ring)
	sess := session{keyID: keys.current, id: [16]byte{1, 2, 3}, org: uuid.New(), apiKey: uuid.New(), expires: now.Add(sessionTTL)}
	sealed := keys.seal(sess)

	t.Run("RoundTripsUntilExpiry", func(t *testing.T) {
		t.Parallel()
		got, ok := keys.open(sealed, now)
		require.True(t, ok)
		require.Equal(t, sess, got)
		_, ok = keys.open(sealed, now.Add(sessionTTL))
		require.False(t, ok, "expired")
	})

	t.Run("RefusesEveryAlteredByte", func(t *testing.T) {
		t.Parallel()
		for i := range len(sealed) {
			for _, c := range []byte{'A', 'b', '.', '_'} {
				if sealed[i] == c {
					continue
				}
				altered := sealed[:i] + string(c) + sealed[i+1:]
				_, ok := keys.open(altered, now)
				require.False(t, ok, "byte %d set to %q", i, c)
			}
		}
		_, ok := keys.open(sealed+"A", now)
		require.False(t, ok)
		_, ok = keys.open(string(bytes.Repeat([]byte("A"), maxSessionBytes+1)), now)
		require.False(t, ok)
	})

	t.Run("VerifiesAcrossProcessesAndRotations", func(t *testing.T) {
		t.Parallel()
		_, ok := macKeysOf(seededRing(t, 1)).open(sealed, now)
		require.True(t, ok, "another replica with the same ring")
		rotated, err := ring.Rotate(rand.NewChaCha8([32]byte{2}))
		require.NoError(t, err)
		after := macKeysOf(rotated)
		require.NotEqual(t, keys.current, after.current, "new sessions are signed under the new primary")
		got, ok := after.open(sealed, now)
		require.True(t, ok, "an old session verifies while its key stays in the ring")
		require.Equal(t, keys.csrfToken(sess), after.csrfToken(got))
		retired, err := rotated.Retire(keys.current)
		require.NoError(t, err)
		_, ok = macKeysOf(retired).open(sealed, now)
		require.False(t, ok, "retiring the key ends its sessions")
		_, ok = macKeysOf(seededRing(t, 3)).open(sealed, now)
		require.False(t, ok, "another ring")
	})

	t.Run("FallsBackToKeysOfThisProcess", func(t *testing.T) {
		t.Parallel()
		one, two := macKeysOf(nil), macKeysOf(nil)
		require.Equal(t, processKeyID, one.current)
		s := sess
		s.keyID = one.current
		_, ok := one.open(one.seal(s), now)
		require.True(t, ok)
		_, ok = two.open(one.seal(s), now)
		require.False(t, ok, "a restarted process refuses the old sessions")
	})

	t.Run("TiesCSRFTokensToTheSession", func(t *testing.T) {
		t.Parallel()
		other := sess
		other.id[0] ^= 1
		require.NotEqual(t, keys.csrfToken(sess), keys.csrfToken(other))
		require.NotEqual(t, keys.signInToken("nonce-a"), keys.signInToken("nonce-b"))
		require.True(t, validToken(keys.csrfToken(sess), keys.csrfToken(sess)))
		require.False(t, validToken("", ""))
	})
}

func TestSecureCookies(t *testing.T) {
	t.Parallel()
	for url, want := range map[string]bool{
		"":                        true,
		"https://app.example":     true,
		"http://app.example":      true,
		"http://localhost:8080":   false,
		"http://127.0.0.1:8080":   false,
		"http://[::1]:8080":       false,
		"https://localhost:8443":  true,
		"http://localhost.evil":   true,
		"http://10.0.0.1":         true,
		"::not a url":             true,
		"http://127.0.0.1.nip.io": true,
	} {
		require.Equal(t, want, secureCookies(url), url)
	}
}

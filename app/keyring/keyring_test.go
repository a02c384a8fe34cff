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

package keyring_test

import (
	"bytes"
	"encoding/hex"
	"io"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/keyring"
)

// seeded returns a deterministic source of randomness for key generation.
func seeded(seed byte) io.Reader {
	return rand.NewChaCha8([32]byte{seed})
}

// generate returns a fresh ring drawn from seed.
func generate(t *testing.T, seed byte) *keyring.KeyRing {
	t.Helper()
	ring, err := keyring.Generate(seeded(seed))
	require.NoError(t, err)
	return ring
}

// rotate returns ring with one more key drawn from seed.
func rotate(t *testing.T, ring *keyring.KeyRing, seed byte) *keyring.KeyRing {
	t.Helper()
	next, err := ring.Rotate(seeded(seed))
	require.NoError(t, err)
	return next
}

// encrypt seals plaintext under ring's primary key.
func encrypt(t *testing.T, ring *keyring.KeyRing, plaintext, aad string) []byte {
	t.Helper()
	ciphertext, err := ring.Encrypt([]byte(plaintext), []byte(aad))
	require.NoError(t, err)
	return ciphertext
}

func TestGenerate(t *testing.T) {
	t.Parallel()

	t.Run("HasOnePrimaryKey", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		require.Equal(t, []string{ring.Primary()}, ring.KeyIDs())
	})

	t.Run("NamesKeysWithEightHexCharacters", func(t *testing.T) {
		t.Parallel()
		id := generate(t, 1).Primary()
		require.Len(t, id, 8)
		_, err := hex.DecodeString(id)
		require.NoError(t, err)
	})

	t.Run("IsDeterministicForOneSource", func(t *testing.T) {
		t.Parallel()
		first, err := generate(t, 1).Marshal()
		require.NoError(t, err)
		again, err := generate(t, 1).Marshal()
		require.NoError(t, err)
		other, err := generate(t, 2).Marshal()
		require.NoError(t, err)
		require.Equal(t, first, again)
		require.NotEqual(t, first, other)
	})

	t.Run("FailsWhenRandomnessRunsOut", func(t *testing.T) {
		t.Parallel()
		for _, n := range []int{0, keyring.KeySize - 1, keyring.KeySize + 3} {
			_, err := keyring.Generate(bytes.NewReader(make([]byte, n)))
			require.Error(t, err)
			require.ErrorContains(t, err, "generating key ring")
		}
	})

	t.Run("RefusesNilSource", func(t *testing.T) {
		t.Parallel()
		_, err := keyring.Generate(nil)
		require.ErrorContains(t, err, "no source of randomness")
	})
}

func TestRotate(t *testing.T) {
	t.Parallel()

	t.Run("DecryptsAfterRotation", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_before", "webhook_endpoint:1")
		rotated := rotate(t, ring, 2)

		plaintext, err := rotated.Decrypt(ciphertext, []byte("webhook_endpoint:1"))
		require.NoError(t, err)
		require.Equal(t, "whsec_before", string(plaintext))
	})

	t.Run("MakesNewKeyPrimary", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		rotated := rotate(t, ring, 2)

		require.NotEqual(t, ring.Primary(), rotated.Primary())
		require.ElementsMatch(t, []string{ring.Primary(), rotated.Primary()}, rotated.KeyIDs())
	})

	t.Run("NamesNewKeyInNewCiphertexts", func(t *testing.T) {
		t.Parallel()
		rotated := rotate(t, generate(t, 1), 2)
		ciphertext := encrypt(t, rotated, "whsec_after", "webhook_endpoint:1")

		id := rotated.Primary()
		require.Equal(t, byte(len(id)), ciphertext[1])
		require.Equal(t, id, string(ciphertext[2:2+len(id)]))
	})

	t.Run("LeavesOriginalRingUnchanged", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		before, err := ring.Marshal()
		require.NoError(t, err)
		rotated := rotate(t, ring, 2)

		after, err := ring.Marshal()
		require.NoError(t, err)
		require.Equal(t, before, after)
		_, err = ring.Decrypt(encrypt(t, rotated, "x", "row"), []byte("row"))
		require.ErrorIs(t, err, keyring.ErrUnknownKey)
	})

	t.Run("RedrawsATakenKeyID", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		taken, err := hex.DecodeString(ring.Primary())
		require.NoError(t, err)
		source := io.MultiReader(
			bytes.NewReader(bytes.Repeat([]byte{7}, keyring.KeySize)),
			bytes.NewReader(taken),
			bytes.NewReader([]byte{0xab, 0xcd, 0xef, 0x01}),
		)

		rotated, err := ring.Rotate(source)
		require.NoError(t, err)
		require.Equal(t, "abcdef01", rotated.Primary())
	})

	t.Run("FailsWhenEveryKeyIDDrawnIsTaken", func(t *testing.T) {
		t.Parallel()
		ring, err := keyring.Generate(bytes.NewReader(make([]byte, keyring.KeySize+4)))
		require.NoError(t, err)
		require.Equal(t, "00000000", ring.Primary())
		source := io.MultiReader(
			bytes.NewReader(bytes.Repeat([]byte{7}, keyring.KeySize)),
			bytes.NewReader(make([]byte, 1024)),
		)

		_, err = ring.Rotate(source)
		require.ErrorContains(t, err, "were all taken")
	})

	t.Run("RefusesAKeyAlreadyInTheRing", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		_, err := ring.Rotate(seeded(1))
		require.ErrorContains(t, err, "equals a key already in the ring")
	})

	t.Run("RefusesEmptyRing", func(t *testing.T) {
		t.Parallel()
		_, err := (&keyring.KeyRing{}).Rotate(seeded(1))
		require.ErrorIs(t, err, keyring.ErrInvalidKeyRing)
	})
}

func TestRetire(t *testing.T) {
	t.Parallel()

	setup := func(t *testing.T) (old, current *keyring.KeyRing) {
		t.Helper()
		old = generate(t, 1)
		return old, rotate(t, old, 2)
	}

	t.Run("RefusesPrimary", func(t *testing.T) {
		t.Parallel()
		_, ring := setup(t)
		_, err := ring.Retire(ring.Primary())
		require.ErrorIs(t, err, keyring.ErrRetirePrimary)
		require.ErrorContains(t, err, ring.Primary())
	})

	t.Run("RefusesUnknownID", func(t *testing.T) {
		t.Parallel()
		_, ring := setup(t)
		_, err := ring.Retire("nope")
		require.ErrorIs(t, err, keyring.ErrUnknownKey)
	})

	t.Run("OldCiphertextsFailWithUnknownKey", func(t *testing.T) {
		t.Parallel()
		old, ring := setup(t)
		ciphertext := encrypt(t, old, "whsec_old", "row")
		retired, err := ring.Retire(old.Primary())
		require.NoError(t, err)

		require.Equal(t, []string{ring.Primary()}, retired.KeyIDs())
		_, err = retired.Decrypt(ciphertext, []byte("row"))
		require.ErrorIs(t, err, keyring.ErrUnknownKey)
	})

	t.Run("KeepsPrimaryCiphertexts", func(t *testing.T) {
		t.Parallel()
		old, ring := setup(t)
		ciphertext := encrypt(t, ring, "whsec_new", "row")
		retired, err := ring.Retire(old.Primary())
		require.NoError(t, err)

		plaintext, err := retired.Decrypt(ciphertext, []byte("row"))
		require.NoError(t, err)
		require.Equal(t, "whsec_new", string(plaintext))
	})

	t.Run("LeavesOriginalRingUnchanged", func(t *testing.T) {
		t.Parallel()
		old, ring := setup(t)
		_, err := ring.Retire(old.Primary())
		require.NoError(t, err)
		require.Len(t, ring.KeyIDs(), 2)
	})
}

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
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/keyring"
)

const (
	nonceSize = 12
	tagSize   = 16
)

// requireDecryptError checks that err is one of the package's decryption
// errors and that nothing was returned with it.
func requireDecryptError(t *testing.T, plaintext []byte, err error) {
	t.Helper()
	require.Error(t, err)
	require.Nil(t, plaintext)
	require.True(t,
		errors.Is(err, keyring.ErrMalformedCiphertext) ||
			errors.Is(err, keyring.ErrUnknownKey) ||
			errors.Is(err, keyring.ErrAuthenticationFailed),
		"unexpected error: %v", err)
}

func TestEncryptDecrypt(t *testing.T) {
	t.Parallel()

	t.Run("RoundTrips", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		for _, plaintext := range [][]byte{{}, []byte("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"), bytes.Repeat([]byte{0xff}, 1<<16)} {
			ciphertext, err := ring.Encrypt(plaintext, []byte("webhook_endpoint:1"))
			require.NoError(t, err)
			got, err := ring.Decrypt(ciphertext, []byte("webhook_endpoint:1"))
			require.NoError(t, err)
			require.Equal(t, len(plaintext), len(got))
			require.True(t, bytes.Equal(plaintext, got))
		}
	})

	t.Run("RoundTripsWithoutAssociatedData", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext, err := ring.Encrypt([]byte("secret"), nil)
		require.NoError(t, err)
		got, err := ring.Decrypt(ciphertext, []byte{})
		require.NoError(t, err)
		require.Equal(t, "secret", string(got))
	})

	t.Run("UsesFreshNonceEachTime", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		first := encrypt(t, ring, "whsec_same", "row")
		second := encrypt(t, ring, "whsec_same", "row")

		require.NotEqual(t, first, second)
		header := 2 + len(ring.Primary())
		require.NotEqual(t, first[header:header+nonceSize], second[header:header+nonceSize])
	})

	t.Run("WritesDocumentedLayout", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_layout", "row")

		id := ring.Primary()
		require.Equal(t, byte(1), ciphertext[0])
		require.Equal(t, byte(len(id)), ciphertext[1])
		require.Equal(t, id, string(ciphertext[2:2+len(id)]))
		require.Len(t, ciphertext, 2+len(id)+nonceSize+len("whsec_layout")+tagSize)
		require.NotContains(t, string(ciphertext), "whsec_layout")
	})

	t.Run("RefusesWrongAssociatedData", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_row1", "webhook_endpoint:1")
		for _, aad := range []string{"webhook_endpoint:2", "", "webhook_endpoint:1 ", "webhook_endpoint:"} {
			_, err := ring.Decrypt(ciphertext, []byte(aad))
			require.ErrorIs(t, err, keyring.ErrAuthenticationFailed, "aad %q", aad)
		}
	})

	t.Run("RejectsEveryFlippedByte", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_flip", "row")
		for i := range ciphertext {
			for _, mask := range []byte{0x01, 0x80, 0xff} {
				tampered := bytes.Clone(ciphertext)
				tampered[i] ^= mask
				plaintext, err := ring.Decrypt(tampered, []byte("row"))
				requireDecryptError(t, plaintext, err)
			}
		}
	})

	t.Run("RejectsFlippedSealedBytesAsUnauthentic", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_flip", "row")
		for i := 2 + len(ring.Primary()); i < len(ciphertext); i++ {
			tampered := bytes.Clone(ciphertext)
			tampered[i] ^= 0x01
			_, err := ring.Decrypt(tampered, []byte("row"))
			require.ErrorIs(t, err, keyring.ErrAuthenticationFailed, "byte %d", i)
		}
	})

	t.Run("RejectsTruncatedInputAsMalformed", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "", "row")
		for n := range len(ciphertext) {
			plaintext, err := ring.Decrypt(ciphertext[:n], []byte("row"))
			require.ErrorIs(t, err, keyring.ErrMalformedCiphertext, "length %d", n)
			require.Nil(t, plaintext)
		}
		_, err := ring.Decrypt(nil, []byte("row"))
		require.ErrorIs(t, err, keyring.ErrMalformedCiphertext)
	})

	t.Run("RejectsTruncatedSealedBytesAsUnauthentic", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_truncated", "row")
		shortest := 2 + len(ring.Primary()) + nonceSize + tagSize
		for n := range len(ciphertext) {
			_, err := ring.Decrypt(ciphertext[:n], []byte("row"))
			if n < shortest {
				require.ErrorIs(t, err, keyring.ErrMalformedCiphertext, "length %d", n)
			} else {
				require.ErrorIs(t, err, keyring.ErrAuthenticationFailed, "length %d", n)
			}
		}
	})

	t.Run("RejectsUnsupportedVersion", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_version", "row")
		ciphertext[0] = 2
		_, err := ring.Decrypt(ciphertext, []byte("row"))
		require.ErrorIs(t, err, keyring.ErrMalformedCiphertext)
		require.ErrorContains(t, err, "unsupported version 2")
	})

	t.Run("RejectsInvalidKeyID", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		for _, id := range []string{"", "K1", "k/1", strings.Repeat("k", 33)} {
			ciphertext := append([]byte{1, byte(len(id))}, id...)
			ciphertext = append(ciphertext, make([]byte, nonceSize+tagSize)...)
			_, err := ring.Decrypt(ciphertext, nil)
			require.ErrorIs(t, err, keyring.ErrMalformedCiphertext, "id %q", id)
		}
	})
}

func TestDecryptWithWrongKey(t *testing.T) {
	t.Parallel()

	t.Run("RefusesRingWithoutTheKeyID", func(t *testing.T) {
		t.Parallel()
		ciphertext := encrypt(t, generate(t, 1), "whsec_other", "row")
		_, err := generate(t, 2).Decrypt(ciphertext, []byte("row"))
		require.ErrorIs(t, err, keyring.ErrUnknownKey)
	})

	t.Run("RefusesDifferentKeyWithTheSameID", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_impostor", "row")
		impostor, err := keyring.Parse(fmt.Appendf(nil, `{"version":1,"primary":%q,"keys":{%q:%q}}`,
			ring.Primary(), ring.Primary(), base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{9}, keyring.KeySize))))
		require.NoError(t, err)

		_, err = impostor.Decrypt(ciphertext, []byte("row"))
		require.ErrorIs(t, err, keyring.ErrAuthenticationFailed)
	})

	t.Run("RefusesEmptyRing", func(t *testing.T) {
		t.Parallel()
		ciphertext := encrypt(t, generate(t, 1), "whsec_none", "row")
		for _, ring := range []*keyring.KeyRing{nil, {}} {
			_, err := ring.Decrypt(ciphertext, []byte("row"))
			require.ErrorIs(t, err, keyring.ErrUnknownKey)
		}
	})
}

func TestEncryptWithEmptyRing(t *testing.T) {
	t.Parallel()

	t.Run("RefusesWithoutPrimary", func(t *testing.T) {
		t.Parallel()
		for _, ring := range []*keyring.KeyRing{nil, {}} {
			_, err := ring.Encrypt([]byte("x"), nil)
			require.ErrorIs(t, err, keyring.ErrInvalidKeyRing)
		}
	})
}

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
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/keyring"
)

func TestDeriveKey(t *testing.T) {
	t.Parallel()
	ring := generate(t, 1)
	old := ring.Primary()
	key, err := ring.DeriveKey(old, "session")
	require.NoError(t, err)
	require.Len(t, key, keyring.DerivedKeySize)

	t.Run("IsStableForTheSameKeyAndPurpose", func(t *testing.T) {
		t.Parallel()
		again, err := generate(t, 1).DeriveKey(old, "session")
		require.NoError(t, err)
		require.Equal(t, key, again, "another process with the same ring derives the same key")
	})

	t.Run("DiffersByPurposeAndKey", func(t *testing.T) {
		t.Parallel()
		other, err := ring.DeriveKey(old, "csrf")
		require.NoError(t, err)
		require.NotEqual(t, key, other)
		rotated := rotate(t, ring, 2)
		fresh, err := rotated.DeriveKey(rotated.Primary(), "session")
		require.NoError(t, err)
		require.NotEqual(t, key, fresh)
		kept, err := rotated.DeriveKey(old, "session")
		require.NoError(t, err)
		require.Equal(t, key, kept, "a rotated-out key still derives while it stays in the ring")
	})

	t.Run("RefusesAnUnknownKeyOrNoPurpose", func(t *testing.T) {
		t.Parallel()
		_, err := ring.DeriveKey("nope", "session")
		require.ErrorIs(t, err, keyring.ErrUnknownKey)
		_, err = ring.DeriveKey(old, "")
		require.Error(t, err)
	})
}

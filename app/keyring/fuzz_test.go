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
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/keyring"
)

func FuzzDecrypt(f *testing.F) {
	ring, err := keyring.Generate(seeded(1))
	require.NoError(f, err)
	ring, err = ring.Rotate(seeded(2))
	require.NoError(f, err)
	valid, err := ring.Encrypt([]byte("whsec_fuzz"), []byte("row"))
	require.NoError(f, err)

	f.Add(valid, []byte("row"))
	f.Add(valid, []byte("other row"))
	f.Add(valid[:len(valid)-1], []byte("row"))
	f.Add([]byte{}, []byte{})
	f.Add([]byte{1}, []byte{})
	f.Add([]byte{1, 0xff, 'k'}, []byte{})
	f.Add(append([]byte{2}, valid[1:]...), []byte("row"))
	f.Add(append([]byte{1, 2, 'k', '1'}, make([]byte, 28)...), []byte{})

	f.Fuzz(func(t *testing.T, ciphertext, aad []byte) {
		plaintext, err := ring.Decrypt(ciphertext, aad)
		if err != nil {
			requireDecryptError(t, plaintext, err)
			return
		}
		again, err := ring.Decrypt(ciphertext, aad)
		require.NoError(t, err)
		require.Equal(t, plaintext, again)
	})
}

func FuzzParse(f *testing.F) {
	ring, err := keyring.Generate(seeded(1))
	require.NoError(f, err)
	ring, err = ring.Rotate(seeded(2))
	require.NoError(f, err)
	valid, err := ring.Marshal()
	require.NoError(f, err)

	f.Add(valid)
	f.Add(valid[:len(valid)/2])
	f.Add(fmt.Appendf(nil, `{"version":1,"primary":"k1","keys":{"k1":%q,"k2":%q}}`, keyA, keyB))
	f.Add(fmt.Appendf(nil, `{"version":1,"primary":"k1","keys":{"k1":%q,"k1":%q}}`, keyA, keyB))
	f.Add([]byte(`{"version":1,"primary":"k1","keys":{}}`))
	f.Add(fmt.Appendf(nil, `{"version":2,"primary":"k1","keys":{"k1":%q,"k2":%q},"created":{"k1":"2026-12-04T09:00:00Z"}}`, keyA, keyB))
	f.Add(fmt.Appendf(nil, `{"version":2,"primary":"k1","keys":{"k1":%q},"created":{"k1":"2026-12-04T09:00:00.5+02:00"}}`, keyA))
	f.Add(fmt.Appendf(nil, `{"version":2,"primary":"k1","keys":{"k1":%q},"created":{}}`, keyA))
	f.Add([]byte(`{"version":1e400}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`null`))
	f.Add([]byte(``))

	f.Fuzz(func(t *testing.T, data []byte) {
		parsed, err := keyring.Parse(data)
		if err != nil {
			require.Nil(t, parsed)
			require.True(t, errors.Is(err, keyring.ErrInvalidKeyRing), "unexpected error: %v", err)
			return
		}
		marshalled, err := parsed.Marshal()
		require.NoError(t, err)
		reparsed, err := keyring.Parse(marshalled)
		require.NoError(t, err)
		again, err := reparsed.Marshal()
		require.NoError(t, err)
		require.True(t, bytes.Equal(marshalled, again))
		require.Contains(t, parsed.KeyIDs(), parsed.Primary())
	})
}

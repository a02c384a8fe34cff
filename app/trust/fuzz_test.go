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

package trust_test

import (
	"bytes"
	"crypto/ed25519"
	"errors"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/trust"
)

// FuzzVerify feeds Verify what an archive may hold, a file anyone could
// have written: it must refuse with one of its errors or return a
// statement the Region's key did sign, never panic.
func FuzzVerify(f *testing.F) {
	region := key(1)
	trusted := region.Public().(ed25519.PublicKey)
	signed, err := trust.Sign(map[string]any{"region": "eu", "holds": true, "claims": []any{map[string]any{"id": "tenant_tables"}}}, region)
	require.NoError(f, err)
	f.Add(signed)
	f.Add(bytes.Replace(signed, []byte(`"eu"`), []byte(`"us"`), 1))
	f.Add(bytes.Replace(signed, []byte("true"), []byte("false"), 1))
	other, err := trust.Sign(map[string]any{"region": "eu"}, key(2))
	require.NoError(f, err)
	f.Add(other)
	f.Add([]byte(`{"statement":{},"signature":{"algorithm":"Ed25519","public_key":"","value":""}}`))
	f.Add([]byte(`{"statement":1e999,"signature":{}}`))
	f.Add([]byte(`null`))
	f.Add([]byte{})

	f.Fuzz(func(t *testing.T, data []byte) {
		statement, err := trust.Verify(data, trusted)
		if err != nil {
			require.Nil(t, statement)
			require.True(t, errors.Is(err, trust.ErrNotSigned) || errors.Is(err, trust.ErrUntrustedKey) || errors.Is(err, trust.ErrBadSignature),
				"an error of its own: %v", err)
			return
		}
		// What verified, signed again by the same key, verifies too: the
		// statement Verify returns is the one the signature covers.
		again, err := trust.Sign(statement, region)
		require.NoError(t, err)
		_, err = trust.Verify(again, trusted)
		require.NoError(t, err)
	})
}

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
	"encoding/base64"
	"encoding/json"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/trust"
)

// key is a fixed Ed25519 key drawn from seed.
func key(seed byte) ed25519.PrivateKey {
	_, priv, err := ed25519.GenerateKey(rand.NewChaCha8([32]byte{seed}))
	if err != nil {
		panic(err)
	}
	return priv
}

func TestSignAndVerify(t *testing.T) {
	t.Parallel()
	region := key(1)
	trusted := region.Public().(ed25519.PublicKey)
	statement := map[string]any{"region": "eu", "runtime_role": map[string]any{"holds": true, "bypass_rls": false},
		"note": "Zürich \u2028 <b>", "count": 23}
	signed, err := trust.Sign(statement, region)
	require.NoError(t, err)

	t.Run("RoundTrip", func(t *testing.T) {
		got, err := trust.Verify(signed, trusted)
		require.NoError(t, err)
		var back map[string]any
		require.NoError(t, json.Unmarshal(got, &back))
		require.Equal(t, "eu", back["region"])
	})

	t.Run("AnyEncodingOfTheSameValuesVerifies", func(t *testing.T) {
		var doc map[string]any
		require.NoError(t, json.Unmarshal(signed, &doc))
		reencoded, err := json.Marshal(doc) // other white space, other key order, other escapes
		require.NoError(t, err)
		require.NotEqual(t, signed, reencoded)
		_, err = trust.Verify(reencoded, trusted)
		require.NoError(t, err)
	})

	// Each case changes a signed document as someone archiving or serving
	// it could.
	tampered := map[string]struct {
		change func(string) string
		want   error
	}{
		"a claim turned true": {
			change: func(s string) string { return strings.Replace(s, `"bypass_rls": false`, `"bypass_rls": true`, 1) },
			want:   trust.ErrBadSignature,
		},
		"a count changed": {
			change: func(s string) string { return strings.Replace(s, `"count": 23`, `"count": 24`, 1) },
			want:   trust.ErrBadSignature,
		},
		"a field added": {
			change: func(s string) string { return strings.Replace(s, `"count": 23`, `"count": 23, "soc2": true`, 1) },
			want:   trust.ErrBadSignature,
		},
		"re-signed by another key, which it names": {
			change: func(string) string {
				other, err := trust.Sign(statement, key(2))
				require.NoError(t, err)
				return string(other)
			},
			want: trust.ErrUntrustedKey,
		},
		"the signature swapped for another statement's": {
			change: func(s string) string {
				other, err := trust.Sign(map[string]any{"region": "us"}, region)
				require.NoError(t, err)
				var a, b trust.Signed
				require.NoError(t, json.Unmarshal([]byte(s), &a))
				require.NoError(t, json.Unmarshal(other, &b))
				a.Signature = b.Signature
				out, err := json.Marshal(a)
				require.NoError(t, err)
				return string(out)
			},
			want: trust.ErrBadSignature,
		},
		"another algorithm named": {
			change: func(s string) string { return strings.Replace(s, `"algorithm": "Ed25519"`, `"algorithm": "none"`, 1) },
			want:   trust.ErrNotSigned,
		},
		"the signature removed": {
			change: func(s string) string {
				var doc map[string]json.RawMessage
				require.NoError(t, json.Unmarshal([]byte(s), &doc))
				delete(doc, "signature")
				out, err := json.Marshal(doc)
				require.NoError(t, err)
				return string(out)
			},
			want: trust.ErrNotSigned,
		},
		"not JSON": {
			change: func(s string) string { return s[:len(s)/2] },
			want:   trust.ErrNotSigned,
		},
	}
	for name, tc := range tampered {
		t.Run(name, func(t *testing.T) {
			changed := tc.change(string(signed))
			require.NotEqual(t, string(signed), changed, "the case changes the document")
			_, err := trust.Verify([]byte(changed), trusted)
			require.ErrorIs(t, err, tc.want)
		})
	}

	t.Run("RefusesAKeyOfTheWrongSize", func(t *testing.T) {
		_, err := trust.Verify(signed, trusted[:16])
		require.ErrorContains(t, err, "must be 32 bytes")
	})

	t.Run("NamesTheKeyItIsSignedWith", func(t *testing.T) {
		require.True(t, bytes.Contains(signed, []byte(base64.StdEncoding.EncodeToString(trusted))))
	})
}

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
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/keyring"
)

// Keys for hand-written documents.
var (
	keyA = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xa1}, keyring.KeySize))
	keyB = base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{0xb2}, keyring.KeySize))
)

func TestMarshal(t *testing.T) {
	t.Parallel()

	t.Run("WritesVersionPrimaryAndKeys", func(t *testing.T) {
		t.Parallel()
		ring := rotate(t, generate(t, 1), 2)
		data, err := ring.Marshal()
		require.NoError(t, err)

		var doc struct {
			Version int               `json:"version"`
			Primary string            `json:"primary"`
			Keys    map[string]string `json:"keys"`
		}
		require.NoError(t, json.Unmarshal(data, &doc))
		require.Equal(t, 1, doc.Version)
		require.Equal(t, ring.Primary(), doc.Primary)
		require.Len(t, doc.Keys, 2)
		for _, id := range ring.KeyIDs() {
			key, err := base64.StdEncoding.DecodeString(doc.Keys[id])
			require.NoError(t, err)
			require.Len(t, key, keyring.KeySize)
		}
	})

	t.Run("KeepsKeysAndPrimaryThroughParse", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		old := encrypt(t, ring, "whsec_first", "row")
		ring = rotate(t, rotate(t, ring, 2), 3)
		data, err := ring.Marshal()
		require.NoError(t, err)

		parsed, err := keyring.Parse(data)
		require.NoError(t, err)
		require.Equal(t, ring.Primary(), parsed.Primary())
		require.Equal(t, ring.KeyIDs(), parsed.KeyIDs())
		again, err := parsed.Marshal()
		require.NoError(t, err)
		require.Equal(t, data, again)

		plaintext, err := parsed.Decrypt(old, []byte("row"))
		require.NoError(t, err)
		require.Equal(t, "whsec_first", string(plaintext))
		plaintext, err = ring.Decrypt(encrypt(t, parsed, "whsec_new", "row"), []byte("row"))
		require.NoError(t, err)
		require.Equal(t, "whsec_new", string(plaintext))
	})

	t.Run("RefusesEmptyRing", func(t *testing.T) {
		t.Parallel()
		_, err := (&keyring.KeyRing{}).Marshal()
		require.ErrorIs(t, err, keyring.ErrInvalidKeyRing)
	})
}

func TestParse(t *testing.T) {
	t.Parallel()

	t.Run("AcceptsHandWrittenKeyIDs", func(t *testing.T) {
		t.Parallel()
		ring, err := keyring.Parse(fmt.Appendf(nil,
			"{\n  \"keys\": {\"k1\": %q, \"k_2-b\": %q},\n  \"primary\": \"k_2-b\",\n  \"version\": 1\n}\n", keyA, keyB))
		require.NoError(t, err)
		require.Equal(t, "k_2-b", ring.Primary())
		require.Equal(t, []string{"k1", "k_2-b"}, ring.KeyIDs())
	})

	doc := func(primary, keys string) string {
		return fmt.Sprintf(`{"version":1,"primary":%s,"keys":%s}`, primary, keys)
	}
	tests := map[string]struct {
		doc  string
		want string
	}{
		"empty input":                           {doc: "", want: "unexpected end of JSON"},
		"text that is not JSON":                 {doc: "keyring", want: "malformed JSON near byte"},
		"a JSON array instead of an object":     {doc: "[]", want: "document is not a JSON object"},
		"a null document":                       {doc: "null", want: "document is not a JSON object"},
		"a document cut short":                  {doc: `{"version":1,"primary":"k1"`, want: "unexpected end of JSON"},
		"a document cut inside a key":           {doc: `{"version":1,"primary":"k1","keys":{"k1":"` + keyA[:10], want: "unexpected end of JSON"},
		"trailing text after the document":      {doc: doc(`"k1"`, `{"k1":"`+keyA+`"}`) + "x", want: "trailing data"},
		"a second document":                     {doc: doc(`"k1"`, `{"k1":"`+keyA+`"}`) + "{}", want: "trailing data"},
		"version 3":                             {doc: `{"version":3,"primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "unsupported version 3"},
		"version 2 without created":             {doc: `{"version":2,"primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "version 2 needs created"},
		"created in version 1":                  {doc: `{"version":1,"primary":"k1","keys":{"k1":"` + keyA + `"},"created":{"k1":"2026-12-04T09:00:00Z"}}`, want: "created needs version 2"},
		"created naming no key":                 {doc: `{"version":2,"primary":"k1","keys":{"k1":"` + keyA + `"},"created":{"k2":"2026-12-04T09:00:00Z"}}`, want: `created names "k2", which is not among the keys`},
		"created that is not a time":            {doc: `{"version":2,"primary":"k1","keys":{"k1":"` + keyA + `"},"created":{"k1":"yesterday"}}`, want: `the creation of key "k1" is not an RFC 3339 time`},
		"created as a number":                   {doc: `{"version":2,"primary":"k1","keys":{"k1":"` + keyA + `"},"created":{"k1":1764838800}}`, want: `the creation of key "k1" is not a string`},
		"created twice for one key":             {doc: `{"version":2,"primary":"k1","keys":{"k1":"` + keyA + `"},"created":{"k1":"2026-12-04T09:00:00Z","k1":"2026-12-05T09:00:00Z"}}`, want: `duplicate member "k1" in created`},
		"version 0":                             {doc: `{"version":0,"primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "unsupported version 0"},
		"no version":                            {doc: `{"primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "missing version"},
		"version as a string":                   {doc: `{"version":"1","primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "version is not an integer"},
		"version as a fraction":                 {doc: `{"version":1.5,"primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "version is not an integer"},
		"no primary":                            {doc: `{"version":1,"keys":{"k1":"` + keyA + `"}}`, want: "missing primary"},
		"an empty primary":                      {doc: doc(`""`, `{"k1":"`+keyA+`"}`), want: "missing primary"},
		"a null primary":                        {doc: doc(`null`, `{"k1":"`+keyA+`"}`), want: "missing primary"},
		"primary as a number":                   {doc: doc(`1`, `{"k1":"`+keyA+`"}`), want: "primary is not a string"},
		"a primary that is not a valid key id":  {doc: doc(`"K1"`, `{"k1":"`+keyA+`"}`), want: "primary is not a valid key id"},
		"a primary that is not among the keys":  {doc: doc(`"k2"`, `{"k1":"`+keyA+`"}`), want: `primary "k2" is not among the keys`},
		"no keys field":                         {doc: `{"version":1,"primary":"k1"}`, want: "missing keys"},
		"keys as null":                          {doc: doc(`"k1"`, `null`), want: "keys is not a JSON object"},
		"keys as an array":                      {doc: doc(`"k1"`, `["`+keyA+`"]`), want: "keys is not a JSON object"},
		"an empty keys object":                  {doc: doc(`"k1"`, `{}`), want: "no keys"},
		"a key of 16 bytes":                     {doc: doc(`"k1"`, `{"k1":"`+base64.StdEncoding.EncodeToString(make([]byte, 16))+`"}`), want: `key "k1" is 16 bytes, not 32`},
		"a key of 33 bytes":                     {doc: doc(`"k1"`, `{"k1":"`+base64.StdEncoding.EncodeToString(make([]byte, 33))+`"}`), want: `key "k1" is 33 bytes, not 32`},
		"an empty key":                          {doc: doc(`"k1"`, `{"k1":""}`), want: `key "k1" is 0 bytes, not 32`},
		"a key that is not base64":              {doc: doc(`"k1"`, `{"k1":"not base64!"}`), want: `key "k1" is not valid base64`},
		"a key in URL-safe base64":              {doc: doc(`"k1"`, `{"k1":"`+base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{0xfb}, 32))+`"}`), want: `key "k1" is not valid base64`},
		"a key with stray bits in its padding":  {doc: doc(`"k1"`, `{"k1":"`+keyA[:len(keyA)-2]+`B="}`), want: `key "k1" is not valid base64`},
		"a key as a number":                     {doc: doc(`"k1"`, `{"k1":12}`), want: `key "k1" is not a string`},
		"an empty key id":                       {doc: doc(`"k1"`, `{"k1":"`+keyA+`","":"`+keyB+`"}`), want: "a key id is not 1 to 32 characters"},
		"a key id with upper case letters":      {doc: doc(`"k1"`, `{"k1":"`+keyA+`","K2":"`+keyB+`"}`), want: "a key id is not 1 to 32 characters"},
		"a key id with a slash":                 {doc: doc(`"k1"`, `{"k1":"`+keyA+`","k/2":"`+keyB+`"}`), want: "a key id is not 1 to 32 characters"},
		"a key id of 33 characters":             {doc: doc(`"k1"`, `{"k1":"`+keyA+`","`+strings.Repeat("k", 33)+`":"`+keyB+`"}`), want: "a key id is not 1 to 32 characters"},
		"the same key id twice":                 {doc: doc(`"k1"`, `{"k1":"`+keyA+`","k1":"`+keyB+`"}`), want: `duplicate member "k1" in keys`},
		"the same field twice":                  {doc: `{"version":1,"primary":"k1","primary":"k2","keys":{"k1":"` + keyA + `"}}`, want: `duplicate member "primary" in document`},
		"two key ids sharing one key":           {doc: doc(`"k1"`, `{"k1":"`+keyA+`","k2":"`+keyA+`"}`), want: `keys "k1" and "k2" are the same key`},
		"an unknown field":                      {doc: `{"version":1,"primary":"k1","keys":{"k1":"` + keyA + `"},"extra":true}`, want: `unknown field "extra"`},
		"a field name in another letter case":   {doc: `{"version":1,"Primary":"k1","keys":{"k1":"` + keyA + `"}}`, want: "unknown field (invalid id not shown)"},
		"key material pasted as a field name":   {doc: `{"version":1,"primary":"k1","keys":{"k1":"` + keyA + `"},"` + keyB + `":1}`, want: "unknown field (invalid id not shown)"},
		"key material pasted as a key id":       {doc: doc(`"k1"`, `{"k1":"`+keyA+`","`+keyB+`":"`+keyB+`"}`), want: "a key id is not 1 to 32 characters"},
		"key material pasted as the primary id": {doc: doc(`"`+keyB+`"`, `{"k1":"`+keyA+`"}`), want: "primary is not a valid key id"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			ring, err := keyring.Parse([]byte(tt.doc))
			require.Nil(t, ring)
			require.ErrorIs(t, err, keyring.ErrInvalidKeyRing)
			require.ErrorContains(t, err, "parsing key ring: invalid key ring: ")
			require.ErrorContains(t, err, tt.want)
			requireNoKeyMaterial(t, err.Error())
		})
	}
}

// requireNoKeyMaterial checks that s shows neither test key, in any encoding
// or in part.
func requireNoKeyMaterial(t *testing.T, s string) {
	t.Helper()
	for _, key := range []string{keyA, keyB} {
		raw, err := base64.StdEncoding.DecodeString(key)
		require.NoError(t, err)
		for _, form := range []string{key[:8], hex.EncodeToString(raw)[:8], string(raw[:4])} {
			require.NotContains(t, s, form)
		}
	}
}

// TestCreationTimes checks that a ring records when its keys were made
// only when told, and keeps it through Marshal and Parse; a ring that
// records none stays a version 1 document, which older binaries read.
func TestCreationTimes(t *testing.T) {
	t.Parallel()
	plain, err := keyring.Generate(rand.Reader)
	require.NoError(t, err)
	_, ok := plain.PrimaryCreated()
	require.False(t, ok)
	data, err := plain.Marshal()
	require.NoError(t, err)
	require.Contains(t, string(data), `"version":1`)
	require.NotContains(t, string(data), "created")

	first := time.Date(2026, 12, 4, 9, 0, 0, 0, time.UTC)
	ring, err := keyring.GenerateAt(rand.Reader, first.Add(400*time.Millisecond))
	require.NoError(t, err)
	rotated, err := ring.RotateAt(rand.Reader, first.Add(48*time.Hour))
	require.NoError(t, err)
	for _, r := range []*keyring.KeyRing{ring, rotated} {
		data, err := r.Marshal()
		require.NoError(t, err)
		require.Contains(t, string(data), `"version":2`)
		parsed, err := keyring.Parse(data)
		require.NoError(t, err)
		newest, ok := parsed.PrimaryCreated()
		require.True(t, ok)
		want, _ := r.PrimaryCreated()
		require.Equal(t, want, newest)
	}
	newest, _ := ring.PrimaryCreated()
	require.Equal(t, first, newest, "kept to the second, in UTC")
	newest, _ = rotated.PrimaryCreated()
	require.Equal(t, first.Add(48*time.Hour), newest)

	again, err := plain.RotateAt(rand.Reader, first)
	require.NoError(t, err)
	data, err = again.Marshal()
	require.NoError(t, err)
	parsed, err := keyring.Parse(data)
	require.NoError(t, err, "a ring whose older keys record no creation")
	newest, _ = parsed.PrimaryCreated()
	require.Equal(t, first, newest)
}

func TestNoSecretsInOutput(t *testing.T) {
	t.Parallel()

	t.Run("PrintsKeyIDsOnly", func(t *testing.T) {
		t.Parallel()
		ring, err := keyring.Parse(fmt.Appendf(nil, `{"version":1,"primary":"k2","keys":{"k1":%q,"k2":%q}}`, keyA, keyB))
		require.NoError(t, err)
		for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%d", "%x", "%q"} {
			out := fmt.Sprintf(verb, ring)
			requireNoKeyMaterial(t, out)
			require.Contains(t, out, "KeyRing(primary=k2, keys=[k1 k2])", verb)
		}
	})

	t.Run("KeepsPlaintextOutOfErrors", func(t *testing.T) {
		t.Parallel()
		ring := generate(t, 1)
		ciphertext := encrypt(t, ring, "whsec_topsecret", "row")
		_, err := ring.Decrypt(ciphertext, []byte("other row"))
		require.Error(t, err)
		require.NotContains(t, err.Error(), "whsec_topsecret")
		require.Equal(t, fmt.Sprintf("decrypting: key %q: ciphertext authentication failed", ring.Primary()), err.Error())
	})
}

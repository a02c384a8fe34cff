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

package apikey_test

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"errors"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/apikey"
)

func TestGenerate(t *testing.T) {
	t.Parallel()

	t.Run("ParsesToItsPrefix", func(t *testing.T) {
		t.Parallel()
		key, prefix, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		require.Len(t, key, apikey.Length)
		require.Len(t, prefix, apikey.PrefixLength)
		require.True(t, strings.HasPrefix(key, "rk_live_"+prefix+"_"))
		got, err := apikey.Parse(key)
		require.NoError(t, err)
		require.Equal(t, prefix, got)
	})

	t.Run("MapsEveryByteIntoTheAlphabet", func(t *testing.T) {
		t.Parallel()
		all := make([]byte, 256)
		for i := range all {
			all[i] = byte(i)
		}
		key, prefix, err := apikey.Generate(bytes.NewReader(all))
		require.NoError(t, err)
		require.Equal(t, "abcdefghijkl", prefix)
		require.Equal(t, "rk_live_abcdefghijkl_mnopqrstuvwxyz234567abcdefghijklmnopqrstuvwxyz234567abcdefghijklmn"[:apikey.Length], key)
		_, err = apikey.Parse(key)
		require.NoError(t, err)
	})

	t.Run("DiffersEachTime", func(t *testing.T) {
		t.Parallel()
		a, pa, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		b, pb, err := apikey.Generate(rand.Reader)
		require.NoError(t, err)
		require.NotEqual(t, a, b)
		require.NotEqual(t, pa, pb)
	})

	t.Run("FailsWhenRandomnessRunsOut", func(t *testing.T) {
		t.Parallel()
		_, _, err := apikey.Generate(bytes.NewReader(make([]byte, 10)))
		require.Error(t, err)
		_, _, err = apikey.Generate(iotest.ErrReader(errors.New("no entropy")))
		require.ErrorContains(t, err, "no entropy")
	})
}

func TestParse(t *testing.T) {
	t.Parallel()
	valid := "rk_live_abcdefgh2345_" + strings.Repeat("k7", apikey.SecretLength/2)
	_, err := apikey.Parse(valid)
	require.NoError(t, err)

	cases := map[string]struct {
		key  string
		want string
	}{
		"empty":                      {"", "must start with"},
		"a test key":                 {strings.Replace(valid, "live", "test", 1), "must start with"},
		"upper-case scheme":          {strings.Replace(valid, "rk_live", "RK_LIVE", 1), "must start with"},
		"one character short":        {valid[:len(valid)-1], "73 characters long, not 72"},
		"one character long":         {valid + "a", "73 characters long, not 74"},
		"upper case in the prefix":   {strings.Replace(valid, "abcd", "ABCD", 1), "prefix must be"},
		"a digit 8 in the prefix":    {strings.Replace(valid, "abcd", "8bcd", 1), "prefix must be"},
		"no underscore after prefix": {strings.Replace(valid, "2345_", "2345-", 1), "underscore must follow"},
		"short prefix, long secret":  {"rk_live_abcdefgh234_" + strings.Repeat("k", apikey.SecretLength+1), "prefix must be"},
		"a padding = in the secret":  {valid[:len(valid)-1] + "=", "secret must be"},
		"a non-ASCII secret":         {valid[:len(valid)-2] + "é", "secret must be"},
		"an underscore in secret":    {valid[:len(valid)-1] + "_", "secret must be"},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			prefix, err := apikey.Parse(tc.key)
			require.ErrorIs(t, err, apikey.ErrMalformed)
			require.ErrorContains(t, err, tc.want)
			require.Empty(t, prefix)
		})
	}
}

func TestHashAndMatches(t *testing.T) {
	t.Parallel()
	key, _, err := apikey.Generate(rand.Reader)
	require.NoError(t, err)
	h := apikey.Hash(key)
	require.Equal(t, sha256.Sum256([]byte(key)), h, "SHA-256 of the whole key")
	require.True(t, apikey.Matches(key, h[:]))

	other, _, err := apikey.Generate(rand.Reader)
	require.NoError(t, err)
	require.False(t, apikey.Matches(other, h[:]))
	require.False(t, apikey.Matches(key, h[:31]), "a truncated hash never matches")
	require.False(t, apikey.Matches(key, nil))
}

func FuzzParse(f *testing.F) {
	key, _, err := apikey.Generate(rand.Reader)
	require.NoError(f, err)
	f.Add(key)
	f.Add(key[:len(key)-1])
	f.Add(strings.ToUpper(key))
	f.Add("rk_live_")
	f.Add("rk_live_abcdefghijkl_")
	f.Add("")
	f.Add("rk_live_abcdefghijkl_" + strings.Repeat("\xff", apikey.SecretLength))

	f.Fuzz(func(t *testing.T, s string) {
		prefix, err := apikey.Parse(s)
		if err != nil {
			require.ErrorIs(t, err, apikey.ErrMalformed)
			require.Empty(t, prefix)
			if len(s) >= apikey.Length {
				require.NotContains(t, err.Error(), s[8:], "an error never quotes the key")
			}
			return
		}
		require.Len(t, s, apikey.Length)
		require.Equal(t, apikey.Scheme+prefix+"_", s[:len(apikey.Scheme)+apikey.PrefixLength+1])
		again, err := apikey.Parse(s)
		require.NoError(t, err)
		require.Equal(t, prefix, again)
	})
}

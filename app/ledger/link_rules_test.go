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

package ledger

import (
	"bytes"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNewLinkCode(t *testing.T) {
	t.Parallel()
	// 248 and above are dropped; 61 maps to the last character, 62 and 247
	// wrap to the first and the last.
	random := append(bytes.Repeat([]byte{255}, 20), 0, 61, 62, 247, 1, 2, 3, 4, 5, 6)
	random = append(random, make([]byte, 10)...)
	code, err := newLinkCode(bytes.NewReader(random))
	require.NoError(t, err)
	require.Equal(t, "A9A9BCDEFG", code)
	_, err = newLinkCode(bytes.NewReader(bytes.Repeat([]byte{255}, 40)))
	require.Error(t, err, "running out of randomness is an error")
}

func TestCheckDestinationURL(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"https://shop.example.com/a?b=c#d": "https://shop.example.com/a?b=c#d",
		"HTTP://shop.example.com":          "http://shop.example.com",
		"https://shop.example.com:8443/":   "https://shop.example.com:8443/",
		"https://[2001:db8::1]/":           "https://[2001:db8::1]/",
		"https://shop.example.com/ü":       "https://shop.example.com/ü",
		"javascript:alert(1)":              "",
		"https://u@shop.example.com":       "",
		"https://shop.example.com/\u2028":  "",
		"mailto:a@example.com":             "",
		"http//shop.example.com":           "",
	} {
		got, detail := CheckDestinationURL(in)
		require.Equal(t, want, got, in)
		require.Equal(t, want == "", detail != "", in)
	}
}

// destinationColumn is the referral_links CHECK on destination_url.
var destinationColumn = regexp.MustCompile(`^https?://`)

func FuzzCheckDestinationURL(f *testing.F) {
	for _, seed := range []string{"https://shop.example.com/a", "HTTPS://a.b", "https://a@b", "javascript:x", "https:\\\\evil", "http://a b", ""} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, raw string) {
		got, detail := CheckDestinationURL(raw)
		if detail != "" {
			require.Empty(t, got)
			return
		}
		require.LessOrEqual(t, len(got), maxDestinationURL)
		require.Regexp(t, destinationColumn, got, "the database accepts it")
		require.True(t, strings.EqualFold(got, raw[:len(got)]) && len(got) == len(raw), "only the scheme's case changes")
		u, err := url.Parse(got)
		require.NoError(t, err)
		require.Nil(t, u.User)
		require.NotEmpty(t, u.Hostname())
		require.False(t, strings.ContainsAny(got, " \\\t\r\n\x00"))
	})
}

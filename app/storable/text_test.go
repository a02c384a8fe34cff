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

package storable_test

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/app/storable"
)

func TestText(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, in string
		max      int
		want     string
	}{
		{"valid text is kept", "Mozilla/5.0 (X11)", 1024, "Mozilla/5.0 (X11)"},
		{"invalid bytes become one replacement character", "ab\xff\xfecd", 1024, "ab\uFFFDcd"},
		{"NUL is removed", "a\x00b", 1024, "ab"},
		{"the cut counts characters, not bytes", "ééé", 2, "éé"},
		{"a cut never splits a character", "a€b", 2, "a€"},
		{"a replacement counts as one character", "\xff\xfe\xfdz", 1, "\uFFFD"},
		{"a zero limit keeps nothing", "abc", 0, ""},
		{"the empty string stays empty", "", 10, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			require.Equal(t, tc.want, storable.Text(tc.in, tc.max))
		})
	}
}

// FuzzText checks, for any bytes and limit, that the result is valid UTF-8
// without NUL, within the limit, and a prefix of the input when the input
// was already storable.
func FuzzText(f *testing.F) {
	f.Add([]byte("Mozilla/5.0"), 4)
	f.Add([]byte("\xff\xfe"), 1024)
	f.Add([]byte("a\x00€\xc3"), 2)
	f.Fuzz(func(t *testing.T, in []byte, limit int) {
		limit %= 2048
		got := storable.Text(string(in), limit)
		require.True(t, utf8.ValidString(got))
		require.NotContains(t, got, "\x00")
		require.LessOrEqual(t, utf8.RuneCountInString(got), max(limit, 0))
		if utf8.Valid(in) && !strings.Contains(string(in), "\x00") {
			require.True(t, strings.HasPrefix(string(in), got))
		}
	})
}

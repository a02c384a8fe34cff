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

package storable

import (
	"strings"
	"unicode/utf8"
)

// Text returns s as a text column takes it: each invalid UTF-8 sequence
// replaced by U+FFFD, NUL characters removed, and at most maxChars
// characters (PostgreSQL's length(), so a CHECK on length() holds), cut on
// a character boundary. maxChars <= 0 gives "".
func Text(s string, maxChars int) string {
	if maxChars <= 0 {
		return ""
	}
	s = strings.ReplaceAll(strings.ToValidUTF8(s, string(utf8.RuneError)), "\x00", "")
	n := 0
	for i := range s {
		if n == maxChars {
			return s[:i]
		}
		n++
	}
	return s
}

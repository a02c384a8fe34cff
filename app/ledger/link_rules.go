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
	"fmt"
	"io"
	"net/url"
	"strings"
	"unicode"
)

const (
	// linkCodeLength is the length of a generated code: 62^10 is about
	// 8e17, too many to guess one.
	linkCodeLength   = 10
	linkCodeAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"
	// maxDestinationURL bounds a destination URL, in bytes.
	maxDestinationURL = 2048
)

// newLinkCode draws a code of linkCodeLength characters from r, uniformly
// over the alphabet: bytes at or above 248 (4*62) are dropped.
func newLinkCode(r io.Reader) (string, error) {
	code := make([]byte, 0, linkCodeLength)
	buf := make([]byte, 2*linkCodeLength)
	for len(code) < linkCodeLength {
		if _, err := io.ReadFull(r, buf); err != nil {
			return "", fmt.Errorf("reading random bytes for a link code: %w", err)
		}
		for _, b := range buf {
			if b < 4*62 && len(code) < linkCodeLength {
				code = append(code, linkCodeAlphabet[b%62])
			}
		}
	}
	return string(code), nil
}

// CheckDestinationURL returns the URL to store, with its scheme in lower
// case, or what is wrong with it. Only absolute http(s) URLs with a host
// and no user information go: no other scheme, no control characters,
// spaces or backslashes (which browsers read as slashes).
func CheckDestinationURL(raw string) (string, string) {
	if len(raw) > maxDestinationURL {
		return "", "must be at most 2048 bytes"
	}
	if strings.IndexFunc(raw, func(r rune) bool { return unicode.IsControl(r) || unicode.IsSpace(r) || r == '\\' }) >= 0 {
		return "", "must not contain spaces, control characters or backslashes"
	}
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Opaque != "" || u.Hostname() == "" {
		return "", "must be an absolute http or https URL"
	}
	if u.User != nil {
		return "", "must not contain user information"
	}
	return u.Scheme + raw[len(u.Scheme):], ""
}

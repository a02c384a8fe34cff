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
	"net/mail"
	"strings"
	"unicode/utf8"
)

// FieldError is one invalid field of a request body or query.
type FieldError struct {
	Field  string `json:"field"`
	Detail string `json:"detail"`
}

// FieldErrors collects the invalid fields of one input.
type FieldErrors []FieldError

// Add records that field is invalid, saying why.
func (e *FieldErrors) Add(field, detail string) {
	*e = append(*e, FieldError{Field: field, Detail: detail})
}

// Text checks an optional text field: minLen to maxLen characters of
// valid UTF-8 without NUL (which PostgreSQL's text refuses).
func (e *FieldErrors) Text(field string, v *string, minLen, maxLen int) {
	if v != nil && !ValidText(*v, minLen, maxLen) {
		e.Add(field, fmt.Sprintf("must be %d to %d characters of text", minLen, maxLen))
	}
}

// ValidText says whether s is minLen to maxLen characters of valid UTF-8
// without NUL.
func ValidText(s string, minLen, maxLen int) bool {
	n := utf8.RuneCountInString(s)
	return n >= minLen && n <= maxLen && utf8.ValidString(s) && !strings.ContainsRune(s, 0)
}

// maxEmail is the longest email address kept, in characters.
const maxEmail = 320

// ValidContactEmail says whether s may be kept as a customer's or a
// member's email: text of 3 to 320 characters with an @. The merchant and
// the providers own these addresses and Rekomi never writes to them, so
// the check is only that the value is an address at all.
func ValidContactEmail(s string) bool {
	return ValidText(s, 3, maxEmail) && strings.Contains(s, "@")
}

// NormalizeEmail checks an address Rekomi writes to (an affiliate's): a
// bare RFC 5322 address of at most 320 characters, without a display name.
// It returns the address with its domain in lower case, the form stored
// and compared.
func NormalizeEmail(s string) (string, bool) {
	if !ValidText(s, 3, maxEmail) {
		return "", false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Name != "" || a.Address != s {
		return "", false
	}
	at := strings.LastIndexByte(s, '@')
	if at < 1 || at == len(s)-1 {
		return "", false
	}
	return s[:at] + "@" + strings.ToLower(s[at+1:]), true
}

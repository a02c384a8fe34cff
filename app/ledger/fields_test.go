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
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestNormalizeEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"ada@example.com":                   "ada@example.com",
		"Ada.L+aff@Mail.Example.ORG":        "Ada.L+aff@mail.example.org",
		"ada":                               "",
		"Ada <ada@example.com>":             "",
		"ada@example.com ":                  "",
		"a@b@example.com":                   "",
		"ada\x00@example.com":               "",
		strings.Repeat("a", 315) + "@x.com": "",
	} {
		got, ok := NormalizeEmail(in)
		require.Equal(t, want, got, in)
		require.Equal(t, want != "", ok, in)
	}
}

func TestValidContactEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]bool{
		"ada@example.com":                   true,
		"Ada <ada@example.com>":             true, // kept as the provider gave it
		"a@b":                               true,
		"@b":                                false,
		"ada":                               false,
		"ada\x00@example.com":               false,
		"\xffada@example.com":               false,
		strings.Repeat("é", 310) + "@x.com": true,
		strings.Repeat("é", 315) + "@x.com": false,
	} {
		require.Equal(t, want, ValidContactEmail(in), in)
	}
}

func TestFieldErrorsText(t *testing.T) {
	t.Parallel()
	var errs FieldErrors
	ok, empty, long, nul := "name", "", strings.Repeat("x", 11), "a\x00b"
	errs.Text("ok", &ok, 1, 10)
	errs.Text("absent", nil, 1, 10)
	errs.Text("empty", &empty, 1, 10)
	errs.Text("long", &long, 1, 10)
	errs.Text("nul", &nul, 1, 10)
	require.Equal(t, FieldErrors{
		{Field: "empty", Detail: "must be 1 to 10 characters of text"},
		{Field: "long", Detail: "must be 1 to 10 characters of text"},
		{Field: "nul", Detail: "must be 1 to 10 characters of text"},
	}, errs)
}

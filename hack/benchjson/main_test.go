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

package main

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestParse(t *testing.T) {
	t.Parallel()
	out := `goos: linux
goarch: amd64
pkg: github.com/rekomi/rekomi/app/tracking
BenchmarkRedirect-2   	  500000	      2400 ns/op	     512 B/op	       7 allocs/op
PASS
ok  	github.com/rekomi/rekomi/app/tracking	1.234s
`
	ms, err := parse(strings.NewReader(out))
	require.NoError(t, err)
	require.Equal(t, []measurement{
		{Package: "github.com/rekomi/rekomi/app/tracking", Name: "Redirect-2", Value: 2400, Unit: "ns/op"},
		{Package: "github.com/rekomi/rekomi/app/tracking", Name: "Redirect-2", Value: 512, Unit: "B/op"},
		{Package: "github.com/rekomi/rekomi/app/tracking", Name: "Redirect-2", Value: 7, Unit: "allocs/op"},
	}, ms)
}

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
	"os/exec"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestPackageBoundaries holds the layering the packages promise: the
// business rules know nothing of HTTP or of the server, the provider
// effects nothing of the server, and neither the app nor the schema
// depends on the operator's tree (except app/devstack, which runs the
// operator in-process for rekomi dev).
func TestPackageBoundaries(t *testing.T) {
	t.Parallel()
	const module = "github.com/rekomi/rekomi/"
	deps := func(t *testing.T, pkg string) []string {
		t.Helper()
		out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}}", pkg).Output()
		require.NoError(t, err, "go list -deps %s", pkg)
		return strings.Fields(string(out))
	}
	for pkg, forbidden := range map[string][]string{
		"./app/ledger":  {"net/http", module + "app/server", module + "app/billing", module + "app/payout"},
		"./app/billing": {module + "app/server"},
	} {
		have := deps(t, pkg)
		for _, f := range forbidden {
			require.False(t, slices.Contains(have, f), "%s depends on %s", pkg, f)
		}
	}
	out, err := exec.Command("go", "list", "./app/...", "./migrations/...").Output()
	require.NoError(t, err)
	for _, pkg := range strings.Fields(string(out)) {
		if strings.HasPrefix(pkg, module+"app/devstack") {
			continue
		}
		for _, d := range deps(t, pkg) {
			require.False(t, strings.HasPrefix(d, module+"controllers"), "%s depends on %s", pkg, d)
		}
	}
}

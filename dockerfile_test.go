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
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// TestDockerfileCopiesEverySource fails when the image build would miss a
// file the binary is built from: every directory of the module that the
// binary imports, and the root package's files.
func TestDockerfileCopiesEverySource(t *testing.T) {
	data, err := os.ReadFile("Dockerfile")
	require.NoError(t, err)
	copied := map[string]bool{}
	for _, line := range strings.Split(string(data), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 3 && fields[0] == "COPY" && !strings.HasPrefix(fields[1], "--") {
			for _, src := range fields[1 : len(fields)-1] {
				copied[strings.TrimSuffix(src, "/")] = true
			}
		}
	}
	require.True(t, copied["*.go"], "the root package has several files: COPY *.go")
	out, err := exec.Command("go", "list", "-deps", "-f", "{{if .Module}}{{if .Module.Main}}{{.Dir}}{{end}}{{end}}", ".").Output()
	require.NoError(t, err)
	root, err := os.Getwd()
	require.NoError(t, err)
	for _, dir := range strings.Fields(string(out)) {
		rel, err := filepath.Rel(root, dir)
		require.NoError(t, err)
		if rel == "." {
			continue
		}
		top := strings.Split(rel, string(filepath.Separator))[0]
		require.True(t, copied[top], "the binary imports %s, which the Dockerfile does not copy", rel)
	}
}

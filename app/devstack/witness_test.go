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

package devstack

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// shown is what a reader of dir sees: every file not hidden by "..".
func shown(t *testing.T, dir string) map[string]string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	require.NoError(t, err)
	out := map[string]string{}
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		require.NoError(t, err)
		out[e.Name()] = string(data)
	}
	return out
}

func TestWriteAtomically(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	first := map[string]string{"a": "1", "b": "2"}
	require.NoError(t, writeAtomically(dir, first))
	require.Equal(t, first, shown(t, dir))
	data, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)

	require.NoError(t, writeAtomically(dir, first))
	again, err := os.Readlink(filepath.Join(dir, "..data"))
	require.NoError(t, err)
	require.Equal(t, data, again, "unchanged files are not written again")

	second := map[string]string{"b": "3", "c": "4"}
	require.NoError(t, writeAtomically(dir, second))
	require.Equal(t, second, shown(t, dir), "changed, added and removed keys")
	_, err = os.Stat(filepath.Join(dir, data))
	require.ErrorIs(t, err, os.ErrNotExist, "the previous data directory is removed")
	link, err := os.Readlink(filepath.Join(dir, "b"))
	require.NoError(t, err)
	require.Equal(t, filepath.Join("..data", "b"), link, "each key goes through ..data, swapped at once")

	require.NoError(t, writeAtomically(dir, map[string]string{}))
	require.Empty(t, shown(t, dir))
}

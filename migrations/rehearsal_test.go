//go:build rekomi_upgrade_probe

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

package migrations_test

import (
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/migrations"
)

// TestRehearsalComesAfterTheNewest checks that a build with the tag
// rekomi_upgrade_probe carries the rehearsal migration right after the
// newest numbered one (TestMigrations, run with the same tag, applies it,
// rolls it back and checks its grants and policies).
func TestRehearsalComesAfterTheNewest(t *testing.T) {
	names, err := filepath.Glob("[0-9]*.up.sql")
	require.NoError(t, err)
	require.NotEmpty(t, names)
	prefix, _, _ := strings.Cut(names[len(names)-1], "_")
	newest, err := strconv.ParseUint(prefix, 10, 32)
	require.NoError(t, err)
	latest, err := migrations.Latest()
	require.NoError(t, err)
	require.Equal(t, uint(newest)+1, latest)
	require.Contains(t, migrations.RuntimeGrants(), "upgrade_probes")
}

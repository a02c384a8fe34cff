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

package server

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/rekomi/rekomi/migrations"
)

// TestExportCoversEveryTenantTable fails when a migration adds a table that
// the export neither writes nor deliberately leaves out.
func TestExportCoversEveryTenantTable(t *testing.T) {
	var covered []string
	for _, e := range exportTables {
		require.NotContains(t, covered, e.name, "exported twice")
		require.NotContains(t, exportOmittedTables, e.name, "both exported and left out")
		covered = append(covered, e.name)
	}
	for name := range exportOmittedTables {
		covered = append(covered, name)
	}
	var tables []string
	for name := range migrations.RuntimeGrants() {
		if name != "schema_migrations" {
			tables = append(tables, name)
		}
	}
	slices.Sort(covered)
	slices.Sort(tables)
	require.Equal(t, tables, covered)
}

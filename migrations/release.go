//go:build !rekomi_upgrade_probe

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

package migrations

import (
	"io/fs"

	"github.com/rekomi/rekomi/pg/pgroles"
)

// source is the migrations this binary applies: the numbered files of this
// directory. A binary built with the tag rekomi_upgrade_probe carries one
// more (see rehearsal.go).
func source() (fs.FS, error) { return files, nil }

// rehearsalGrants are the runtime role's grants on the tables of the
// rehearsal migration: none in a release build.
func rehearsalGrants() map[string][]pgroles.Privilege { return nil }

// rehearsalTables are the tenant tables of the rehearsal migration, each
// with the one tenant_isolation policy: none in a release build.
func rehearsalTables() []string { return nil }

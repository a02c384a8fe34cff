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

package migrations

import (
	"embed"
	"fmt"
	"io/fs"
	"path"
	"testing/fstest"

	"github.com/rekomi/rekomi/pg/pgroles"
)

// A binary built with the tag rekomi_upgrade_probe is the newer release an
// upgrade is rehearsed with: this tree, plus the additive migration in
// upgradeprobe/, numbered right after the newest migration of this
// directory so that it never collides with the next real one. A release
// build (release.go) carries nothing of it.

//go:embed upgradeprobe/*.sql
var rehearsal embed.FS

// source is the numbered migrations of this directory, then the
// rehearsal's, numbered after them.
func source() (fs.FS, error) {
	merged := fstest.MapFS{}
	names, err := fs.Glob(files, "*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing migrations: %w", err)
	}
	var newest uint
	for _, name := range names {
		v, err := versionOf(name)
		if err != nil {
			return nil, err
		}
		newest = max(newest, v)
		if merged[name], err = mapFile(files, name); err != nil {
			return nil, err
		}
	}
	extra, err := fs.Glob(rehearsal, "upgradeprobe/*.sql")
	if err != nil {
		return nil, fmt.Errorf("listing the rehearsal migration: %w", err)
	}
	for _, name := range extra {
		if merged[fmt.Sprintf("%04d_%s", newest+1, path.Base(name))], err = mapFile(rehearsal, name); err != nil {
			return nil, err
		}
	}
	return merged, nil
}

func mapFile(fsys fs.FS, name string) (*fstest.MapFile, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, fmt.Errorf("reading migration %s: %w", name, err)
	}
	return &fstest.MapFile{Data: data, Mode: 0o444}, nil
}

// rehearsalGrants are the runtime role's grants on the rehearsal's table.
func rehearsalGrants() map[string][]pgroles.Privilege {
	return map[string][]pgroles.Privilege{"upgrade_probes": {pgroles.Select, pgroles.Insert}}
}

// rehearsalTables are the rehearsal's tenant tables, each with the one
// tenant_isolation policy.
func rehearsalTables() []string { return []string{"upgrade_probes"} }
